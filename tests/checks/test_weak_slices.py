"""The weak_slices check finds a planted weak keyword, length bucket and metadata slice, and only
those; numbers against a literal computation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import assay


def _suite(tmp_path: Path, checks: dict) -> Path:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(600):
        words = list(rng.choice(["plot", "actors", "music", "scenes", "story", "ending"], 4))
        region = rng.choice(["north", "south", "east"])
        planted = i % 5 == 0  # 120 texts with "boring": the model is wrong on half of them
        if planted:
            words.append("boring")
        label = "pos" if rng.random() < 0.5 else "neg"
        wrong = rng.random() < (0.5 if planted else 0.1)
        pred = ("neg" if label == "pos" else "pos") if wrong else label
        rows.append(
            {"id": f"r{i}", "text": " ".join(words), "label": label, "region": region, "pred": pred}
        )
    frame = pd.DataFrame(rows)
    frame.to_csv(tmp_path / "test.csv", index=False)
    frame[["id", "pred"]].rename(columns={"pred": "label"}).to_csv(
        tmp_path / "preds.csv", index=False
    )
    suite = {
        "name": "ws",
        "data": {"path": "test.csv", "id": "id", "input": "text", "label": "label"},
        "models": {"m": "predictions:preds.csv"},
        "checks": checks,
        "gates": ["weak_slices.n_weak <= 0"],
    }
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    return tmp_path / "suite.yaml"


def test_finds_the_planted_keyword_and_reports_it_with_an_interval(tmp_path: Path) -> None:
    from scipy.stats import norm

    path = _suite(tmp_path, {"weak_slices": {"embeddings": None, "min_n": 30}})
    report = assay.evaluate(path, write=False, progress=False)
    r = report.result("weak_slices")
    assert r is not None
    frame = pd.read_csv(tmp_path / "test.csv")
    sel = frame["text"].str.contains("boring")
    k, n = int((frame["label"] == frame["pred"])[sel].sum()), int(sel.sum())
    est = r.metrics["keyword.boring.accuracy"]
    z, ph = norm.ppf(0.975), k / n  # Wilson's score interval, written out
    centre = (ph + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(ph * (1 - ph) / n + z * z / (4 * n * n))
    lo, hi = centre - half, centre + half
    assert est.n == n and est.value == pytest.approx(k / n, abs=1e-12)
    assert (est.lower, est.upper) == pytest.approx((lo, hi), abs=1e-9)
    found = {(w["kind"], w["value"]) for w in r.tables["weak"]}
    assert ("keyword", "boring") in found
    assert not any(kind == "region" for kind, _ in found)  # regions are not worse
    assert r.tables["tested"]["region"] == 3 and r.tables["tested"]["keyword"] >= 6
    assert r.metrics["n_weak"].value == len(found)
    [w] = [w for w in r.tables["weak"] if w["value"] == "boring"]
    assert w["examples"] and all("boring" in e["input"] for e in w["examples"])
    assert all(e["label"] != e["prediction"] for e in w["examples"])
    assert not report.passed  # the n_weak gate fails
    # embeddings: null turns clustering off: no cluster candidates, and nothing said about it
    assert "cluster" not in r.tables["tested"] and not r.tables["notes"]


def test_embeddings_are_skipped_with_a_note_without_sentence_transformers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "sentence_transformers" else real(name, *a),
    )
    path = _suite(tmp_path, {"weak_slices": {"keywords": None, "length_buckets": 0}})
    r = assay.evaluate(path, write=False, progress=False).result("weak_slices")
    assert r is not None
    assert any("sentence-transformers is not installed" in n for n in r.tables["notes"])
    assert "cluster" not in r.tables["tested"]


def test_candidates_selecting_the_same_rows_are_tested_once(tmp_path: Path) -> None:
    """Two words that always occur together are one slice: one test, one BH count, aliases kept."""
    path = _suite(tmp_path, {"weak_slices": {"embeddings": None, "min_n": 30}})
    frame = pd.read_csv(tmp_path / "test.csv")
    frame["text"] = [t + " dull" if "boring" in t else t for t in frame["text"]]
    frame.to_csv(tmp_path / "test.csv", index=False)
    report = assay.evaluate(path, write=False, progress=False)
    r = report.result("weak_slices")
    assert r is not None
    rows = [
        w for w in r.tables["weak"] if {w["value"], *w["aliases"]} & {"boring", "keyword=boring"}
    ]
    assert len(rows) == 1
    names = {f"{rows[0]['kind']}={rows[0]['value']}", *rows[0]["aliases"]}
    assert names == {"keyword=boring", "keyword=dull"}
    tested_values = [c["value"] for c in r.tables["candidates"]]
    assert not ({"boring", "dull"} <= set(tested_values))  # only one of the pair was tested


@pytest.mark.parametrize(
    ("metric", "worse", "better"),
    [
        ("accuracy", 0.6, 0.8),
        ("mae", 2.0, 1.0),
        # Lower is better for these: a weak-slice ranking by "value < other" got them backwards.
        ("rmse", 2.0, 1.0),
        ("log_loss", 0.9, 0.3),
        ("mean_residual", -0.5, 0.1),  # zero is best, either sign
    ],
)
def test_worst_slice_follows_the_catalogued_direction(
    metric: str, worse: float, better: float
) -> None:
    from assay.checks._weak_slices import _worse
    from assay.stats import Estimate

    a, b = Estimate.point(worse, n=50), Estimate.point(better, n=50)
    assert _worse(a, b, metric) and not _worse(b, a, metric)
