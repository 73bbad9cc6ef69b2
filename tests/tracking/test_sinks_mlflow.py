"""The MLflow sink, read back through MLflow's client: a local folder store, SQLite, and a real
``mlflow server`` on 127.0.0.1 over HTTP started by the test."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from assay.report import CheckResult, Report
from assay.stats import Estimate
from assay.tracking import log_report, mlflow_run_url
from assay.tracking._mlflow_sink import mlflow_key_map, mlflow_metrics

mlflow = pytest.importorskip("mlflow", reason="mlflow-skinny is in the dev extra")
from mlflow.tracking import MlflowClient  # noqa: E402

# MLflow 3's SQL store uses an SQLAlchemy loader option that SQLAlchemy 2.1 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow")
SA = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated")


def _check_run(uri: str, run_id: str, report: Report, files: list[Path], tmp: Path) -> None:
    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(run_id)
    m = run.data.metrics
    acc = report.result("performance", "candidate").metrics["accuracy"]  # type: ignore[union-attr]
    assert m["performance/candidate/accuracy"] == pytest.approx(acc.value)
    assert m["performance/candidate/accuracy.lower"] == pytest.approx(acc.lower)
    assert m["performance/candidate/accuracy.upper"] == pytest.approx(acc.upper)
    assert m["performance/baseline/accuracy"] > 0  # every model is named
    assert m["gates/failed"] == 3 and len(m) == len(mlflow_metrics(report))
    p = run.data.params
    assert p["seed"] == "7" and p["model.candidate.spec"] == "hf:./checkpoints/distilbert-ft"
    assert p["checks.slices.columns"] == "['genre', 'length', 'lang']"
    t = run.data.tags
    assert t["assay.verdict"] == "FAIL"
    assert t["assay.gate.1"] == "FAIL performance.roc_auc.lower >= 0.97"
    assert run.info.status == "FINISHED"
    names = sorted(a.path for a in client.list_artifacts(run_id))
    assert names == sorted([f.name for f in files] + ["assay_metric_keys.json"])
    got = client.download_artifacts(run_id, "report.json", str(tmp))
    assert json.loads(Path(got).read_text())["suite_name"] == report.suite_name


@pytest.fixture
def files(shared_report: Report, tmp_path: Path) -> list[Path]:
    from assay.report import write_html

    return [
        shared_report.save(tmp_path / "report.json"),
        write_html(shared_report, tmp_path / "report.html"),
    ]


@SA
def test_sqlite_store(
    shared_report: Report, files: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # MLflow puts a SQLite store's artifacts under ./mlruns
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run_id = log_report(shared_report, uri, artifacts=files, experiment="assay-test")
    _check_run(uri, run_id, shared_report, files, tmp_path / "dl")
    exp = MlflowClient(tracking_uri=uri).get_experiment_by_name("assay-test")
    assert exp is not None
    # A second report goes to the same experiment, as a new run.
    again = log_report(shared_report, uri, experiment="assay-test")
    assert again != run_id


def _groups_report(report: Report) -> Report:
    e = Estimate(0.8, 0.7, 0.9, 0.95, "wilson", 100)
    metrics = {f"age.{g}.accuracy": e for g in ("<40", ">=40", "_40", "lt40")}
    r = report.model_copy(deep=True)
    r.results = [CheckResult(check="fairness", model="candidate", dataset="reviews", n=400,
                             metrics=metrics)]
    return r


def test_group_names_stay_readable_and_never_collide(shared_report: Report) -> None:
    report = _groups_report(shared_report)
    keys = [k for k in mlflow_metrics(report) if k.startswith("fairness/candidate/accuracy/")]
    assert len(keys) == 4  # "<40" once became "_40", the same key as the group "_40"
    assert "fairness/candidate/accuracy/age.lt40" in keys
    assert "fairness/candidate/accuracy/age.ge40" in keys
    assert "fairness/candidate/accuracy/age._40" in keys
    mapping = mlflow_key_map(report)
    assert mapping["fairness/candidate/accuracy/age.lt40"] == "candidate/fairness.age.<40.accuracy"
    clash = [k for k in keys if k.startswith("fairness/candidate/accuracy/age.lt40_")]
    assert len(clash) == 1 and mapping[clash[0]] == "candidate/fairness.age.lt40.accuracy"


def test_keys_nest_by_check_model_metric_and_slice(
    shared_report: Report, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    e = Estimate(0.8, 0.7, 0.9, 0.95, "wilson", 100)
    report = shared_report.model_copy(deep=True)
    report.results = [
        CheckResult(check="slices", model="candidate", dataset="reviews", n=400,
                    metrics={"genre.drama.accuracy": e, "genre.sci/fi.accuracy": e}),
        CheckResult(check="robustness", model="baseline", dataset="reviews", n=400,
                    metrics={"typos@10.flip_rate": e}),
        CheckResult(check="finetune_cost", model="candidate", dataset="general", n=300,
                    metrics={"accuracy.diff": e}),
    ]
    uri = (tmp_path / "mlruns").as_uri()
    run_id = log_report(report, uri)
    got = MlflowClient(tracking_uri=uri).get_run(run_id).data.metrics
    assert got["slices/candidate/accuracy/genre.drama"] == pytest.approx(0.8)
    assert got["slices/candidate/accuracy.lower/genre.drama"] == pytest.approx(0.7)
    assert got["slices/candidate/accuracy.upper/genre.sci_fi"] == pytest.approx(0.9)  # no 4th level
    assert got["robustness/baseline/flip_rate/typos_at_10"] == pytest.approx(0.8)
    assert got["finetune_cost/candidate_at_general/diff/accuracy"] == pytest.approx(0.8)
    assert got["run/duration_s"] >= 0
    # every metric is one check, then one model: MLflow's UI shows a section per check
    assert {k.split("/")[0] for k in got} == {"slices", "robustness", "finetune_cost", "gates", "run"}
    assert all(len(k.split("/")) in (2, 3, 4) for k in got)
    assert mlflow_key_map(report)["robustness/baseline/flip_rate/typos_at_10"] == (
        "baseline/robustness.typos@10.flip_rate"
    )


@SA
def test_the_key_map_is_recorded_and_the_run_has_a_url(
    shared_report: Report, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    report = _groups_report(shared_report)
    run_id = log_report(report, uri, experiment="keys")
    got = MlflowClient(tracking_uri=uri).download_artifacts(
        run_id, "assay_metric_keys.json", str(tmp_path / "dl")
    )
    assert json.loads(Path(got).read_text()) == mlflow_key_map(report)
    url = mlflow_run_url(uri, run_id)
    assert url.startswith(f"mlflow ui --backend-store-uri {uri}") and url.endswith(run_id)


def test_local_folder_store(
    shared_report: Report, files: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # MLflow 3 keeps its folder store only on request (it recommends SQLite).
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "mlruns").as_uri()
    run_id = log_report(shared_report, uri, artifacts=files)
    _check_run(uri, run_id, shared_report, files, tmp_path / "dl")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory):
    """``mlflow server`` (SQLite backend, proxied artifacts) on a free port of 127.0.0.1."""
    try:
        import flask  # noqa: F401  (the server's own dependency)
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("the MLflow server needs flask, graphene, huey, aiohttp (dev extra)")
    tmp = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    log = (tmp / "server.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{tmp / 'server.db'}",
            "--artifacts-destination",
            str(tmp / "artifacts"),
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    try:
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "mlflow server did not start:\n" + (tmp / "server.log").read_text()[-3000:]
                )
            time.sleep(0.5)
        yield url, tmp
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.mark.slow
def test_real_mlflow_server_over_http(
    mlflow_server, shared_report: Report, files: list[Path], tmp_path: Path
) -> None:
    url, server_dir = mlflow_server
    run_id = log_report(shared_report, url, artifacts=files)
    _check_run(url, run_id, shared_report, files, tmp_path / "dl")
    # The artifacts went over HTTP into the server's own artifact store.
    stored = sorted(p.name for p in (server_dir / "artifacts").rglob("report.*"))
    assert stored == ["report.html", "report.json"]
