"""Replay the ACS employment traffic (2016–2018) through a running assay monitor.

Starts ``assay monitor serve`` on 127.0.0.1 (SQLite in ``work/monitor.db``, a fresh database each
run) with the suite ``examples/monitor/suite.yaml`` and the 2015 reference, then sends the events of
``work/events.jsonl`` in time order in batches of 500, and each label once the replayed clock has
passed its ``arrives_at`` (60 days after its event). The monitor closes a window per month, scores
it (drift against 2015, CBPE's estimated accuracy, fairness of predictions by sex, and realised
accuracy once the labels are in) and raises an alert when a gate fails. At the end it prints the
windows and alerts, exports the next fine-tune's examples, and leaves the dashboard's address.

Run: ``python examples/monitor/prepare.py && python examples/monitor/replay.py [--sample 0.1]``
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
BATCH = 500


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def read_jsonl(path: Path, sample: float) -> list[dict[str, Any]]:
    keep = max(1, round(1 / sample)) if sample < 1 else 1
    with open(path) as f:
        return [json.loads(line) for i, line in enumerate(f) if i % keep == 0]


def wait_until_up(client: httpx.Client, server: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if server.poll() is not None:
            sys.exit(f"the monitor exited with code {server.returncode}")
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    sys.exit("the monitor did not answer /healthz within 60 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=float, default=1.0, help="share of the events to send")
    parser.add_argument("--window", default="91d", help="window length (default 91d: quarters)")
    parser.add_argument("--keep", action="store_true", help="keep the monitor running at the end")
    args = parser.parse_args()
    if not (WORK / "events.jsonl").exists():
        sys.exit("run python examples/monitor/prepare.py first")
    events = read_jsonl(WORK / "events.jsonl", args.sample)
    ids = {e["event_id"] for e in events}
    labels = [x for x in read_jsonl(WORK / "labels.jsonl", 1.0) if x["event_id"] in ids]
    db = WORK / "monitor.db"
    for stale in WORK.glob("monitor.db*"):
        stale.unlink()
    port = free_port()
    token = secrets.token_urlsafe(24)
    env = {**os.environ, "ASSAY_MONITOR_TOKENS": f"admin:{token}"}
    command = [
        sys.executable, "-m", "assay", "monitor", "serve",
        "--suite", str(HERE / "suite.yaml"), "--reference", str(WORK / "reference.parquet"),
        "--db", f"sqlite:///{db}", "--port", str(port),
        "--window-every", args.window, "--rescore-every", "5s",
    ]  # fmt: skip
    server = subprocess.Popen(command, env=env)
    headers = {"Authorization": f"Bearer {token}"}
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=120)
    t0 = time.perf_counter()
    try:
        wait_until_up(client, server)
        sent_labels = 0
        for start in range(0, len(events), BATCH):
            batch = events[start : start + BATCH]
            client.post("/v1/events", json={"events": batch}).raise_for_status()
            now = batch[-1]["timestamp"]
            due = []
            while sent_labels < len(labels) and labels[sent_labels]["arrives_at"] <= now:
                label = labels[sent_labels]
                due.append({"event_id": label["event_id"], "label": label["label"]})
                sent_labels += 1
            if due:
                client.post("/v1/labels", json={"labels": due}).raise_for_status()
        rest = [{"event_id": x["event_id"], "label": x["label"]} for x in labels[sent_labels:]]
        for start in range(0, len(rest), BATCH):
            client.post(
                "/v1/labels", json={"labels": rest[start : start + BATCH]}
            ).raise_for_status()
        sent = time.perf_counter() - t0
        print(f"sent {len(events)} events and {len(labels)} labels in {sent:.1f} s")
        wait_for_windows(client, server, len(events))
        print(
            f"every window scored with its labels {time.perf_counter() - t0:.1f} s after the start"
        )
        report(client, port)
        export()
    finally:
        if not args.keep:
            server.terminate()
            server.wait(timeout=30)
    if args.keep:
        print(f"dashboard: http://127.0.0.1:{port}/dashboard (token: {token}); Ctrl-C to stop")
        server.wait()


def export() -> None:
    """The examples for the next fine-tune: drifted, low-confidence and misclassified events."""
    out = WORK / "next_finetune.jsonl"
    command = [
        sys.executable, "-m", "assay", "monitor", "export", "--db", f"sqlite:///{WORK / 'monitor.db'}",
        "--since", "2016-01-01", "--select", "drifted,low-confidence,misclassified",
        "--cap-per-reason", "500", "--out", str(out),
    ]  # fmt: skip
    subprocess.run(command, check=True)


def wait_for_windows(client: httpx.Client, server: subprocess.Popen[bytes], n_events: int) -> None:
    """Wait until the windows hold every event and every label (the worker scores them again
    as labels arrive)."""
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the monitor exited with code {server.returncode}")
        windows = client.get("/v1/windows").json()
        events = sum(w["n_events"] for w in windows)
        labelled = sum(w["n_labelled"] for w in windows)
        print(f"\r{len(windows)} windows, {events} of {n_events} events, {labelled} labelled",
              end="", flush=True)  # fmt: skip
        if events >= n_events and labelled >= n_events:
            print()
            return
        time.sleep(2)
    sys.exit("the windows were not all scored within 30 minutes")


def interval(e: dict[str, Any] | None) -> str:
    if not e or e.get("value") is None:
        return "-"
    return f"{e['value']:.3f} [{e['lower']:.3f}, {e['upper']:.3f}]"


def report(client: httpx.Client, port: int) -> None:
    """Print the windows and alerts; save the dashboard; export the next fine-tune's examples."""
    windows = client.get("/v1/windows").json()
    print(f"\n{'window':<23} {'events':>6}  {'drifted columns':<22} {'CBPE accuracy':<24} "
          f"{'realised accuracy':<24} gates")  # fmt: skip
    for w in windows:
        drift = w.get("drift") or {}
        drifted = [c["column"] for c in drift.get("top_columns", []) if c["drifted"]][:3]
        if drift.get("n_drifted", 0) > len(drifted):
            drifted.append(f"+{drift['n_drifted'] - len(drifted)}")
        failed = [g["expression"].split(" ")[0] for g in w.get("gates", []) if g["passed"] is False]
        verdict = (
            "error: " + w["error"][:60]
            if w.get("error")
            else (
                "pass"
                if w["passed"]
                else "FAIL " + ", ".join(failed)
                if w["passed"] is False
                else "-"
            )
        )
        print(f"{w['start'][:10]} .. {w['end'][:10]} {w['n_events']:>6}  "
              f"{', '.join(drifted) or '-':<22} "
              f"{interval((w.get('estimated') or {}).get('accuracy')):<24} "
              f"{interval((w.get('realised') or {}).get('accuracy')):<24} {verdict}")  # fmt: skip
    alerts = client.get("/v1/alerts").json()
    firing = sum(a["state"] == "firing" for a in alerts)
    print(f"{len(windows)} windows; {len(alerts)} alert messages ({firing} firing, "
          f"{len(alerts) - firing} resolved)")  # fmt: skip
    page = client.get("/dashboard")
    page.raise_for_status()
    (WORK / "dashboard.html").write_text(page.text)
    print(f"dashboard saved to {WORK / 'dashboard.html'}")


if __name__ == "__main__":
    main()
