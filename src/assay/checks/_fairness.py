"""The fairness check: metrics per group, disparities across groups, counterfactual swaps.

Group part (classification and regression): for each sensitive feature and each intersection
(``sex&race``), every metric per group with its interval and n, and across groups the min, max,
difference and ratio and the named disparities (see :mod:`assay.fairness._groups`). Groups smaller
than ``min_n`` are marked and left out of gates; groups whose accuracy is significantly below the
rest, or whose selection rate differs from the rest, are flagged after Benjamini–Hochberg
correction over every group tested.

Counterfactual part (text inputs): each input is rewritten once per swap type (gendered words,
first names, nationality, religion, age); the rewritten inputs are new Requests to the same model.
Reported per swap type: the flip rate (Wilson), the mean absolute change of the score (the
positive class's probability, the predicted value, or the sentiment of generated text;
bootstrap), the number of inputs with nothing to swap (never silently dropped), and the worst pairs.
"""

from __future__ import annotations

import difflib
import fnmatch
import itertools
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from assay._types import ERROR_LABEL, Request, Response, content_key
from assay.checks._base import Check, CheckConfig, RunContext, register_check
from assay.checks._fairness_stream import MISSING, GroupCounts
from assay.checks._performance import gather
from assay.checks._stream import StreamFacts
from assay.config._gate_syntax import split_gate
from assay.config._suite import Label, Suite
from assay.data._dataset import Dataset
from assay.errors import ConfigError
from assay.fairness._counterfactual import score_swaps
from assay.fairness._groups import (
    CLASSIFICATION_GROUP_METRICS,
    DISPARITIES,
    REGRESSION_GROUP_METRICS,
    GroupMetrics,
    group_metrics,
    group_regression_metrics,
)
from assay.fairness._swaps import BUILTIN_SWAPS, Swapper, resolve_wordlists, swap_payload
from assay.report._schema import CheckResult
from assay.stats import benjamini_hochberg
from assay.stats._estimate import Estimate

__all__ = ["FairnessCheck", "FairnessConfig"]

COUNTERFACTUAL = "counterfactual"
_MAX_CF_EXAMPLES = 5
_MAX_INPUT_CHARS = 400
_SUMMARY_KINDS = ("min", "max", "difference", "ratio")
_CLASSIFICATION_SUMMARIES = [
    *DISPARITIES,
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "four_fifths",
]
_NAMED = frozenset(_CLASSIFICATION_SUMMARIES)


class CounterfactualConfig(BaseModel):
    """Options of the counterfactual swaps.

    Attributes:
        input: the text column (or text field of tabular inputs) to rewrite; default: the
            dataset's input when it is one text column.
        swaps: swap types to apply (default: every built-in type plus those in ``wordlists``).
        wordlists: swap type → YAML file (relative to the suite) extending a built-in list or
            defining a new type.
        tolerance: a change of the score (regression value, generated-text sentiment) of at most
            this much is not a flip. Classification flips are label changes.
    """

    model_config = ConfigDict(extra="forbid")

    input: str | None = None
    swaps: list[str] | None = None
    wordlists: dict[str, str] = Field(default_factory=dict)
    tolerance: float = Field(default=0.0, ge=0)


class FairnessConfig(CheckConfig):
    """Options of the fairness check.

    Attributes:
        groups: sensitive feature columns; default: the dataset's ``groups`` role.
        intersections: ``true`` for the intersection of all features two at a time and all
            together (``sex&race``); or explicit lists (``[[sex, race]]``); ``false`` for none.
        min_n: groups with fewer examples are marked too small and left out of gates.
        positive_label: the label whose selection is audited (default: the last of two labels;
            required for more than two).
        missing: ``group`` puts missing values in a group named ``<missing>``; ``error`` stops.
        alpha: false discovery rate for flagging groups.
        n_bootstrap: bootstrap resamples.
        n_bins: ECE bins.
        summaries_min_n: groups smaller than this are left out of the across-group summaries
            (0: every group counts, as in Fairlearn).
        counterfactual: counterfactual swap options; omitted: no swaps.
    """

    groups: list[str] | None = None
    intersections: bool | list[list[str]] = True
    min_n: int = Field(default=30, ge=1)
    positive_label: Label | None = None
    missing: Literal["group", "error"] = "group"
    alpha: float = Field(default=0.05, gt=0, lt=1)
    n_bootstrap: int = Field(default=1000, ge=100)
    n_bins: int = Field(default=10, ge=2)
    summaries_min_n: int = Field(default=0, ge=0)
    counterfactual: CounterfactualConfig | None = None


def _features(config: FairnessConfig, suite: Suite) -> list[str]:
    if config.groups is not None:
        return list(config.groups)
    return list(suite.data[config.dataset or suite.primary_dataset].groups)


def _intersections(config: FairnessConfig, features: list[str]) -> list[list[str]]:
    if config.intersections is False:
        return []
    if config.intersections is True:
        return [
            list(c)
            for k in range(2, len(features) + 1)
            for c in itertools.combinations(features, k)
        ]
    for i, combo in enumerate(config.intersections):
        if len(combo) < 2:
            raise ConfigError(
                f"checks.fairness.intersections[{i}]: {combo} names fewer than two columns; an "
                "intersection joins two or more, e.g. [sex, race]"
            )
    return [list(c) for c in config.intersections]


#: Why a rate is 0/0 in a group, by metric (``{p}``: the positive label).
_UNDEFINED_BECAUSE = {
    "recall": "no example labelled {p}",
    "false_negative_rate": "no example labelled {p}",
    "false_positive_rate": "no example labelled other than {p}",
    "precision": "no prediction of {p}",
    "f1": "{p} neither labelled nor predicted",
}


def _left_out_rows(gm: GroupMetrics, positive: str | None) -> list[dict[str, Any]]:
    """Groups whose rate is 0/0, each with its undefined metrics, why, and the summaries and
    named disparities computed without it (``report.json``: ``features[].left_out``)."""
    rows = []
    for g, by_metric in gm.left_out.items():
        summaries = list(dict.fromkeys(s for ss in by_metric.values() for s in ss))
        rows.append(
            {
                "group": g,
                "n": gm.n[gm.groups.index(g)],
                "undefined": list(by_metric),
                "because": sorted(
                    {_UNDEFINED_BECAUSE.get(m, "0/0").format(p=positive) for m in by_metric}
                ),
                "disparities": [s for s in summaries if s in _NAMED],
                "summaries": [s for s in summaries if s not in _NAMED],
            }
        )
    return rows


def _left_out_flag(feature: str, rows: list[dict[str, Any]]) -> str:
    parts = [
        f"{r['group']} (n={r['n']}; {', '.join(r['because'])}: {', '.join(r['undefined'])} "
        f"undefined) is left out of {', '.join(r['disparities'] or r['summaries'][:4])}"
        + (
            f" and the {', '.join(r['undefined'])} min/max/difference/ratio"
            if r["disparities"]
            else ""
        )
        for r in rows
    ]
    return (
        f"{feature}: {len(rows)} group(s) have a rate that is 0/0 and are left out of the "
        f"disparities built on it (Fairlearn would count it as 0): {'; '.join(parts)}"
    )


def _seg(value: str) -> str:
    """A group name as one gate-path segment (dots would split it; a quoted segment in a gate
    makes the same replacement)."""
    return value.replace(".", "_")


def _quoted(segment: str) -> str:
    """A group name as a gate writes it: quoted unless it is a plain word."""
    plain = segment and all(ch.isalnum() or ch in "_-&" for ch in segment)
    return segment if plain else f'"{segment}"'


@register_check("fairness")
class FairnessCheck(Check):
    """Does the model treat groups differently? Group metrics, disparities, counterfactuals."""

    Config = FairnessConfig

    # ------------------------------------------------------------------ planning

    def plan(self, ctx: RunContext) -> list[Request]:
        cfg = self._cfg()
        ds = ctx.dataset(cfg.dataset)
        if not _features(cfg, ctx.suite) and cfg.counterfactual is None:
            raise ConfigError(
                "checks.fairness: no sensitive feature and no counterfactual test; list the "
                "columns in checks.fairness.groups (or the dataset's `groups`), or add "
                "checks.fairness.counterfactual"
            )
        self._check_gate_groups(ctx, ds)
        requests = ctx.original_requests(self.model, ds)
        if cfg.counterfactual is not None and not ctx.answers_by_id(self.model):
            for variants in self._variants(ctx, ds).values():
                requests += [req for req, _ in variants.values()]
        return requests

    def _cfg(self) -> FairnessConfig:
        assert isinstance(self.config, FairnessConfig)
        return self.config

    def _check_gate_groups(self, ctx: RunContext, ds: Dataset) -> None:
        """A gate naming a group the data do not hold is refused before any model is asked
        (exit 2), with the closest group name and the quoting a name with spaces needs."""
        features = _features(self._cfg(), ctx.suite)
        per_group = {*CLASSIFICATION_GROUP_METRICS, *REGRESSION_GROUP_METRICS}
        named = []
        for i, text in enumerate(ctx.suite.gates):
            split = split_gate(text)
            if split is None or split[0][0] != self.name or len(split[0]) < 4:
                continue
            _, feature, group, metric, *_ = split[0]
            if metric in per_group and feature != COUNTERFACTUAL:
                named.append((i, text, feature, group))
        if not named or not features:
            return
        columns, _ = self._group_columns(ds, ds.ids, features)
        for i, text, feature, group in named:
            if feature not in columns:
                continue  # the gate validation at load names unknown features
            groups = sorted({_seg(v) for v in columns[feature].unique()})
            if any(fnmatch.fnmatchcase(g, group) for g in groups):
                continue
            close = difflib.get_close_matches(group, groups, n=1)
            hint = f"; did you mean {_quoted(close[0])}?" if close else ""
            listed = ", ".join(_quoted(g) for g in groups[:20]) + ("…" if len(groups) > 20 else "")
            raise ConfigError(
                f"gates[{i}]: {text!r}: {feature} has no group {group!r} in dataset {ds.name!r}"
                f"{hint or '.'} Its groups: {listed}. Quote a name with spaces or symbols, e.g. "
                f'fairness.{feature}."{groups[0]}".accuracy'
            )

    def _text_field(self, ds: Dataset) -> str | None:
        cf = self._cfg().counterfactual
        assert cf is not None
        if cf.input is not None:
            if cf.input not in ds.frame.columns:
                raise ConfigError(
                    f"checks.fairness.counterfactual.input: {cf.input!r} is not a column of "
                    f"dataset {ds.name!r}; columns: {', '.join(map(str, ds.frame.columns))}"
                )
            if isinstance(ds.spec.input, str):
                if cf.input != ds.spec.input:
                    raise ConfigError(
                        f"checks.fairness.counterfactual.input: {cf.input!r} is not what the "
                        f"model reads; the dataset's input is the text column {ds.spec.input!r}"
                    )
                return None
            if isinstance(ds.spec.input, list) and cf.input in ds.spec.input:
                return cf.input
            raise ConfigError(
                f"checks.fairness.counterfactual.input: the model does not read {cf.input!r}; "
                f"its input columns: {ds.spec.input_columns()}"
            )
        if isinstance(ds.spec.input, str):
            return None
        raise ConfigError(
            "checks.fairness.counterfactual.input: the dataset's input is not one text column; "
            "name the text column to rewrite, e.g. `counterfactual: {input: description}`"
        )

    def _variants(self, ctx: RunContext, ds: Dataset) -> dict[str, dict[str, tuple[Request, Any]]]:
        """Swap type → example id → (swapped Request, swapped payload); cached per run."""
        cached = getattr(self, "_cf_variants", None)
        if cached is not None:
            return cached
        cf = self._cfg().counterfactual
        assert cf is not None
        field_name = self._text_field(ds)
        lists = resolve_wordlists(
            cf.swaps, cf.wordlists, ctx.suite.base_dir, "checks.fairness.counterfactual"
        )
        fp = ctx.model_infos[self.model].fingerprint
        payloads = ds.payloads()
        out: dict[str, dict[str, tuple[Request, Any]]] = {}
        for name, wl in lists.items():
            swapper = Swapper(wl)
            variants: dict[str, tuple[Request, Any]] = {}
            for example_id, payload in zip(ds.ids, payloads):
                new, count = swap_payload(payload, swapper, field_name)
                if count == 0 or new == payload:
                    continue
                req = Request(
                    key=content_key(fp, new),
                    model=self.model,
                    payload=new,
                    tags={"example_id": example_id, "swap": name},
                )
                variants[example_id] = (req, new)
            out[name] = variants
        self._cf_variants = out
        return out

    # ------------------------------------------------------------------ scoring

    def score(self, ctx: RunContext, responses: Mapping[str, Response]) -> CheckResult:
        cfg = self._cfg()
        ds = ctx.dataset(cfg.dataset)
        task = ctx.suite.task if ctx.suite.task != "auto" else ctx.model_infos[self.model].task
        metrics: dict[str, Estimate] = {}
        tables: dict[str, Any] = {"task": task, "min_n": cfg.min_n, "features": []}
        flags: list[str] = []
        too_small: list[str] = []
        examples: list[dict[str, Any]] = []
        errors = None
        n = len(ds)
        features = _features(cfg, ctx.suite)
        if features and task in ("classification", "regression"):
            pred = gather(ctx, self.model, cfg.dataset, responses)
            errors, n = pred.errors, pred.n
            flags += pred.flags
            if pred.n:
                self._groups(ctx, ds, pred, features, metrics, tables, flags, too_small)
        elif features:
            tables["notes"] = [
                f"the model does {task}: group metrics need labels it predicts, so only the "
                "counterfactual test applies"
            ]
        if cfg.counterfactual is not None:
            examples = self._counterfactual(ctx, ds, task, responses, metrics, tables, flags)
        tables["too_small_keys"] = too_small
        kwargs: dict[str, Any] = {} if errors is None else {"errors": errors}
        return CheckResult(
            check=self.name,
            model=self.model,
            dataset=ds.name,
            n=n,
            metrics=metrics,
            tables=tables,
            examples=examples,
            flags=flags,
            **kwargs,
        )

    def _group_columns(
        self, ds: Dataset, ids: list[str], features: list[str]
    ) -> tuple[dict[str, pd.Series], dict[str, int]]:
        cfg = self._cfg()
        frame = ds.frame.loc[ids]
        columns: dict[str, pd.Series] = {}
        n_missing: dict[str, int] = {}
        for col in features:
            if col not in frame.columns:
                raise ConfigError(
                    f"checks.fairness.groups: {col!r} is not a column of dataset {ds.name!r} "
                    f"({ds.spec.path}); columns: {', '.join(map(str, frame.columns))}"
                )
            raw = frame[col]
            missing = raw.isna() | (raw.astype("string").str.strip() == "")
            n_missing[col] = int(missing.sum())
            if n_missing[col] and cfg.missing == "error":
                first = [str(i) for i in raw.index[missing.to_numpy()][:5]]
                raise ConfigError(
                    f"checks.fairness: column {col!r} of dataset {ds.name!r} has "
                    f"{n_missing[col]} missing values (ids {', '.join(first)}); fill them, or set "
                    f"checks.fairness.missing: group to put them in a group named {MISSING}"
                )
            columns[col] = raw.astype("string").str.strip().mask(missing, MISSING).astype(str)
        for combo in _intersections(cfg, features):
            for c in combo:
                if c not in columns:
                    raise ConfigError(
                        f"checks.fairness.intersections: {c!r} is not one of the sensitive "
                        f"features {features}"
                    )
            joined = columns[combo[0]]
            for c in combo[1:]:
                joined = joined + "&" + columns[c]
            columns["&".join(combo)] = joined
        return columns, n_missing

    def _groups(
        self,
        ctx: RunContext,
        ds: Dataset,
        pred: Any,
        features: list[str],
        metrics: dict[str, Estimate],
        tables: dict[str, Any],
        flags: list[str],
        too_small: list[str],
    ) -> None:
        cfg = self._cfg()
        columns, n_missing = self._group_columns(ds, pred.ids, features)
        positive = None
        if pred.task == "classification":
            positive = self._audited(pred.labels, tables)
        blocks: list[tuple[str, GroupMetrics]] = []
        for name, values in columns.items():
            seed = self.rng(ctx, "groups", name)  # per column: another column does not move it
            if pred.task == "classification":
                gm = group_metrics(
                    pred.y_true,
                    pred.y_pred,
                    values.to_numpy(),
                    positive_label=positive,
                    proba=pred.proba,
                    labels=pred.labels,
                    level=ctx.level,
                    n_bootstrap=cfg.n_bootstrap,
                    seed=seed,
                    min_n=cfg.min_n,
                    n_bins=cfg.n_bins,
                    summary_min_n=cfg.summaries_min_n,
                )
            else:
                gm = group_regression_metrics(
                    pred.y_true,
                    pred.y_pred,
                    values.to_numpy(),
                    level=ctx.level,
                    n_bootstrap=cfg.n_bootstrap,
                    seed=seed,
                    min_n=cfg.min_n,
                    summary_min_n=cfg.summaries_min_n,
                )
            blocks.append((name, gm))
        self._report_groups(
            ctx, blocks, n_missing, features, pred.task, positive, metrics, tables, flags, too_small
        )

    def _report_groups(
        self,
        ctx: RunContext,
        blocks: list[tuple[str, GroupMetrics]],
        n_missing: Mapping[str, int],
        features: list[str],
        task: str,
        positive: str | None,
        metrics: dict[str, Estimate],
        tables: dict[str, Any],
        flags: list[str],
        too_small: list[str],
    ) -> None:
        """Metrics, the features table and flags from each column's group metrics."""
        cfg = self._cfg()
        # Benjamini–Hochberg over every (feature, group, test) with enough examples.
        tested: list[tuple[str, str, str, float]] = []
        for name, gm in blocks:
            for g in gm.groups:
                if g in gm.too_small:
                    continue
                for test, p in gm.p_values[g].items():
                    if np.isfinite(p):
                        tested.append((name, g, test, p))
        adjusted: dict[tuple[str, str, str], tuple[float, bool]] = {}
        if tested:
            adj, rej = benjamini_hochberg([t[3] for t in tested], alpha=cfg.alpha)
            for t, a, r in zip(tested, adj, rej):
                adjusted[(t[0], t[1], t[2])] = (float(a), bool(r))
        for name, gm in blocks:
            rows = []
            for g, size in zip(gm.groups, gm.n):
                key = f"{name}.{_seg(g)}"
                for m, est in gm.by_group[g].items():
                    metrics[f"{key}.{m}"] = est
                    if g in gm.too_small:
                        too_small.append(f"{key}.{m}")
                p_adj = {
                    test: adjusted[(name, g, test)][0]
                    for test in gm.p_values[g]
                    if (name, g, test) in adjusted
                }
                flagged = [
                    test
                    for test in gm.p_values[g]
                    if adjusted.get((name, g, test), (1.0, False))[1]
                ]
                for test in flagged:
                    what = {
                        "accuracy_worse": "accuracy is significantly below the rest",
                        "selection_rate_differs": "selection rate differs from the rest",
                        "mae_worse": "errors are significantly larger than the rest",
                    }[test]
                    flags.append(
                        f"group {name}={g} (n={size}): {what} (BH-adjusted p={p_adj[test]:.3g})"
                    )
                rows.append(
                    {
                        "name": g,
                        "n": size,
                        "too_small": g in gm.too_small,
                        "metrics": {m: e.to_dict() for m, e in gm.by_group[g].items()},
                        "p_values": gm.p_values[g],
                        "p_adjusted": p_adj,
                        "flagged": flagged,
                        "cells": gm.cells.get(g),
                    }
                )
            for s, est in gm.summaries.items():
                metrics[f"{name}.{s}"] = est
            left_out = _left_out_rows(gm, positive)
            if task == "classification":
                metrics[f"{name}.n_groups_left_out"] = Estimate.point(
                    len(left_out), n=len(gm.groups), level=ctx.level
                )
            if left_out:
                flags.append(_left_out_flag(name, left_out))
            if gm.too_small:
                flags.append(
                    f"{name}: {len(gm.too_small)} group(s) below min_n={cfg.min_n} "
                    f"({', '.join(gm.too_small[:5])}{'…' if len(gm.too_small) > 5 else ''}); "
                    "shown with their wide intervals, not gated"
                    + ("" if cfg.summaries_min_n else ", but counted in the across-group summaries")
                )
            tables["features"].append(
                {
                    "name": name,
                    "intersection": "&" in name and name not in features,
                    "n_missing": n_missing.get(name, 0),
                    "groups": rows,
                    "summaries": {s: e.to_dict() for s, e in gm.summaries.items()},
                    "left_out": left_out,
                }
            )

    def _audited(self, labels: list[str], tables: dict[str, Any]) -> str:
        """The positive label, recorded in ``tables`` (with the one-vs-rest note of a
        multiclass problem)."""
        positive = self._positive_label(labels)
        tables["positive_label"] = positive
        if len([lab for lab in labels if lab != ERROR_LABEL]) > 2:
            tables["notes"] = [
                f"multiclass: selection rate, precision, recall and the error rates are for "
                f"{positive!r} against every other label (one-vs-rest)"
            ]
        return positive

    def _positive_label(self, labels: list[str]) -> str:
        cfg = self._cfg()
        real = [lab for lab in labels if lab != ERROR_LABEL]
        if cfg.positive_label is not None:
            if cfg.positive_label not in real:
                raise ConfigError(
                    f"checks.fairness.positive_label: {cfg.positive_label!r} is not a label; "
                    f"labels: {', '.join(real)}"
                )
            return cfg.positive_label
        if len(real) > 2:
            raise ConfigError(
                f"checks.fairness.positive_label: {len(real)} labels ({', '.join(real[:10])}); "
                "say which one is the favourable decision to audit, e.g. positive_label: "
                f"{real[-1]}"
            )
        return real[-1]

    # ------------------------------------------------------------------ counterfactual

    def _counterfactual(
        self,
        ctx: RunContext,
        ds: Dataset,
        task: str,
        responses: Mapping[str, Response],
        metrics: dict[str, Estimate],
        tables: dict[str, Any],
        flags: list[str],
    ) -> list[dict[str, Any]]:
        cfg = self._cfg()
        cf = cfg.counterfactual
        assert cf is not None
        if ctx.answers_by_id(self.model):
            flags.append(
                f"model {self.model!r} answers by example id (a predictions file), so it cannot "
                "answer rewritten inputs: the counterfactual test was not run"
            )
            tables[COUNTERFACTUAL] = {"skipped": "model answers by id"}
            return []
        originals = {r.tags["example_id"]: r for r in ctx.original_requests(self.model, ds)}
        positive = cfg.positive_label
        if task == "classification" and positive is None and ds.labels and len(ds.labels) == 2:
            positive = ds.labels[-1]
        summary = score_swaps(
            variants=self._variants(ctx, ds),
            originals=originals,
            responses=responses,
            task=task,
            positive_label=positive,
            tolerance=cf.tolerance,
            level=ctx.level,
            n_bootstrap=cfg.n_bootstrap,
            seed=self.rng(ctx, COUNTERFACTUAL),
            n_inputs=len(ds),
            max_examples=_MAX_CF_EXAMPLES,
            max_chars=_MAX_INPUT_CHARS,
        )
        for swap, row in summary["swaps"].items():
            for m in ("flip_rate", "mean_score_change", "n_not_applicable"):
                metrics[f"{COUNTERFACTUAL}.{swap}.{m}"] = Estimate.from_dict(row[m])
            if row["n_errors"]:
                flags.append(
                    f"counterfactual {swap}: {row['n_errors']} pairs had a failed call "
                    "and were left out"
                )
        flags += summary["flags"]
        tables[COUNTERFACTUAL] = summary
        return list(summary["examples"])

    # ------------------------------------------------------------------ streamed runs

    def stream_columns(self, suite: Suite) -> list[str]:
        return _features(self._cfg(), suite)

    def stream_refusal(self, suite: Suite) -> str | None:
        return None

    def stream_state(self, ctx: RunContext, facts: StreamFacts) -> GroupCounts:
        cfg = self._cfg()
        features = _features(cfg, ctx.suite)
        if not features:
            raise ConfigError(
                "checks.fairness: no sensitive feature (and a file of predictions cannot answer "
                "counterfactual swaps); list the columns in checks.fairness.groups (or the "
                "dataset's `groups`)"
            )
        positive = self._positive_label(facts.labels)
        real = [lab for lab in facts.labels if lab != ERROR_LABEL]
        return GroupCounts(
            features=features,
            intersections=_intersections(cfg, features),
            positive=facts.labels.index(positive),
            binary=len(real) == 2,
            with_ece=facts.has_proba,
            n_bins=cfg.n_bins,
            seed=ctx.seed,
            missing=cfg.missing,
            dataset=facts.dataset,
        )

    def score_stream(self, ctx: RunContext, state: GroupCounts, facts: StreamFacts) -> CheckResult:
        cfg = self._cfg()
        metrics: dict[str, Estimate] = {}
        tables: dict[str, Any] = {"task": "classification", "min_n": cfg.min_n, "features": []}
        flags = list(facts.flags)
        too_small: list[str] = []
        positive = self._audited(facts.labels, tables)
        if facts.n:
            blocks = [
                (
                    name,
                    state.metrics(
                        name,
                        with_ece=facts.has_proba,
                        level=ctx.level,
                        n_bootstrap=cfg.n_bootstrap,
                        seed=self.rng(ctx, "groups", name),
                        min_n=cfg.min_n,
                        summary_min_n=cfg.summaries_min_n,
                    ),
                )
                for name in state.sketches
            ]
            self._report_groups(
                ctx,
                blocks,
                state.n_missing,
                state.features,
                "classification",
                positive,
                metrics,
                tables,
                flags,
                too_small,
            )
        if cfg.counterfactual is not None:
            flags.append(
                f"model {self.model!r} answers by example id (a predictions file), so it cannot "
                "answer rewritten inputs: the counterfactual test was not run"
            )
            tables[COUNTERFACTUAL] = {"skipped": "model answers by id"}
        tables["too_small_keys"] = too_small
        return CheckResult(
            check=self.name,
            model=self.model,
            dataset=facts.dataset,
            n=facts.n,
            metrics=metrics,
            tables=tables,
            flags=flags,
            errors=facts.errors,
        )

    # ------------------------------------------------------------------ gates

    @classmethod
    def gate_patterns(cls, config: CheckConfig, suite: Suite) -> list[str]:
        assert isinstance(config, FairnessConfig)
        features = _features(config, suite)
        names = features + ["&".join(c) for c in _intersections(config, features)]
        if suite.task == "regression":
            per_group: list[str] = list(REGRESSION_GROUP_METRICS)
            summaries = [f"{m}_{k}" for m in REGRESSION_GROUP_METRICS for k in _SUMMARY_KINDS]
        else:
            per_group = list(CLASSIFICATION_GROUP_METRICS)
            summaries = [
                f"{m}_{k}" for m in CLASSIFICATION_GROUP_METRICS for k in _SUMMARY_KINDS
            ] + [*_CLASSIFICATION_SUMMARIES, "n_groups_left_out"]
            if suite.task == "auto":
                per_group += list(REGRESSION_GROUP_METRICS)
                summaries += [f"{m}_{k}" for m in REGRESSION_GROUP_METRICS for k in _SUMMARY_KINDS]
        patterns = [f"{f}.*.{m}" for f in names for m in per_group]
        patterns += [f"{f}.{s}" for f in names for s in summaries]
        if config.counterfactual is not None:
            swaps = config.counterfactual.swaps or [
                *BUILTIN_SWAPS,
                *[w for w in config.counterfactual.wordlists if w not in BUILTIN_SWAPS],
            ]
            patterns += [
                f"{COUNTERFACTUAL}.{s}.{m}"
                for s in swaps
                for m in ("flip_rate", "mean_score_change", "n_not_applicable")
            ]
        return patterns
