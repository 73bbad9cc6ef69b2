"""The metric catalogue: lookups, the consistency of its entries, and agreement with the summaries
(every metric a summary reports is catalogued, with the interval method it reports)."""

from __future__ import annotations

import pytest
from metric_cases import CASES, SCHEMA, Case, _embed

from assay.errors import MetricError
from assay.metrics import (
    CATALOG,
    SUMMARY_SOURCES,
    MetricInfo,
    classification_summary,
    direction,
    display_name,
    find_metric,
    headline_metrics,
    is_lower_better,
    metric_info,
    metrics_for,
    multilabel_summary,
    regression_summary,
    text_summary,
)


def test_lookup_strips_paths_and_knows_averages() -> None:
    assert metric_info("per_class.cat.precision").name == "precision"
    assert direction("slices.genre.drama.log_loss") == "lower"
    assert metric_info("judge.score").family == "judge"  # a dotted name of its own
    assert is_lower_better("rmse") and not is_lower_better("r2")
    assert direction("mean_residual") == "zero" and direction("length_words") == "none"
    avg = metric_info("specificity_weighted")  # not catalogued; an average of specificity
    assert (avg.display, avg.direction, avg.headline) == ("Specificity (weighted)", "higher", None)
    assert metric_info("f1_macro").task == "classification"
    assert metric_info("f1_macro", task="multilabel").interval == "bootstrap"
    assert display_name("f1_samples") == "F1 (samples)"
    assert display_name("per_class.cat.f1") is None  # a path says more than the bare name
    assert find_metric("n_weak") is None


def test_an_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(MetricError, match=r"unknown metric 'f2'; known metrics: .*accuracy.*rmse"):
        metric_info("f2")
    with pytest.raises(MetricError, match="unknown task 'ranking'"):
        metrics_for("ranking")


def test_headlines_and_filters() -> None:
    assert headline_metrics("classification") == (
        "accuracy", "f1_macro", "roc_auc", "roc_auc_ovr_macro"
    )
    assert headline_metrics("regression", max_rank=2) == ("rmse", "mae")
    binary = {m.name for m in metrics_for("classification", n_classes=2, proba=False)}
    assert "precision" in binary and "roc_auc" not in binary and "mcc" in binary
    multi = {m.name for m in metrics_for("classification", n_classes=3)}
    assert "roc_auc_ovr_macro" in multi and "precision" not in multi


def test_a_name_shared_by_tasks_means_the_same() -> None:
    by_name: dict[str, list[MetricInfo]] = {}
    for m in CATALOG:
        by_name.setdefault(m.name, []).append(m)
    for name, infos in by_name.items():
        assert len({m.task for m in infos}) == len(infos), f"{name} twice in one task"
        assert len({(m.direction, m.display) for m in infos}) == 1, name


@pytest.mark.parametrize("info", CATALOG, ids=lambda m: f"{m.task}:{m.name}")
def test_entry_is_consistent(info: MetricInfo) -> None:
    if info.headline is not None:
        assert info.shown == "summary", "a headline metric is in the summaries"
    assert (info.function is not None) == (info.source == "function")
    if info.function is not None:
        assert info.per_example and info.interval in ("wilson", "bootstrap"), (
            "the summaries give a function metric an interval from its per-example scores"
        )
    if info.paired_test == "mcnemar":
        assert info.per_example, "McNemar compares per-example 0/1 scores"
    if info.direction == "none":
        assert info.best is None and info.paired_test is None and info.headline is None
    if info.needs_proba or info.classes != "any" or info.per_class:
        assert info.task == "classification"
    assert (info.family is not None) == (info.task == "generation")
    if info.option is not None or info.opt_in:
        assert info.task == "generation" and info.option is not None


def _reported(case: Case, proba: bool = True) -> dict[str, str]:
    """Every metric name the summary of ``case`` reports → its interval method."""
    if case.task == "classification":
        s = classification_summary(case.truth, case.pred, labels=list(case.labels),
                                   proba=case.proba if proba else None, n_bootstrap=50,
                                   seed=0, zero_division="nan")
    elif case.task == "regression":
        s = regression_summary(case.truth, case.pred, n_bootstrap=50, seed=0)
    elif case.task == "multilabel":
        s = multilabel_summary(case.truth, case.pred, labels=list(case.labels), n_bootstrap=50,
                               seed=0, zero_division="nan")
    else:
        options = [m.option for m in CATALOG if m.option]
        s = text_summary(list(case.pred), list(case.truth), metrics=options, json_schema=SCHEMA,
                         embed=_embed, n_bootstrap=50, seed=0)
    return {k: e.method for k, e in s.metrics.items()}


@pytest.mark.parametrize(
    ("case", "proba"),
    [("binary", True), ("binary", False), ("multiclass", True), ("multiclass", False),
     ("regression", True), ("multilabel", True), ("generation", True)],
)
def test_summaries_report_exactly_the_catalogued_metrics_with_their_intervals(
    case: str, proba: bool
) -> None:
    # The worse model: its scores are graded, so a bootstrap metric keeps its bootstrap interval
    # (0/1 scores would get Wilson's).
    c = CASES[case]("worse")
    reported = _reported(c, proba)
    scalars = {k: v for k, v in reported.items() if not k.startswith(("per_class.", "per_label."))}
    infos = metrics_for(c.task, sources=SUMMARY_SOURCES)
    if c.task == "classification":
        infos = tuple(m for m in infos if m.applies_to(len(c.labels), proba=proba))
    want = {m.name: m.interval for m in infos if not (m.per_class and m.classes == "any")}
    assert scalars == want
    for key, method in reported.items():
        if key.startswith("per_class."):
            assert metric_info(key).per_class and metric_info(key).interval == method, key
