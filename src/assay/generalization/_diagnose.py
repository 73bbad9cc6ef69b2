"""Overfitting diagnosis from training curves: gap, best step, divergence point, verdict.

The rules, on one training series and one validation series of the same metric:

- Both are smoothed with TensorBoard's debiased exponential moving average (weight ``w``: each
  point keeps ``w`` of the previous smoothed value). The training series is then interpolated
  linearly at the validation steps inside its range.
- **best step**: the validation step where the smoothed validation metric is best.
- **gap** at a step: how much worse validation is than training there, ``val − train`` for a loss
  (lower is better) and ``train − val`` for a score (higher is better); positive means worse on
  unseen data.
- **divergence point**: the first validation step after which the smoothed validation metric gets
  worse for ``patience`` evaluations in a row while the smoothed training metric improves over
  the same evaluations.
- **validation rise**: how much worse the last validation value is than the best, relative to the
  best (``|last − best| / |best|`` in the bad direction).
- **verdict**: ``severe`` when the rise is at least ``severe``; ``mild`` when it is at least
  ``mild`` or a divergence point was found; otherwise ``none``.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from assay.errors import ConfigError
from assay.generalization._log import Series, TrainingLog
from assay.metrics import find_metric

__all__ = ["CurvePair", "Diagnosis", "diagnose", "find_pair", "metric_direction", "smooth"]

_TRAIN = {"train", "training", "tr"}
_VAL = {"val", "valid", "validation", "eval", "evaluation", "dev", "test", "holdout"}
_LOWER = ("loss", "error", "err", "perplexity", "ppl", "mse", "mae", "rmse", "wer", "cer")
_HIGHER = ("acc", "accuracy", "f1", "auc", "precision", "recall", "bleu", "rouge", "score", "r2")

Verdict = Literal["none", "mild", "severe"]


def _split_and_base(name: str) -> tuple[str | None, str]:
    tokens = [t for t in re.split(r"[/_\-.\s]+", name.lower()) if t]
    split = None
    rest = []
    for t in tokens:
        if split is None and t in _TRAIN:
            split = "train"
        elif split is None and t in _VAL:
            split = "validation"
        else:
            rest.append(t)
    return split, "_".join(rest)


def metric_direction(name: str) -> Literal["lower", "higher"]:
    """``lower`` for losses and errors, ``higher`` for accuracies and scores: the catalogue's
    direction for a catalogued metric (``eval_mcc``), else guessed from the words of the name."""
    _, base = _split_and_base(name)
    info = find_metric(base)
    if info is not None and info.direction in ("higher", "lower"):
        return "lower" if info.direction == "lower" else "higher"
    tokens = set(base.split("_"))
    if tokens & set(_LOWER) or any(base.endswith(x) for x in _LOWER):
        return "lower"
    if tokens & set(_HIGHER):
        return "higher"
    return "lower"


@dataclass(frozen=True)
class CurvePair:
    """The training and validation series of one metric."""

    metric: str
    train: Series
    validation: Series


def find_pair(
    log: TrainingLog,
    *,
    metric: str | None = None,
    train: str | None = None,
    validation: str | None = None,
) -> CurvePair:
    """Match the training and validation series of ``metric`` (default: a loss) by name.

    Names are split on ``/ _ - .``; ``train``/``training`` mark training series,
    ``val``/``valid``/``validation``/``eval``/``dev``/``test`` validation series, and what remains is
    the metric (``eval/loss`` and ``train/loss`` → ``loss``; Hugging Face's bare ``loss`` is the
    training side of ``eval_loss``). ``train`` and ``validation`` name the series explicitly.

    Raises:
        ConfigError: no validation series, or the named ones are absent; the message lists the
            series found with their steps and says how to map them.
    """
    how = (
        "name them in the suite (checks.generalization.train / .validation) or on the command "
        "line (--train NAME --validation NAME)"
    )
    for given, role in ((train, "train"), (validation, "validation")):
        if given is not None and given not in log.series:
            raise ConfigError(
                f"{log.source}: no series {given!r} for {role}; found: {log.describe()}"
            )
    groups: dict[str, dict[str, Series]] = {}
    for name, s in log.series.items():
        split, base = _split_and_base(name)
        groups.setdefault(base, {}).setdefault(split or "unsplit", s)
    if train is not None and validation is not None:
        return CurvePair(
            metric or _split_and_base(validation)[1], log.series[train], log.series[validation]
        )
    pairs: dict[str, CurvePair] = {}
    for base, g in groups.items():
        val = g.get("validation")
        tr = g.get("train") or g.get("unsplit")
        if val is not None and tr is not None:
            pairs[base] = CurvePair(base, tr, val)
    if validation is not None:
        base = _split_and_base(validation)[1]
        tr = groups.get(base, {}).get("train") or groups.get(base, {}).get("unsplit")
        if tr is None:
            raise ConfigError(
                f"{log.source}: no training series matches {validation!r}; found: "
                f"{log.describe()}; {how}"
            )
        return CurvePair(base, tr, log.series[validation])
    if train is not None:
        base = _split_and_base(train)[1]
        val = groups.get(base, {}).get("validation")
        if val is None:
            raise ConfigError(
                f"{log.source}: no validation series matches {train!r}; found: "
                f"{log.describe()}; {how}"
            )
        return CurvePair(base, log.series[train], val)
    if not pairs:
        raise ConfigError(
            f"{log.source}: no pair of training and validation series; found: {log.describe()}. "
            f"Validation series are recognised by val/valid/validation/eval/dev in the name; {how}"
        )
    if metric is not None:
        key = _split_and_base(metric)[1]
        if key not in pairs:
            raise ConfigError(
                f"{log.source}: no training/validation pair for metric {metric!r}; pairs found: "
                f"{', '.join(sorted(pairs))}"
            )
        return pairs[key]
    for base in sorted(pairs):
        if "loss" in base.split("_"):
            return pairs[base]
    return pairs[sorted(pairs)[0]]


def smooth(values: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's debiased exponential moving average (``weight`` 0 leaves values as they are)."""
    if not 0.0 <= weight < 1.0:
        raise ConfigError(f"smoothing must be in [0, 1); got {weight!r}")
    out = np.empty(len(values))
    last = 0.0
    for i, v in enumerate(values):
        last = last * weight + (1.0 - weight) * float(v)
        out[i] = last / (1.0 - weight ** (i + 1)) if weight > 0 else last
    return out


@dataclass
class Diagnosis:
    """The overfitting diagnosis of one metric's curves (see the module docstring for the rules).

    Steps are ``None`` when there is no such point.
    """

    metric: str
    train_series: str
    validation_series: str
    direction: Literal["lower", "higher"]
    verdict: Verdict
    best_step: float
    last_step: float
    best_validation: float
    last_validation: float
    gap_at_best: float
    gap_at_last: float
    validation_rise: float
    divergence_step: float | None
    early_stop_step: float | None
    recommendation: str
    notes: list[str] = field(default_factory=list)
    curves: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in asdict(self).items()
        }


def _worse(a: float, b: float, direction: str) -> bool:
    """Whether ``a`` is worse than ``b``."""
    return a > b if direction == "lower" else a < b


def diagnose(
    log: TrainingLog,
    *,
    metric: str | None = None,
    train: str | None = None,
    validation: str | None = None,
    direction: Literal["auto", "lower", "higher"] = "auto",
    smoothing: float = 0.6,
    validation_smoothing: float = 0.0,
    patience: int = 3,
    mild: float = 0.02,
    severe: float = 0.10,
) -> Diagnosis:
    """Diagnose overfitting from a training log.

    Args:
        log: the run's series (:func:`assay.tracking.read_log`).
        metric: the metric to judge (default: a loss, else the first pair found).
        train, validation: explicit series names, overriding the matching by name.
        direction: whether lower or higher values are better (``auto``: from the name).
        smoothing: EMA weight for the training series (TensorBoard's slider).
        validation_smoothing: EMA weight for the validation series.
        patience: evaluations in a row that define the divergence point and early stopping.
        mild, severe: relative validation rise (last vs best) from which the verdict is mild or
            severe.

    Returns:
        The Diagnosis, with the aligned and smoothed curves in ``curves`` for plotting.

    Raises:
        ConfigError: no validation series, or the two series share fewer than two steps (the
            message lists the series and their steps, and how to map them).

    Example:
        >>> from assay.generalization import Series, TrainingLog
        >>> steps = list(range(1, 11))
        >>> tr = Series.build("train/loss", steps, [1 / s for s in steps])
        >>> va = Series.build("eval/loss", steps, [1.0, .8, .6, .5, .45, .5, .6, .7, .8, .9])
        >>> d = diagnose(TrainingLog("demo", "csv", {"train/loss": tr, "eval/loss": va}),
        ...              smoothing=0)
        >>> d.verdict, d.best_step, d.divergence_step
        ('severe', 5.0, 5.0)
    """
    if patience < 1:
        raise ConfigError(f"patience must be at least 1; got {patience}")
    if not 0 <= mild <= severe:
        raise ConfigError(f"thresholds must satisfy 0 <= mild <= severe; got {mild}, {severe}")
    pair = find_pair(log, metric=metric, train=train, validation=validation)
    tr, va = pair.train, pair.validation
    dirn: Literal["lower", "higher"] = (
        metric_direction(pair.validation.name) if direction == "auto" else direction
    )
    notes: list[str] = []
    if len(tr) == 0 or len(va) == 0:
        raise ConfigError(f"{log.source}: empty series: {tr.describe()}; {va.describe()}")
    tr_s = smooth(tr.values, smoothing)
    va_s_all = smooth(va.values, validation_smoothing)
    # A validation point up to one logging interval past the training steps still pairs with the
    # nearest training value (the Trainer logs the loss every n steps and evaluates at epoch ends).
    spacing = float(np.median(np.diff(tr.steps))) if len(tr) > 1 else 0.0
    inside = (va.steps >= tr.steps[0] - spacing) & (va.steps <= tr.steps[-1] + spacing)
    if inside.sum() < 2:
        raise ConfigError(
            f"{log.source}: training and validation series share fewer than two steps: "
            f"{tr.describe()}; {va.describe()}. Log both on one step axis (the global step), or "
            "name the series to pair with train: / validation:"
        )
    exact = np.isin(va.steps[inside], tr.steps).all()
    if not exact:
        notes.append(
            f"training values interpolated at the {int(inside.sum())} validation steps "
            f"({tr.describe()}; {va.describe()})"
        )
    if (~inside).any():
        notes.append(
            f"{int((~inside).sum())} validation points outside the training steps left out"
        )
    steps = va.steps[inside]
    v = va_s_all[inside]
    v_raw = va.values[inside]
    t = np.interp(steps, tr.steps, tr_s)
    sign = 1.0 if dirn == "lower" else -1.0
    best = int(np.argmin(sign * v))
    last = len(v) - 1
    gap = sign * (v - t)
    rise = (
        max(0.0, sign * (v[last] - v[best])) / abs(v[best])
        if v[best] != 0
        else (math.inf if sign * (v[last] - v[best]) > 0 else 0.0)
    )
    divergence = None
    for i in range(len(v) - patience):
        if all(_worse(v[i + j], v[i + j - 1], dirn) for j in range(1, patience + 1)) and _worse(
            t[i], t[i + patience], dirn
        ):
            divergence = float(steps[i])
            break
    early = None
    since = 0
    best_so_far = v[0]
    for i in range(1, len(v)):
        if _worse(best_so_far, v[i], dirn):
            best_so_far, since = v[i], 0
        else:
            since += 1
            if since >= patience:
                early = float(steps[i])
                break
    verdict: Verdict = (
        "severe"
        if rise >= severe
        else "mild"
        if (rise >= mild or divergence is not None)
        else "none"
    )
    name = pair.metric or pair.validation.name
    if verdict == "none":
        rec = (
            f"no sign of overfitting on {name}: validation is {rise:.1%} off its best at the last "
            f"step; training longer may still help"
            if best == last
            else f"no sign of overfitting on {name}: validation is {rise:.1%} off its best at the last step"
        )
    else:
        rec = f"keep the checkpoint of step {_fmt(steps[best])} (best validation {name})"
        if early is not None:
            rec += f"; early stopping with patience {patience} would have stopped at step {_fmt(early)}"
        if divergence is not None:
            rec += f"; validation {name} has been getting worse since step {_fmt(divergence)}"
    return Diagnosis(
        metric=name,
        train_series=tr.name,
        validation_series=va.name,
        direction=dirn,
        verdict=verdict,
        best_step=float(steps[best]),
        last_step=float(steps[last]),
        best_validation=float(v[best]),
        last_validation=float(v[last]),
        gap_at_best=float(gap[best]),
        gap_at_last=float(gap[last]),
        validation_rise=float(rise),
        divergence_step=divergence,
        early_stop_step=early,
        recommendation=rec,
        notes=notes,
        curves={
            "train": _thin(tr.to_dict(), tr_s),
            "validation": {
                "name": va.name,
                "steps": steps.tolist(),
                "values": v_raw.tolist(),
                "smoothed": v.tolist(),
            },
        },
    )


def _thin(d: dict[str, Any], smoothed: np.ndarray, cap: int = 500) -> dict[str, Any]:
    n = len(d["steps"])
    idx = (
        np.unique(np.linspace(0, n - 1, min(n, cap)).round().astype(int))
        if n
        else np.array([], int)
    )
    return {
        "name": d["name"],
        "steps": [d["steps"][i] for i in idx],
        "values": [d["values"][i] for i in idx],
        "smoothed": smoothed[idx].tolist(),
    }


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"
