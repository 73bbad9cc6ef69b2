"""The metric catalogue: one :class:`MetricInfo` per metric, and every table of names derives from it.

Each entry says what a metric is for (task), which way is better (direction), how it is shown
(display name, headline rank, where it is listed), how its interval is computed, which paired test
compares two models on it, and what computes it: its own ``function``, or a group computation
(``source``) such as the confusion-count metrics of ``classification_summary``. The report's
sinks, the checks' default metric lists and gate patterns, the comparison's comparable metrics and
the fairness group metrics all read this table (after scikit-learn's ``metrics/_scorer.py``).

Adding a metric that has its own function takes one entry here and the function: the summaries
compute every catalogued function metric that applies (``assay.metrics._function_metrics``), so
the performance check reports it with its interval, the report shows it with its display name and
direction, and the common tests (``tests/metrics/test_common.py``) test it.

Names: a metric key in a result may carry a path (``per_class.cat.precision``,
``slices.genre.drama.accuracy``); the lookups strip leading segments until a catalogued name is
left. An average of a catalogued metric that is not catalogued itself (``specificity_weighted``)
inherits the base metric's direction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from assay.errors import MetricError
from assay.metrics._text_scores import exact_match_scores, token_f1_scores
from assay.metrics._top_k import top_k_accuracy_scores

__all__ = [
    "CATALOG",
    "SUMMARY_SOURCES",
    "Direction",
    "MetricInfo",
    "MetricTask",
    "direction",
    "display_name",
    "example_metric",
    "find_metric",
    "headline_metrics",
    "is_lower_better",
    "metric_info",
    "metrics_for",
]

MetricTask = Literal["classification", "regression", "multilabel", "generation"]
#: ``higher``: greater is better; ``lower``: smaller is better; ``zero``: zero is best (a bias,
#: either sign); ``none``: a description with no better value (a length, a count, a rate of
#: positive predictions).
Direction = Literal["higher", "lower", "zero", "none"]
#: What computes a metric that has no function of its own (``function`` is ``None``):
#: ``counts`` the confusion-count metrics, ``scores`` the ranking metrics and ``probabilities``
#: the probability metrics of ``classification_summary``; ``regression`` of
#: ``regression_summary``; ``multilabel`` of ``multilabel_summary``; ``text`` of
#: ``text_summary``; ``groups`` only per group, by ``assay.fairness``; ``answers``, ``serving``
#: and ``judge`` by the checks that parse answers, time calls and ask a judge; ``uncertainty`` by
#: the uncertainty check (``assay.uncertainty``) on its test rows. ``function``: the
#: metric's own ``function``, which the summaries call.
Source = Literal[
    "counts",
    "scores",
    "probabilities",
    "regression",
    "multilabel",
    "text",
    "groups",
    "answers",
    "serving",
    "judge",
    "uncertainty",
    "function",
]
#: The sources whose metrics the summaries of ``assay.metrics`` compute.
SUMMARY_SOURCES: frozenset[str] = frozenset(
    {"counts", "scores", "probabilities", "regression", "multilabel", "text", "function"}
)
Shown = Literal["summary", "table", "detail"]
Classes = Literal["any", "binary", "multiclass"]


@dataclass(frozen=True)
class MetricInfo:
    """Everything assay knows about one metric.

    Attributes:
        name: the key of the metric in a result (``f1_macro``).
        task: ``classification``, ``regression``, ``multilabel`` or ``generation``.
        direction: ``higher``, ``lower``, ``zero`` or ``none`` (see :data:`Direction`).
        display: the name people read (``F1 (macro)``).
        interval: the method of its interval, as the ``Estimate`` reports it: ``wilson``,
            ``bootstrap-counts`` (over confusion counts), ``delong``, ``delong-influence``,
            ``bootstrap`` (over examples) or ``none`` (a count, no interval).
        paired_test: how the comparison tests a difference on the same examples: ``mcnemar``
            (with Newcombe's interval), ``bootstrap-counts`` (paired, over the joint confusion
            cells), ``delong``, ``delong-influence``, ``paired-t``, ``delta``; ``None``: not
            compared.
        per_example: the metric is the mean of a per-example score (the score is what a paired
            comparison of generated text compares, and what a slice can be tested on).
        needs_proba: it needs class probabilities (or scores).
        classes: ``binary`` or ``multiclass`` when it exists for only one kind of problem.
        headline: rank among the task's headline metrics (1 first); ``None`` if not a headline.
            Metrics of equal rank are alternatives for different problems (binary ROC AUC and the
            multiclass one-vs-rest ROC AUC).
        shown: ``summary``: in the compact summaries (console, Markdown, checkpoint sweep) and the
            main table; ``table``: in the main metric table and the side-by-side comparison;
            ``detail``: listed after those. The catalogue's order is the display order.
        best: the best value (a perfect model's), or ``None`` where there is none.
        function: the function that computes it, where one exists. Classification functions
            take ``(y_true, y_pred, *, labels)`` or, with ``needs_proba``, ``(y_true, proba, *,
            labels)``; regression ``(y_true, y_pred)``; generation ``(preds, refs)``. With
            ``per_example`` it returns the per-example scores, else the value. ``None`` when the
            metric is produced as part of a group computation, named by ``source``.
        source: what computes it (see :data:`Source`); ``function`` when ``function`` does.
        options: keyword arguments the summaries pass to ``function`` (``{"k": 2}``).
        per_class: it is also reported per class (``per_class.<label>.<name>``).
        per_group: the fairness check reports it per group.
        option: generation: the check option that computes it (``rouge`` for ``rouge1``).
        opt_in: generation: the option is not computed unless asked for.
        family: generation: the report section that shows it (``reference``, ``answers``,
            ``length``, ``serving``, ``judge``).
        short: a compact display name for narrow table columns (default: ``display``).
    """

    name: str
    task: MetricTask
    direction: Direction
    display: str
    interval: str
    source: Source
    paired_test: str | None = None
    per_example: bool = False
    needs_proba: bool = False
    classes: Classes = "any"
    headline: int | None = None
    shown: Shown = "detail"
    best: float | None = None
    function: Callable[..., Any] | None = None
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    per_class: bool = False
    per_group: bool = False
    option: str | None = None
    opt_in: bool = False
    family: str | None = None
    short: str | None = None

    @property
    def lower_is_better(self) -> bool:
        """Whether a smaller value is better."""
        return self.direction == "lower"

    @property
    def compact(self) -> str:
        """The compact display name (``short``, else ``display``)."""
        return self.short or self.display

    def applies_to(self, n_classes: int, *, proba: bool) -> bool:
        """Whether a classification problem with ``n_classes`` classes (and probabilities when
        ``proba``) has this metric."""
        if self.needs_proba and not proba:
            return False
        if self.classes == "binary":
            return n_classes == 2
        if self.classes == "multiclass":
            return n_classes > 2
        return True


def _cls(name: str, display: str, interval: str, source: Source, **kw: Any) -> MetricInfo:
    return MetricInfo(name, "classification", kw.pop("direction", "higher"), display, interval,
                      source, **kw)


def _reg(name: str, display: str, direction_: Direction, **kw: Any) -> MetricInfo:
    return MetricInfo(name, "regression", direction_, display, "bootstrap", "regression", **kw)


def _ml(name: str, display: str, interval: str = "bootstrap", **kw: Any) -> MetricInfo:
    return MetricInfo(name, "multilabel", kw.pop("direction", "higher"), display, interval,
                      "multilabel", **kw)


def _gen(name: str, display: str, direction_: Direction, interval: str, source: Source,
         family: str, **kw: Any) -> MetricInfo:
    return MetricInfo(name, "generation", direction_, display, interval, source, family=family,
                      **kw)


_COUNTS: Source = "counts"
_PROBA: Source = "probabilities"

#: Every metric, in display order within its task.
CATALOG: tuple[MetricInfo, ...] = (
    # ---- classification: labels (confusion counts) -------------------------------------------
    _cls("accuracy", "Accuracy", "wilson", _COUNTS, paired_test="mcnemar", per_example=True,
         headline=1, shown="summary", best=1.0, per_group=True),
    _cls("precision_micro", "Precision (micro)", "wilson", _COUNTS, best=1.0),
    _cls("recall_micro", "Recall (micro)", "wilson", _COUNTS, best=1.0),
    _cls("f1_micro", "F1 (micro)", "wilson", _COUNTS, best=1.0),
    _cls("selection_rate", "Selection rate", "wilson", "groups", direction="none",
         per_group=True),
    _cls("balanced_accuracy", "Balanced accuracy", "bootstrap-counts", _COUNTS,
         paired_test="bootstrap-counts", shown="summary", best=1.0),
    _cls("f1_macro", "F1 (macro)", "bootstrap-counts", _COUNTS, paired_test="bootstrap-counts",
         headline=2, shown="summary", best=1.0),
    _cls("precision_macro", "Precision (macro)", "bootstrap-counts", _COUNTS,
         paired_test="bootstrap-counts", shown="table", best=1.0),
    _cls("recall_macro", "Recall (macro)", "bootstrap-counts", _COUNTS,
         paired_test="bootstrap-counts", shown="table", best=1.0),
    _cls("specificity_macro", "Specificity (macro)", "bootstrap-counts", _COUNTS, shown="table",
         best=1.0),
    _cls("mcc", "Matthews corr.", "bootstrap-counts", _COUNTS, paired_test="bootstrap-counts",
         shown="table", best=1.0),
    _cls("cohen_kappa", "Cohen's κ", "bootstrap-counts", _COUNTS, paired_test="bootstrap-counts",
         shown="table", best=1.0),
    _cls("precision_weighted", "Precision (weighted)", "bootstrap-counts", _COUNTS, best=1.0),
    _cls("recall_weighted", "Recall (weighted)", "bootstrap-counts", _COUNTS, best=1.0),
    _cls("f1_weighted", "F1 (weighted)", "bootstrap-counts", _COUNTS, best=1.0),
    # ---- classification: scores (ranking) ------------------------------------------------------
    _cls("roc_auc", "ROC AUC", "delong", "scores", paired_test="delong", needs_proba=True,
         classes="binary", headline=3, shown="summary", best=1.0),
    _cls("roc_auc_ovr_macro", "ROC AUC (OvR, macro)", "delong-influence", "scores",
         paired_test="delong-influence", needs_proba=True, classes="multiclass", headline=3,
         shown="summary", best=1.0),
    _cls("roc_auc_ovo_macro", "ROC AUC (OvO, macro)", "delong-influence", "scores",
         needs_proba=True, classes="multiclass", shown="table", best=1.0),
    _cls("roc_auc_ovr_weighted", "ROC AUC (OvR, weighted)", "delong-influence", "scores",
         needs_proba=True, classes="multiclass", shown="table", best=1.0),
    _cls("roc_auc_ovo_weighted", "ROC AUC (OvO, weighted)", "delong-influence", "scores",
         needs_proba=True, classes="multiclass", shown="table", best=1.0),
    _cls("average_precision", "Average precision", "bootstrap", _PROBA, needs_proba=True,
         classes="binary", shown="table", best=1.0),
    _cls("average_precision_macro", "Average precision (macro)", "bootstrap", _PROBA,
         needs_proba=True, classes="multiclass", best=1.0),
    _cls("top_k_accuracy", "Top-2 accuracy", "wilson", "function", paired_test="mcnemar",
         per_example=True, needs_proba=True, classes="multiclass", best=1.0,
         function=top_k_accuracy_scores, options=MappingProxyType({"k": 2})),
    # ---- classification: the positive class (binary) and every class ---------------------------
    _cls("precision", "Precision", "wilson", _COUNTS, paired_test="bootstrap-counts",
         classes="binary", best=1.0, per_class=True, per_group=True),
    _cls("recall", "Recall", "wilson", _COUNTS, paired_test="bootstrap-counts", classes="binary",
         best=1.0, per_class=True, per_group=True, short="Recall (TPR)"),
    _cls("f1", "F1", "bootstrap-counts", _COUNTS, paired_test="bootstrap-counts",
         classes="binary", best=1.0, per_class=True, per_group=True),
    _cls("specificity", "Specificity", "wilson", _COUNTS, classes="binary", best=1.0,
         per_class=True),
    _cls("false_positive_rate", "False positive rate", "wilson", "groups", direction="lower",
         best=0.0, per_group=True, short="FPR"),
    _cls("false_negative_rate", "False negative rate", "wilson", "groups", direction="lower",
         best=0.0, per_group=True, short="FNR"),
    # ---- classification: probabilities (calibration) ------------------------------------------
    _cls("log_loss", "Log loss", "bootstrap", _PROBA, direction="lower", per_example=True,
         needs_proba=True, shown="summary", best=0.0),
    _cls("brier", "Brier score", "bootstrap", _PROBA, direction="lower", per_example=True,
         needs_proba=True, shown="table", best=0.0),
    _cls("ece", "Expected calibration error", "bootstrap", _PROBA, direction="lower",
         needs_proba=True, shown="summary", best=0.0, per_group=True, short="ECE"),
    _cls("support", "Support", "none", _COUNTS, direction="none", per_class=True),
    # ---- classification: the uncertainty check (assay.uncertainty; docs/uncertainty.md) --------
    _cls("ece_equal_mass", "ECE (equal-mass bins)", "bootstrap", "uncertainty",
         direction="lower", needs_proba=True, best=0.0),
    _cls("classwise_ece", "Classwise ECE", "bootstrap", "uncertainty", direction="lower",
         needs_proba=True, best=0.0),
    _cls("aurc", "Area under the risk–coverage curve", "none", "uncertainty",
         direction="lower", needs_proba=True, best=0.0, short="AURC"),
    _cls("excess_aurc", "Excess AURC", "none", "uncertainty", direction="lower",
         needs_proba=True, best=0.0, short="E-AURC"),
    _cls("risk", "Error rate on the cases kept", "wilson", "uncertainty", direction="lower",
         needs_proba=True, best=0.0, short="Selective risk"),
    _cls("referral_rate", "Referral rate", "wilson", "uncertainty", direction="lower",
         needs_proba=True, best=0.0),
    _cls("sensitivity", "Sensitivity", "wilson", "uncertainty", best=1.0),
    _cls("npv", "Negative predictive value", "wilson", "uncertainty", best=1.0, short="NPV"),
    # ---- regression ----------------------------------------------------------------------------
    _reg("rmse", "RMSE", "lower", paired_test="delta", headline=1, shown="summary", best=0.0,
         per_group=True),
    _reg("mae", "MAE", "lower", paired_test="paired-t", per_example=True, headline=2,
         shown="summary", best=0.0, per_group=True),
    _reg("r2", "R²", "higher", paired_test="delta", headline=3, shown="summary", best=1.0),
    _reg("mse", "MSE", "lower", paired_test="paired-t", per_example=True, shown="table",
         best=0.0),
    _reg("median_absolute_error", "Median absolute error", "lower", shown="table", best=0.0),
    _reg("mape", "MAPE", "lower", per_example=True, shown="summary", best=0.0),
    _reg("mean_residual", "Mean residual", "zero", per_example=True, shown="table", best=0.0,
         per_group=True),
    # ---- multilabel ----------------------------------------------------------------------------
    _ml("subset_accuracy", "Subset accuracy", "wilson", per_example=True, headline=1,
        shown="summary", best=1.0),
    _ml("hamming_loss", "Hamming loss", direction="lower", per_example=True, shown="summary",
        best=0.0),
    *(
        _ml(f"{m}_{avg}", f"{m.capitalize() if m != 'f1' else 'F1'} ({avg})",
            headline=2 if (m, avg) == ("f1", "macro") else None,
            shown="summary" if (m, avg) == ("f1", "macro") else "table", best=1.0)
        for avg in ("micro", "macro", "weighted", "samples")
        for m in ("precision", "recall", "f1")
    ),
    # ---- generation: against the references ----------------------------------------------------
    _gen("exact_match", "Exact match", "higher", "wilson", "function", "reference",
         paired_test="mcnemar", per_example=True, headline=1, shown="summary", best=1.0,
         function=exact_match_scores, option="exact_match"),
    _gen("token_f1", "Token F1", "higher", "bootstrap", "function", "reference",
         paired_test="paired-t", per_example=True, headline=2, shown="summary", best=1.0,
         function=token_f1_scores, option="token_f1"),
    _gen("bleu", "BLEU", "higher", "bootstrap", "text", "reference", shown="table", best=100.0,
         option="bleu"),
    _gen("chrf", "chrF", "higher", "bootstrap", "text", "reference", shown="table", best=100.0,
         option="chrf"),
    _gen("ter", "TER", "lower", "bootstrap", "text", "reference", shown="table", best=0.0,
         option="ter"),
    *(
        _gen(f"rouge{v}", f"ROUGE-{v}", "higher", "bootstrap", "text", "reference",
             paired_test="paired-t", per_example=True, shown="table", best=1.0, option="rouge")
        for v in ("1", "2", "L")
    ),
    _gen("embedding_cosine", "Embedding cosine (MiniLM)", "higher", "bootstrap", "text",
         "reference", paired_test="paired-t", per_example=True, shown="table", best=1.0,
         option="embedding_cosine", opt_in=True),
    _gen("json_valid", "Valid JSON", "higher", "wilson", "text", "reference",
         paired_test="mcnemar", per_example=True, shown="table", best=1.0, option="json",
         opt_in=True),
    _gen("json_schema_valid", "Conforms to the JSON schema", "higher", "wilson", "text",
         "reference", paired_test="mcnemar", per_example=True, shown="table", best=1.0,
         option="json", opt_in=True),
    # ---- generation: the answers ---------------------------------------------------------------
    _gen("unparseable_rate", "Named no label (unparseable)", "lower", "wilson", "answers",
         "answers", per_example=True, best=0.0),
    _gen("refusal_rate", "Refusals", "lower", "wilson", "text", "answers",
         paired_test="mcnemar", per_example=True, best=0.0, option="refusal"),
    _gen("truncated_rate", "Inputs truncated", "lower", "wilson", "serving", "answers",
         per_example=True, best=0.0),
    _gen("empty_rate", "Empty answers", "lower", "wilson", "answers", "answers",
         per_example=True, best=0.0),
    _gen("cut_short_rate", "Answers cut short (finish_reason length or none)", "lower", "wilson",
         "answers", "answers", per_example=True, best=0.0),
    _gen("outside_label_mass", "Probability outside the labels", "lower", "bootstrap",
         "answers", "answers", per_example=True, best=0.0),
    _gen("label_floor_rate", "Answers with a label given the floor (absent from top-k)",
         "lower", "wilson", "answers", "answers", per_example=True, best=0.0),
    *(
        _gen(f"length_{k}", display, "none", "bootstrap", "text", "length", per_example=True,
             option="length")
        for k, display in (
            ("words", "Length (words)"),
            ("chars", "Length (characters)"),
            ("ratio", "Length ÷ reference length"),
        )
    ),
    # ---- generation: serving -------------------------------------------------------------------
    _gen("ttft_s", "Time to first token (s)", "lower", "bootstrap", "serving", "serving",
         per_example=True),
    _gen("itl_s", "Inter-token latency (s)", "lower", "bootstrap", "serving", "serving",
         per_example=True),
    _gen("tpot_s", "Time per output token (s)", "lower", "bootstrap", "serving", "serving",
         per_example=True),
    _gen("tokens_per_s", "Tokens per second", "higher", "bootstrap", "serving", "serving",
         per_example=True),
    # ---- generation: a judge -------------------------------------------------------------------
    _gen("judge.score", "Judge score", "higher", "bootstrap", "judge", "judge",
         per_example=True),
    _gen("judge.win_rate", "Win rate against the other model", "higher", "bootstrap", "judge",
         "judge", per_example=True),
    _gen("judge.kappa", "Agreement with human labels (Cohen's κ)", "higher", "bootstrap",
         "judge", "judge", best=1.0),
    _gen("judge.parse_failure_rate", "Judge verdicts not parsed", "lower", "wilson", "judge",
         "judge", per_example=True, best=0.0),
)

_BY_NAME: dict[str, MetricInfo] = {}
for _info in CATALOG:  # the first entry of a name is its default (classification before multilabel)
    _BY_NAME.setdefault(_info.name, _info)
_AVERAGES = ("macro", "micro", "weighted", "samples")


def _exact(name: str, task: str | None) -> MetricInfo | None:
    if task is None:
        return _BY_NAME.get(name)
    return next((m for m in CATALOG if m.name == name and m.task == task), None)


def find_metric(name: str, *, task: str | None = None) -> MetricInfo | None:
    """The catalogue entry of a metric key, or ``None`` when it names no catalogued metric.

    The key is tried as it is, then without its leading dot-separated segments
    (``per_class.cat.precision`` → ``precision``), then, for an average of a catalogued metric,
    as that metric with the average in its display name (``specificity_weighted``).

    Args:
        name: a metric key.
        task: prefer this task's entry where a name exists for several (``f1_macro``).

    Returns:
        The entry, or ``None``.

    Example:
        >>> find_metric("per_class.cat.precision").display
        'Precision'
    """
    parts = name.split(".")
    for i in range(len(parts)):
        key = ".".join(parts[i:])
        found = _exact(key, task)
        if found is not None:
            return found
        base, _, avg = key.rpartition("_")
        if base and avg in _AVERAGES:
            inner = _exact(base, task)
            if inner is not None:
                return dataclasses.replace(
                    inner, name=key, display=f"{inner.display} ({avg})", headline=None,
                    shown="detail", per_class=False, per_group=False, paired_test=None,
                    function=None, short=None,
                )
    return None


def metric_info(name: str, *, task: str | None = None) -> MetricInfo:
    """The catalogue entry of a metric key (see :func:`find_metric` for the name rules).

    Args:
        name: a metric key.
        task: prefer this task's entry where a name exists for several.

    Returns:
        The entry.

    Raises:
        MetricError: no catalogued metric has this name; the message lists the known names.

    Example:
        >>> metric_info("rmse").direction
        'lower'
    """
    found = find_metric(name, task=task)
    if found is None:
        known = ", ".join(sorted(_BY_NAME))
        raise MetricError(f"unknown metric {name!r}; known metrics: {known}")
    return found


def direction(name: str) -> Direction:
    """Which way is better for a metric key: ``higher``, ``lower``, ``zero`` or ``none``.

    Raises:
        MetricError: an unknown metric (the message lists the known ones).

    Example:
        >>> direction("slices.genre.drama.log_loss")
        'lower'
    """
    return metric_info(name).direction


def is_lower_better(name: str) -> bool:
    """Whether a smaller value of the metric is better (``direction(name) == "lower"``).

    Raises:
        MetricError: an unknown metric.
    """
    return direction(name) == "lower"


def display_name(name: str) -> str | None:
    """The display name of a metric key without a path (``f1_macro`` → ``F1 (macro)``), or
    ``None`` when it is not catalogued. Keys with a path are not shortened: the path says what
    the number is about."""
    if "." in name and name not in _BY_NAME:
        return None
    found = find_metric(name)
    return None if found is None else found.display


def metrics_for(
    task: str,
    *,
    n_classes: int | None = None,
    proba: bool | None = None,
    shown: tuple[Shown, ...] | None = None,
    sources: frozenset[str] | None = None,
) -> tuple[MetricInfo, ...]:
    """The catalogued metrics of ``task``, in display order.

    Args:
        task: ``classification``, ``regression``, ``multilabel`` or ``generation``.
        n_classes: only those a problem with this many classes has.
        proba: with ``n_classes``: whether probabilities are there (default: they are).
        shown: only those listed at one of these places (``("summary",)``).
        sources: only those computed by one of these sources (see :data:`Source`).

    Returns:
        The entries.

    Raises:
        MetricError: an unknown task.

    Example:
        >>> [m.name for m in metrics_for("regression", shown=("summary",))]
        ['rmse', 'mae', 'r2', 'mape']
    """
    tasks = {m.task for m in CATALOG}
    if task not in tasks:
        raise MetricError(f"unknown task {task!r}; tasks with metrics: {', '.join(sorted(tasks))}")
    out = [m for m in CATALOG if m.task == task]
    if n_classes is not None:
        out = [m for m in out if m.applies_to(n_classes, proba=proba is not False)]
    if shown is not None:
        out = [m for m in out if m.shown in shown]
    if sources is not None:
        out = [m for m in out if m.source in sources]
    return tuple(out)


def headline_metrics(task: str, *, max_rank: int | None = None) -> tuple[str, ...]:
    """The names of the task's headline metrics, by rank (alternatives of one rank in display
    order).

    Args:
        task: the task.
        max_rank: only those of this rank or better.

    Example:
        >>> headline_metrics("classification", max_rank=2)
        ('accuracy', 'f1_macro')
    """
    heads = [m for m in metrics_for(task) if m.headline is not None]
    heads = [m for m in heads if max_rank is None or (m.headline or 0) <= max_rank]
    return tuple(m.name for m in sorted(heads, key=lambda m: m.headline or 0))


def example_metric(task: str) -> str:
    """The first headline metric of ``task`` that is a mean of per-example scores: what a subset
    of the examples (a slice, a group) is tested on against the rest (``accuracy``, ``mae``).

    Example:
        >>> example_metric("regression")
        'mae'
    """
    for name in headline_metrics(task):
        if metric_info(name, task=task).per_example:
            return name
    raise MetricError(f"task {task!r} has no headline metric with per-example scores")
