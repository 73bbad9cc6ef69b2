"""The slices check: metrics per value of slice columns, domains, groups and input-length buckets.

Slices with fewer than ``min_n`` examples are marked too small (shown, never gated). A slice is
flagged when it is significantly worse than the rest of the data: a one-sided two-proportion test
on accuracy (classification) or a one-sided Mann–Whitney test on absolute errors (regression), with
Benjamini–Hochberg correction across all slices of the run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field
from scipy.stats import mannwhitneyu

from assay._types import Response
from assay.checks._base import (
    ROW_METRICS,
    Check,
    CheckConfig,
    RunContext,
    gate_metric_names,
    register_check,
)
from assay.checks._performance import gather, summarise
from assay.checks._predictions import Predictions
from assay.checks._stream import Chunk, StreamFacts
from assay.config._suite import Suite
from assay.errors import ConfigError
from assay.metrics import metrics_for
from assay.metrics._classification import summary_from_counts
from assay.report._schema import CheckResult, ErrorSummary
from assay.stats import benjamini_hochberg, two_proportion_test
from assay.stats._estimate import Estimate

__all__ = ["SlicesCheck"]

LENGTH = "length"
_COUNTS = frozenset({"counts"})
_DEFAULT_METRICS = ROW_METRICS


class SlicesConfig(CheckConfig):
    """Options of the slices check.

    Attributes:
        columns: columns to slice by; default: the dataset's ``slices``, ``domain`` and ``groups``.
        length_buckets: number of input-length (characters) quantile buckets for text inputs;
            0 turns them off.
        buckets: numeric columns cut into this many quantile buckets each (``{age: 4}``),
            named by their ranges (``17-28``; a decimal point becomes ``_`` in metric keys:
            ``slices.age.17-28.accuracy``, ``slices.radius.6_98-11_7.accuracy``).
        min_n: slices with fewer examples are marked too small and left out of gates.
        metrics: metrics per slice (default accuracy and macro F1, or MAE and RMSE).
        alpha: false discovery rate for flagging worse slices.
        max_values: at most this many values per column (the most frequent); the rest are named
            in a note.
    """

    columns: list[str] | None = None
    length_buckets: int = Field(default=4, ge=0)
    buckets: dict[str, int] = Field(default_factory=dict)
    min_n: int = Field(default=30, ge=1)
    metrics: list[str] | None = None
    alpha: float = Field(default=0.05, gt=0, lt=1)
    max_values: int = Field(default=50, ge=1)


def _columns(config: SlicesConfig, suite: Suite) -> list[str]:
    if config.columns is not None:
        return list(config.columns)
    spec = suite.data[config.dataset or suite.primary_dataset]
    cols = list(spec.slices) + ([spec.domain] if spec.domain else []) + list(spec.groups)
    return list(dict.fromkeys(cols))


@register_check("slices")
class SlicesCheck(Check):
    """Where is the model worse? Metrics per slice with intervals and flags."""

    Config = SlicesConfig

    def score(self, ctx: RunContext, responses: Mapping[str, Response]) -> CheckResult:
        cfg = self.config
        assert isinstance(cfg, SlicesConfig)
        ds = ctx.dataset(cfg.dataset)
        pred = gather(ctx, self.model, cfg.dataset, responses)
        metric_names = cfg.metrics or _DEFAULT_METRICS[pred.task]
        frame = ds.frame.loc[pred.ids]
        columns: dict[str, pd.Series] = {}
        for col in _columns(cfg, ctx.suite):
            if col not in frame.columns:
                raise ConfigError(
                    f"checks.slices.columns: {col!r} is not a column of dataset {ds.name!r}; "
                    f"columns: {', '.join(map(str, frame.columns))}"
                )
            columns[col] = frame[col].astype("string").fillna("(missing)")
        for col, n in cfg.buckets.items():
            if col not in frame.columns or not pd.api.types.is_numeric_dtype(frame[col]):
                raise ConfigError(
                    f"checks.slices.buckets: {col!r} is not a numeric column of dataset "
                    f"{ds.name!r}; numeric columns: "
                    f"{', '.join(str(c) for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c]))}"
                )
            columns[col] = _quantile_buckets(frame[col], n)
        if cfg.length_buckets and isinstance(ds.spec.input, str):
            columns[LENGTH] = _length_buckets(frame[ds.spec.input].astype(str), cfg.length_buckets)

        rows: list[dict[str, Any]] = []
        metrics: dict[str, Estimate] = {}
        notes: list[str] = []
        for col, values in columns.items():
            counts = values.value_counts()
            if len(counts) > cfg.max_values:
                notes.append(
                    f"{col}: {len(counts)} values; only the {cfg.max_values} most frequent are sliced"
                )
                counts = counts.iloc[: cfg.max_values]
            for value in counts.index:
                select = (values == value).to_numpy()
                row = self._slice_row(ctx, pred, col, str(value), select, metric_names, cfg)
                rows.append(row)
                for name in metric_names:
                    metrics[f"{col}.{_segment(value)}.{name}"] = Estimate.from_dict(
                        row["metrics"][name]
                    )
        return self._result(
            ds.name, pred.n, pred.errors, pred.flags, rows, metrics, metric_names, notes
        )

    def _slice_row(
        self,
        ctx: RunContext,
        pred: Predictions,
        col: str,
        value: str,
        select: np.ndarray,
        metric_names: list[str],
        cfg: SlicesConfig,
    ) -> dict[str, Any]:
        sub = pred.subset(select)
        rest = pred.subset(~select)
        rng = self.rng(ctx, col, value)  # per slice: another slice does not move this interval
        summary = summarise(sub, level=ctx.level, seed=rng, n_bootstrap=500, with_curves=False)
        missing = [m for m in metric_names if m not in summary.metrics]
        if missing:
            raise ConfigError(
                f"checks.slices.metrics: {', '.join(missing)} not available for this "
                f"task; available: {', '.join(sorted(summary.metrics))}"
            )
        return {
            "column": col,
            "value": value,
            "n": sub.n,
            "too_small": sub.n < cfg.min_n,
            "metrics": {m: summary.metrics[m].to_dict() for m in metric_names},
            "p_value": _worse_than_rest_pvalue(sub, rest),
        }

    # ------------------------------------------------------------------ streamed runs

    def stream_columns(self, suite: Suite) -> list[str]:
        assert isinstance(self.config, SlicesConfig)
        return _columns(self.config, suite)

    def stream_refusal(self, suite: Suite) -> str | None:
        cfg = self.config
        assert isinstance(cfg, SlicesConfig)
        if cfg.buckets:
            return "quantile buckets need every value of their column"
        spec = suite.data[cfg.dataset or suite.primary_dataset]
        if cfg.length_buckets and isinstance(spec.input, str):
            return "input-length buckets need every input's length (length_buckets: 0 streams)"
        counted = {m.name for m in metrics_for("classification", sources=_COUNTS)}
        other = [m for m in cfg.metrics or () if m not in counted]
        if other:
            return f"metrics {', '.join(other)} need more than counts per slice"
        return None

    def stream_state(self, ctx: RunContext, facts: StreamFacts) -> SliceCounts:
        return SliceCounts(len(facts.labels), self.stream_columns(ctx.suite))

    def score_stream(self, ctx: RunContext, state: SliceCounts, facts: StreamFacts) -> CheckResult:
        cfg = self.config
        assert isinstance(cfg, SlicesConfig)
        metric_names = cfg.metrics or _DEFAULT_METRICS["classification"]
        rows: list[dict[str, Any]] = []
        metrics: dict[str, Estimate] = {}
        notes: list[str] = []
        for col in state.columns:
            cells = state.cells[col]
            order = sorted(cells, key=lambda v: (-int(cells[v][0].sum()), cells[v][1]))
            if len(order) > cfg.max_values:
                notes.append(
                    f"{col}: {len(order)} values; only the {cfg.max_values} most frequent are sliced"
                )
                order = order[: cfg.max_values]
            total = sum(
                (c for c, _ in cells.values()), np.zeros_like(next(iter(cells.values()))[0])
            )
            for value in order:
                cm = cells[value][0]
                summary = summary_from_counts(
                    cm,
                    facts.labels,
                    level=ctx.level,
                    n_bootstrap=500,
                    seed=self.rng(ctx, col, value),
                    zero_division="nan",
                )
                n = int(cm.sum())
                rest = total - cm
                p_value = None
                if n and rest.sum():
                    p_value = float(
                        two_proportion_test(
                            int(np.trace(cm)),
                            n,
                            int(np.trace(rest)),
                            int(rest.sum()),
                            alternative="less",
                        )
                    )
                row = {
                    "column": col,
                    "value": value,
                    "n": n,
                    "too_small": n < cfg.min_n,
                    "metrics": {m: summary.metrics[m].to_dict() for m in metric_names},
                    "p_value": p_value,
                }
                rows.append(row)
                for name in metric_names:
                    metrics[f"{col}.{_segment(value)}.{name}"] = summary.metrics[name]
        return self._result(
            facts.dataset, facts.n, facts.errors, facts.flags, rows, metrics, metric_names, notes
        )

    def _result(
        self,
        dataset: str,
        n: int,
        errors: ErrorSummary,
        flags: list[str],
        rows: list[dict[str, Any]],
        metrics: dict[str, Estimate],
        metric_names: list[str],
        notes: list[str],
    ) -> CheckResult:
        """The result from the slice rows: worse slices flagged (BH), too-small keys listed."""
        cfg = self.config
        assert isinstance(cfg, SlicesConfig)
        flags = list(flags)
        self._flag_worse(rows, cfg, flags)
        too_small = [
            f"{r['column']}.{_segment(r['value'])}.{m}"
            for r in rows
            if r["too_small"]
            for m in metric_names
        ]
        return CheckResult(
            check=self.name,
            model=self.model,
            dataset=dataset,
            n=n,
            metrics=metrics,
            tables={
                "slices": rows,
                "min_n": cfg.min_n,
                "metric_names": metric_names,
                "too_small_keys": too_small,
                "notes": notes,
            },
            errors=errors,
            flags=flags,
        )

    @staticmethod
    def _flag_worse(rows: list[dict[str, Any]], cfg: SlicesConfig, flags: list[str]) -> None:
        """Benjamini–Hochberg over every slice's p-value: set ``p_adjusted`` and ``flagged``."""
        pvalues = np.array([r["p_value"] if r["p_value"] is not None else 1.0 for r in rows])
        adjusted: Any = []
        rejected: Any = []
        if rows:
            adjusted, rejected = benjamini_hochberg(pvalues, alpha=cfg.alpha)
        for r, adj, rej in zip(rows, adjusted, rejected):
            r["p_adjusted"] = None if r["p_value"] is None else float(adj)
            r["flagged"] = bool(rej) and r["p_value"] is not None
            if r["flagged"]:
                flags.append(
                    f"slice {r['column']}={r['value']} (n={r['n']}) is significantly worse than the "
                    f"rest (BH-adjusted p={adj:.3g})"
                )

    @classmethod
    def gate_patterns(cls, config: CheckConfig, suite: Suite) -> list[str]:
        assert isinstance(config, SlicesConfig)
        names = config.metrics or gate_metric_names(suite.task, _DEFAULT_METRICS)
        cols = [*_columns(config, suite), *config.buckets]
        cols += [LENGTH] if config.length_buckets else []
        return [f"{c}.*.{m}" for c in cols for m in names]


class SliceCounts:
    """A streamed slices check's statistics: per column, per value, the confusion counts and
    the first data row holding the value (ties in size are listed in order of appearance, as
    in memory)."""

    def __init__(self, k: int, columns: list[str]) -> None:
        self.k = k
        self.columns = columns
        self.cells: dict[str, dict[str, tuple[np.ndarray, int]]] = {c: {} for c in columns}

    def add(self, chunk: Chunk) -> None:
        k = self.k
        for col in self.columns:
            values = pd.Series(chunk.columns[col]).astype("string").fillna("(missing)")
            codes, uniques = pd.factorize(values)
            counts = np.bincount(
                (codes * k + chunk.y_true) * k + chunk.y_pred, minlength=len(uniques) * k * k
            ).reshape(len(uniques), k, k)
            first = np.full(len(uniques), -1, dtype=np.int64)
            first[codes[::-1]] = chunk.rows[::-1]
            mine = self.cells[col]
            for j, value in enumerate(uniques):
                key = str(value)
                held = mine.get(key)
                if held is None:
                    mine[key] = (counts[j].astype(np.int64), int(first[j]))
                else:
                    mine[key] = (held[0] + counts[j], min(held[1], int(first[j])))

    def merge(self, other: SliceCounts) -> None:
        for col, values in other.cells.items():
            mine = self.cells[col]
            for key, (cm, first) in values.items():
                held = mine.get(key)
                mine[key] = (
                    (cm.copy(), first) if held is None else (held[0] + cm, min(held[1], first))
                )


def _worse_than_rest_pvalue(sub: Predictions, rest: Predictions) -> float | None:
    if sub.n == 0 or rest.n == 0:
        return None
    if sub.task == "regression":
        a, b = np.abs(sub.y_true - sub.y_pred), np.abs(rest.y_true - rest.y_pred)
        return float(mannwhitneyu(a, b, alternative="greater").pvalue)
    k1 = int((sub.y_true == sub.y_pred).sum())
    k2 = int((rest.y_true == rest.y_pred).sum())
    return float(two_proportion_test(k1, sub.n, k2, rest.n, alternative="less"))


def _segment(value: object) -> str:
    """A slice value as one segment of a dot-separated metric key."""
    return str(value).replace(".", "_")


def _quantile_buckets(values: pd.Series, buckets: int) -> pd.Series:
    """Quantile buckets of a numeric column, named by their ranges (``"6.98-11.7"``); missing
    values are their own bucket."""
    present = values.dropna().to_numpy(dtype=float)
    out = pd.Series(["(missing)"] * len(values), index=values.index, dtype=object)
    if not len(present):
        return out
    edges = np.unique(np.quantile(present, np.linspace(0, 1, buckets + 1)))
    if len(edges) < 2:
        out[values.notna()] = f"{edges[0]:.3g}"
        return out
    names = [f"{edges[i]:.3g}-{edges[i + 1]:.3g}" for i in range(len(edges) - 1)]
    idx = np.clip(np.searchsorted(edges, present, side="right") - 1, 0, len(edges) - 2)
    out[values.notna()] = np.array([names[i] for i in idx], dtype=object)
    return out


def _length_buckets(texts: pd.Series, buckets: int) -> pd.Series:
    """Quantile buckets of input length in characters, labelled by their ranges (``"12-80"``)."""
    lengths = texts.str.len().to_numpy()
    edges = np.unique(np.quantile(lengths, np.linspace(0, 1, buckets + 1)))
    if len(edges) < 2:
        return pd.Series([f"{int(lengths[0])}"] * len(lengths), index=texts.index)
    idx = np.clip(np.searchsorted(edges, lengths, side="right") - 1, 0, len(edges) - 2)
    names = [f"{int(edges[i])}-{int(edges[i + 1])}" for i in range(len(edges) - 1)]
    return pd.Series([names[i] for i in idx], index=texts.index)
