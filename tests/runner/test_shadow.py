"""``assay shadow`` / ``assay.shadow`` with real models: a scikit-learn logistic regression in
production writes events (labels for some of them), a gradient-boosted candidate is replayed
through the engine; agreement, the paired differences and the exported disagreements are checked
against direct computation with numpy, scikit-learn and statsmodels."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from statsmodels.stats.proportion import proportion_confint
from typer.testing import CliRunner

import assay
import assay.errors
from assay._cli.main import app
from assay._runner import shadow_report
from assay.compare import shadow_compare
from assay.errors import DataError

N_LABELLED = 150


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Production and candidate models, and the events production logged on 250 test rows."""
    root = tmp_path_factory.mktemp("shadow")
    data = load_breast_cancer(as_frame=True)
    X = data.data.iloc[:, :8].rename(columns=lambda c: c.replace(" ", "_"))
    y = data.target
    train = np.arange(len(X)) % 9 < 5
    prod = LogisticRegression(max_iter=2000).fit(X[train], y[train])
    cand = HistGradientBoostingClassifier(max_iter=40, random_state=0).fit(X[train], y[train])
    joblib.dump(cand, root / "candidate.joblib")
    test = X[~train].head(250)
    labels = y[~train].head(250).to_numpy()
    events = []
    for i, (idx, row) in enumerate(test.iterrows()):
        frame = row.to_frame().T
        t0 = time.perf_counter()
        proba = prod.predict_proba(frame)[0]
        latency = (time.perf_counter() - t0) * 1000
        events.append(
            {
                "event_id": f"e-{idx}",
                "timestamp": f"2026-12-07T10:{i // 60:02d}:{i % 60:02d}Z",
                "model_version": "v1",
                "inputs": {k: float(v) for k, v in row.items()},
                "prediction": int(np.argmax(proba)),
                "probabilities": {"0": float(proba[0]), "1": float(proba[1])},
                "latency_ms": latency,
                "label": int(labels[i]) if i < N_LABELLED else None,
            }
        )
    path = root / "prod_events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return {
        "root": root,
        "events": events,
        "path": path,
        "test": test,
        "labels": labels,
        "prod": prod,
        "cand": cand,
    }


def test_shadow_against_direct_computation(world: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "shadow"
    report = assay.shadow(
        world["path"],
        f"sklearn:{world['root'] / 'candidate.joblib'}",
        trust=True,
        out=out,
        gates=["shadow.agreement.lower >= 0.5", "shadow.candidate_failed.upper <= 0.05"],
        cache=tmp_path / "cache.db",
        progress=False,
    )
    assert report.passed
    r = report.result("shadow")
    p_prod = world["prod"].predict(world["test"])
    p_cand = world["cand"].predict(world["test"])
    agree = p_prod == p_cand
    assert 0 < (~agree).sum() < len(agree)  # the two models differ on some events, not all
    a = r.metrics["agreement"]
    assert a.value == pytest.approx(agree.mean(), abs=1e-12) and a.n == 250
    lo, hi = proportion_confint(int(agree.sum()), len(agree), alpha=0.05, method="wilson")
    assert (a.lower, a.upper) == pytest.approx((lo, hi), abs=1e-9)
    # Paired differences on the labelled events: candidate − production.
    y = world["labels"][:N_LABELLED]
    acc = accuracy_score(y, p_cand[:N_LABELLED]) - accuracy_score(y, p_prod[:N_LABELLED])
    assert r.metrics["accuracy.diff"].value == pytest.approx(acc, abs=1e-12)
    assert r.metrics["accuracy.diff"].n == N_LABELLED
    auc = roc_auc_score(
        y, world["cand"].predict_proba(world["test"])[:N_LABELLED, 1]
    ) - roc_auc_score(y, world["prod"].predict_proba(world["test"])[:N_LABELLED, 1])
    assert r.metrics["roc_auc.diff"].value == pytest.approx(auc, abs=1e-9)
    for k in ("accuracy.diff", "roc_auc.diff", "latency.p50_ms.diff", "latency.p95_ms.diff"):
        e = r.metrics[k]
        assert e.lower <= e.value <= e.upper, k
    assert r.tables["comparison"]["baseline"] == "production"
    # Latency: production's from the events, the candidate's measured by the engine.
    lat = np.array([e["latency_ms"] for e in world["events"]])
    assert r.metrics["latency.p50_ms.production"].value == pytest.approx(np.median(lat))
    assert r.metrics["latency.p95_ms.production"].value == pytest.approx(np.quantile(lat, 0.95))
    d = r.metrics["latency.p50_ms.diff"].value
    assert d == pytest.approx(r.metrics["latency.p50_ms.candidate"].value - np.median(lat))
    # Disagreements exported with both answers and the inputs.
    lines = [json.loads(x) for x in (out / "disagreements.jsonl").read_text().splitlines()]
    assert len(lines) == (~agree).sum() == r.tables["counts"]["disagreements"]
    by_id = {e["event_id"]: e for e in world["events"]}
    ids = [f"e-{i}" for i in world["test"].index]
    expected = {ids[i]: (str(p_prod[i]), str(p_cand[i])) for i in np.flatnonzero(~agree)}
    assert {x["event_id"]: (x["production"], x["candidate"]) for x in lines} == expected
    assert all(x["inputs"] == by_id[x["event_id"]]["inputs"] for x in lines)
    html = (out / "report.html").read_text()
    assert 'id="check-shadow"' in html and f'data-agreement="{a.value}"' in html
    assert "Paired differences on labelled events" in html and (out / "report.json").exists()
    # Gates decide on the interval's bound.
    strict = assay.shadow(
        world["path"],
        f"sklearn:{world['root'] / 'candidate.joblib'}",
        trust=True,
        gates=["shadow.agreement.lower >= 0.999"],
        cache=tmp_path / "cache.db",
        progress=False,
    )
    assert not strict.passed
    # The second run was answered from the cache: the engine asked the model for nothing.
    assert strict.engine["n_cached"] == 250


def test_shadow_compare_on_stored_predictions(world: dict[str, Any]) -> None:
    """The monitor's live path: both versions' predictions already stored by event id; one
    candidate row missing and one failed call are counted, not compared."""
    ev = world["events"]
    production = pd.DataFrame(
        {
            "id": [e["event_id"] for e in ev],
            "prediction": [str(e["prediction"]) for e in ev],
            "prob_1": [e["probabilities"]["1"] for e in ev],
            "prob_0": [e["probabilities"]["0"] for e in ev],
            "label": [e["label"] for e in ev],
            "latency_ms": [e["latency_ms"] for e in ev],
        }
    )
    proba = world["cand"].predict_proba(world["test"])
    candidate = (
        pd.DataFrame(
            {
                "id": production["id"],
                "prediction": proba.argmax(1).astype(object),
                "prob_0": proba[:, 0],
                "prob_1": proba[:, 1],
                "latency_ms": 2.0,
            }
        )
        .iloc[1:]
        .reset_index(drop=True)
    )
    candidate.loc[0, "prediction"] = None  # a failed call
    c = shadow_compare(production, candidate, seed=0)
    agree = (world["prod"].predict(world["test"]) == proba.argmax(1))[2:]
    assert c.n_compared == 248 and c.n_candidate_failed == 1
    assert c.agreement.value == pytest.approx(agree.mean(), abs=1e-12)
    assert c.n_labelled == N_LABELLED - 2
    assert c.comparison is not None and c.comparison.n == N_LABELLED - 2
    assert any("no candidate row" in n for n in c.notes)
    assert c.latency["p50_ms.candidate"].value == 2.0


def test_live_comparison_report_is_gated_like_assay_shadow(
    world: dict[str, Any], tmp_path: Path
) -> None:
    """The monitor's path: stored predictions of both versions → a gated Report."""
    ev = world["events"]
    production = pd.DataFrame(
        {
            "id": [e["event_id"] for e in ev],
            "prediction": [e["prediction"] for e in ev],
            "label": [e["label"] for e in ev],
        }
    )
    candidate = pd.DataFrame(
        {"id": production["id"], "prediction": world["cand"].predict(world["test"])}
    )
    agree = (world["prod"].predict(world["test"]) == world["cand"].predict(world["test"])).mean()
    report = shadow_report(
        production,
        candidate,
        gates=[
            f"shadow.agreement.value >= {agree - 1e-9}",
            f"shadow.agreement.value <= {agree + 1e-9}",
            "shadow.accuracy.diff.upper >= -1",
        ],
        out=tmp_path / "live",
    )
    assert report.passed, [g.model_dump() for g in report.gates]
    assert "latency.p50_ms.diff" not in report.result("shadow").metrics  # no latency given
    assert (tmp_path / "live" / "report.html").exists()
    with pytest.raises(assay.errors.ConfigError, match="shadow"):
        shadow_report(production, candidate, gates=["shadow.accuracy.lower >= 0.9"])


def test_shadow_compare_says_when_the_labels_never_match() -> None:
    prod = pd.DataFrame({"id": ["a", "b", "c"], "prediction": ["1", "0", "1"]})
    cand = pd.DataFrame({"id": ["a", "b", "c"], "prediction": ["pos", "neg", "pos"]})
    c = shadow_compare(prod, cand)
    assert c.agreement.value == 0.0
    assert any("no answer in common" in n for n in c.notes)


def test_shadow_compare_needs_ids_and_predictions() -> None:
    with pytest.raises(DataError, match="candidate table has no column 'prediction'"):
        shadow_compare(
            pd.DataFrame({"id": ["a"], "prediction": ["1"]}),
            pd.DataFrame({"id": ["a"], "pred": ["1"]}),
        )


@pytest.mark.parametrize(
    ("line", "field"),
    [
        (
            '{"event_id": "e-3", "timestamp": "2026-12-07T10:00:00Z", "inputs": {"a": 1}}',
            "field prediction",
        ),
        (
            '{"event_id": "e-3", "timestamp": "yesterday", "inputs": {"a": 1}, "prediction": 1}',
            "field timestamp",
        ),
        (
            '{"event_id": "e-3", "timestamp": "2026-12-07T10:00:00Z", "inputs": {"a": 1}, '
            '"prediction": 1, "latency_ms": -4}',
            "field latency_ms",
        ),
        ('{"event_id": "e-3", "timestamp": ', "is not JSON"),
    ],
)
def test_bad_events_file_exits_2_naming_file_line_and_field(
    world: dict[str, Any], tmp_path: Path, line: str, field: str
) -> None:
    good = world["path"].read_text().splitlines()[:2]
    bad = tmp_path / "bad_events.jsonl"
    bad.write_text("\n".join([*good, line]) + "\n")
    result = CliRunner().invoke(
        app,
        [
            "shadow",
            "--events",
            str(bad),
            "--candidate",
            f"sklearn:{world['root'] / 'candidate.joblib'}",
            "--trust",
            "--no-cache",
        ],
    )
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert "bad_events.jsonl: line 3" in message and field in message


def test_cli_shadow_writes_report_and_exits_1_on_a_failed_gate(
    world: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "cli"
    result = CliRunner().invoke(
        app,
        [
            "shadow",
            "--events",
            str(world["path"]),
            "--candidate",
            f"sklearn:{world['root'] / 'candidate.joblib'}",
            "--trust",
            "--no-cache",
            "--out",
            str(out),
            "--gate",
            "shadow.agreement.lower >= 0.999",
        ],
    )
    assert result.exit_code == 1, result.output
    assert "250 events compared (150 labelled)" in " ".join(result.output.split())
    saved = assay.Report.load(out / "report.json")
    assert (out / "disagreements.jsonl").exists() and (out / "report.html").exists()
    assert saved.result("shadow").metrics["agreement"].n == 250
    assert [g.passed for g in saved.gates] == [False]


@pytest.fixture(scope="module")
def lm_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    pytest.importorskip("fastapi")
    pytest.importorskip("transformers")
    from lm_fixtures import tiny_gpt2
    from lm_server import LMServer

    with LMServer(tiny_gpt2(tmp_path_factory.mktemp("tiny") / "gpt2")) as s:
        yield s


@pytest.mark.slow
def test_shadow_text_events_through_an_openai_candidate(lm_server: Any, tmp_path: Path) -> None:
    """Text events replayed through an ``openai:`` candidate served over HTTP on loopback: the
    server's scripted distributions decide its labels, so the agreement is known exactly."""
    rng = np.random.default_rng(0)
    events, expected = [], []
    for i in range(24):
        p = float(rng.uniform(0.05, 0.85))
        cand = "pos" if p > 0.45 else "neg"
        prod = cand if i % 4 else ("neg" if cand == "pos" else "pos")  # every 4th disagrees
        expected.append(prod == cand)
        events.append(
            {
                "event_id": f"t{i}",
                "timestamp": "2026-12-07T10:00:00Z",
                "inputs": {"text": f"DIST positive={p:.3f}|negative={0.9 - p:.3f} END"},
                "prediction": prod,
                "latency_ms": 5.0 + i,
                "label": cand if i < 12 else None,
            }
        )
    report = assay.shadow(
        events,
        f"openai:tiny@{lm_server.url}",
        options={"verbaliser": {"pos": "positive", "neg": "negative"}, "logprobs": True},
        cache=None,
        progress=False,
        out=tmp_path / "out",
    )
    r = report.result("shadow")
    assert r.metrics["agreement"].value == pytest.approx(np.mean(expected), abs=1e-12)
    assert r.tables["counts"] == {
        "production": 24,
        "candidate": 24,
        "compared": 24,
        "labelled": 12,
        "candidate_failed": 0,
        "disagreements": 6,
    }
    # the candidate is right on every labelled event, production wrong on 3 of 12
    assert r.metrics["accuracy.diff"].value == pytest.approx(3 / 12, abs=1e-12)
    assert r.metrics["latency.p50_ms.candidate"].value > 0
    lines = (tmp_path / "out" / "disagreements.jsonl").read_text().splitlines()
    assert {json.loads(x)["inputs"]["text"] for x in lines} == {
        e["inputs"]["text"] for e, ok in zip(events, expected) if not ok
    }


def test_event_objects_name_the_index_and_field() -> None:
    with pytest.raises(DataError, match=r"events\[1\], field inputs"):
        assay.shadow(
            [
                {
                    "event_id": "a",
                    "timestamp": "2026-12-07T10:00:00Z",
                    "inputs": {"x": 1},
                    "prediction": 1,
                },
                {
                    "event_id": "b",
                    "timestamp": "2026-12-07T10:00:00Z",
                    "inputs": [1],
                    "prediction": 1,
                },
            ],
            "sklearn:none.joblib",
        )


@pytest.mark.simulation
def test_latency_difference_interval_covers_the_true_median_difference() -> None:
    """Coverage of the 95% interval of the median latency difference (paired lognormal
    latencies whose true medians are known): near 95% over 200 simulated shadow runs."""
    rng = np.random.default_rng(12)
    true = np.exp(1.5) - np.exp(1.0)  # medians of lognormal(1.5, .) and lognormal(1.0, .)
    hits = 0
    for _ in range(200):
        z = rng.normal(size=300)
        prod = np.exp(1.0 + 0.5 * z)
        cand = np.exp(1.5 + 0.5 * (0.6 * z + 0.8 * rng.normal(size=300)))
        ids = [str(i) for i in range(300)]
        c = shadow_compare(
            pd.DataFrame({"id": ids, "prediction": "1", "latency_ms": prod}),
            pd.DataFrame({"id": ids, "prediction": "1", "latency_ms": cand}),
            seed=rng,
        )
        e = c.latency["p50_ms.diff"]
        hits += e.lower <= true <= e.upper
    assert 0.90 <= hits / 200 <= 0.99
