"""The uncertainty check: selective prediction, conformal sets, calibration, operating points.

The rows are split once into calibration and test rows (``calibration_split``, a seeded
permutation shared by every model, so two models are compared on the same rows), or a suite
dataset is the calibration set (``calibration_dataset``). Everything fitted — the selective
threshold with a guarantee, the conformal quantile, the temperature, the operating threshold —
is fitted on the calibration rows and measured on the test rows. The computations are in
:mod:`assay.uncertainty`.

Metric paths (gate them as ``uncertainty.<path>[.value|.lower|.upper]``):

* ``selective.coverage_<c>.risk`` / ``.accuracy`` for each requested coverage ``c``;
  ``selective.aurc``, ``selective.excess_aurc``; with ``target_risk``:
  ``selective.guaranteed.coverage`` / ``.referral_rate`` / ``.risk`` / ``.accuracy`` (the SGR
  threshold, guaranteed on the calibration rows, measured on the test rows) and the same under
  ``selective.at_risk.`` (the largest calibration coverage whose empirical risk meets the target,
  no guarantee: its test-row intervals are the evidence);
* ``conformal.coverage``, ``conformal.size`` (mean set size or interval width),
  ``conformal.groups.<feature>:<value>.coverage`` / ``.size``;
* ``calibration.ece`` / ``ece_equal_mass`` / ``classwise_ece`` / ``brier`` / ``log_loss``,
  the same under ``calibration.temperature_scaled.``, ``calibration.temperature``, and
  ``calibration.groups.<feature>:<value>.ece``;
* ``operating_point.sensitivity`` / ``specificity`` / ``precision`` / ``npv`` /
  ``positive_rate`` (/ ``cost``), ``operating_point.threshold``; with ``per_class: true`` the
  same under ``operating_point.<class>.`` for every class, one-vs-rest
  (:mod:`assay.checks._uncertainty_operating`);
* ``skipped.no_probabilities``: rows left out because their answer had no probabilities.

Regression (:mod:`assay.checks._uncertainty_regression`): abstention by the model's predicted
spread under the same ``selective.`` paths (``coverage_<c>.risk`` is the mean absolute or squared
error of the rows kept, ``regression_risk``; no ``.accuracy``, no ``selective.guaranteed``),
conformal ``absolute``, ``normalized`` or ``quantile`` intervals under ``conformal.`` (``size``,
also named ``width``, is the mean interval width), and ``skipped.no_spread`` / ``skipped.no_quantiles``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from assay._types import Request, Response
from assay.checks._base import Check, CheckConfig, RunContext, register_check
from assay.checks._performance import gather
from assay.checks._predictions import Predictions
from assay.checks._uncertainty_inputs import (
    UncertaintyConfig,
    conformal_groups,
    conformal_overall,
    coverage_key,
    probabilities,
    split_rows,
)
from assay.checks._uncertainty_operating import (
    operating_point_patterns,
    positive_index,
    score_operating_points,
)
from assay.checks._uncertainty_regression import regression_rows, score_regression
from assay.config._suite import Suite
from assay.data._dataset import Dataset
from assay.errors import ConfigError
from assay.report._schema import CheckResult
from assay.stats import Estimate, wilson_interval
from assay.uncertainty import (
    apply_temperature,
    aurc_estimates,
    brier_decomposition,
    calibration_estimates,
    confidence_scores,
    conformal_classification,
    empirical_risk_threshold,
    fit_temperature,
    guaranteed_risk_threshold,
    min_calibration_size,
    reliability_bins,
    risk_coverage,
    selective_at,
    selective_at_threshold,
)

__all__ = ["UncertaintyCheck"]

_CAL_KEYS = ("ece", "ece_equal_mass", "classwise_ece", "brier", "log_loss")


def _seg(value: str) -> str:
    return str(value).replace(".", "_")


@register_check("uncertainty")
class UncertaintyCheck(Check):
    """Does the model know when it does not know? Abstention, conformal sets, calibration and
    operating points, each fitted on calibration rows and measured on test rows."""

    Config = UncertaintyConfig

    def _cfg(self) -> UncertaintyConfig:
        assert isinstance(self.config, UncertaintyConfig)
        return self.config

    def plan(self, ctx: RunContext) -> list[Request]:
        cfg = self._cfg()
        requests = ctx.original_requests(self.model, ctx.dataset(cfg.dataset))
        if cfg.calibration_dataset is not None:
            requests += ctx.original_requests(self.model, ctx.dataset(cfg.calibration_dataset))
        return requests

    @classmethod
    def validate_suite(cls, config: CheckConfig, suite: Suite, *, source: str = "suite") -> None:
        assert isinstance(config, UncertaintyConfig)
        if config.calibration_dataset is not None and config.calibration_dataset not in suite.data:
            raise ConfigError(
                f"{source}: checks.uncertainty.calibration_dataset: {config.calibration_dataset!r}"
                f" is not a dataset of the suite; datasets: {', '.join(suite.data)}"
            )

    # ------------------------------------------------------------------ scoring

    def score(self, ctx: RunContext, responses: Mapping[str, Response]) -> CheckResult:
        cfg = self._cfg()
        ds = ctx.dataset(cfg.dataset)
        pred = gather(ctx, self.model, cfg.dataset, responses)
        if cfg.calibration_dataset is not None:
            cal_pred = gather(ctx, self.model, cfg.calibration_dataset, responses)
            cal_sel, test_sel = None, None
        else:
            cal_pred = None
            cal_sel, test_sel = self._split(ctx, pred.n)
        if pred.task == "regression":
            return self._score_regression(ctx, ds, responses, pred, cal_pred, cal_sel, test_sel)
        return self._score_classification(ctx, ds, responses, pred, cal_pred, cal_sel, test_sel)

    def _split(self, ctx: RunContext, n: int) -> tuple[np.ndarray, np.ndarray]:
        return split_rows(ctx, n, self._cfg().calibration_split)

    def _too_few(self, n_cal: int, n_total: int, n_test: int) -> None:
        cfg = self._cfg()
        where = (
            f"calibration dataset {cfg.calibration_dataset!r}"
            if cfg.calibration_dataset is not None
            else f"calibration_split {cfg.calibration_split:g} of {n_total} scored rows"
        )
        if n_cal < 2 or n_test < 2:
            raise ConfigError(
                f"checks.uncertainty: {where} leaves {n_cal} calibration and {n_test} test rows; "
                "each side needs at least 2 (thresholds are fitted on one and measured on the "
                "other): use more rows or a calibration_split nearer 0.5"
            )
        if cfg.conformal is None:
            return
        need = min_calibration_size(cfg.conformal.alpha)
        if n_cal >= need:
            return
        if cfg.calibration_dataset is not None:
            fix = f"use a calibration dataset of at least {need} scored rows"
        else:
            fix = (
                f"raise checks.uncertainty.calibration_split to at least "
                f"{math.ceil(need / max(n_total, 1) * 100) / 100:g}"
                if n_total > need
                else f"use a dataset of more than {need} rows"
            )
        raise ConfigError(
            f"checks.uncertainty: {n_cal} calibration rows are too few for conformal.alpha "
            f"{cfg.conformal.alpha:g}: split conformal needs n ≥ ⌈1/α⌉ − 1 = {need}; {fix}, "
            "or raise conformal.alpha"
        )

    def _groups(self, ctx: RunContext, ds: Dataset, ids: list[str]) -> dict[str, np.ndarray]:
        """``feature:value`` → boolean mask over ``ids``."""
        cfg = self._cfg()
        spec = ctx.suite.data[ds.name]
        features = cfg.groups if cfg.groups is not None else [*spec.groups, *spec.slices]
        out: dict[str, np.ndarray] = {}
        frame = ds.frame.loc[ids]
        for col in dict.fromkeys(features):
            if col not in frame.columns:
                raise ConfigError(
                    f"checks.uncertainty.groups: {col!r} is not a column of dataset {ds.name!r}; "
                    f"columns: {', '.join(map(str, frame.columns))}"
                )
            values = frame[col].astype("string").fillna("<missing>").to_numpy(dtype=str)
            for v in sorted(set(values)):
                out[f"{col}:{_seg(v)}"] = values == v
        return out

    def _score_classification(
        self,
        ctx: RunContext,
        ds: Dataset,
        responses: Mapping[str, Response],
        pred: Predictions,
        cal_pred: Predictions | None,
        cal_sel: np.ndarray | None,
        test_sel: np.ndarray | None,
    ) -> CheckResult:
        cfg = self._cfg()
        level = ctx.level
        flags = list(pred.flags)
        labels = [lbl for lbl in pred.labels]
        proba, has = probabilities(ctx, self.model, ds, responses, pred, labels)
        codes = np.array([labels.index(t) for t in pred.y_true])
        ids = pred.ids
        skipped = int((~has).sum())
        metrics: dict[str, Estimate] = {
            "skipped.no_probabilities": Estimate.point(skipped, n=pred.n, level=level)
        }
        tables: dict[str, Any] = {"task": "classification", "labels": labels}
        if skipped == pred.n:
            flags.append(
                f"model {self.model!r} gave no class probabilities, so the uncertainty check "
                "has nothing to score; return probabilities (predict_proba, label log-likelihoods)"
            )
            return self._result(ds, 0, metrics, tables, flags, pred)
        if skipped:
            flags.append(
                f"{skipped} of {pred.n} rows had no probabilities and are left out of the "
                "uncertainty check (skipped.no_probabilities)"
            )
        if cal_pred is not None:
            cal_ds = ctx.dataset(cfg.calibration_dataset)
            cproba, chas = probabilities(ctx, self.model, cal_ds, responses, cal_pred, labels)
            ccodes = np.array([labels.index(t) if t in labels else -1 for t in cal_pred.y_true])
            keep = chas & (ccodes >= 0)
            cproba, ccodes = cproba[keep], ccodes[keep]
            tproba, tcodes, tids = proba[has], codes[has], [i for i, h in zip(ids, has) if h]
        else:
            assert cal_sel is not None and test_sel is not None
            cproba, ccodes = proba[cal_sel & has], codes[cal_sel & has]
            tmask = test_sel & has
            tproba, tcodes = proba[tmask], codes[tmask]
            tids = [i for i, m in zip(ids, tmask) if m]
        self._too_few(len(ccodes), pred.n, len(tcodes))
        tables["split"] = {"n_calibration": len(ccodes), "n_test": len(tcodes)}
        groups = self._groups(ctx, ds, tids)

        # selective prediction
        conf_t = confidence_scores(tproba, kind=cfg.confidence)
        loss_t = (tproba.argmax(axis=1) != tcodes).astype(np.float64)
        rc = risk_coverage(conf_t, loss_t)
        metrics["selective.aurc"], metrics["selective.excess_aurc"] = aurc_estimates(
            conf_t,
            loss_t,
            n_bootstrap=cfg.n_bootstrap,
            random_state=self.rng(ctx, "aurc"),
            level=level,
        )
        sel_rows = []
        for c in cfg.coverage:
            s = selective_at(conf_t, loss_t, c, level=level)
            key = f"selective.{coverage_key(c)}"
            metrics[f"{key}.risk"] = s.risk
            metrics[f"{key}.accuracy"] = s.accuracy
            sel_rows.append(
                {
                    "coverage": c,
                    "threshold": s.threshold,
                    "n_kept": s.n_kept,
                    "risk": s.risk.to_dict(),
                    "accuracy": s.accuracy.to_dict(),
                }
            )
        tables["selective"] = {
            "confidence": cfg.confidence,
            "curve": rc.points(),
            "at_coverage": sel_rows,
            "aurc": rc.aurc,
            "excess_aurc": rc.excess_aurc,
        }
        if cfg.target_risk is not None:
            if cfg.target_risk >= 1:
                raise ConfigError(
                    f"checks.uncertainty.target_risk: {cfg.target_risk:g} is an error rate for a "
                    "classifier and must be below 1"
                )
            conf_c = confidence_scores(cproba, kind=cfg.confidence)
            loss_c = (cproba.argmax(axis=1) != ccodes).astype(np.float64)
            g = guaranteed_risk_threshold(
                conf_c, loss_c, target_risk=cfg.target_risk, delta=cfg.delta
            )
            emp = empirical_risk_threshold(conf_c, loss_c, target_risk=cfg.target_risk)
            n_t = len(conf_t)
            for name, thr in (("guaranteed", g.threshold), ("at_risk", emp)):
                at = selective_at_threshold(conf_t, loss_t, thr, level=level)
                key = f"selective.{name}"
                metrics[f"{key}.coverage"] = at.coverage
                metrics[f"{key}.referral_rate"] = wilson_interval(n_t - at.n_kept, n_t, level=level)
                metrics[f"{key}.risk"] = at.risk
                metrics[f"{key}.accuracy"] = at.accuracy
            tables["selective"]["at_risk"] = {
                "target_risk": cfg.target_risk,
                "threshold": emp if math.isfinite(emp) else None,
            }
            tables["selective"]["guaranteed"] = {
                "target_risk": g.target_risk,
                "delta": g.delta,
                "threshold": g.threshold if g.found else None,
                "calibration_coverage": g.calibration_coverage,
                "calibration_risk": None if math.isnan(g.calibration_risk) else g.calibration_risk,
                "risk_bound": None if math.isnan(g.risk_bound) else g.risk_bound,
                "guarantee": g.guarantee,
            }
            if not g.found:
                m = g.n_calibration
                floor = 1 - (g.delta / max(1, math.ceil(math.log2(m + 1)))) ** (1 / max(m, 1))
                flags.append(
                    f"no confidence threshold keeps the error rate below {g.target_risk:g} with "
                    f"probability {1 - g.delta:g} on {m} calibration rows: every case would be "
                    f"referred (with no error at all, {m} rows prove at best {floor:.3g}; "
                    "selective.at_risk gives the threshold without the guarantee)"
                )

        # conformal sets
        if cfg.conformal is not None:
            method = cfg.conformal.method or "aps"
            if method not in ("lac", "aps", "raps"):
                raise ConfigError(
                    f"checks.uncertainty.conformal.method: {method!r} is for regression; a "
                    "classifier takes lac, aps or raps"
                )
            cr = conformal_classification(
                cproba,
                ccodes,
                tproba,
                tcodes,
                alpha=cfg.conformal.alpha,
                method="lac" if method == "lac" else "raps" if method == "raps" else "aps",
                randomized=cfg.conformal.randomized,
                raps_lambda=cfg.conformal.raps_lambda,
                raps_k_reg=cfg.conformal.raps_k_reg,
                random_state=self.rng(ctx, "aps"),
                level=level,
            )
            conformal_overall(
                cr, metrics, tables, flags, method=method, size_histogram=cr.size_histogram()
            )
            covered = conformal_groups(cr, groups, metrics, tables, level=level)
            for g_name, cov in covered.items():
                if cov.n >= cfg.min_n and cov.upper < cr.nominal:
                    flags.append(
                        f"conformal coverage of group {g_name} is {cov.value:.3f} "
                        f"[{cov.lower:.3f}, {cov.upper:.3f}], below the nominal {cr.nominal:g}: "
                        "the sets under-cover this group"
                    )

        # calibration, and after temperature scaling
        binary = len(labels) == 2
        positive = positive_index(cfg.operating_points, labels) if binary else None
        rng = self.rng(ctx, "calibration")
        before = calibration_estimates(
            tproba,
            tcodes,
            positive=positive,
            n_bins=cfg.n_bins,
            n_bootstrap=cfg.n_bootstrap,
            random_state=rng,
            level=level,
        )
        t = fit_temperature(cproba, ccodes)
        scaled = apply_temperature(tproba, t)
        after = calibration_estimates(
            scaled,
            tcodes,
            positive=positive,
            n_bins=cfg.n_bins,
            n_bootstrap=cfg.n_bootstrap,
            random_state=rng,
            level=level,
        )
        for k in _CAL_KEYS:
            metrics[f"calibration.{k}"] = before[k]
            metrics[f"calibration.temperature_scaled.{k}"] = after[k]
        metrics["calibration.temperature"] = Estimate.point(t, n=len(ccodes), level=level)
        tables["calibration"] = {
            "temperature": t,
            "reliability": reliability_bins(tproba, tcodes, n_bins=cfg.n_bins, level=level),
            "reliability_scaled": reliability_bins(scaled, tcodes, n_bins=cfg.n_bins, level=level),
            "brier_decomposition": {
                name: dataclasses.asdict(
                    brier_decomposition(p, tcodes, positive=positive, n_bins=cfg.n_bins)
                )
                for name, p in (("as_given", tproba), ("temperature_scaled", scaled))
            },
            "groups": [],
        }
        for g_name, mask in groups.items():
            if mask.sum() < 2:
                continue
            e = calibration_estimates(
                tproba[mask],
                tcodes[mask],
                positive=positive,
                n_bins=cfg.n_bins,
                n_bootstrap=cfg.n_bootstrap,
                random_state=rng,
                level=level,
            )["ece"]
            metrics[f"calibration.groups.{g_name}.ece"] = e
            tables["calibration"]["groups"].append({"group": g_name, "ece": e.to_dict()})

        # operating point(s)
        if cfg.operating_points is not None:
            ops = score_operating_points(
                cfg.operating_points, labels, cproba, ccodes, tproba, tcodes, level=level
            )
            metrics.update(ops.metrics)
            tables.update(ops.tables)
            flags += ops.flags
        return self._result(ds, len(tcodes), metrics, tables, flags, pred)

    def _score_regression(
        self,
        ctx: RunContext,
        ds: Dataset,
        responses: Mapping[str, Response],
        pred: Predictions,
        cal_pred: Predictions | None,
        cal_sel: np.ndarray | None,
        test_sel: np.ndarray | None,
    ) -> CheckResult:
        cfg = self._cfg()
        rows = regression_rows(ctx, self.model, ds, responses, pred)
        if cal_pred is not None:
            cal_ds = ctx.dataset(cfg.calibration_dataset)
            cal, test = regression_rows(ctx, self.model, cal_ds, responses, cal_pred), rows
        else:
            assert cal_sel is not None and test_sel is not None
            cal, test = rows.select(cal_sel), rows.select(test_sel)
        n, metrics, tables, flags = score_regression(
            cfg,
            model=self.model,
            cal=cal,
            test=test,
            n_total=pred.n,
            level=ctx.level,
            rng=lambda stream: self.rng(ctx, stream),
            too_few=self._too_few,
            groups=lambda ids: self._groups(ctx, ds, ids),
        )
        return self._result(ds, n, metrics, tables, [*pred.flags, *flags], pred)

    def _result(
        self,
        ds: Dataset,
        n: int,
        metrics: dict[str, Estimate],
        tables: dict[str, Any],
        flags: list[str],
        pred: Predictions,
    ) -> CheckResult:
        return CheckResult(
            check=self.name,
            model=self.model,
            dataset=ds.name,
            n=n,
            metrics=metrics,
            tables=tables,
            flags=flags,
            errors=pred.errors,
        )

    @classmethod
    def gate_patterns(cls, config: CheckConfig, suite: Suite) -> list[str]:
        assert isinstance(config, UncertaintyConfig)
        pats = ["skipped.no_probabilities", "selective.aurc", "selective.excess_aurc"]
        pats += ["skipped.no_spread", "skipped.no_quantiles"]
        for c in config.coverage:
            pats += [f"selective.{coverage_key(c)}.{m}" for m in ("risk", "accuracy")]
        if config.target_risk is not None:
            pats += [
                f"selective.{kind}.{m}"
                for kind in ("guaranteed", "at_risk")
                for m in ("coverage", "referral_rate", "risk", "accuracy")
            ]
        if config.conformal is not None:
            pats += ["conformal.coverage", "conformal.size"]
            pats += ["conformal.groups.*.coverage", "conformal.groups.*.size"]
            pats += ["conformal.width", "conformal.groups.*.width"]  # regression's name of size
        pats += [f"calibration.{k}" for k in _CAL_KEYS]
        pats += [f"calibration.temperature_scaled.{k}" for k in _CAL_KEYS]
        pats += ["calibration.temperature", "calibration.groups.*.ece"]
        if config.operating_points is not None:
            pats += operating_point_patterns(config.operating_points)
        return pats
