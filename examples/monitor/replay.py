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
    env = {**os.environ, "ASSAY_MONITOR_TOKENS": f"{token}:ingest,read,admin"}
    command = [
        sys.executable, "-m", "assay", "monitor", "serve",
        "--suite", str(HERE / "suite.yaml"), "--reference", str(WORK / "reference.parquet"),
        "--db", f"sqlite:///{db}", "--port", str(port),
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
            client.post("/v1/labels", json={"labels": rest[start : start + BATCH]}).raise_for_status()
        sent = time.perf_counter() - t0
        print(f"sent {len(events)} events and {len(labels)} labels in {sent:.1f} s")
        report(client)
    finally:
        if not args.keep:
            server.terminate()
            server.wait(timeout=30)
    if args.keep:
        print(f"dashboard: http://127.0.0.1:{port}/dashboard (token: {token}); Ctrl-C to stop")
        server.wait()


def report(client: httpx.Client) -> None:
    windows = client.get("/v1/windows").json()
    for w in windows:
        print(json.dumps(w)[:200])
    alerts = client.get("/v1/alerts").json()
    print(f"{len(windows)} windows, {len(alerts)} alerts")


if __name__ == "__main__":
    main()
