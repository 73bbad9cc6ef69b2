"""The domain_shift and weak_slices HTML sections and the per-pillar console lines.

The domain_shift and weak_slices results are real: the checks run through ``assay.evaluate`` on a
small planted data set (a predictions file, so no model is fitted). Expected numbers are computed
from the data with pandas, independently of the checks. The other pillars' console lines read
hand-built results shaped like the checks' own.
"""

from __future__ import annotations

import html as htmllib
import json
import re

import numpy as np
import pandas as pd
import pytest
import yaml
from rich.console import Console

import assay
from assay.report._console import print_summary
from assay.report._html import Figures, render_html
from assay.report._html_domain import build_domain_shift
from assay.report._html_weak_slices import build_weak_slices
from assay.report._schema import CheckResult, Report
from assay.stats._estimate import Estimate

EVIL = "<b>[bold]evil[/bold]</b> & co"
SCRIPT = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Report, pd.DataFrame]:
    tmp = tmp_path_factory.mktemp("pillars")
    rng = np.random.default_rng(3)
    rows = []
    sites = ["a"] * 140 + ["b"] * 140 + [EVIL] * 110 + ["d"] * 8
    for i, site in enumerate(sites):
        words = list(rng.choice(["plot", "actors", "music", "scenes", "story", "ending"], 4))
        planted_word = i % 6 == 0
        if planted_word:
            words += ["boring", SCRIPT]
        p_wrong = 0.45 if site == EVIL else 0.5 if planted_word else 0.08
        label = "pos" if rng.random() < 0.5 else "neg"
        pred = ("neg" if label == "pos" else "pos") if rng.random() < p_wrong else label
        rows.append(
            {
                "id": f"r{i}",
                "text": " ".join(words),
                "label": label,
                "site": site,
                "when": f"{rng.choice([2020, 2021, 2022])}-06-01",
                "pred": pred,
            }
        )
    frame = pd.DataFrame(rows)
    frame.to_csv(tmp / "test.csv", index=False)
    frame[["id", "pred"]].rename(columns={"pred": "label"}).to_csv(tmp / "p.csv", index=False)
    suite = {
        "name": "pillars",
        "data": {
            "path": "test.csv",
            "id": "id",
            "input": "text",
            "label": "label",
            "domain": "site",
            "time": "when",
        },
        "models": {"m": "predictions:p.csv"},
        "checks": {
            "performance": {},
            "domain_shift": {"seen": ["a", "b"], "min_n": 20},
            "weak_slices": {"embeddings": None, "min_n": 30},
        },
    }
    (tmp / "suite.yaml").write_text(yaml.safe_dump(suite))
    return assay.evaluate(tmp / "suite.yaml", write=False, progress=False), frame


def _section(page: str, check: str) -> str:
    start = page.index(f'id="check-{check}"')
    return page[start : page.index("</section>", start)]


def _text(fragment: str) -> str:
    """The visible text of an HTML fragment, whitespace collapsed, entities decoded."""
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _fmt(e: Estimate) -> str:
    return f"{e.value:.3f} [{e.lower:.3f}, {e.upper:.3f}]"


def _acc(frame: pd.DataFrame) -> float:
    return float((frame["label"] == frame["pred"]).mean())


# ------------------------------------------------------------------------ domain_shift


def test_domain_shift_section_shows_domains_periods_and_the_gap(planted) -> None:
    report, frame = planted
    page = render_html(report)
    sec = _section(page, "domain_shift")
    text = _text(sec)
    r = report.result("domain_shift")
    assert r is not None
    seen = frame["site"].isin(["a", "b"])
    unseen_acc = _acc(frame[~seen])
    gap = r.metrics["gap"]
    assert gap.value == pytest.approx(unseen_acc - _acc(frame[seen]), abs=1e-12)
    assert f"unseen − seen (difference of proportions, {gap.method}) {_fmt(gap)}" in text
    evil = r.metrics[f"domain.{EVIL}.accuracy"]
    assert evil.value == pytest.approx(_acc(frame[frame["site"] == EVIL]), abs=1e-12)
    n_evil = int((frame["site"] == EVIL).sum())
    assert f"{EVIL} unseen {n_evil} {_fmt(evil)}" in text
    assert "worse" in text and "1 domain with fewer than 20 examples" in text
    for year in ("2020", "2021", "2022"):
        y = frame[frame["when"].str.startswith(year)]
        assert f"{year} {len(y)} {_acc(y):.3f} [" in text
    assert "reference" in text
    # User text is escaped in the table, and nowhere raw in the page (figures included).
    assert htmllib.escape(EVIL, quote=False) in sec
    assert "<b>[bold]evil" not in page


def test_domain_forest_has_a_dashed_line_at_the_in_domain_accuracy(planted) -> None:
    report, frame = planted
    r = report.result("domain_shift")
    figs = Figures()
    ctx = build_domain_shift(r, figs, report)
    assert [p["title"] for p in ctx["plots"]] == ["accuracy by domain", "accuracy by period"]
    forest = json.loads(figs.items[0][2])
    [shape] = forest["layout"]["shapes"]
    seen_acc = _acc(frame[frame["site"].isin(["a", "b"])])
    assert shape["x0"] == pytest.approx(seen_acc, abs=1e-12) and shape["line"]["dash"] == "dash"
    names = forest["data"][0]["y"]
    assert any(n.startswith("all unseen domains (pooled") for n in names)
    assert "d (seen" not in " ".join(names)  # too small: listed, not plotted
    red = [c for c in forest["data"][0]["marker"]["color"] if c == "#c0392b"]
    assert len(red) == sum(ctx["domains"][i]["worse"] for i in range(len(ctx["domains"]))) + 1


# ------------------------------------------------------------------------ weak_slices


def test_weak_slices_section_lists_flagged_slices_first_with_examples(planted) -> None:
    report, frame = planted
    page = render_html(report)
    sec = _section(page, "weak_slices")
    text = _text(sec)
    r = report.result("weak_slices")
    boring = frame[frame["text"].str.contains("boring")]
    # "boring" always comes with the planted <script>alert(1)</script>: the three keywords select
    # the same rows, so they are one slice, named by one of them with the others as aliases.
    [row] = [
        w for w in r.tables["weak"] if "keyword=boring" in {f"keyword={w['value']}", *w["aliases"]}
    ]
    word = row["value"]
    est = r.metrics[row["key"]]
    assert est.value == pytest.approx(_acc(boring), abs=1e-12)
    gap = f"{_acc(boring) - _acc(frame):+.3f}".replace("-", "−")
    assert (
        f"keyword input contains “{word}” (the same rows as {', '.join(row['aliases'])}) "
        f"keyword.{word}.accuracy {len(boring)} {_fmt(est)} {gap}" in text
    )
    assert f"metadata site = {EVIL}" in text  # the planted domain is found as metadata too
    flagged_part = text[: text.index("All ")]
    assert "(label " in flagged_part and ", predicted " in flagged_part
    n_tested = r.tables["n_tested"]
    assert f"All {n_tested} candidates tested, most suspect first" in text
    assert len(r.tables["candidates"]) == n_tested
    assert sec.index("weak-slices") < sec.index("candidates")  # flagged first
    assert htmllib.escape(SCRIPT, quote=False) in sec and SCRIPT not in page
    figs = Figures()
    ctx = build_weak_slices(r, figs, report)
    forest = json.loads(figs.items[0][2])
    assert len(forest["data"][0]["y"]) == len(r.tables["weak"]) == len(ctx["weak"])
    assert forest["layout"]["shapes"][0]["x0"] == pytest.approx(_acc(frame), abs=1e-12)
    # The flagged slices are in the table, not repeated as findings under it.
    assert ctx["other_flags"] == []


def test_weak_slices_section_without_flags_says_so() -> None:
    r = CheckResult(
        check="weak_slices",
        model="m",
        dataset="d",
        n=100,
        metrics={"overall.accuracy": Estimate(0.9, 0.83, 0.94, 0.95, "wilson", 100)},
        tables={
            "metric": "accuracy",
            "overall": Estimate(0.9, 0.83, 0.94, 0.95, "wilson", 100).to_dict(),
            "weak": [],
            "candidates": [],
            "n_tested": 7,
            "tested": {"length": 4, "region": 3},
            "notes": ["embedding clusters skipped"],
        },
    )
    report = Report(
        assay_version="0",
        suite_name="s",
        suite={},
        created_at="2024-01-01",
        duration_s=1.0,
        seed=0,
        level=0.95,
        datasets=[],
        models=[],
        environment={},
        results=[r],
    )
    text = _text(_section(render_html(report), "weak_slices"))
    assert "none flagged" in text and "No slice is significantly worse" in text
    assert "7 candidate slices tested (length 4, metadata 3)" in text
    assert "embedding clusters skipped" in text


# ------------------------------------------------------------------------ console


def _console(report: Report) -> str:
    console = Console(record=True, width=120)
    print_summary(report, console=console)
    return console.export_text()


def test_console_lines_for_domain_shift_and_weak_slices(planted) -> None:
    report, _ = planted
    out = _console(report)
    gap = report.result("domain_shift").metrics["gap"]
    sign = "+" if gap.value >= 0 else "−"
    assert f"domain shift   unseen − seen {sign}{abs(gap.value):.3f} [" in out
    assert f"1 domain worse: {EVIL}" in out  # Rich markup in user text is not interpreted
    weak = report.result("weak_slices").tables["weak"]
    first = ", ".join(f"{w['kind']}={w['value']}" for w in weak[:3])
    n_tested = report.result("weak_slices").tables["n_tested"]
    assert f"weak slices    {len(weak)} flagged of {n_tested} tested: {first}" in out
    assert any("keyword=boring" in {f"keyword={w['value']}", *w["aliases"]} for w in weak)


def _e(v: float, lo: float, hi: float, n: int = 1000, method: str = "wilson") -> dict:
    return Estimate(v, lo, hi, 0.95, method, n).to_dict()


def _hand_built() -> Report:
    E = Estimate.from_dict
    results = [
        CheckResult(
            check="robustness",
            model="m",
            dataset="t",
            n=1000,
            metrics={
                "typos.flip_rate": E(_e(0.078, 0.070, 0.088)),
                "case.flip_rate": E(_e(0.01, 0.005, 0.02)),
                "robust_accuracy": E(_e(0.575, 0.558, 0.591)),
            },
            tables={"perturbations": [{"key": "typos"}, {"key": "case"}]},
        ),
        CheckResult(
            check="fairness",
            model="m",
            dataset="t",
            n=1000,
            metrics={
                "sex.demographic_parity_ratio": E(_e(0.325, 0.295, 0.355)),
                "race.demographic_parity_ratio": E(_e(0.6, 0.5, 0.7)),
                "sex&race.demographic_parity_ratio": E(_e(0.1, 0.0, 0.2)),
            },
            tables={
                "features": [
                    {"name": "sex", "intersection": False, "groups": [{"too_small": False}] * 2},
                    {
                        "name": "race",
                        "intersection": False,
                        "groups": [{"too_small": True}] * 4 + [{"too_small": False}],
                    },
                    {"name": "sex&race", "intersection": True, "groups": []},
                ]
            },
        ),
        CheckResult(
            check="generalization",
            model="m",
            dataset="t",
            n=1000,
            metrics={"train_test_gap.accuracy": E(_e(0.2, 0.185, 0.215))},
            tables={"curves": {"verdict": "severe"}},
        ),
        CheckResult(
            check="cv",
            model="m",
            dataset="train",
            n=5000,
            metrics={"accuracy": E(_e(0.76, 0.734, 0.786, 5, "nadeau-bengio"))},
            tables={"metric_names": ["accuracy"], "folds": 5, "repeats": 1},
        ),
        CheckResult(
            check="leakage",
            model="m",
            dataset="t",
            n=3366,
            metrics={
                "exact.count": E(_e(3, 3, 3, 3366, "count")),
                "near.count": E(_e(0, 0, 0, 3366, "count")),
                "exact.rate": E(_e(3 / 3366, 0.0003, 0.0026, 3366)),
            },
        ),
        CheckResult(
            check="compare",
            model="m",
            dataset="t",
            n=1000,
            tables={
                "comparison": {
                    "verdict": "no-go",
                    "baseline": "prod",
                    "metrics": [{"metric": "accuracy", "difference": _e(-0.04, -0.06, -0.02)}],
                }
            },
        ),
    ]
    return Report(
        assay_version="0",
        suite_name="s",
        suite={},
        created_at="2024-01-01",
        duration_s=1.0,
        seed=0,
        level=0.95,
        datasets=[],
        models=[],
        environment={},
        results=results,
    )


def test_console_lines_for_the_other_pillars() -> None:
    out = _console(_hand_built())
    assert (
        "robustness     typos flip 0.078 [0.070, 0.088] (worst) · robust accuracy "
        "0.575 [0.558, 0.591]" in out
    )
    # The least even feature, not the intersection; small groups counted.
    assert "fairness       sex DP ratio 0.325 [0.295, 0.355] (4 groups too small)" in out
    assert (
        "generalization overfitting severe · train–test gap (accuracy) +0.200 [+0.185, +0.215]" in out
    )
    assert "cv             accuracy 0.760 [0.734, 0.786] (5 folds)" in out
    assert "leakage        3 exact duplicates (0.09% of test rows)" in out
    assert "compare        no-go vs prod · accuracy Δ −0.040 [−0.060, −0.020]" in out
    assert "domain shift" not in out and "weak slices" not in out  # absent pillars: no line


def test_console_skips_a_pillar_whose_result_lacks_its_numbers() -> None:
    bare = [r.model_copy(update={"metrics": {}, "tables": {}}) for r in _hand_built().results]
    out = _console(_hand_built().model_copy(update={"results": bare}))
    for label in ("robustness ", "fairness ", "generalization ", "cv ", "leakage ", "compare "):
        assert label not in out


def test_robustness_section_lists_failing_minimum_functionality_tests() -> None:
    """MFT failures have no perturbed text and no original prediction: the template rendered them
    with StrictUndefined and the whole report failed (found on the MiniLM demo)."""
    from assay.checks._robustness_tests import score_mft
    from assay.engine import Response
    from assay.models import Output

    cases = [
        {"test": "negated_positive", "id": "negated_positive:0", "key": "k0",
         "input": "The film was not good.", "label": "rotten"},
        {"test": "negated_positive", "id": "negated_positive:1", "key": "k1",
         "input": "It is not funny at all.", "label": "rotten"},
    ]
    responses = {
        "k0": Response("k0", Output(label="fresh"), 0.0),
        "k1": Response("k1", Output(label="rotten"), 0.0),
    }
    scored = score_mft(cases, responses, level=0.95, max_examples=5)
    result = CheckResult(
        check="robustness",
        model="m",
        dataset="t",
        n=2,
        metrics=scored["metrics"],
        tables={"perturbations": [], "mft": scored["rows"]},
        examples=scored["examples"],
    )
    report = Report(
        assay_version="0", suite_name="s", suite={}, created_at="2024-01-01", duration_s=1.0,
        seed=0, level=0.95, datasets=[], models=[], environment={}, results=[result],
    )
    text = _text(_section(render_html(report), "robustness"))
    assert "mft:negated_positive" in text and "The film was not good." in text
    assert "It is not funny at all." not in text  # it passed
    assert "fresh (label rotten)" in text


def test_generalization_section_says_none_for_steps_it_did_not_find() -> None:
    """A fine-tune that never overfits has no divergence or early-stopping step: the table said
    "undefined" (as for a missing number) and showed steps as 125.00."""
    curves = {
        "verdict": "none",
        "metric": "loss",
        "train_series": "loss",
        "validation_series": "eval_loss",
        "direction": "lower",
        "best_step": 125.0,
        "last_step": 125.0,
        "best_validation": 0.473,
        "last_validation": 0.473,
        "gap_at_best": -0.037,
        "gap_at_last": -0.037,
        "validation_rise": 0.0,
        "divergence_step": None,
        "early_stop_step": None,
    }
    result = CheckResult(
        check="generalization", model="m", dataset="t", n=0, metrics={}, tables={"curves": curves}
    )
    report = Report(
        assay_version="0", suite_name="s", suite={}, created_at="2024-01-01", duration_s=1.0,
        seed=0, level=0.95, datasets=[], models=[], environment={}, results=[result],
    )
    text = _text(_section(render_html(report), "generalization"))
    assert "divergence step none" in text and "early stop step none" in text
    assert "best step 125 " in text and "125.00" not in text
    assert "undefined" not in text
