"""The uncertainty check for regression: abstention by the model's predicted spread and
conformal intervals (absolute residual, normalized by the spread, or CQR on its quantiles).

What a regression model gives decides what is scored:

* a **spread** per row (``Output.spread``: a predicted standard deviation or another scale of
  the error): selective prediction keeps the rows with the smallest spread — risk–coverage
  curve, AURC and excess AURC, the risk at each requested coverage, and with ``target_risk`` the
  largest calibration coverage whose mean loss meets it, measured on the test rows
  (``selective.at_risk.*``); the loss is ``regression_risk`` (absolute or squared error) — and
  ``normalized`` conformal intervals;
* **quantiles** per row (``Output.quantiles``): ``quantile`` conformal (CQR); without a spread,
  selective prediction ranks the rows by the width of their quantile interval;
* one value per row: only ``absolute`` conformal (asking for ``normalized`` or ``quantile`` is
  refused with the fix).

Rows of a model that gives a spread (quantiles) to some rows only are skipped from what needs it
and counted: ``skipped.no_spread`` — rows abstention cannot rank (no spread; for a model that gives
quantiles and no spread, no quantiles; every row for a model with neither) — and
``skipped.no_quantiles``. There is no guaranteed
(``selective.guaranteed``) threshold for regression: SGR's bound is for 0/1 losses.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assay._types import Response
from assay.checks._base import RunContext
from assay.checks._predictions import Predictions
from assay.checks._uncertainty_inputs import (
    UncertaintyConfig,
    conformal_groups,
    conformal_overall,
    coverage_key,
    regression_uncertainty,
)
from assay.data._dataset import Dataset
from assay.errors import ConfigError
from assay.stats import Estimate, wilson_interval
from assay.uncertainty import (
    ConformalResult,
    aurc_estimates,
    conformal_regression,
    empirical_risk_threshold,
    min_calibration_size,
    risk_coverage,
    selective_risk_at,
    selective_risk_at_threshold,
)

__all__ = ["RegressionRows", "regression_rows", "score_regression"]


@dataclass
class RegressionRows:
    """One side (calibration or test) of a regression model's answers: truth, prediction,
    predicted spread (NaN: none) and predicted quantiles by id."""

    ids: list[str]
    y: np.ndarray
    pred: np.ndarray
    spread: np.ndarray
    quantiles: dict[str, dict[float, float]] = field(default_factory=dict)

    def select(self, mask: np.ndarray) -> RegressionRows:
        ids = [i for i, m in zip(self.ids, mask) if m]
        return RegressionRows(
            ids,
            self.y[mask],
            self.pred[mask],
            self.spread[mask],
            {i: self.quantiles[i] for i in ids if i in self.quantiles},
        )

    def bounds(self, levels: tuple[float, float] | None) -> np.ndarray:
        """``(n, 2)`` lower and upper quantiles at ``levels`` (NaN rows: not given)."""
        out = np.full((len(self.ids), 2), np.nan)
        if levels is None:
            return out
        for r, i in enumerate(self.ids):
            q = _rounded(self.quantiles.get(i) or {})
            lo, hi = round(levels[0], 9), round(levels[1], 9)
            if lo in q and hi in q:
                out[r] = q[lo], q[hi]
        return out


def _rounded(q: Mapping[float, float]) -> dict[float, float]:
    return {round(k, 9): v for k, v in q.items()}


def regression_rows(
    ctx: RunContext,
    model: str,
    ds: Dataset,
    responses: Mapping[str, Response],
    pred: Predictions,
) -> RegressionRows:
    spread, quantiles = regression_uncertainty(ctx, model, ds, responses, pred)
    return RegressionRows(
        list(pred.ids),
        pred.y_true.astype(float),
        pred.y_pred.astype(float),
        spread,
        quantiles,
    )


def quantile_levels(alpha: float, *sides: RegressionRows) -> tuple[float, float] | None:
    """The two quantile levels CQR uses: ``α/2`` and ``1 − α/2`` when every row with quantiles
    gives them, else the lowest and highest level they all give (``None``: fewer than two)."""
    common: set[float] | None = None
    for side in sides:
        for q in side.quantiles.values():
            levels = set(_rounded(q))
            common = levels if common is None else common & levels
    if not common or len(common) < 2:
        return None
    lo, hi = round(alpha / 2, 9), round(1 - alpha / 2, 9)
    if lo in common and hi in common:
        return lo, hi
    return min(common), max(common)


def score_regression(
    cfg: UncertaintyConfig,
    *,
    model: str,
    cal: RegressionRows,
    test: RegressionRows,
    n_total: int,
    level: float,
    rng: Callable[[str], np.random.Generator],
    too_few: Callable[[int, int, int], None],
    groups: Callable[[list[str]], dict[str, np.ndarray]],
) -> tuple[int, dict[str, Estimate], dict[str, Any], list[str]]:
    """Metrics, tables and flags of a regression model (see the module docstring); returns the
    number of test rows scored first."""
    metrics: dict[str, Estimate] = {}
    tables: dict[str, Any] = {"task": "regression", "risk": cfg.regression_risk}
    flags: list[str] = []
    too_few(len(cal.y), n_total, len(test.y))
    tables["split"] = {"n_calibration": len(cal.y), "n_test": len(test.y)}
    alpha = cfg.conformal.alpha if cfg.conformal is not None else 0.1
    levels = quantile_levels(alpha, cal, test)
    cal_q, test_q = cal.bounds(levels), test.bounds(levels)
    has_spread = np.r_[np.isfinite(cal.spread), np.isfinite(test.spread)]
    has_q = np.r_[np.isfinite(cal_q).all(axis=1), np.isfinite(test_q).all(axis=1)]
    n_all = len(has_spread)
    if levels is not None:
        metrics["skipped.no_quantiles"] = Estimate.point(int((~has_q).sum()), n=n_all, level=level)

    # selective prediction: rank by the spread, or by the width of the quantile interval
    if has_spread.any():
        source, c_scale, t_scale, ranked = "spread", cal.spread, test.spread, has_spread
    elif has_q.any():
        source, ranked = "quantile_width", has_q
        c_scale, t_scale = cal_q[:, 1] - cal_q[:, 0], test_q[:, 1] - test_q[:, 0]
    else:
        source, ranked = None, has_spread
        flags.append(
            f"model {model!r} gives no spread or quantiles, so there is no abstention to score "
            "(selective prediction needs a predicted spread); only conformal intervals are "
            "scored. Give a spread (predictions: spread column, python: {'value': v, 'spread': "
            "s}, sklearn: return_std: true) or quantiles"
        )
    # rows abstention cannot rank: without a spread (or, for a model that gives quantiles and
    # no spread, without quantiles)
    metrics["skipped.no_spread"] = Estimate.point(int((~ranked).sum()), n=n_all, level=level)
    if source is not None:
        _selective(cfg, metrics, tables, flags, source, cal, test, c_scale, t_scale, level, rng)
    if cfg.conformal is not None:
        cr, keep = _conformal(
            cfg, metrics, tables, flags, model, cal, test, cal_q, test_q, levels, level
        )
        kept = groups([i for i, k in zip(test.ids, keep) if k])
        conformal_groups(cr, kept, metrics, tables, level=level, width=True)
    return len(test.y), metrics, tables, flags


def _loss(cfg: UncertaintyConfig, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    err = y - pred
    return err**2 if cfg.regression_risk == "squared_error" else np.abs(err)


def _selective(
    cfg: UncertaintyConfig,
    metrics: dict[str, Estimate],
    tables: dict[str, Any],
    flags: list[str],
    source: str,
    cal: RegressionRows,
    test: RegressionRows,
    c_scale: np.ndarray,
    t_scale: np.ndarray,
    level: float,
    rng: Callable[[str], np.random.Generator],
) -> None:
    tk = np.isfinite(t_scale)
    conf_t = -t_scale[tk]
    loss_t = _loss(cfg, test.y[tk], test.pred[tk])
    if len(conf_t) == 0:
        flags.append("no test row has a predicted spread: selective prediction is not scored")
        return
    rc = risk_coverage(conf_t, loss_t)
    metrics["selective.aurc"], metrics["selective.excess_aurc"] = aurc_estimates(
        conf_t, loss_t, n_bootstrap=cfg.n_bootstrap, random_state=rng("aurc"), level=level
    )
    rows = []
    for c in cfg.coverage:
        s = selective_risk_at(conf_t, loss_t, c, level=level)
        metrics[f"selective.{coverage_key(c)}.risk"] = s.risk
        rows.append(
            {
                "coverage": c,
                "threshold": s.threshold,
                "n_kept": s.n_kept,
                "risk": s.risk.to_dict(),
            }
        )
    tables["selective"] = {
        "confidence": f"-{source}",
        "risk": cfg.regression_risk,
        "curve": rc.points(),
        "at_coverage": rows,
        "aurc": rc.aurc,
        "excess_aurc": rc.excess_aurc,
    }
    if cfg.target_risk is None:
        return
    ck = np.isfinite(c_scale)
    thr = empirical_risk_threshold(
        -c_scale[ck], _loss(cfg, cal.y[ck], cal.pred[ck]), target_risk=cfg.target_risk
    )
    at = selective_risk_at_threshold(conf_t, loss_t, thr, level=level)
    n_t = len(conf_t)
    metrics["selective.at_risk.coverage"] = at.coverage
    metrics["selective.at_risk.referral_rate"] = wilson_interval(n_t - at.n_kept, n_t, level=level)
    metrics["selective.at_risk.risk"] = at.risk
    tables["selective"]["at_risk"] = {
        "target_risk": cfg.target_risk,
        "threshold": thr if math.isfinite(thr) else None,
        "max_spread": -thr if math.isfinite(thr) else None,
    }
    if not math.isfinite(thr):
        flags.append(
            f"no spread threshold keeps the calibration rows' mean {cfg.regression_risk} at or "
            f"below target_risk {cfg.target_risk:g}, not even the single surest row: every case "
            "would be referred"
        )
    flags.append(
        f"target_risk {cfg.target_risk:g} ({cfg.regression_risk}): the spread threshold is chosen "
        "on the calibration rows without a guarantee (SGR's guarantee is for 0/1 losses); "
        "selective.at_risk.* measures it on the test rows"
    )


def _conformal(
    cfg: UncertaintyConfig,
    metrics: dict[str, Estimate],
    tables: dict[str, Any],
    flags: list[str],
    model: str,
    cal: RegressionRows,
    test: RegressionRows,
    cal_q: np.ndarray,
    test_q: np.ndarray,
    levels: tuple[float, float] | None,
    level: float,
) -> tuple[ConformalResult, np.ndarray]:
    """The conformal intervals of ``cfg.conformal.method`` and which test rows they cover."""
    assert cfg.conformal is not None
    method = cfg.conformal.method or "absolute"
    if method in ("lac", "aps", "raps"):
        raise ConfigError(
            f"checks.uncertainty.conformal.method: {method!r} is for classifiers; a regression "
            "model takes absolute, normalized or quantile"
        )
    alpha = cfg.conformal.alpha
    extra: dict[str, Any] = {}
    if method == "normalized":
        ck, tk = np.isfinite(cal.spread), np.isfinite(test.spread)
        if not ck.any() or not tk.any():
            raise ConfigError(
                f"checks.uncertainty.conformal.method: 'normalized' needs a predicted spread per "
                f"row, and model {model!r} answers one value; use method: absolute (or give a "
                "spread: a predictions: spread column, python: {'value': v, 'spread': s}, "
                "sklearn: return_std: true)"
            )
        zero = int((cal.spread[ck] == 0).sum() + (test.spread[tk] == 0).sum())
        if zero:
            raise ConfigError(
                f"checks.uncertainty.conformal.method: 'normalized' divides by the spread, and "
                f"model {model!r} gave a spread of 0 on {zero} row(s); give a positive spread "
                "(e.g. add a small floor) or use method: absolute or quantile"
            )
    elif method == "quantile":
        ck, tk = np.isfinite(cal_q).all(axis=1), np.isfinite(test_q).all(axis=1)
        if levels is None or not ck.any() or not tk.any():
            raise ConfigError(
                f"checks.uncertainty.conformal.method: 'quantile' needs a predicted lower and "
                f"upper quantile per row, and model {model!r} answers one value; use method: "
                "absolute (or give quantiles: predictions: q_0.05 and q_0.95 columns, python: "
                "{'value': v, 'quantiles': {0.05: lo, 0.95: hi}})"
            )
        extra["quantile_levels"] = list(levels)
    else:
        ck, tk = np.ones(len(cal.y), bool), np.ones(len(test.y), bool)
    need = min_calibration_size(alpha)
    if int(ck.sum()) < need:
        raise ConfigError(
            f"checks.uncertainty: only {int(ck.sum())} calibration rows have the "
            f"{'spread' if method == 'normalized' else 'quantiles'} that {method} conformal "
            f"needs, too few for conformal.alpha {alpha:g} (split conformal needs ≥ {need}); "
            "give more rows a spread/quantiles, use more calibration rows or raise "
            "conformal.alpha"
        )
    if method == "quantile":
        cr = conformal_regression(
            cal.y[ck],
            cal_q[ck],
            test.y[tk],
            test_q[tk],
            alpha=alpha,
            method="quantile",
            level=level,
        )
    else:
        cr = conformal_regression(
            cal.y[ck],
            cal.pred[ck],
            test.y[tk],
            test.pred[tk],
            alpha=alpha,
            method="normalized" if method == "normalized" else "absolute",
            cal_spread=cal.spread[ck] if method == "normalized" else None,
            test_spread=test.spread[tk] if method == "normalized" else None,
            level=level,
        )
    n_left = int((~ck).sum() + (~tk).sum())
    if n_left:
        what = "spread" if method == "normalized" else "quantiles"
        flags.append(
            f"{n_left} row(s) without {what} are left out of the {method} conformal intervals "
            f"(skipped.no_{'spread' if method == 'normalized' else 'quantiles'})"
        )
    # conformal.size is the path classifiers share; conformal.width says what it is here
    conformal_overall(
        cr, metrics, tables, flags, method=method, width=True, n_test=int(tk.sum()), **extra
    )
    return cr, tk
