"""``compare`` on free text: a fine-tuned generator against its base, per-example scores paired.

The two models are ``python:`` functions that answer from the prompt (one right more often than
the other); the differences, McNemar's mid-p and the paired t-test are recomputed here with scipy.
"""

from __future__ import annotations

import csv
import textwrap
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binom, ttest_rel

from assay import evaluate
from assay._runner import suite_from_dict
from assay.errors import ConfigError
from assay.metrics._text_scores import token_f1_scores

ANSWERS = ["paris", "blue whale", "seven", "oxygen", "mount everest", "pacific ocean"]

MODELS = '''
def _answer(prompt, right_every):
    i, ref = prompt.split("|")
    k = int(i)
    if k % right_every == 0 or k % 5 == 1:
        return ref
    return ref.split()[0] + " perhaps" if k % 2 else "i cannot help with that"

def tuned(batch):
    return [_answer(p, 2) for p in batch]

def base(batch):
    return [_answer(p, 3) for p in batch]
'''


def _suite(tmp_path: Path, compare: dict[str, object]) -> dict[str, object]:
    rows = [(f"q{k}", f"{k}|{ANSWERS[k % len(ANSWERS)]}", ANSWERS[k % len(ANSWERS)]) for k in range(90)]
    with (tmp_path / "qa.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "prompt", "answer"])
        w.writerows(rows)
    (tmp_path / "models.py").write_text(textwrap.dedent(MODELS))
    return {
        "task": "generation",
        "data": {"path": str(tmp_path / "qa.csv"), "id": "id", "input": "prompt", "label": "answer"},
        "models": {
            "candidate": f"python:{tmp_path / 'models.py'}:tuned",
            "baseline": f"python:{tmp_path / 'models.py'}:base",
        },
        "checks": {
            "generation": {"metrics": ["exact_match", "token_f1", "rouge", "refusal"]},
            "compare": compare,
        },
        "engine": {"cache": None, "progress": False},
    }


def _answers(tmp_path: Path) -> tuple[list[str], list[str], list[str]]:
    import importlib.util

    spec = importlib.util.spec_from_file_location("qa_models", tmp_path / "models.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    prompts = [f"{k}|{ANSWERS[k % len(ANSWERS)]}" for k in range(90)]
    refs = [ANSWERS[k % len(ANSWERS)] for k in range(90)]
    return refs, mod.tuned(prompts), mod.base(prompts)


def test_generated_text_is_compared_per_example_on_the_same_references(tmp_path: Path) -> None:
    report = evaluate(suite_from_dict(_suite(tmp_path, {})), write=False, progress=False)
    cmp = report.result("compare", "candidate")
    assert cmp is not None and cmp.n == 90
    assert set(cmp.metrics) == {
        "exact_match.diff", "token_f1.diff", "rouge1.diff", "rouge2.diff", "rougeL.diff",
        "refusal_rate.diff",
    }
    refs, tuned, base = _answers(tmp_path)
    hit_t = np.array([t == r for t, r in zip(tuned, refs, strict=True)])
    hit_b = np.array([b == r for b, r in zip(base, refs, strict=True)])
    em = cmp.metrics["exact_match.diff"]
    assert em.value == pytest.approx(hit_t.mean() - hit_b.mean(), abs=1e-12)
    assert em.method.startswith("mcnemar-mid-p") and em.lower < em.value < em.upper
    rows = {r["metric"]: r for r in cmp.tables["comparison"]["metrics"]}
    b, c = int((hit_t & ~hit_b).sum()), int((~hit_t & hit_b).sum())
    k = min(b, c)
    mid_p = min(1.0, 2 * binom.cdf(k, b + c, 0.5)) - binom.pmf(k, b + c, 0.5)
    assert rows["exact_match"]["p_value"] == pytest.approx(mid_p, abs=1e-9)
    # token F1: a paired t-test on the per-example scores
    f1_t, f1_b = token_f1_scores(tuned, refs), token_f1_scores(base, refs)
    tf = cmp.metrics["token_f1.diff"]
    assert tf.method == "paired-t"
    assert tf.value == pytest.approx(float(np.mean(f1_t - f1_b)), abs=1e-12)
    assert rows["token_f1"]["p_value"] == pytest.approx(ttest_rel(f1_t, f1_b).pvalue, rel=1e-9)
    # graded metrics stay paired-t even where every score happens to be 0 or 1 (ROUGE-2 here)
    assert {rows[m]["method"] for m in ("rouge1", "rouge2", "rougeL")} == {"paired-t"}
    # refusals: lower is better, so fewer refusals is an improvement
    assert rows["refusal_rate"]["direction"] == "lower"
    assert cmp.tables["comparison"]["verdict"] == "go"


def test_a_metric_the_generation_check_does_not_score_is_a_config_error(tmp_path: Path) -> None:
    suite = suite_from_dict(_suite(tmp_path, {"metrics": ["bleu"]}))
    with pytest.raises(ConfigError, match="'bleu' cannot be compared for generation"):
        evaluate(suite, write=False, progress=False)


def test_two_saved_generation_reports_compare_as_the_suite_does(tmp_path: Path) -> None:
    """`assay compare` on two reports of generated text (base last week, fine-tune today) gives
    the in-suite comparison: the generation check keeps each example's scores."""
    from typer.testing import CliRunner

    from assay._cli.main import app
    from assay._runner import compare_reports

    both = _suite(tmp_path, {})
    together = evaluate(suite_from_dict(both), write=False, progress=False)
    expected = together.result("compare", "candidate")
    assert expected is not None
    paths = []
    for name in ("candidate", "baseline"):
        alone = {**both, "models": {name: both["models"][name]}}  # type: ignore[index]
        alone["checks"] = {"generation": both["checks"]["generation"]}  # type: ignore[index]
        out = tmp_path / f"out-{name}"
        evaluate(suite_from_dict(alone), out=out, progress=False)
        paths.append(out / "report.json")
    c = compare_reports(paths[0], paths[1])
    got = {f"{m.metric}.diff": m.difference for m in c.metrics}
    assert set(got) == set(expected.metrics)
    for key, est in expected.metrics.items():
        assert got[key].value == pytest.approx(est.value, abs=1e-12), key
        assert got[key].lower == pytest.approx(est.lower, abs=1e-12), key
    assert c.verdict == "go"
    cli = CliRunner().invoke(app, ["compare", str(paths[0]), str(paths[1])])
    assert cli.exit_code == 0, cli.output
    assert "exact_match" in cli.output and "GO" in cli.output
