"""The ``ray`` backend on a real local Ray (``ray.init(num_cpus=2)``, started once for the module):
the same suite and seed give the same Report as the local backend, number by number; the cache is
shared both ways; a run killed half-way resumes; a worker that dies mid-batch is restarted and its
batch asked again; model errors are recorded as on the local backend. Real models: scikit-learn
on the breast-cancer data and ``python:`` functions in files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import joblib
import pytest
import yaml
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

import assay
from assay.errors import ConfigError, ModelError

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")

FEATURES = ["mean_radius", "mean_texture", "mean_smoothness"]
#: Report parts that may differ between two runs of one suite: when and how long, and how the
#: engine got its answers (``engine``: calls vs cache hits, wall time, the backend itself).
NOT_RESULTS = {"created_at", "duration_s", "engine"}

RULE = textwrap.dedent(
    """
    def predict(rows):
        return [int(r["mean_radius"] < 14.5) for r in rows]
    predict.task = "classification"
    """
)


@pytest.fixture(scope="module", autouse=True)
def ray_here() -> Any:
    """One local Ray for the module; its address lets a child process join it."""
    try:
        ray.init(num_cpus=2, include_dashboard=False, configure_logging=False)
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"Ray cannot start on this machine: {type(exc).__name__}: {exc}")
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def cancer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Breast-cancer test rows with a size group, a fitted model file and a rule in a file."""
    d = tmp_path_factory.mktemp("cancer")
    frame = load_breast_cancer(as_frame=True).frame.rename(columns=lambda c: c.replace(" ", "_"))
    train, test = frame.iloc[:369], frame.iloc[369:].reset_index(drop=True)
    model = LogisticRegression(max_iter=1000).fit(train[FEATURES], train["target"])
    joblib.dump(model, d / "model.joblib")
    test = test.assign(
        id=[f"p{i}" for i in range(len(test))],
        size=(test["mean_radius"] > 14).map({True: "big", False: "small"}),
    )
    test[["id", *FEATURES, "size", "target"]].to_csv(d / "test.csv", index=False)
    (d / "rule.py").write_text(RULE)
    return d


def _suite(d: Path, name: str, models: dict[str, str], **engine: Any) -> Path:
    suite = {
        "name": "cancer",
        "seed": 7,
        "data": {"path": "test.csv", "id": "id", "input": FEATURES, "label": "target"},
        "models": models,
        "trust": True,
        "checks": {
            "performance": {"n_bootstrap": 200},
            "slices": {"columns": ["size"]},
            "fairness": {"groups": ["size"]},
        },
        "engine": {"cache": None, "progress": False, "batch_size": 32, **engine},
    }
    path = d / f"{name}.yaml"
    path.write_text(yaml.safe_dump(suite), encoding="utf-8")
    return path


def _results(report: assay.Report) -> dict[str, Any]:
    """Everything a report says about the models (every metric value and bound, table, flag,
    gate, note), without timings, durations, the engine's record and the suite's engine
    settings (the backend, the cache file)."""
    out = json.loads(report.to_json())
    out = {k: v for k, v in out.items() if k not in NOT_RESULTS}
    out["suite"].pop("engine")  # the backend and the cache file
    return out


def _run(suite: Path, **kwargs: Any) -> assay.Report:
    return assay.evaluate(suite, progress=False, write=False, **kwargs)


TWO = {"candidate": "sklearn:model.joblib", "rule": "python:rule.py:predict"}


@pytest.fixture(scope="module")
def both(cancer: Path) -> dict[str, assay.Report]:
    """The same suite, each backend with its own cache."""
    local = _run(_suite(cancer, "local", TWO, cache="local.db"))
    on_ray = _run(_suite(cancer, "ray", TWO, cache="ray.db"), backend="ray")
    return {"local": local, "ray": on_ray}


def test_ray_report_equals_local_number_by_number(both: dict[str, assay.Report]) -> None:
    local, on_ray = both["local"], both["ray"]
    assert on_ray.engine["backend"] == "ray" and local.engine["backend"] == "local"
    assert on_ray.engine["n_called"] == local.engine["n_called"] > 0
    assert on_ray.engine["ray_actors"] == {"candidate": 1, "rule": 1}
    assert _results(on_ray) == _results(local)
    metrics = on_ray.result("performance", model="rule").metrics
    assert metrics["accuracy"].lower < metrics["accuracy"].value < metrics["accuracy"].upper


def test_cache_is_shared_both_ways(cancer: Path, both: dict[str, assay.Report]) -> None:
    # the local run's cache read on Ray, and the Ray run's cache read locally: no model call
    ray_after_local = _run(_suite(cancer, "ray-reads-local", TWO, cache="local.db"), backend="ray")
    local_after_ray = _run(_suite(cancer, "local-reads-ray", TWO, cache="ray.db"))
    for report in (ray_after_local, local_after_ray):
        assert report.engine["n_called"] == 0
        assert report.engine["n_cached"] == both["local"].engine["n_unique"]
        assert _results(report) == _results(both["local"])


SLOW = textwrap.dedent(
    """
    import json, time
    from pathlib import Path
    LOG = Path(__file__).with_name("slow-calls.log")

    def predict(rows):
        with LOG.open("a") as f:  # logged before answering: a batch in flight is in the log
            f.write(json.dumps([r["mean_radius"] for r in rows]) + "\\n")
        time.sleep(0.15)
        return [int(r["mean_radius"] < 14.5) for r in rows]
    predict.task = "classification"
    """
)


def _logged(log: Path) -> int:
    if not log.exists():
        return 0
    return sum(len(json.loads(line)) for line in log.read_text().splitlines() if line.strip())


def test_a_killed_ray_run_resumes_asking_only_what_is_missing(
    cancer: Path, ray_here: str, both: dict[str, assay.Report]
) -> None:
    (cancer / "slow.py").write_text(SLOW)
    log = cancer / "slow-calls.log"
    suite = _suite(
        cancer, "slow", {"rule": "python:slow.py:predict"}, cache="slow.db", batch_size=10
    )
    n_rows = both["local"].engine["n_unique"] // 2
    # the driver joins this module's Ray, so killing it kills only the driver and its actors
    env = {**os.environ, "RAY_ADDRESS": ray_here, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-c", "from assay._cli.main import main; main()", "run", str(suite)]
    cmd += ["--backend", "ray", "-q"]
    cmd += ["--out", str(cancer / "out-slow")]
    child = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    while _logged(log) < n_rows // 3:
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "the Ray run made no progress"
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.communicate()
    asked_before = _logged(log)
    assert asked_before < n_rows

    resumed = _run(suite, backend="ray")
    asked_after = _logged(log) - asked_before
    # what was answered before the kill came from the cache; at most the batch in flight again
    assert resumed.engine["n_cached"] >= asked_before - 10
    assert resumed.engine["n_called"] == asked_after == n_rows - resumed.engine["n_cached"]
    rule = both["local"].result("performance", model="rule").metrics
    assert resumed.result("performance", model="rule").metrics == rule


DIES = textwrap.dedent(
    """
    import os
    from pathlib import Path
    MARK = Path(__file__).with_name("died.txt")

    def predict(rows):
        if not MARK.exists():  # the first call ends its worker process, mid-batch
            MARK.write_text(str(os.getpid()))
            os._exit(1)
        return [int(r["mean_radius"] < 14.5) for r in rows]
    predict.task = "classification"
    """
)


def test_a_worker_that_dies_mid_batch_is_restarted_and_asked_again(
    cancer: Path, both: dict[str, assay.Report]
) -> None:
    (cancer / "dies.py").write_text(DIES)
    report = _run(_suite(cancer, "dies", {"rule": "python:dies.py:predict"}), backend="ray")
    assert (cancer / "died.txt").exists()  # a worker did die
    assert report.engine["n_errors"] == 0
    rule = both["local"].result("performance", model="rule").metrics
    assert report.result("performance", model="rule").metrics == rule


PICKY = textwrap.dedent(
    """
    import hashlib
    from pathlib import Path
    from assay.errors import RetryableModelError

    def predict(rows):
        first = hashlib.sha1(repr(rows[0]).encode()).hexdigest()
        mark = Path(__file__).parent / ("seen-" + MODE) / first
        if not mark.exists():  # each batch fails once, transiently: retried by the engine
            mark.parent.mkdir(exist_ok=True)
            mark.write_text("")
            raise RetryableModelError("busy, try again", retry_after_s=0)
        if any(r["mean_radius"] > 20 for r in rows):
            raise ValueError("radius out of range")
        return [int(r["mean_radius"] < 14.5) for r in rows]
    predict.task = "classification"
    """
)


def test_model_errors_and_retries_are_recorded_as_on_the_local_backend(cancer: Path) -> None:
    reports = {}
    for backend in ("local", "ray"):
        (cancer / f"picky_{backend}.py").write_text(f"MODE = {backend!r}\n" + PICKY)
        suite = _suite(
            cancer, f"picky-{backend}", {"rule": f"python:picky_{backend}.py:predict"}, backoff_s=0
        )
        reports[backend] = _run(suite, backend=backend)
    local, on_ray = reports["local"], reports["ray"]
    assert local.engine["n_errors"] > 0 and local.engine["n_retries"] > 0
    for key in ("n_errors", "n_retries", "n_called"):
        assert on_ray.engine[key] == local.engine[key], key
    # every check result (errors counted the same), note and gate; the model files differ by name
    for part in ("results", "notes", "gates"):
        assert _results(on_ray)[part] == _results(local)[part], part
    assert on_ray.result("performance", model="rule").errors.n_errors > 0


def test_an_estimator_in_memory_is_shipped_to_the_actors(cancer: Path) -> None:
    frame = load_breast_cancer(as_frame=True).frame.rename(columns=lambda c: c.replace(" ", "_"))
    model = joblib.load(cancer / "model.joblib")
    data = frame.iloc[369:][[*FEATURES, "target"]]
    local = assay.evaluate(model=model, data=data, label="target", progress=False, seed=3)
    on_ray = assay.evaluate(
        model=model, data=data, label="target", progress=False, seed=3, backend="ray"
    )
    assert on_ray.engine["n_called"] == local.engine["n_called"] > 0
    assert on_ray.result("performance").metrics == local.result("performance").metrics


def test_a_model_that_cannot_be_pickled_is_refused_with_the_fix(cancer: Path) -> None:
    lock = threading.Lock()

    def predict(rows: list[dict[str, float]]) -> list[int]:
        with lock:
            return [int(r["mean_radius"] < 14.5) for r in rows]

    frame = load_breast_cancer(as_frame=True).frame.rename(columns=lambda c: c.replace(" ", "_"))
    data = frame.iloc[369:][[*FEATURES, "target"]]
    with pytest.raises(ConfigError, match=r"cannot be sent to Ray workers.*cloudpickle.*Fix: "):
        assay.evaluate(model=predict, data=data, label="target", progress=False, backend="ray")


def test_actors_the_cluster_has_no_room_for_fail_the_run_naming_what_they_ask(
    cancer: Path,
) -> None:
    ray_settings = {"num_cpus": 3, "start_timeout_s": 2}
    suite = _suite(cancer, "too-big", {"rule": "python:rule.py:predict"}, ray=ray_settings)
    with pytest.raises(ModelError, match=r"1 of its 1 Ray actors could not be placed.*num_cpus=3"):
        _run(suite, backend="ray")


def test_a_predictions_file_is_read_on_the_driver_not_loaded_on_an_actor(cancer: Path) -> None:
    """Answers already in a file gain nothing from an actor: only the other model goes there."""
    import pandas as pd

    test = pd.read_csv(cancer / "test.csv")
    preds = test[["id"]].assign(prediction=(test["mean_radius"] < 14.5).astype(int))
    preds.to_csv(cancer / "preds.csv", index=False)
    models = {"rule": "python:rule.py:predict", "file": "predictions:preds.csv"}
    local = _run(_suite(cancer, "preds-local", models))
    on_ray = _run(_suite(cancer, "preds-ray", models), backend="ray")
    assert on_ray.engine["ray_actors"] == {"rule": 1}
    assert on_ray.engine["n_called"] == local.engine["n_called"] > 0
    assert _results(on_ray) == _results(local)


def test_a_streamed_run_is_reduced_on_ray_tasks_and_equals_the_local_one(cancer: Path) -> None:
    """Streamed (engine.stream): Parquet chunks of a file of predictions are read and reduced by
    Ray tasks and merged on the driver in chunk order; a model given by spec answers each chunk
    on its actor. Either way the Report is the local backend's, number by number."""
    import numpy as np
    import pandas as pd

    test = pd.read_csv(cancer / "test.csv")
    test.to_parquet(cancer / "test.parquet", index=False)
    model = joblib.load(cancer / "model.joblib")
    proba = model.predict_proba(test[FEATURES])[:, 1]
    pd.DataFrame(
        {"id": test["id"], "prob_0": 1 - proba, "prob_1": proba, "prediction": (proba > 0.5) * 1}
    ).to_parquet(cancer / "preds.parquet", index=False)
    models = {"file": "predictions:preds.parquet", "candidate": "sklearn:model.joblib"}
    reports = {}
    for backend in ("local", "ray"):
        path = _suite(cancer, f"stream-{backend}", models, stream=True, chunk_rows=37)
        doc = yaml.safe_load(path.read_text())
        doc["data"]["path"] = "test.parquet"
        path.write_text(yaml.safe_dump(doc))
        reports[backend] = _run(path, backend=backend)
    local, on_ray = reports["local"], reports["ray"]
    assert local.engine["streamed"]["models"]["file"]["chunks"] == int(np.ceil(200 / 37))
    assert on_ray.engine["ray_actors"] == {"candidate": 1}
    assert _results(on_ray) == _results(local)
    auc = on_ray.result("performance", model="file").metrics["roc_auc"]
    assert auc.method == "delong-binned" and auc.lower < auc.value < auc.upper
