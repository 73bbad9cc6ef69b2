"""Scale: wall time and peak memory of a ``predictions:`` suite over many rows, three ways.

Run: ``.venv/bin/python benchmarks/bench_scale.py [--rows 100000 1000000] [--classes 2 10]
[--ways local ray reference] [--stages]``

For each row count and class count it writes a dataset (``id``, ``label``, two group columns)
and a predictions file (``id``, ``prediction``, ``prob_<class>``) as Parquet, then runs, each in
a fresh child process so that its peak RSS (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) is its
own:

- **local**: ``assay.evaluate`` of the suite (performance + slices over ``region`` + fairness
  over ``group``, 1000-resample intervals, no cache) on the local backend;
- **ray**: the same suite with ``backend="ray"``. A ``predictions:`` model answers by id, so the
  engine reads it on the driver and starts no actor: this line is the Ray backend's driver path
  for such a suite (what Ray itself costs per batch is ``--overhead``);
- **reference**: pandas reads the same files; scikit-learn computes accuracy, balanced accuracy,
  macro F1 and (binary) ROC AUC overall and per region, and Fairlearn's ``MetricFrame`` the
  per-group selection rate and accuracy with the demographic-parity difference — point values
  only, no interval (assay gives every one of these with a 95% interval).

The child of ``local`` checks its accuracy against the reference's, so the numbers compared are
the same numbers.

``--overhead N`` measures instead what one driver can feed: ``N`` inputs to a model that
answers at once, in batches of 64, through the engine on each backend (Ray already started, the
actors warm: the second of two runs), as batches per second — the driver's ceiling whatever the
size of the cluster. ``--stages`` (local only) prints the RSS after each stage of a run (read,
plan, engine, score), which says where the memory goes.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def _rss_mb() -> float:
    """This process's peak resident set, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def write_files(folder: Path, n: int, k: int, seed: int = 0) -> Path:
    """The dataset, the predictions and the suite for ``n`` rows and ``k`` classes."""
    import pandas as pd
    import yaml

    rng = np.random.default_rng(seed)
    group = rng.integers(0, 4, n)
    region = rng.integers(0, 8, n)
    y = rng.integers(0, k, n)
    right = rng.random(n) < 0.70 + 0.03 * group
    pred = np.where(right, y, (y + rng.integers(1, k, n)) % k)
    logits = rng.normal(0.0, 1.0, (n, k))
    logits[np.arange(n), pred] += 2.5
    proba = np.exp(logits)
    proba /= proba.sum(axis=1, keepdims=True)
    ids = np.char.add("r", np.arange(n).astype(str))
    pd.DataFrame(
        {"id": ids, "label": y, "group": group.astype(str), "region": region.astype(str)}
    ).to_parquet(folder / "data.parquet", index=False)
    preds = pd.DataFrame({"id": ids, "prediction": pred})
    for c in range(k):
        preds[f"prob_{c}"] = proba[:, c]
    preds.to_parquet(folder / "preds.parquet", index=False)
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
        "engine": {"cache": None, "progress": False, "batch_size": 4096},
    }
    path = folder / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path


# -- the children ---------------------------------------------------------------------------


def child_assay(suite: Path, backend: str, stages: bool) -> dict[str, Any]:
    import assay

    if stages:
        _instrument_stages()
    t0 = time.perf_counter()
    report = assay.evaluate(suite, progress=False, write=False, backend=backend)
    wall = time.perf_counter() - t0
    acc = report.result("performance").metrics["accuracy"]
    return {
        "wall_s": round(wall, 2),
        "peak_mb": round(_rss_mb()),
        "accuracy": acc.value,
        "accuracy_ci": [acc.lower, acc.upper],
        "n_metrics": sum(len(r.metrics) for r in report.results),
        "stages": STAGES,
    }


STAGES: dict[str, float] = {}


def _instrument_stages() -> None:
    """Record the current and peak RSS when each stage of the runner ends."""
    import assay._runner._evaluate as ev
    from assay.engine import Engine

    def wrap(owner: Any, name: str, label: str) -> None:
        fn = getattr(owner, name)

        def wrapped(*a: Any, **k: Any) -> Any:
            out = fn(*a, **k)
            STAGES[f"{label} (now MiB)"] = round(_current_mb())
            STAGES[f"{label} (peak MiB)"] = round(_rss_mb())
            return out

        setattr(owner, name, wrapped)

    wrap(ev, "load_dataset", "1 read dataset")
    wrap(ev.SuiteModels, "load", "2 load predictions file")
    wrap(Engine, "run", "4 engine answered")
    wrap(ev, "evaluate_gates", "5 checks scored")
    original_plan = ev.Check.plan if hasattr(ev, "Check") else None
    if original_plan is not None:
        for cls in _check_classes():
            wrap(cls, "plan", f"3 planned ({cls.__name__})")


def _check_classes() -> list[type]:
    from assay.checks._fairness import FairnessCheck
    from assay.checks._performance import PerformanceCheck
    from assay.checks._slices import SlicesCheck

    return [PerformanceCheck, SlicesCheck, FairnessCheck]


def child_reference(folder: Path, k: int) -> dict[str, Any]:
    import pandas as pd
    from fairlearn.metrics import MetricFrame, demographic_parity_difference, selection_rate
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, roc_auc_score

    t0 = time.perf_counter()
    data = pd.read_parquet(folder / "data.parquet")
    preds = pd.read_parquet(folder / "preds.parquet")
    frame = data.merge(preds, on="id", how="left", validate="one_to_one")
    y, yp = frame["label"].to_numpy(), frame["prediction"].to_numpy()
    scores: dict[str, Any] = {
        "accuracy": accuracy_score(y, yp),
        "balanced_accuracy": balanced_accuracy_score(y, yp),
        "f1_macro": f1_score(y, yp, average="macro"),
    }
    if k == 2:
        scores["roc_auc"] = roc_auc_score(y, frame["prob_1"].to_numpy())
    by_region = MetricFrame(
        metrics={"accuracy": accuracy_score, "balanced_accuracy": balanced_accuracy_score},
        y_true=y,
        y_pred=yp,
        sensitive_features=frame["region"],
    )
    scores["slices"] = by_region.by_group.to_dict()
    # fairness audits the decision "label 1" (positive_label: 1), for 2 and for 10 classes
    y1, yp1 = (y == 1).astype(int), (yp == 1).astype(int)
    by_group = MetricFrame(
        metrics={"selection_rate": selection_rate, "accuracy": accuracy_score},
        y_true=y1,
        y_pred=yp1,
        sensitive_features=frame["group"],
    )
    scores["groups"] = by_group.by_group.to_dict()
    scores["dp_difference"] = demographic_parity_difference(
        y1, yp1, sensitive_features=frame["group"]
    )
    return {
        "wall_s": round(time.perf_counter() - t0, 2),
        "peak_mb": round(_rss_mb()),
        "accuracy": scores["accuracy"],
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


def run_child(args: list[str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "_child", *args], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "?"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        way, target, k, stages = sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
        if way == "reference":
            print(json.dumps(child_reference(target.parent, k)))
        else:
            print(json.dumps(child_assay(target, way, stages == "1")))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=float, nargs="+", default=[1e5, 1e6])
    ap.add_argument("--classes", type=int, nargs="+", default=[2, 10])
    ap.add_argument("--ways", nargs="+", default=["local", "ray", "reference"])
    ap.add_argument("--stages", action="store_true", help="RSS after each stage (local)")
    ap.add_argument("--overhead", type=int, default=0, help="driver throughput, N inputs")
    ap.add_argument("--actors", type=int, default=2, help="actors for --overhead")
    args = ap.parse_args()
    if args.overhead:
        overhead(args.overhead, args.actors)
        return
    print("rows       k  way         wall_s   peak_MiB  accuracy   vs reference (time, memory)")
    for rows in args.rows:
        n = int(rows)
        for k in args.classes:
            with tempfile.TemporaryDirectory(prefix="assay-scale-") as tmp:
                suite = write_files(Path(tmp), n, k)
                results = {}
                for way in args.ways:
                    stages = "1" if args.stages and way == "local" else "0"
                    results[way] = run_child([way, str(suite), str(k), stages])
                ref = results.get("reference", {})
                for way, r in results.items():
                    if "error" in r:
                        print(f"{n:<10} {k:<2} {way:<10}  failed: {r['error']}")
                        continue
                    ratio = ""
                    if way != "reference" and "wall_s" in ref:
                        ratio = (
                            f"{r['wall_s'] / max(ref['wall_s'], 1e-9):.2f}x, "
                            f"{r['peak_mb'] / max(ref['peak_mb'], 1):.2f}x"
                        )
                    print(
                        f"{n:<10} {k:<2} {way:<10} {r['wall_s']:>7.1f} {r['peak_mb']:>10} "
                        f"{r['accuracy']:>9.5f}   {ratio}"
                    )
                    if r.get("stages"):
                        for stage, mb in sorted(r["stages"].items()):
                            print(f"{'':16}{stage:<52} {mb:>8}")
                if "accuracy" in results.get("local", {}) and "accuracy" in ref:
                    assert abs(results["local"]["accuracy"] - ref["accuracy"]) < 1e-12, results


if __name__ == "__main__":
    main()
