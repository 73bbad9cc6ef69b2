"""Tabular perturbations, on one row given as ``{column: value}``.

They read column statistics from ``env.columns`` (see :func:`column_stats`): a numeric column's
spread (standard deviation) and a categorical column's values. Severity is the share of the
row's columns touched (at least one), except for ``numeric_noise`` where it also scales the noise.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from assay.perturb._base import PerturbEnv, register_perturbation

__all__ = ["column_stats"]


def column_stats(frame: pd.DataFrame, columns: list[str]) -> dict[str, dict[str, Any]]:
    """What the tabular perturbations need to know about each input column."""
    out: dict[str, dict[str, Any]] = {}
    for c in columns:
        s = frame[c]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            v = s.dropna().to_numpy(dtype=float)
            spread = float(np.std(v)) if len(v) > 1 else 0.0
            out[c] = {
                "kind": "numeric",
                "spread": spread,
                "integer": bool(pd.api.types.is_integer_dtype(s)),
            }
        else:
            values = sorted(map(str, s.dropna().unique()))[:1000]
            out[c] = {"kind": "category", "values": values}
    return out


def _pick(
    row: Mapping[str, Any], rng: random.Random, severity: float, cols: list[str]
) -> list[str]:
    if not cols:
        return []
    k = max(1, min(len(cols), round(len(cols) * severity)))
    return sorted(rng.sample(cols, k))


def _numeric(env: PerturbEnv, row: Mapping[str, Any]) -> list[str]:
    return [
        c for c in row if env.columns.get(c, {}).get("kind") == "numeric" and row[c] is not None
    ]


@register_perturbation("numeric_noise", kind="tabular", default_severity=0.1)
def numeric_noise(
    row: dict[str, Any], rng: random.Random, severity: float, env: PerturbEnv
) -> dict[str, Any]:
    """Gaussian noise of ``severity`` × the column's standard deviation on every numeric column."""
    out = dict(row)
    for c in _numeric(env, row):
        spread = env.columns[c]["spread"]
        v = float(row[c]) + rng.gauss(0.0, severity * spread)
        out[c] = round(v) if env.columns[c].get("integer") else v
    return out


@register_perturbation("missing", kind="tabular", default_severity=0.1)
def missing(
    row: dict[str, Any], rng: random.Random, severity: float, env: PerturbEnv
) -> dict[str, Any]:
    """A ``severity`` share of the columns set to missing (``None``)."""
    out = dict(row)
    for c in _pick(row, rng, severity, [c for c in row if row[c] is not None]):
        out[c] = None
    return out


@register_perturbation("category_flip", kind="tabular", default_severity=0.1)
def category_flip(
    row: dict[str, Any], rng: random.Random, severity: float, env: PerturbEnv
) -> dict[str, Any]:
    """A ``severity`` share of the categorical columns changed to another observed value."""
    cats = [
        c
        for c in row
        if env.columns.get(c, {}).get("kind") == "category" and len(env.columns[c]["values"]) > 1
    ]
    out = dict(row)
    for c in _pick(row, rng, severity, cats):
        others = [v for v in env.columns[c]["values"] if v != str(row[c])]
        out[c] = others[rng.randrange(len(others))]
    return out


@register_perturbation("scale", kind="tabular", preserves_label=True, default_severity=0.1)
def scale(
    row: dict[str, Any],
    rng: random.Random,
    severity: float,
    env: PerturbEnv,
    factor: float = 1000.0,
) -> dict[str, Any]:
    """A unit change: a ``severity`` share of the numeric columns multiplied by ``factor``
    (default 1000, e.g. kilograms sent as grams)."""
    out = dict(row)
    for c in _pick(row, rng, severity, _numeric(env, row)):
        out[c] = float(row[c]) * factor
    return out
