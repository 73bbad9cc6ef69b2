"""Side-by-side timing: assay's ``detect_drift`` against Evidently's data-drift preset.

Run: ``.venv/bin/python benchmarks/bench_drift.py [--n N] [--quick]``

A table of 20 columns — 15 numeric, 5 categorical (8 to 40 levels) — with N reference and N
current rows (default 1,000,000 each). In the current table 5 numeric columns are shifted (mean,
scale) and 2 categorical columns have a new category mix; the other 13 columns are unchanged.

Evidently 0.7 needs ``pandas < 3`` (assay's environment has pandas 3), so it runs in a virtual
environment of its own, ``.bench-venv/`` (git-ignored), which this script builds on first use
with ``pip install "pandas<3" evidently==0.7.23 nannyml==0.13.1`` (NannyML is there for
``tests/drift/test_cbpe_nannyml.py``). Both libraries run in fresh worker processes of this
script on the same Parquet files, one after the other: the time is that of the call alone
(reading the files is not counted; wall-clock and the process's CPU seconds, which a loaded
machine disturbs less), the memory is the worker's peak resident set (with the loaded
tables, which are the same on both sides) and its growth during the call.

Evidently's preset (more than 1000 rows): Wasserstein distance normalised by the reference's
standard deviation for numeric columns, Jensen–Shannon distance for categorical ones, each with
threshold 0.1. assay's ``detect_drift`` chooses the same methods and thresholds at this size; the
verdicts and statistics are compared column by column.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".bench-venv"
PINS = ["pandas<3", "evidently==0.7.23", "nannyml==0.13.1"]
NUMERIC = [f"num_{i:02d}" for i in range(15)]
CATEGORICAL = [f"cat_{i}" for i in range(5)]


def make_tables(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)

    def table(shifted: bool) -> pd.DataFrame:
        cols: dict[str, Any] = {}
        for i, name in enumerate(NUMERIC):
            mean, sd = 0.0, 1.0
            if shifted and i < 5:
                mean, sd = (0.02, 0.05, 0.1, 0.3, 0.0)[i], (1.0, 1.0, 1.0, 1.0, 1.5)[i]
            base = rng.normal(mean, sd, n)
            cols[name] = np.exp(base) if i % 3 == 1 else base  # some skewed columns
        for i, name in enumerate(CATEGORICAL):
            k = (8, 12, 20, 30, 40)[i]
            w = 1.0 / np.arange(1, k + 1)
            if shifted and i < 2:
                w = w[::-1] if i == 0 else w**0.8
            w = w / w.sum()
            levels = np.array([f"level_{j}" for j in range(k)])
            cols[name] = levels[rng.choice(k, n, p=w)]
        return pd.DataFrame(cols)

    return table(False), table(True)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def worker_assay(ref: pd.DataFrame, cur: pd.DataFrame, n_jobs: int | None) -> dict[str, Any]:
    from assay.drift import detect_drift

    kinds: dict[str, Literal["numeric", "categorical"]] = {c: "numeric" for c in NUMERIC}
    kinds |= {c: "categorical" for c in CATEGORICAL}
    detect_drift(ref.iloc[:2000], cur.iloc[:2000], column_types=kinds)  # warm-up (imports)
    t0, c0 = time.perf_counter(), time.process_time()
    result = detect_drift(ref, cur, column_types=kinds, n_jobs=n_jobs)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    columns = {
        c.column: {"method": c.method, "statistic": c.statistic, "drifted": bool(c.drifted)}
        for c in result.columns
    }
    return {"seconds": seconds, "cpu_seconds": cpu, "columns": columns}


def worker_evidently(ref: pd.DataFrame, cur: pd.DataFrame) -> dict[str, Any]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
    t0, c0 = time.perf_counter(), time.process_time()
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(cur, data_definition=definition),
        Dataset.from_pandas(ref, data_definition=definition),
    )
    out = snapshot.dict()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    columns = {}
    for metric in out["metrics"]:
        config = metric["config"]
        if config.get("type", "").endswith("ValueDrift"):
            columns[config["column"]] = {
                "method": config["method"],
                "statistic": float(metric["value"]),
                "drifted": float(metric["value"]) >= float(config["threshold"]),
            }
    return {"seconds": seconds, "cpu_seconds": cpu, "columns": columns}


def run_worker(args: argparse.Namespace) -> None:
    ref = pd.read_parquet(Path(args.data) / "reference.parquet")
    cur = pd.read_parquet(Path(args.data) / "current.parquet")
    loaded = current_rss_mib()
    if args.worker == "evidently":
        out = worker_evidently(ref, cur)
    else:
        out = worker_assay(ref, cur, args.n_jobs)
    out["rss_loaded_mib"] = loaded
    out["peak_rss_mib"] = peak_rss_mib()
    print(json.dumps(out))


def ensure_venv() -> Path:
    python = VENV / "bin" / "python"
    probe = [str(python), "-c", "import evidently"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"building {VENV} for Evidently ({' '.join(PINS)}) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *PINS], check=True)
    return python


def spawn(python: str, data: Path, worker: str, n_jobs: int | None = None) -> dict[str, Any]:
    cmd = [python, __file__, "--worker", worker, "--data", str(data)]
    if n_jobs is not None:
        cmd += ["--n-jobs", str(n_jobs)]
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", str(ROOT / "src"))}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{worker} worker failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="rows on each side")
    ap.add_argument("--quick", action="store_true", help="N = 100,000")
    ap.add_argument("--worker", choices=["assay", "evidently"], help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--n-jobs", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        run_worker(args)
        return
    n = 100_000 if args.quick else args.n
    evidently_python = str(ensure_venv())
    with tempfile.TemporaryDirectory(prefix="bench-drift-") as tmp:
        data = Path(tmp)
        ref, cur = make_tables(n)
        ref.to_parquet(data / "reference.parquet")
        cur.to_parquet(data / "current.parquet")
        del ref, cur
        theirs = spawn(evidently_python, data, "evidently")
        ours_1 = spawn(sys.executable, data, "assay", n_jobs=1)
        ours = spawn(sys.executable, data, "assay")
    print(
        f"drift, {n:,} + {n:,} rows x 20 columns (15 numeric, 5 categorical), {os.cpu_count()} CPUs"
    )
    print(f"{'':28}{'seconds':>10}{'CPU s':>8}{'peak RSS MiB':>14}{'+ during call':>15}")
    for name, r in (
        ("Evidently DataDriftPreset", theirs),
        ("assay detect_drift n_jobs=1", ours_1),
        ("assay detect_drift", ours),
    ):
        grow = r["peak_rss_mib"] - r["rss_loaded_mib"]
        print(
            f"{name:28}{r['seconds']:>10.2f}{r['cpu_seconds']:>8.2f}"
            f"{r['peak_rss_mib']:>14.0f}{grow:>15.0f}"
        )
    print(
        f"ratio Evidently / assay: {theirs['seconds'] / ours['seconds']:.1f}x "
        f"(single thread: {theirs['seconds'] / ours_1['seconds']:.1f}x)"
    )
    agree = 0
    print(f"{'column':10}{'assay':>28}{'evidently':>38}  verdicts")
    for col in NUMERIC + CATEGORICAL:
        a, e = ours["columns"][col], theirs["columns"][col]
        same = a["drifted"] == e["drifted"]
        agree += same
        print(
            f"{col:10}{a['method']:>14} {a['statistic']:.5f} {a['drifted']!s:>5}"
            f"{e['method']:>30} {e['statistic']:.5f} {e['drifted']!s:>5}  "
            f"{'same' if same else 'DIFFERENT'}"
        )
    gap = max(
        abs(ours["columns"][c]["statistic"] - theirs["columns"][c]["statistic"])
        for c in NUMERIC + CATEGORICAL
    )
    print(f"verdicts agree on {agree}/20 columns; largest statistic difference {gap:.2e}")


if __name__ == "__main__":
    main()
