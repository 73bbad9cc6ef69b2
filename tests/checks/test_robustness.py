"""The robustness check end to end with a small case-sensitive keyword model, checked against a
literal computation of each metric."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import assay
from assay._runner import load_suite
from assay.errors import ConfigError
from assay.perturb import PerturbEnv, parse_recipe, perturb_inputs

MODEL = """
def predict(texts):
    out = []
    for t in texts:
        score = sum(w in t for w in ("good", "great", "fun")) - sum(w in t for w in ("bad", "dull"))
        p = min(0.95, max(0.05, 0.5 + 0.3 * score))
        out.append({"label": "pos" if p >= 0.5 else "neg", "probabilities": {"pos": p, "neg": 1 - p}})
    return out
predict.task = "classification"
"""
WORDS = [
    "good",
    "great",
    "fun",
    "bad",
    "dull",
    "plot",
    "actors",
    "scenes",
    "music",
    "ending",
    "story",
    "really",
    "quite",
    "the",
    "was",
]


def _texts(n: int, seed: int) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        words = list(rng.choice(WORDS, size=rng.integers(4, 10)))
        texts.append(" ".join(words))
        pos = sum(w in ("good", "great", "fun") for w in words) - sum(
            w in ("bad", "dull") for w in words
        )
        # a noisy label: mostly what the words say
        labels.append("pos" if (pos >= 0) != (rng.random() < 0.15) else "neg")
    return texts, labels


def _suite(tmp: Path, n: int, checks: dict, gates: list[str] | None = None, seed: int = 0) -> Path:
    texts, labels = _texts(n, seed)
    pd.DataFrame({"id": [f"r{i}" for i in range(n)], "text": texts, "label": labels}).to_csv(
        tmp / "test.csv", index=False
    )
    (tmp / "kw.py").write_text(MODEL, encoding="utf-8")
    suite = {
        "name": "kw",
        "seed": seed,
        "data": {
            "path": "test.csv",
            "id": "id",
            "input": "text",
            "label": "label",
            "labels": ["neg", "pos"],
        },
        "models": {"candidate": "python:kw.py:predict"},
        "checks": checks,
        "engine": {"progress": False, "batch_size": 512},
        "gates": gates or [],
    }
    p = tmp / "suite.yaml"
    p.write_text(yaml.safe_dump(suite), encoding="utf-8")
    return p


def _predict(texts: list[str]) -> tuple[list[str], list[float]]:
    ns: dict = {}
    exec(MODEL, ns)  # the same model, called directly: the oracle
    out = ns["predict"](texts)
    return [o["label"] for o in out], [o["probabilities"]["pos"] for o in out]


def test_metrics_match_a_literal_computation(tmp_path: Path) -> None:
    path = _suite(
        tmp_path,
        400,
        {
            "robustness": {
                "perturbations": ["uppercase", {"name": "typos", "severity": [0.2, 0.5]}, "names"],
                "invariance": {"tolerance": 0.1},
            }
        },
        gates=["robustness.typos@20.flip_rate.upper <= 0.9"],
    )
    report = assay.evaluate(path, write=False, progress=False)
    r = report.result("robustness")
    frame = pd.read_csv(tmp_path / "test.csv")
    texts, truth, ids = frame["text"].tolist(), frame["label"].tolist(), frame["id"].tolist()
    o_lab, o_p = _predict(texts)
    for key, recipe in [
        ("uppercase", "uppercase"),
        ("typos@20", "typos:0.2"),
        ("typos@50", "typos:0.5"),
    ]:
        pert = perturb_inputs(texts, parse_recipe(recipe), ids=ids, seed=0, env=PerturbEnv())
        changed = [a != b for a, b in zip(texts, pert)]
        p_lab, p_p = _predict(pert)
        idx = [i for i, c in enumerate(changed) if c]
        n = len(idx)
        flips = sum(o_lab[i] != p_lab[i] for i in idx)
        acc = sum(p_lab[i] == truth[i] for i in idx) / n
        acc0 = sum(o_lab[i] == truth[i] for i in idx) / n
        viol = sum(
            o_lab[i] != p_lab[i]
            or abs(
                (p_p[i] if o_lab[i] == "pos" else 1 - p_p[i])
                - (o_p[i] if o_lab[i] == "pos" else 1 - o_p[i])
            )
            > 0.1
            for i in idx
        )
        assert r.metrics[f"{key}.flip_rate"].value == pytest.approx(flips / n, abs=1e-12)
        assert r.metrics[f"{key}.accuracy"].value == pytest.approx(acc, abs=1e-12)
        assert r.metrics[f"{key}.degradation"].value == pytest.approx(acc - acc0, abs=1e-12)
        assert r.metrics[f"{key}.violation_rate"].value == pytest.approx(viol / n, abs=1e-12)
        assert r.metrics[f"{key}.n_unchanged"].value == len(texts) - n
        assert r.metrics[f"{key}.flip_rate"].n == n
        e = r.metrics[f"{key}.degradation"]
        assert e.lower <= e.value <= e.upper
    # uppercase hides every keyword from this case-sensitive model: negatives become neutral (pos)
    assert r.metrics["uppercase.flip_rate"].value > 0.1
    # no names in these texts: all unchanged, counted and flagged, not dropped
    assert r.metrics["names.n_unchanged"].value == 400
    assert any("names: 400 of 400 inputs could not be changed" in f for f in r.flags)
    assert report.gates[0].passed
    assert r.examples and {
        "original",
        "perturbed",
        "original_prediction",
        "perturbed_prediction",
    } <= set(r.examples[0])


def test_gate_on_flip_rate_and_robust_accuracy(tmp_path: Path) -> None:
    path = _suite(
        tmp_path,
        200,
        {"robustness": {"perturbations": ["typos", "uppercase"]}},
        gates=[
            "robustness.typos.flip_rate.upper <= 0.05",
            "robustness.robust_accuracy.lower >= 0.0",
        ],
    )
    report = assay.evaluate(path, write=False, progress=False)
    r = report.result("robustness")
    ra = r.metrics["robust_accuracy"]
    assert (
        ra.value
        <= min(r.metrics["typos.accuracy"].value, r.metrics["uppercase.accuracy"].value) + 1e-12
    )
    g = {o.gate: o.passed for o in report.gates}
    assert g["robustness.typos.flip_rate.upper <= 0.05"] == (
        r.metrics["typos.flip_rate"].upper <= 0.05
    )
    assert g["robustness.robust_accuracy.lower >= 0.0"]


def test_directional_mft_and_adversarial(tmp_path: Path) -> None:
    (tmp_path / "mft.yaml").write_text(
        yaml.safe_dump(
            {
                "tests": [
                    {
                        "name": "plain_positive",
                        "templates": ["a {w} film", "the {w} story"],
                        "fill": {"w": ["good", "great"]},
                        "label": "pos",
                    },
                    {
                        "name": "negated",
                        "templates": ["not {w} at all"],
                        "fill": {"w": ["good", "fun"]},
                        "label": "neg",
                    },
                ]
            }
        ),
        encoding="utf-8",
    )
    path = _suite(
        tmp_path,
        150,
        {
            "robustness": {
                "perturbations": ["typos"],
                "directional": [
                    {
                        "name": "neg",
                        "perturbation": "add_negative",
                        "label": "pos",
                        "expect": "decrease",
                    }
                ],
                "mft": "mft.yaml",
                "adversarial": {"budget": 3, "max_examples": 40, "candidates": ["typos"]},
            }
        },
    )
    report = assay.evaluate(path, write=False, progress=False)
    r = report.result("robustness")
    # the model ignores the negative sentences' words except "dull"/"bad" ones: failures exist but few
    d = r.metrics["directional.neg.failure_rate"]
    assert 0 <= d.value <= 1 and d.n == 150
    assert r.metrics["mft.plain_positive.failure_rate"].value == 0.0
    assert r.metrics["mft.negated.failure_rate"].value == 1.0  # keyword model cannot read "not"
    adv = r.metrics["adversarial.success_rate"]
    assert adv.n == 40 and adv.value > 0.2  # a typo in a keyword often flips this model
    assert r.metrics["adversarial.queries"].value > 1
    for e in r.tables["adversarial"]["examples"]:
        assert 1 <= e["words_changed"] <= 3 and e["perturbed"] != e["original"]
        [lab], _ = _predict([e["perturbed"]])
        assert lab == e["perturbed_prediction"] != e["label"]
    # a re-run replays the whole search from the cache
    again = assay.evaluate(path, write=False, progress=False)
    assert again.engine["n_called"] == 0
    assert again.result("robustness").metrics["adversarial.success_rate"] == adv


def test_warm_cache_makes_zero_model_calls_for_ten_perturbations_over_5000_texts(
    tmp_path: Path,
) -> None:
    ten = [
        "typos",
        "case",
        "char_swap",
        "char_insert",
        "char_delete",
        "whitespace",
        "punctuation_add",
        "fillers",
        "distractor",
        "uppercase",
    ]
    path = _suite(tmp_path, 5000, {"robustness": {"perturbations": ten}})
    first = assay.evaluate(path, write=False, progress=False)
    assert first.engine["n_called"] > 40000
    second = assay.evaluate(path, write=False, progress=False)
    assert second.engine["n_called"] == 0
    assert second.engine["n_cached"] == first.engine["n_unique"]
    assert second.result("robustness").metrics == first.result("robustness").metrics


def test_image_perturbation_on_text_is_an_error_at_load(tmp_path: Path) -> None:
    path = _suite(tmp_path, 10, {"robustness": {"perturbations": ["typos", "blur"]}})
    with pytest.raises(
        ConfigError, match=r"'blur' is a image perturbation but dataset .* has text input"
    ):
        load_suite(path)


def test_unknown_perturbation_and_bad_gate_at_load(tmp_path: Path) -> None:
    path = _suite(tmp_path, 10, {"robustness": {"perturbations": ["tpyos"]}})
    with pytest.raises(ConfigError, match="unknown perturbation 'tpyos'; known ones"):
        load_suite(path)
    path = _suite(
        tmp_path,
        10,
        {"robustness": {"perturbations": ["typos"]}},
        gates=["robustness.case.flip_rate.upper <= 0.1"],
    )
    with pytest.raises(ConfigError):
        load_suite(path)


def test_a_predictions_file_is_flagged_not_a_crash(tmp_path: Path) -> None:
    path = _suite(tmp_path, 20, {"robustness": {"perturbations": ["typos"]}})
    frame = pd.read_csv(tmp_path / "test.csv")
    with open(tmp_path / "preds.jsonl", "w") as f:
        for i in frame["id"]:
            f.write(json.dumps({"id": i, "label": "pos"}) + "\n")
    raw = yaml.safe_load(path.read_text())
    raw["models"] = {"candidate": "predictions:preds.jsonl"}
    path.write_text(yaml.safe_dump(raw))
    r = assay.evaluate(path, write=False, progress=False).result("robustness")
    assert any("cannot answer perturbed inputs" in f for f in r.flags)
    assert not r.metrics


def test_failed_calls_in_directional_and_mft_tests_are_counted_not_skipped(tmp_path: Path) -> None:
    # they used to be skipped silently: the failure rate spoke of fewer cases than were asked
    (tmp_path / "mft.yaml").write_text(
        yaml.safe_dump(
            {
                "tests": [
                    {"name": "plain", "templates": ["a {w} film"], "fill": {"w": ["good", "fun"]},
                     "label": "pos"},
                    {"name": "negated", "templates": ["not {w} at all"],
                     "fill": {"w": ["good", "fun"]}, "label": "neg"},
                ]
            }
        ),
        encoding="utf-8",
    )
    path = _suite(
        tmp_path,
        60,
        {
            "robustness": {
                "perturbations": ["typos"],
                "directional": [
                    {"name": "neg", "perturbation": "add_negative", "label": "pos",
                     "expect": "decrease"}
                ],
                "mft": "mft.yaml",
            }
        },
        gates=["robustness.mft.negated.n_errors <= 0", "robustness.directional.neg.error_rate.upper <= 1"],
    )
    # the model cannot read a negation: it raises on "not", and on every sentence add_negative adds
    flaky = MODEL.replace(
        "    for t in texts:\n",
        "    for t in texts:\n        if 'not ' in t or t.count('.') >= 1:\n"
        "            raise ValueError('cannot read this sentence')\n",
    )
    (tmp_path / "kw.py").write_text(flaky, encoding="utf-8")
    report = assay.evaluate(path, write=False, progress=False)
    r = report.result("robustness")
    m = r.metrics
    assert m["mft.negated.n_errors"].value == 2 and m["mft.negated.error_rate"].value == 1.0
    assert not m["mft.negated.failure_rate"].defined  # no answer to judge
    assert m["mft.plain.n_errors"].value == 0 and m["mft.n_errors"].value == 2
    assert any("mft.negated: the model failed on 2 of 2 cases" in f for f in r.flags)
    assert "cannot read this sentence" in " ".join(r.flags)
    n_dir = m["directional.neg.n_errors"].value
    assert n_dir == m["directional.neg.error_rate"].value * m["directional.neg.error_rate"].n
    assert [g.passed for g in report.gates] == [False, True]
