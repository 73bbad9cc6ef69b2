"""The performance check: every metric with its interval, per class, curves and calibration."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import Field

from assay._types import (
    ERROR_LABEL,
    UNPARSEABLE_LABEL,
    CoversIds,
    LocatesAnswers,
    Output,
    Response,
)
from assay.checks._answers import answer_notes
from assay.checks._base import Check, CheckConfig, RunContext, register_check
from assay.checks._performance_stream import (
    PerformanceState,
    examples_of,
    new_state,
    not_computed_without_proba,
    per_example_of,
    summary_of,
)
from assay.checks._predictions import (
    UNSCORED_REASONS,
    Predictions,
    Unscored,
    collect_predictions,
)
from assay.checks._stream import StreamFacts
from assay.checks._usage import usage_table
from assay.config._suite import Label, Suite
from assay.errors import ConfigError
from assay.metrics import SUMMARY_SOURCES, classification_summary, metrics_for, regression_summary
from assay.report._schema import CheckResult
from assay.stats import Estimate, Seed, wilson_interval

__all__ = ["PerformanceCheck", "per_example_table", "resolve_task"]


def _summary_metrics(task: str, classes: Sequence[str] = ("*",)) -> list[str]:
    """The names the summary of ``task`` can report (the catalogue's), per-class ones as
    ``per_class.<class>.<name>`` for each of ``classes`` (``*``: any class)."""
    infos = metrics_for(task, sources=SUMMARY_SOURCES)
    scalars = [m.name for m in infos if m.classes != "any" or not m.per_class]
    return scalars + [f"per_class.{c}.{m.name}" for m in infos if m.per_class for c in classes]


_MAX_EXAMPLES = 20
_MAX_INPUT_CHARS = 500
#: A class label a gate path can name as one segment (a label with a dot or a space cannot).
_GATE_SEGMENT = re.compile(r"[^.\s*]+")


class PerformanceConfig(CheckConfig):
    """Options of the performance check.

    Attributes:
        positive_label: the positive class of a binary problem (default: the second label).
        n_bootstrap: resamples for bootstrap intervals.
        n_bins: bins of the reliability diagram and ECE.
        keep_predictions: at most this many per-example predictions are kept in the Report (table
            ``per_example``), for paired comparisons (``assay compare``); 0 keeps none.
    """

    positive_label: Label | None = None
    n_bootstrap: int = 1000
    n_bins: int = 10
    keep_predictions: int = Field(default=200_000, ge=0)


def resolve_task(ctx: RunContext, model: str) -> Literal["classification", "regression"]:
    """The task to score: the suite's, else the model's, else from the labels."""
    task = ctx.suite.task
    if task == "auto":
        model_task = ctx.model_infos[model].task
        if model_task in ("classification", "regression"):
            return model_task
        raise ConfigError(
            f"model {model!r} does {model_task}; scoring it needs the generation metrics of the "
            "language-model checks. Set `task:` in the suite if this is wrong."
        )
    if task not in ("classification", "regression"):
        raise ConfigError(f"task: {task!r} is not scored by the performance check yet")
    return task


def gather(
    ctx: RunContext, model: str, dataset_name: str | None, responses: Mapping[str, Response]
) -> Predictions:
    """The model's predictions on a dataset, aligned with its labels."""
    ds = ctx.dataset(dataset_name)
    m = ctx.models[model]
    return collect_predictions(
        dataset=ds,
        requests=ctx.original_requests(model, ds),
        responses=responses,
        task=resolve_task(ctx, model),
        treatment=ctx.suite.engine.errors,
        model=model,
        missing_ids=m.coverage(ds.ids)[0] if isinstance(m, CoversIds) else (),
        locate=m.locate if isinstance(m, LocatesAnswers) else None,
    )


def summarise(
    pred: Predictions,
    *,
    level: float,
    seed: Seed,
    positive_label: str | None = None,
    n_bootstrap: int = 1000,
    n_bins: int = 10,
    with_curves: bool = True,
):
    """The metrics summary of ``pred`` (classification or regression)."""
    if pred.task == "regression":
        return regression_summary(
            pred.y_true, pred.y_pred, level=level, n_bootstrap=n_bootstrap, seed=seed
        )
    if positive_label is not None and positive_label not in pred.labels:
        raise ConfigError(
            f"checks.performance.positive_label: {positive_label!r} is not a label; "
            f"labels: {', '.join(pred.labels)}"
        )
    return classification_summary(
        pred.y_true,
        pred.y_pred,
        labels=pred.labels,
        proba=pred.proba,
        positive_label=positive_label,
        level=level,
        n_bootstrap=n_bootstrap,
        seed=seed,
        zero_division="nan",
        n_bins=n_bins,
        curve_points=200 if with_curves else 2,
    )


@register_check("performance")
class PerformanceCheck(Check):
    """How good is the model on the dataset, with an interval on every number."""

    Config = PerformanceConfig

    def score(self, ctx: RunContext, responses: Mapping[str, Response]) -> CheckResult:
        cfg = self.config
        assert isinstance(cfg, PerformanceConfig)
        ds = ctx.dataset(cfg.dataset)
        pred = gather(ctx, self.model, cfg.dataset, responses)
        if pred.n == 0:
            return CheckResult(
                check=self.name,
                model=self.model,
                dataset=ds.name,
                n=0,
                metrics=unscored_metrics(
                    pred.unscored, n=len(ds) + pred.unscored.counts["rows_dropped"], level=ctx.level
                ),
                tables={"unscored": pred.unscored.to_table()},
                errors=pred.errors,
                flags=[*pred.flags, "no example could be scored"],
            )
        summary = summarise(
            pred,
            level=ctx.level,
            seed=self.rng(ctx),
            positive_label=cfg.positive_label,
            n_bootstrap=cfg.n_bootstrap,
            n_bins=cfg.n_bins,
        )
        tables: dict[str, Any] = {
            "task": pred.task,
            **summary.tables,
            "unscored": pred.unscored.to_table(),
        }
        not_computed = _not_computed(pred, n_rows=len(ds), model=self.model)
        if not_computed:
            tables["not_computed"] = not_computed
        if cfg.keep_predictions:
            tables["per_example"] = per_example_table(
                pred, limit=cfg.keep_predictions, positive_label=cfg.positive_label
            )
        metrics = dict(summary.metrics)
        metrics.update(
            unscored_metrics(
                pred.unscored, n=len(ds) + pred.unscored.counts["rows_dropped"], level=ctx.level
            )
        )
        examples = _examples(ctx, ds.name, pred)
        flags = list(pred.flags)
        verbalised = pred.task == "classification" and (
            bool(pred.unparseable) or _verbalised(ctx, self.model)
        )
        if verbalised:
            # A language model's answer that named no label: its own rate, and the raw answers.
            n_bad = len(pred.unparseable)
            metrics["unparseable_rate"] = wilson_interval(n_bad, pred.n, level=ctx.level)
            examples += [{"kind": "unparseable", **u} for u in pred.unparseable[:_MAX_EXAMPLES]]
            if n_bad:
                flags.append(
                    f"{n_bad} of {pred.n} answers named no label ({UNPARSEABLE_LABEL}); "
                    "counted as wrong"
                )
        answered = _answered(ctx, self.model, ds, responses)
        # A served classifier's token usage and cost (logprob scoring calls included).
        usage, usage_flags = usage_table(
            answered, priced=bool(ctx.model_infos[self.model].details.get("priced"))
        )
        if usage:
            tables["usage"] = usage
        flags.extend(usage_flags)
        notes = answer_notes(
            answered,
            n_unparseable=len(pred.unparseable) if verbalised else None,
            endpoint=ctx.model_infos[self.model].details.get("endpoint"),
            level=ctx.level,
            seed=self.rng(ctx, "answers"),
        )
        metrics.update(notes.metrics)
        flags += notes.flags
        if notes.table:
            tables["answers"] = notes.table
        return CheckResult(
            check=self.name,
            model=self.model,
            dataset=ds.name,
            n=pred.n,
            metrics=metrics,
            tables=tables,
            errors=pred.errors,
            examples=examples,
            flags=flags,
        )

    # ------------------------------------------------------------------ streamed runs

    def stream_columns(self, suite: Suite) -> list[str]:
        spec = suite.data[self.config.dataset or suite.primary_dataset]
        return spec.input_columns() if not isinstance(spec.input, dict) else []

    def stream_refusal(self, suite: Suite) -> str | None:
        return None

    def stream_state(self, ctx: RunContext, facts: StreamFacts) -> PerformanceState:
        cfg = self.config
        assert isinstance(cfg, PerformanceConfig)
        positive = _positive_code(cfg.positive_label, facts.labels)
        return new_state(
            facts,
            positive=positive,
            n_bins=cfg.n_bins,
            keep=cfg.keep_predictions,
            seed=ctx.seed,
            inputs=self.stream_columns(ctx.suite),
        )

    def score_stream(
        self, ctx: RunContext, state: PerformanceState, facts: StreamFacts
    ) -> CheckResult:
        cfg = self.config
        assert isinstance(cfg, PerformanceConfig)
        n_rows = facts.n_read
        unscored = unscored_metrics(facts.unscored, n=n_rows, level=ctx.level)
        if facts.n == 0:
            return CheckResult(
                check=self.name,
                model=self.model,
                dataset=facts.dataset,
                n=0,
                metrics=unscored,
                tables={"unscored": facts.unscored.to_table()},
                errors=facts.errors,
                flags=[*facts.flags, "no example could be scored"],
            )
        summary = summary_of(
            state,
            facts,
            level=ctx.level,
            seed=self.rng(ctx),
            positive_label=cfg.positive_label,
            n_bootstrap=cfg.n_bootstrap,
        )
        tables: dict[str, Any] = {
            "task": "classification",
            **summary.tables,
            "unscored": facts.unscored.to_table(),
            "streamed": {"chunk_rows": facts.chunk_rows, "chunks": facts.n_chunks},
        }
        not_computed = dict(state.sketch.not_computed)
        if not facts.has_proba:
            not_computed.update(
                not_computed_without_proba(facts.unscored, n_rows=facts.n, model=self.model)
            )
        if not_computed:
            tables["not_computed"] = not_computed
        positive = _positive_code(cfg.positive_label, facts.labels)
        if cfg.keep_predictions:
            tables["per_example"] = per_example_of(
                state, facts.labels, n=facts.n, positive=positive
            )
        return CheckResult(
            check=self.name,
            model=self.model,
            dataset=facts.dataset,
            n=facts.n,
            metrics={**summary.metrics, **unscored},
            tables=tables,
            errors=facts.errors,
            examples=examples_of(state, facts.labels, has_proba=facts.has_proba),
            flags=list(facts.flags),
        )

    @classmethod
    def gate_patterns(cls, config: CheckConfig, suite: Suite) -> list[str]:
        labels = suite.data[config.dataset or suite.primary_dataset].labels or []
        # Declared classes: a gate on a class that does not exist is refused when the suite
        # loads (exit 2), not found missing after the run (exit 1).
        named = labels and all(_GATE_SEGMENT.fullmatch(label) for label in labels)
        classes = labels if named else ["*"]
        unscored = [f"unscored.{reason}" for reason in UNSCORED_REASONS]
        classification = [
            *_summary_metrics("classification", classes),
            *_ANSWER_METRICS,
            *unscored,
        ]
        if suite.task == "regression":
            return [*_summary_metrics("regression"), *unscored]
        if suite.task == "classification":
            return classification
        return [*classification, *_summary_metrics("regression")]


#: What a language model's answers add to the performance check (see ``checks._answers``).
_ANSWER_METRICS = (
    "unparseable_rate",
    "empty_rate",
    "cut_short_rate",
    "outside_label_mass",
    "label_floor_rate",
)


def _answered(
    ctx: RunContext, model: str, dataset: Any, responses: Mapping[str, Response]
) -> list[Output]:
    """The outputs of the model's answered calls on ``dataset``, in row order."""
    outs = []
    for r in ctx.original_requests(model, dataset):
        resp = responses.get(r.key)
        if resp is not None and resp.ok and resp.output is not None:
            outs.append(resp.output)
    return outs


def _positive_code(positive_label: str | None, labels: list[str]) -> int | None:
    """The index of the positive class of a binary problem (default: the second label).

    Raises:
        ConfigError: ``positive_label`` is not a label.
    """
    if positive_label is not None and positive_label not in labels:
        raise ConfigError(
            f"checks.performance.positive_label: {positive_label!r} is not a label; "
            f"labels: {', '.join(labels)}"
        )
    if len(labels) != 2:
        return None
    return labels.index(positive_label) if positive_label is not None else 1


def unscored_metrics(unscored: Unscored, *, n: int, level: float) -> dict[str, Estimate]:
    """``unscored.<reason>``: how many dataset rows (of ``n`` read) went unscored, by reason; a
    count, with no interval (gate them with ``performance.unscored.* <= 0``)."""
    return {
        f"unscored.{reason}": Estimate.point(unscored.counts[reason], n=n, level=level)
        for reason in UNSCORED_REASONS
    }


def _not_computed(pred: Predictions, *, n_rows: int, model: str) -> dict[str, str]:
    """Metric path → why it is missing from the result, for the metrics a gate may name that
    this run could not compute: the probability metrics, when some answers (or all) had none."""
    if pred.task != "classification" or pred.proba is not None:
        return {}
    return not_computed_without_proba(pred.unscored, n_rows=n_rows, model=model)


def _verbalised(ctx: RunContext, model: str) -> bool:
    """A language model whose answers are parsed into labels (so an answer may name none)."""
    details = ctx.model_infos[model].details
    return details.get("mode") == "lm-classifier" or (
        details.get("adapter") == "openai" and ctx.model_infos[model].labels is not None
    )


def per_example_table(
    pred: Predictions, *, limit: int, positive_label: str | None = None
) -> dict[str, Any]:
    """The predictions of the first ``limit`` scored examples, column-wise (JSON-ready).

    Keys: ``id``, ``y_true``, ``y_pred`` (labels as strings, or numbers for regression), ``score``
    (binary classification with probabilities: the positive class's probability), ``positive_label``,
    ``proba`` and ``proba_labels`` (multiclass with probabilities: one row of class scores per
    example), ``n_total`` and ``truncated``. Paired comparisons read this table (``assay compare``).
    """
    k = min(limit, pred.n)
    table: dict[str, Any] = {
        "id": [str(i) for i in pred.ids[:k]],
        "n_total": pred.n,
        "truncated": k < pred.n,
    }
    if pred.task == "regression":
        table["y_true"] = [float(x) for x in pred.y_true[:k]]
        table["y_pred"] = [float(x) for x in pred.y_pred[:k]]
        return table
    table["y_true"] = [str(x) for x in pred.y_true[:k]]
    table["y_pred"] = [str(x) for x in pred.y_pred[:k]]
    real = [lbl for lbl in pred.labels if lbl != ERROR_LABEL]
    if pred.proba is not None and len(real) == 2:
        pos = positive_label if positive_label in real else real[1]
        table["positive_label"] = pos
        table["score"] = [round(float(x), 9) for x in pred.proba[:k, pred.labels.index(pos)]]
    elif pred.proba is not None and len(real) > 2:
        cols = [pred.labels.index(lbl) for lbl in real]
        table["proba_labels"] = real
        table["proba"] = np.round(pred.proba[:k][:, cols], 9).tolist()
    return table


def _examples(ctx: RunContext, dataset: str, pred: Predictions) -> list[dict[str, Any]]:
    """The first misclassified examples (classification) or the largest errors (regression)."""
    ds = ctx.dataset(dataset)
    frame = ds.frame.loc[pred.ids]
    inputs = _input_texts(ds.spec.input, frame)
    if pred.task == "regression":
        err = np.abs(pred.y_true - pred.y_pred)
        order = np.argsort(-err)[:_MAX_EXAMPLES]
        return [
            {
                "id": pred.ids[i],
                "input": inputs[i],
                "label": float(pred.y_true[i]),
                "prediction": float(pred.y_pred[i]),
                "abs_error": float(err[i]),
            }
            for i in order
        ]
    wrong = np.flatnonzero(pred.y_true != pred.y_pred)
    if pred.proba is not None and len(wrong):
        col = {lbl: j for j, lbl in enumerate(pred.labels)}
        conf = np.array([pred.proba[i, col[pred.y_pred[i]]] for i in wrong])
        wrong = wrong[np.argsort(-conf, kind="stable")]  # confident mistakes first
    rows = []
    for i in wrong[:_MAX_EXAMPLES]:
        row: dict[str, Any] = {
            "id": pred.ids[i],
            "input": inputs[i],
            "label": str(pred.y_true[i]),
            "prediction": str(pred.y_pred[i]),
        }
        if pred.proba is not None:
            row["confidence"] = float(pred.proba[i, pred.labels.index(str(pred.y_pred[i]))])
        rows.append(row)
    return rows


def _input_texts(spec_input: Any, frame: Any) -> list[str]:
    if spec_input is None:
        return [""] * len(frame)
    if isinstance(spec_input, str):
        values = frame[spec_input].astype(str).tolist()
    elif isinstance(spec_input, dict):
        values = frame[spec_input["image"]].astype(str).tolist()
    else:
        values = [
            ", ".join(f"{k}={v}" for k, v in r.items())
            for r in frame[list(spec_input)].to_dict("records")
        ]
    return [v if len(v) <= _MAX_INPUT_CHARS else v[:_MAX_INPUT_CHARS] + "…" for v in values]
