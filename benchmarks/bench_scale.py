"""Scale: wall time and peak memory of a ``predictions:`` suite over many rows, four ways.

Run: ``.venv/bin/python benchmarks/bench_scale.py [--rows 1e6 1e7] [--classes 2 10]
[--ways stream ray memory reference] [--stages] [--timeout 1800]``

For each row count and class count it writes, once, into a temporary folder a dataset (``id``,
``label``, ``group`` with 4 values, ``region`` with 8) and a predictions file in the same row
order (``id``, ``prediction``, ``prob_<class>``) as Parquet, in row groups of 1e6 rows (written
a row group at a time, so the writer's memory does not grow with the rows), and two suites:
performance + slices over ``region`` + fairness over ``group`` (``positive_label: 1``, also with
10 classes), 1000-resample intervals, no cache, ``engine.stream: true`` in one and ``false`` in
the other. Then it runs each way in a fresh child process, so that its peak RSS
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) is its own:

- **stream**: ``assay.evaluate`` of the streamed suite on the local backend: the two files are
  read in chunks of ``engine.chunk_rows`` (100,000) rows and every chunk is reduced to mergeable
  statistics (``assay._runner._stream``);
- **ray**: the same suite with ``backend="ray"``: the chunks are read and reduced by Ray tasks
  and merged on the driver. The child starts a local Ray of 2 CPUs itself (``ray.init``) inside
  the timed span and shuts it down inside it, so ``wall_s`` includes Ray's start and stop;
  ``reduce_s`` is ``report.engine["streamed"]["models"][m]["reduce_s"]``, the reduction with
  the scoring of the merged state (on every way that streams). ``peak_MiB`` is the driver's;
  ``tree_MiB`` is the largest sum of the RSS of the driver and every process under it (Ray's
  GCS, raylet and workers), sampled every 0.2 s — an upper bound, shared pages count once per
  process;
- **memory**: ``engine.stream: false``, the in-memory path (one Request/Response per row, about
  2.6 KiB a row): skipped, with the reason printed, above 2e6 rows;
- **reference**: pandas reads the same files and joins them on ``id``; scikit-learn computes
  accuracy, balanced accuracy, macro F1 and (binary) ROC AUC, Fairlearn's ``MetricFrame`` the
  per-region accuracy and balanced accuracy and the per-group selection rate and accuracy of the
  decision "label 1", with the demographic-parity difference — point values only, no interval
  (assay gives each of these with a 95% interval).

Every child returns the numbers it computed, and the parent checks, for each way against the
reference of the same files, that they are the same numbers: accuracy, every region's accuracy
and every group's selection rate within 1e-12, and (binary) ROC AUC within the bound the
streamed report gives (``tables["binned_auc"]["max_abs_error"]``; 1e-12 on the in-memory path,
which computes it exactly). A line per check says whether it held. Then it prints the ratios
issue 17 names: stream peak RSS at the largest row count over the smallest (target ≤ 2), ray
wall / stream wall (target ≤ 1.5), reference / stream in wall time and in peak RSS.

``--stages`` prints the RSS (current and peak, MiB) after each stage: on ``stream`` and
``ray`` after the check pass (ids, labels, predictions read once) and after the reduction (every
chunk reduced and merged); on ``memory`` after the dataset is read, the predictions file loaded,
each check planned, the engine answered and the checks scored.

``--overhead N`` measures instead what one driver can feed: ``N`` inputs to a model that
answers at once, in batches of 64, through the engine on each backend (Ray already started, the
actors warm: the second of two runs), as batches per second — the driver's ceiling whatever the
size of the cluster.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

WAYS = ("stream", "ray", "memory", "reference")
#: Above this many rows the in-memory way is skipped (about 2.6 KiB a row).
MEMORY_MAX_ROWS = 2_000_000
#: Rows written at a time (one Parquet row group each).
WRITE_ROWS = 1_000_000
EXACT = 1e-12


def _rss_mb() -> float:
    """This process's peak resident set, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def write_files(folder: Path, n: int, k: int, seed: int = 0) -> dict[str, Path]:
    """The dataset, the predictions and the two suites for ``n`` rows and ``k`` classes."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import yaml

    rng = np.random.default_rng(seed)
    data_writer = preds_writer = None
    for start in range(0, n, WRITE_ROWS):
        m = min(WRITE_ROWS, n - start)
        group = rng.integers(0, 4, m)
        region = rng.integers(0, 8, m)
        y = rng.integers(0, k, m)
        right = rng.random(m) < 0.70 + 0.03 * group
        pred = np.where(right, y, (y + rng.integers(1, k, m)) % k)
        logits = rng.normal(0.0, 1.0, (m, k))
        logits[np.arange(m), pred] += 2.5
        proba = np.exp(logits)
        proba /= proba.sum(axis=1, keepdims=True)
        ids = pa.array(np.char.add("r", np.arange(start, start + m).astype(str)))
        data = pa.table(
            {
                "id": ids,
                "label": y,
                "group": pa.array(group.astype(str)),
                "region": pa.array(region.astype(str)),
            }
        )
        preds = pa.table(
            {"id": ids, "prediction": pred, **{f"prob_{c}": proba[:, c] for c in range(k)}}
        )
        if data_writer is None or preds_writer is None:
            data_writer = pq.ParquetWriter(folder / "data.parquet", data.schema)
            preds_writer = pq.ParquetWriter(folder / "preds.parquet", preds.schema)
        data_writer.write_table(data)
        preds_writer.write_table(preds)
    assert data_writer is not None and preds_writer is not None
    data_writer.close()
    preds_writer.close()
    paths = {}
    for stream in (True, False):
        suite = {
            "name": f"scale-{n}-{k}",
            "seed": 0,
            "task": "classification",
            "data": {
                "path": "data.parquet",
                "id": "id",
                "label": "label",
                "groups": ["group"],
                "slices": ["region"],
            },
            "models": {"candidate": "predictions:preds.parquet"},
            "checks": {
                "performance": {},
                "slices": {"columns": ["region"]},
                "fairness": {"positive_label": 1},
            },
            "engine": {"cache": None, "progress": False, "batch_size": 4096, "stream": stream},
        }
        name = "stream" if stream else "memory"
        paths[name] = folder / f"suite-{name}.yaml"
        paths[name].write_text(yaml.safe_dump(suite))
    return paths


# -- the children ---------------------------------------------------------------------------


class TreeSampler:
    """The largest sum of the RSS of this process and all its descendants, sampled."""

    def __init__(self, every_s: float = 0.2) -> None:
        import psutil

        self._me = psutil.Process()
        self._every = every_s
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            total = 0
            for proc in [self._me, *self._me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += proc.memory_info().rss
            self.peak_mb = max(self.peak_mb, total / 2**20)
            self._stop.wait(self._every)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


def child_assay(suite: Path, way: str, stages: bool) -> dict[str, Any]:
    import assay

    if stages:
        (_instrument_memory_stages if way == "memory" else _instrument_stream_stages)()
    tree = None
    if way == "ray":
        import ray

        tree = TreeSampler()
        tree.__enter__()
    t0 = time.perf_counter()
    if way == "ray":
        ray.init(num_cpus=2, include_dashboard=False, configure_logging=False)
    report = assay.evaluate(
        suite, progress=False, write=False, backend="ray" if way == "ray" else "local"
    )
    if way == "ray":
        ray.shutdown()
    wall = time.perf_counter() - t0
    if tree is not None:
        tree.__exit__()
    perf = report.result("performance")
    streamed = report.engine.get("streamed")
    out: dict[str, Any] = {
        "wall_s": round(wall, 2),
        "peak_mb": round(_rss_mb()),
        "tree_mb": round(tree.peak_mb) if tree is not None else None,
        "reduce_s": streamed["models"]["candidate"]["reduce_s"] if streamed else None,
        "streamed": bool(streamed),
        "accuracy": perf.metrics["accuracy"].value,
        "roc_auc": perf.metrics["roc_auc"].value if "roc_auc" in perf.metrics else None,
        "auc_bound": (perf.tables.get("binned_auc") or {}).get("max_abs_error", {}).get("roc_auc"),
        "regions": _values(report.result("slices").metrics, "region.", ".accuracy"),
        "selection": _values(report.result("fairness").metrics, "group.", ".selection_rate"),
        "stages": STAGES,
    }
    return out


def _values(metrics: dict[str, Any], prefix: str, suffix: str) -> dict[str, float]:
    """``{key: value}`` of the metrics named ``<prefix><key><suffix>``."""
    return {
        name[len(prefix) : -len(suffix)]: est.value
        for name, est in metrics.items()
        if name.startswith(prefix) and name.endswith(suffix)
    }


STAGES: dict[str, float] = {}


def _record(owner: Any, name: str, label: str) -> None:
    """Record the current and peak RSS each time ``owner.name`` returns."""
    fn = getattr(owner, name)

    def wrapped(*a: Any, **k: Any) -> Any:
        out = fn(*a, **k)
        STAGES[f"{label} (now MiB)"] = round(_current_mb())
        STAGES[f"{label} (peak MiB)"] = round(_rss_mb())
        return out

    setattr(owner, name, wrapped)


def _instrument_stream_stages() -> None:
    import assay._runner._stream as st

    _record(st, "check_pass", "1 check pass read")
    _record(st, "_reduce", "2 chunks reduced and merged")


def _instrument_memory_stages() -> None:
    import assay._runner._evaluate as ev
    from assay.checks._fairness import FairnessCheck
    from assay.checks._performance import PerformanceCheck
    from assay.checks._slices import SlicesCheck
    from assay.engine import Engine

    _record(ev, "load_dataset", "1 read dataset")
    _record(ev.SuiteModels, "load", "2 load predictions file")
    for cls in (PerformanceCheck, SlicesCheck, FairnessCheck):
        _record(cls, "plan", f"3 planned ({cls.__name__})")
    _record(Engine, "run", "4 engine answered")
    _record(ev, "evaluate_gates", "5 checks scored")


def child_reference(folder: Path, k: int) -> dict[str, Any]:
    import pandas as pd
    from fairlearn.metrics import MetricFrame, demographic_parity_difference, selection_rate
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, roc_auc_score

    t0 = time.perf_counter()
    data = pd.read_parquet(folder / "data.parquet")
    preds = pd.read_parquet(folder / "preds.parquet")
    frame = data.merge(preds, on="id", how="left", validate="one_to_one")
    del data, preds
    y, yp = frame["label"].to_numpy(), frame["prediction"].to_numpy()
    scores: dict[str, Any] = {
        "accuracy": accuracy_score(y, yp),
        "balanced_accuracy": balanced_accuracy_score(y, yp),
        "f1_macro": f1_score(y, yp, average="macro"),
        "roc_auc": roc_auc_score(y, frame["prob_1"].to_numpy()) if k == 2 else None,
    }
    by_region = MetricFrame(
        metrics={"accuracy": accuracy_score, "balanced_accuracy": balanced_accuracy_score},
        y_true=y,
        y_pred=yp,
        sensitive_features=frame["region"],
    )
    # fairness audits the decision "label 1" (positive_label: 1), for 2 and for 10 classes
    y1, yp1 = (y == 1).astype(int), (yp == 1).astype(int)
    by_group = MetricFrame(
        metrics={"selection_rate": selection_rate, "accuracy": accuracy_score},
        y_true=y1,
        y_pred=yp1,
        sensitive_features=frame["group"],
    )
    scores["dp_difference"] = demographic_parity_difference(
        y1, yp1, sensitive_features=frame["group"]
    )
    return {
        "wall_s": round(time.perf_counter() - t0, 2),
        "peak_mb": round(_rss_mb()),
        "accuracy": scores["accuracy"],
        "roc_auc": scores["roc_auc"],
        "regions": {str(g): float(v) for g, v in by_region.by_group["accuracy"].items()},
        "selection": {str(g): float(v) for g, v in by_group.by_group["selection_rate"].items()},
    }


def overhead(n: int, actors: int) -> None:
    """Batches per second through the engine, local and on Ray, for a model with no work."""
    import ray

    from assay._types import ModelInfo, Output, Request, content_key
    from assay.config import EngineSettings
    from assay.engine import Engine

    class Instant:
        def info(self) -> ModelInfo:
            return ModelInfo("m", "bench:instant", "classification", "fp-instant")

        def predict(self, batch: Any, params: Any = None) -> list[Output]:
            return [Output(label="1") for _ in batch]

    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    print(f"{'backend':<8} {'inputs':>8} {'batches':>8} {'wall_s':>8} {'batches/s':>10}")
    for backend in ("local", "ray"):
        settings = EngineSettings(
            cache=None, progress=False, batch_size=64, concurrency=actors, backend=backend
        )
        settings.ray.actors_per_model = actors
        settings.ray.num_cpus = 0.5
        with Engine(settings, cache_path=None, progress=False) as engine:
            for run in range(2):
                reqs = [
                    Request(content_key("fp-instant", f"{run}-{i}"), "m", f"{run}-{i}")
                    for i in range(n)
                ]
                t0 = time.perf_counter()
                engine.run(reqs, {"m": Instant()})
                wall = time.perf_counter() - t0
        batches = -(-n // 64)
        print(f"{backend:<8} {n:>8} {batches:>8} {wall:>8.2f} {batches / wall:>10.0f}")
    ray.shutdown()


# -- the parent -----------------------------------------------------------------------------


def run_child(args: list[str], timeout_s: float) -> dict[str, Any]:
    try:
        out = subprocess.run(
            [sys.executable, __file__, "_child", *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish in {timeout_s:.0f} s (--timeout)"}
    if out.returncode != 0:
        if out.returncode == -9:
            return {"error": "killed (SIGKILL: out of memory?)"}
        last = out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "?"
        return {"error": f"exit {out.returncode}: {last}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare(way: str, r: dict[str, Any], ref: dict[str, Any], label: str) -> list[bool]:
    """Print one line per check of ``r``'s numbers against the reference's; whether each held."""
    held = []

    def line(what: str, diff: float, bound: float) -> None:
        ok = diff <= bound
        held.append(ok)
        verdict = "held" if ok else "FAILED"
        print(f"  check {label} {way:<6} {what:<34} |diff| {diff:.3g} <= {bound:.3g}: {verdict}")

    line("accuracy = scikit-learn", abs(r["accuracy"] - ref["accuracy"]), EXACT)
    for key, name in (("regions", "region accuracy"), ("selection", "group selection rate")):
        if set(r[key]) != set(ref[key]):
            print(
                f"  check {label} {way:<6} {name}: keys differ {sorted(r[key])} {sorted(ref[key])}"
            )
            held.append(False)
            continue
        diff = max(abs(r[key][g] - ref[key][g]) for g in ref[key])
        line(f"every {name} = Fairlearn ({len(ref[key])})", diff, EXACT)
    if ref.get("roc_auc") is not None:
        bound = r["auc_bound"] if r.get("auc_bound") is not None else EXACT
        line("ROC AUC ~ scikit-learn (binned bound)", abs(r["roc_auc"] - ref["roc_auc"]), bound)
    return held


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "n/a"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        way, target, k, stages = sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
        if way == "reference":
            print(json.dumps(child_reference(target.parent, k)))
        else:
            print(json.dumps(child_assay(target, way, stages == "1")))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=float, nargs="+", default=[1e6, 1e7])
    ap.add_argument("--classes", type=int, nargs="+", default=[2, 10])
    ap.add_argument("--ways", nargs="+", choices=WAYS, default=list(WAYS))
    ap.add_argument("--stages", action="store_true", help="RSS after each stage of a run")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per child")
    ap.add_argument("--overhead", type=int, default=0, help="driver throughput, N inputs")
    ap.add_argument("--actors", type=int, default=2, help="actors for --overhead")
    args = ap.parse_args()
    if args.overhead:
        overhead(args.overhead, args.actors)
        return
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, OMP_NUM_THREADS="
        f"{os.environ.get('OMP_NUM_THREADS', '-')}"
    )
    header = (
        f"{'rows':<10} {'k':<3} {'way':<10} {'wall_s':>8} {'reduce_s':>9} {'peak_MiB':>9} "
        f"{'tree_MiB':>9} {'accuracy':>9}"
    )
    table: dict[tuple[int, int, str], dict[str, Any]] = {}
    all_held: list[bool] = []
    for rows in args.rows:
        n = int(rows)
        for k in args.classes:
            with tempfile.TemporaryDirectory(prefix="assay-scale-") as tmp:
                t0 = time.perf_counter()
                suites = write_files(Path(tmp), n, k)
                size = sum(p.stat().st_size for p in Path(tmp).glob("*.parquet")) / 2**20
                print(
                    f"\n{n} rows, {k} classes: files written in "
                    f"{time.perf_counter() - t0:.1f} s ({size:.0f} MiB of Parquet)"
                )
                print(header)
                for way in args.ways:
                    if way == "memory" and n > MEMORY_MAX_ROWS:
                        r: dict[str, Any] = {
                            "skipped": f"skipped: {n} rows > {MEMORY_MAX_ROWS} (about 2.6 KiB a "
                            f"row in memory: ~{n * 2.6 / 2**20:.0f} GiB)"
                        }
                    else:
                        suite = suites["memory" if way == "memory" else "stream"]
                        stages = "1" if args.stages and way != "reference" else "0"
                        r = run_child([way, str(suite), str(k), stages], args.timeout)
                    table[(n, k, way)] = r
                    _print_row(n, k, way, r)
                ref = table.get((n, k, "reference"), {})
                for way in args.ways:
                    r = table[(n, k, way)]
                    if way != "reference" and "accuracy" in r and "accuracy" in ref:
                        all_held += compare(way, r, ref, f"{n:.0e}/k={k}")
    _print_ratios(table, args)
    if all_held:
        print(f"\n{sum(all_held)} of {len(all_held)} checks held")


def _print_row(n: int, k: int, way: str, r: dict[str, Any]) -> None:
    if "wall_s" not in r:
        print(f"{n:<10} {k:<3} {way:<10} {r.get('error') or r.get('skipped')}")
        return

    def cell(v: Any, width: int, fmt: str = "") -> str:
        return f"{'-':>{width}}" if v is None else f"{v:>{width}{fmt}}"

    print(
        f"{n:<10} {k:<3} {way:<10} {r['wall_s']:>8.1f} {cell(r.get('reduce_s'), 9, '.1f')} "
        f"{r['peak_mb']:>9} {cell(r.get('tree_mb'), 9)} {r['accuracy']:>9.5f}"
    )
    for stage, mb in sorted((r.get("stages") or {}).items()):
        print(f"{'':16}{stage:<52} {mb:>8}")


def _print_ratios(table: dict[tuple[int, int, str], dict[str, Any]], args: Any) -> None:
    def get(n: int, k: int, way: str, key: str) -> float | None:
        value = table.get((n, k, way), {}).get(key)
        return float(value) if value is not None else None

    rows = sorted({int(r) for r in args.rows})
    print("\nratios")
    for k in args.classes:
        lo, hi = rows[0], rows[-1]
        a, b = get(hi, k, "stream", "peak_mb"), get(lo, k, "stream", "peak_mb")
        if a and b and hi != lo:
            verdict = "met" if a / b <= 2 else "NOT met"
            print(
                f"  k={k:<2} stream peak RSS {hi:.0e} / {lo:.0e}: {a / b:.2f} (target <= 2: {verdict})"
            )
        for n in rows:
            sw, sr = get(n, k, "stream", "wall_s"), get(n, k, "stream", "reduce_s")
            rw, rr = get(n, k, "ray", "wall_s"), get(n, k, "ray", "reduce_s")
            if sw and rw:
                verdict = "met" if rw / sw <= 1.5 else "NOT met"
                reduce = f"; reduce_s {_ratio(rr, sr)}" if rr and sr else ""
                print(
                    f"  k={k:<2} {n:.0e} ray / stream wall: {rw / sw:.2f} "
                    f"(target <= 1.5: {verdict}){reduce}"
                )
            fw, fm = get(n, k, "reference", "wall_s"), get(n, k, "reference", "peak_mb")
            sm = get(n, k, "stream", "peak_mb")
            if sw and fw and sm and fm:
                print(
                    f"  k={k:<2} {n:.0e} reference / stream: wall {fw / sw:.2f}, "
                    f"peak RSS {fm / sm:.2f}"
                )


if __name__ == "__main__":
    main()
