"""The examples/llm suites: a causal LM classifying by prompt, and answering questions.

The fast tests run the very suite files with a tiny random GPT-2 built from a config (nothing
downloaded) in place of Gemma, through ``evaluate(..., model=...)`` so that the suite's prompt,
verbaliser and generation options still apply. The Gemma 3 270M runs (the real GGUF weights,
about two minutes to convert) are ``slow`` and skipped unless ``ASSAY_RUN_GEMMA=1``.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers")

from sklearn.metrics import roc_auc_score

from assay import evaluate
from lm_fixtures import tiny_gpt2

ROOT = Path(__file__).resolve().parents[2]
LLM = ROOT / "examples" / "llm"

REVIEWS = [
    ("r1", "a great film , i love it", "fresh"),
    ("r2", "an awful , dull movie", "rotten"),
    ("r3", "the plot is fun and the acting good", "fresh"),
    ("r4", "bad acting and a dull story", "rotten"),
    ("r5", "very good", "fresh"),
    ("r6", "i hate this film", "rotten"),
    ("r7", "great story !", "fresh"),
    ("r8", "not good , not fun", "rotten"),
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_gpt2(tmp_path_factory.mktemp("tiny") / "gpt2")


def _reviews(folder: Path) -> Path:
    path = folder / "reviews.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "text", "label"])
        w.writerows(REVIEWS)
    return path


def test_classify_suite_with_a_tiny_lm(tiny: Path, tmp_path: Path) -> None:
    report = evaluate(
        LLM / "classify.yaml",
        model=f"hf:{tiny}",
        data=str(_reviews(tmp_path)),
        out=tmp_path / "out",
        no_cache=True,
        progress=False,
    )
    perf = report.result("performance")
    assert perf.n == len(REVIEWS)
    # log-likelihood scoring: every answer is a label with a probability, so AUC is defined;
    # check it against scikit-learn on the probabilities the model returned
    table = perf.tables["per_example"]
    auc = perf.metrics["roc_auc"]
    assert 0.0 <= auc.lower <= auc.value <= auc.upper <= 1.0
    y = [t == "fresh" for t in table["y_true"]]
    assert auc.value == pytest.approx(roc_auc_score(y, table["score"]), abs=1e-9)
    # the suite's own unparseable rate: loglik scoring always names a label
    assert perf.metrics["unparseable_rate"].value == 0.0
    assert report.models[0]["details"]["mode"] == "lm-classifier"
    assert (tmp_path / "out" / "report.html").is_file()


def test_generate_suite_with_a_tiny_lm(tiny: Path, tmp_path: Path) -> None:
    report = evaluate(
        LLM / "generate.yaml",
        model=f"hf:{tiny}",
        out=tmp_path / "out",
        no_cache=True,
        progress=False,
    )
    g = report.result("generation")
    assert g.n == 30
    for key in ("exact_match", "token_f1", "bleu", "chrf", "rougeL", "refusal_rate"):
        est = g.metrics[key]
        assert est.n == 30 and est.lower <= est.value <= est.upper
    # a random tiny model answers nothing right; the interval still says how sure that is
    assert g.metrics["exact_match"].value == 0.0 and g.metrics["exact_match"].upper > 0.05
    assert g.tables["latency"]["n"] == 30 and g.tables["latency"]["mean_s"] > 0
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert 'id="check-generation"' in page


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("ASSAY_RUN_GEMMA") != "1",
    reason="Gemma 3 270M: converting the GGUF takes ~2 minutes and each suite minutes more on a "
    "CPU; set ASSAY_RUN_GEMMA=1 to run it",
)
def test_gemma_suites(tmp_path: Path) -> None:
    if not (LLM / "work" / "gemma-3-270m" / "config.json").is_file():
        subprocess.run([sys.executable, str(LLM / "prepare.py")], check=True)
    start = time.perf_counter()
    cls = evaluate(LLM / "classify.yaml", out=tmp_path / "cls", no_cache=True, progress=False)
    seconds = time.perf_counter() - start
    perf = cls.result("performance")
    assert perf.n == 200
    # zero-shot Gemma 270M is better than chance at telling fresh from rotten
    assert perf.metrics["roc_auc"].lower > 0.5
    assert perf.metrics["unparseable_rate"].value == 0.0
    assert all(g.passed for g in cls.gates)
    gen = evaluate(LLM / "generate.yaml", out=tmp_path / "gen", no_cache=True, progress=False)
    g = gen.result("generation")
    assert g.n == 30 and g.metrics["token_f1"].value > 0.05
    per_example = np.array([seconds / 200])
    print(f"gemma classify: {seconds:.1f} s, {per_example[0]:.3f} s per review")
