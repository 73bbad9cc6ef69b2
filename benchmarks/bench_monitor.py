"""The monitor's sustained ingest over HTTP on loopback: batches of 500 events, SQLite and PostgreSQL.

The server is ``assay monitor serve`` in a subprocess (one uvicorn process; its own GIL). Two runs
per database:

* closed loop: ``--clients`` connections post as fast as the server acknowledges → events/s;
* open loop at a fixed offered rate (``--rate`` events/s): batches are sent on a fixed schedule
  whatever the answers do, and each batch's ack latency is measured from its scheduled send time
  (no coordinated omission) → p50/p99.

Then ``--profile`` splits one batch's server-side cost in-process: JSON parsing, pydantic
validation, the SQL insert (the three things the server does to a batch). PostgreSQL is started
here (initdb + pg_ctl in a temporary folder, fsync on). Target: ≥ 20,000 events/s on SQLite.

    python benchmarks/bench_monitor.py [--seconds 10] [--rate 10000] [--clients 4]
        [--db sqlite,sqlite-normal,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

BATCH = 500
TOKEN = "bench-ingest-token"
SRC = Path(__file__).resolve().parents[1] / "src"


#: when this run started: the events' clock
STARTED = datetime.now(timezone.utc)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _event(i: int) -> dict[str, object]:
    """An ACS-like event: ten features, two probabilities, two group attributes, a latency."""
    return {
        "event_id": f"ev-{i}",
        # stamped now, as live traffic is: the window worker runs beside ingest and closes the
        # hour's window when it ends (events hours apart would close a window every few batches)
        "timestamp": (STARTED + timedelta(microseconds=i)).isoformat(),
        "model_version": "v1",
        "inputs": {
            "AGEP": 18 + i % 70,
            "COW": i % 8,
            "SCHL": i % 24,
            "MAR": i % 5,
            "OCCP": 1000 + i % 8000,
            "POBP": i % 500,
            "RELP": i % 17,
            "WKHP": 10 + i % 60,
            "SEX": 1 + i % 2,
            "RAC1P": 1 + i % 9,
        },
        "prediction": str(i % 2),
        "probabilities": {"0": 0.35, "1": 0.65},
        "groups": {"sex": "female" if i % 2 else "male", "race": str(1 + i % 9)},
        "latency_ms": 5.0 + i % 40,
    }


def bodies(n_batches: int, offset: int) -> list[bytes]:
    """Pre-encoded batches of unique events (the client should cost the server nothing)."""
    return [
        json.dumps({"events": [_event(offset + b * BATCH + j) for j in range(BATCH)]}).encode()
        for b in range(n_batches)
    ]


@contextmanager
def postgres() -> Iterator[str]:
    """A PostgreSQL server of our own in a temporary folder (fsync on: honest commits)."""
    initdb = shutil.which("initdb") or "/usr/local/bin/initdb"
    pg_ctl = shutil.which("pg_ctl") or "/usr/local/bin/pg_ctl"
    folder = Path(tempfile.mkdtemp(prefix="assay-bench-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        import pwd

        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", _port()
    subprocess.run(
        [*prefix, initdb, "-D", str(data), "-U", "postgres", "-A", "trust"],
        check=True,
        capture_output=True,
    )
    opts = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
    subprocess.run(
        [*prefix, pg_ctl, "-D", str(data), "-o", opts, "-l", str(folder / "log"), "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"], capture_output=True
        )
        shutil.rmtree(folder, ignore_errors=True)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def monitor(db: str, folder: Path, synchronous: str) -> Iterator[tuple[str, int]]:
    (folder / "suite.yaml").write_text(
        "data: {path: ref.csv, input: x, label: y}\nmodels: {m: 'python:m:f'}\n"
    )
    (folder / "ref.csv").write_text("x,y\n1,0\n")
    port = _port()
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "ASSAY_MONITOR_TOKENS": f"ingest:{TOKEN}",
        "ASSAY_MONITOR_LOG_LEVEL": "warning",
        "ASSAY_MONITOR_SQLITE_SYNCHRONOUS": synchronous,
    }
    cmd = [
        sys.executable,
        "-m",
        "assay",
        "monitor",
        "serve",
        "--suite",
        str(folder / "suite.yaml"),
        "--reference",
        str(folder / "ref.csv"),
        "--db",
        db,
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(cmd, env=env, cwd=folder)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the monitor did not start")
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def closed_loop(
    url: str, payloads: list[bytes], clients: int, seconds: float
) -> tuple[float, list[float]]:
    """Each client posts the next batch as soon as the last is acknowledged."""
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    latencies: list[float] = []
    it = iter(payloads)
    sent = 0
    async with httpx.AsyncClient(
        base_url=url, headers=headers, timeout=60, limits=httpx.Limits(max_connections=clients)
    ) as client:
        t0 = time.perf_counter()
        end = t0 + seconds

        async def worker() -> None:
            nonlocal sent
            while time.perf_counter() < end:
                body = next(it, None)
                if body is None:
                    return
                s = time.perf_counter()
                r = await client.post("/v1/events", content=body)
                r.raise_for_status()
                latencies.append(time.perf_counter() - s)
                sent += BATCH

        await asyncio.gather(*(worker() for _ in range(clients)))
        return sent / (time.perf_counter() - t0), latencies


async def open_loop(
    url: str, payloads: list[bytes], rate: float, seconds: float
) -> tuple[float, list[float]]:
    """A batch every BATCH/rate seconds on a fixed schedule; latency from the scheduled time."""
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    interval = BATCH / rate
    n = min(len(payloads), int(seconds / interval))
    latencies: list[float] = []
    async with httpx.AsyncClient(
        base_url=url, headers=headers, timeout=60, limits=httpx.Limits(max_connections=64)
    ) as client:
        t0 = time.perf_counter()

        async def one(k: int) -> None:
            due = t0 + k * interval
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            r = await client.post("/v1/events", content=payloads[k])
            r.raise_for_status()
            latencies.append(time.perf_counter() - due)

        await asyncio.gather(*(one(k) for k in range(n)))
        return n * BATCH / (time.perf_counter() - t0), latencies


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] * 1000


def profile(db: str, n: int = 20, synchronous: str = "FULL") -> dict[str, float]:
    """CPU milliseconds per batch of 500 for each step the server takes, run here in-process:
    JSON parsing (json.loads, for reference: the server lets pydantic parse the bytes), parsing
    and validating together (what the server does), and the SQL insert (commit included)."""
    sys.path.insert(0, str(SRC))
    from assay.monitor._schema import batch_models
    from assay.monitor._store import Store

    store = Store(db, sqlite_synchronous=synchronous)
    store.migrate()
    EventBatch, _ = batch_models(5000)
    payloads = bodies(n, offset=10_000_000)
    t_json = t_val = t_sql = wall_sql = 0.0
    for body in payloads:
        t = time.process_time()
        json.loads(body)
        t_json += time.process_time() - t
        t = time.process_time()
        batch = EventBatch.model_validate_json(body)
        t_val += time.process_time() - t
        t, w = time.process_time(), time.perf_counter()
        store.add_events(batch.events)
        t_sql += time.process_time() - t
        wall_sql += time.perf_counter() - w
    store.close()
    return {
        "json_loads_ms": t_json / n * 1000,
        "parse_validate_ms": t_val / n * 1000,
        "sql_ms": t_sql / n * 1000,
        "sql_wall_ms": wall_sql / n * 1000,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument(
        "--rate", type=float, default=10_000.0, help="offered events/s of the open loop"
    )
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument(
        "--db",
        default="sqlite,postgresql",
        help="sqlite (synchronous=FULL, the default), sqlite-normal, postgresql",
    )
    args = ap.parse_args()
    n_batches = int(60_000 * args.seconds / BATCH) + 10  # enough for 60k events/s
    payloads = bodies(n_batches, offset=0)
    print(
        f"{BATCH} events per batch, {len(payloads[0]) / 1024:.0f} KiB per body; {os.cpu_count()} CPUs"
    )
    for kind in args.db.split(","):
        with tempfile.TemporaryDirectory() as tmp, _db(kind, Path(tmp)) as db:
            synchronous = "NORMAL" if kind == "sqlite-normal" else "FULL"
            with monitor(db, Path(tmp), synchronous) as (url, pid):
                cpu0 = cpu_seconds(pid)
                rate, lat = asyncio.run(closed_loop(url, payloads, args.clients, args.seconds))
                per_batch = (cpu_seconds(pid) - cpu0) / len(lat)
                print(
                    f"{kind:10s} closed loop, {args.clients} clients: {rate:9,.0f} events/s; "
                    f"ack p50 {pct(lat, 50):6.1f} ms, p99 {pct(lat, 99):6.1f} ms; server CPU "
                    f"{per_batch * 1000:.1f} ms per batch = {BATCH / per_batch:,.0f} events "
                    "per CPU-second"
                )
                rest = payloads[len(lat) + args.clients :]
                got, lat = asyncio.run(open_loop(url, rest, args.rate, args.seconds))
                print(
                    f"{kind:10s} open loop at {args.rate:,.0f}/s: {got:9,.0f} events/s; "
                    f"ack p50 {pct(lat, 50):6.1f} ms, p99 {pct(lat, 99):6.1f} ms"
                )
            prof = profile(db, synchronous=synchronous)
            server_ms = per_batch * 1000
            rest = max(0.0, server_ms - prof["parse_validate_ms"] - prof["sql_ms"])
            print(
                f"{kind:10s} server CPU per batch {server_ms:.1f} ms: parse+validate "
                f"{prof['parse_validate_ms']:.1f} ms ({prof['parse_validate_ms'] / server_ms:.0%}; "
                f"json.loads alone {prof['json_loads_ms']:.1f} ms), SQL insert {prof['sql_ms']:.1f} ms "
                f"({prof['sql_ms'] / server_ms:.0%}; {prof['sql_wall_ms']:.1f} ms wall with the "
                f"commit's fsync), HTTP/ASGI/auth/response {rest:.1f} ms ({rest / server_ms:.0%})"
            )


@contextmanager
def _db(kind: str, folder: Path) -> Iterator[str]:
    if kind in ("sqlite", "sqlite-normal"):
        yield f"sqlite:///{folder / 'bench.db'}"
    elif kind == "postgresql":
        with postgres() as url:
            yield url
    else:
        raise SystemExit(f"--db {kind}: sqlite, sqlite-normal or postgresql")


if __name__ == "__main__":
    main()
