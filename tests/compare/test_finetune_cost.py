"""The finetune_cost check: the paired comparison on a general-ability dataset, beside compare.

A planted candidate is better than its base on the fine-tuning task and worse on general ability
(it forgot). Expected differences are computed from the planted answers with numpy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from assay import evaluate
from assay._runner import suite_from_dict
from assay.errors import ConfigError
from assay.report._console import print_summary
from assay.report._html import render_html

MODELS = """
import json
with open({path!r}, encoding="utf-8") as f:
    ANSWERS = json.load(f)
def candidate(batch):
    return [ANSWERS["candidate"][x] for x in batch]
def baseline(batch):
    return [ANSWERS["baseline"][x] for x in batch]
"""


def _planted(tmp: Path, seed: int) -> tuple[dict[str, object], dict[str, dict[str, float]]]:
    import json

    rng = np.random.default_rng(seed)
    answers: dict[str, dict[str, str]] = {"candidate": {}, "baseline": {}}
    truth: dict[str, dict[str, float]] = {}
    for name, n, p_cand, p_base in (("test", 300, 0.85, 0.75), ("general", 250, 0.65, 0.80)):
        y = rng.choice(["neg", "pos"], n)
        rows = []
        correct = {}
        for who, p in (("candidate", p_cand), ("baseline", p_base)):
            ok = rng.random(n) < p
            correct[who] = ok
            for i in range(n):
                text = f"{name} review {i}"
                flip = "pos" if y[i] == "neg" else "neg"
                answers[who][text] = str(y[i]) if ok[i] else flip
        for i in range(n):
            rows.append({"id": f"{name}-{i}", "text": f"{name} review {i}", "label": y[i]})
        pd.DataFrame(rows).to_csv(tmp / f"{name}.csv", index=False)
        truth[name] = {
            "diff": float(correct["candidate"].mean() - correct["baseline"].mean()),
            "n": float(n),
        }
    (tmp / "answers.json").write_text(json.dumps(answers), encoding="utf-8")
    (tmp / "ft_models.py").write_text(
        MODELS.format(path=str(tmp / "answers.json")), encoding="utf-8"
    )
    ds = {"id": "id", "input": "text", "label": "label", "labels": ["neg", "pos"]}
    suite = {
        "data": {
            "test": {"path": str(tmp / "test.csv"), **ds},
            "general": {"path": str(tmp / "general.csv"), **ds},
        },
        "models": {
            "candidate": f"python:{tmp / 'ft_models.py'}:candidate",
            "baseline": f"python:{tmp / 'ft_models.py'}:baseline",
        },
        "engine": {"cache": None, "progress": False},
        "checks": {
            "performance": {"positive_label": "pos"},
            "compare": {"metrics": ["accuracy"]},
            "finetune_cost": {"dataset": "general", "metrics": ["accuracy"]},
        },
        "gates": [
            "compare.accuracy.diff.lower >= 0",
            "finetune_cost.accuracy.diff.lower >= -0.02",
        ],
    }
    return suite, truth


def test_forgetting_is_a_paired_difference_on_the_general_dataset(
    tmp_path: Path, seed: int
) -> None:
    suite, truth = _planted(tmp_path, seed)
    report = evaluate(suite_from_dict(suite), write=False, progress=False)
    task = report.result("compare", model="candidate")
    cost = report.result("finetune_cost", model="candidate")
    assert task.dataset == "test" and cost.dataset == "general"
    assert cost.n == 250
    d_task, d_cost = task.metrics["accuracy.diff"], cost.metrics["accuracy.diff"]
    assert d_task.value == pytest.approx(truth["test"]["diff"], abs=1e-12)
    assert d_cost.value == pytest.approx(truth["general"]["diff"], abs=1e-12)
    assert d_cost.upper < 0 < d_task.lower  # better at the task, worse in general
    # the same paired analysis as compare run on that dataset
    alone = dict(suite, checks={"compare": {"dataset": "general", "metrics": ["accuracy"]}})
    alone["gates"] = []
    ref = evaluate(suite_from_dict(alone), write=False, progress=False)
    ref_d = ref.result("compare", model="candidate").metrics["accuracy.diff"]
    assert (d_cost.lower, d_cost.upper) == (ref_d.lower, ref_d.upper)
    # gates: the forgetting fails its gate
    assert [g.passed for g in report.gates] == [True, False]
    # the report shows it, and the console has a line
    assert "What fine-tuning cost" in render_html(report)
    console = Console(record=True, width=200, color_system=None)
    print_summary(report, console=console)
    assert any(line.startswith("finetune cost") for line in console.export_text().splitlines())


def test_finetune_cost_needs_a_known_dataset(tmp_path: Path, seed: int) -> None:
    suite, _ = _planted(tmp_path, seed)
    suite["checks"] = {"finetune_cost": {"dataset": "nope"}}
    suite["gates"] = []
    with pytest.raises(ConfigError, match="'nope' is not declared"):
        evaluate(suite_from_dict(suite), write=False, progress=False)
    suite["checks"] = {"finetune_cost": {}}
    with pytest.raises(ConfigError, match="dataset"):
        evaluate(suite_from_dict(suite), write=False, progress=False)
