"""The generation section of the HTML report and its console line, from real generation results.

The answers come from python: models and the judge is a python: model too (scripted verdicts), so
the numbers are known: the section must show them with their intervals, the judge's score
distribution, the position-bias finding of a judge that always prefers the first answer, and the
refused and unparseable answers, escaped.
"""

from __future__ import annotations

import csv
import html as htmllib
import json
import re
from pathlib import Path

import pytest
from rich.console import Console

from assay import evaluate
from assay._runner import suite_from_dict
from assay.report._console import print_summary
from assay.report._html import SECTIONS, render_html
from assay.report._schema import Report

EVIL = "<script>alert(1)</script> I'm sorry, I cannot help with that."
ROWS = [  # id, question, reference, answer, human score
    ("q1", "capital of france", "paris", "paris", 5),
    ("q2", "two plus two", "four", "the answer is four", 4),
    ("q3", "colour of the sky", "blue", EVIL, 1),
    ("q4", "opposite of hot", "cold", "cold", 5),
    ("q5", "largest planet", "jupiter", "it is jupiter for sure my friend", 3),
    ("q6", "first letter", "a", "b", 1),
]
MODELS = """
ANSWERS = {answers!r}
def answer(batch):
    return [ANSWERS[x] for x in batch]
def other(batch):
    return ["no idea" for x in batch]
def judge_points(batch):
    # 'Score: n' with n = 1 + (words in the judge's prompt) % 5
    out = []
    for prompt in batch:
        n = 1 + len(prompt.split()) % 5
        out.append("Fine. Score: %d" % n)
    return out
def judge_first(batch):
    return ["The first one. [[A]]" for _ in batch]
"""


def _suite(tmp_path: Path, judge: dict[str, object]) -> dict[str, object]:
    data = tmp_path / "qa.csv"
    with data.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "question", "reference", "human"])
        w.writerows((i, q, ref, h) for i, q, ref, _, h in ROWS)
    mod = tmp_path / "gen_section_models.py"
    mod.write_text(MODELS.format(answers={q: a for _, q, _, a, _ in ROWS}), encoding="utf-8")
    return {
        "task": "generation",
        "data": {"path": str(data), "id": "id", "input": "question"},
        "models": {"candidate": f"python:{mod}:answer", "baseline": f"python:{mod}:other"},
        "engine": {"cache": None, "progress": False},
        "checks": {
            "generation": {
                "reference": "reference",
                "n_bootstrap": 200,
                "metrics": ["exact_match", "token_f1", "refusal", "length"],
                "judge": {
                    "spec": f"python:{mod}:{judge.pop('fn')}",
                    "options": {"task": "generation"},
                    **judge,
                },
            }
        },
    }


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> tuple[Report, Report]:
    tmp = tmp_path_factory.mktemp("gen")
    pointwise = suite_from_dict(
        _suite(tmp, {"fn": "judge_points", "human": "human", "kappa_weights": "quadratic"})
    )
    pairwise = suite_from_dict(
        _suite(tmp, {"fn": "judge_first", "mode": "pairwise", "against": "baseline"})
    )
    return (
        evaluate(pointwise, write=False, progress=False),
        evaluate(pairwise, write=False, progress=False),
    )


def _text(page: str) -> str:
    body = re.sub(r"<script.*?</script>", " ", page, flags=re.S)
    return htmllib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


def _section(page: str) -> str:
    start = page.index('id="check-generation')
    end = page.find("<section", start + 10)
    return page[start : end if end > 0 else len(page)]


def test_generation_has_its_own_section() -> None:
    assert SECTIONS["generation"].template == "section_generation.html.j2"


def test_metrics_with_intervals_judge_scores_and_examples(reports: tuple[Report, Report]) -> None:
    report, _ = reports
    g = report.result("generation", model="candidate")
    page = render_html(report)
    text = _text(_section(page))
    em = g.metrics["exact_match"]
    assert em.value == pytest.approx(2 / 6)
    assert f"{em.value:.3f} [{em.lower:.3f}, {em.upper:.3f}]" in text
    f1 = g.metrics["token_f1"]
    assert f"{f1.value:.3f} [{f1.lower:.3f}, {f1.upper:.3f}]" in text
    # refusals: q3 only
    assert g.metrics["refusal_rate"].value == pytest.approx(1 / 6)
    assert "Refusals" in text and "Length (words)" in text
    # the judge: every verdict parsed, the score distribution is a figure, kappa shown
    counts = g.tables["judge"]["score_counts"]
    assert sum(counts.values()) == 6 and set(counts) == {"1", "2", "3", "4", "5"}
    figs = json.loads(
        re.search(r'<script type="application/json" id="assay-figures">(.*?)</script>', page, re.S)
        .group(1)
        .replace("\\u003c", "<")
    )
    bars = [
        f
        for f in figs.values()
        if f["data"] and f["data"][0].get("type") == "bar" and "judge" in json.dumps(f["layout"])
    ]
    assert bars and sum(bars[0]["data"][0]["y"]) == 6
    assert "Agreement with human labels" in text
    k = g.metrics["judge.kappa"]
    assert f"{k.value:.3f}" in text
    # the refused answer is listed, escaped: never a live script tag
    assert "<script>alert(1)</script>" not in _section(page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in _section(page)
    assert "refused" in text and "not an exact match" in text


def test_pairwise_position_bias_is_shown(reports: tuple[Report, Report]) -> None:
    _, report = reports
    g = report.result("generation", model="candidate")
    # the judge always says "A": this model wins when first, loses when second
    assert g.metrics["judge.win_rate"].value == pytest.approx(0.5)
    assert g.tables["judge"]["order_flips"] == 6 and g.tables["judge"]["n_pairs"] == 6
    text = _text(_section(render_html(report)))
    assert "position bias" in text
    assert "changed with the order of the two answers on 6 of 6 examples" in text
    assert "Win rate against the other model" in text


def test_console_line(reports: tuple[Report, Report]) -> None:
    report, pairwise = reports
    console = Console(record=True, width=200, color_system=None)
    print_summary(report, console=console)
    out = console.export_text()
    line = next(x for x in out.splitlines() if x.startswith("generation"))
    f1 = report.result("generation", model="candidate").metrics["token_f1"]
    assert f"token F1 {f1.value:.3f} [{f1.lower:.3f}, {f1.upper:.3f}]" in line
    assert "judge score" in line and "refusals 0.167" in line
    console = Console(record=True, width=200, color_system=None)
    print_summary(pairwise, console=console)
    assert "judge win rate 0.500" in console.export_text()
