"""Shadow comparison: a candidate's answers beside production's on the same live events.

``shadow_compare`` takes two tables in the monitor's event-frame shape (one row per event:
``id``, ``prediction``, optional ``prob_<label>`` columns and ``latency_ms``; production's also
``label`` where the ground truth is known) and returns how often the two agree (Wilson interval),
the paired metric differences on the labelled events (the :func:`compare_paired` machinery, as the
``compare`` check uses it) and the latency difference at the median and the 95th percentile. Both
``assay shadow`` (a file of events replayed through the candidate) and the monitor (a candidate's
predictions received live for the same event ids) call it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from assay._types import canonical_label
from assay.compare._compare import CompareOptions, Comparison, compare_paired
from assay.compare._paired import PairedPredictions
from assay.errors import DataError
from assay.stats._estimate import Estimate
from assay.stats._random import Seed, as_generator
from assay.stats._wilson import wilson_interval

__all__ = ["LATENCY_QUANTILES", "ShadowComparison", "shadow_compare"]

#: The latency quantiles compared (name → q).
LATENCY_QUANTILES: dict[str, float] = {"p50_ms": 0.5, "p95_ms": 0.95}
#: Paired bootstrap resamples of the latency quantiles and their differences.
N_BOOTSTRAP = 1000
#: Past this many events, fewer resamples (the intervals are narrow by then; time stays ~seconds).
LARGE_N = 100_000
N_BOOTSTRAP_LARGE = 200
#: Numbers resampled at once (resamples × events), to bound memory.
MAX_CELLS = 4_000_000


@dataclass(frozen=True)
class ShadowComparison:
    """A candidate's answers against production's on the same events.

    Attributes:
        n_production, n_candidate: events in each table.
        n_compared: events both answered (the agreement's denominator).
        n_candidate_failed: events in both tables where the candidate has no prediction (a failed
            call); ``candidate_failed`` is their share with a Wilson interval.
        agreement: the share of compared events where the predictions are equal (Wilson).
        n_labelled: compared events with a label; ``comparison`` is the paired comparison
            (candidate − production) on them, ``None`` with fewer than two.
        latency: ``<quantile>.production``, ``<quantile>.candidate`` and ``<quantile>.diff``
            (candidate − production, paired bootstrap) in milliseconds, for the quantiles in
            :data:`LATENCY_QUANTILES`, over the events where both latencies are known.
        pairs: the compared events: ``id``, ``production``, ``candidate``, ``label`` (``None``
            where unknown) and ``agree``.
        notes: what was left out and why.
    """

    n_production: int
    n_candidate: int
    n_compared: int
    n_candidate_failed: int
    candidate_failed: Estimate
    agreement: Estimate
    n_labelled: int
    comparison: Comparison | None
    latency: dict[str, Estimate]
    pairs: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    @property
    def disagreements(self) -> pd.DataFrame:
        """The compared events where the two predictions differ."""
        return self.pairs[~self.pairs["agree"]].reset_index(drop=True)

    def metrics(self) -> dict[str, Estimate]:
        """Every number as a named Estimate: ``agreement``, ``candidate_failed``,
        ``<metric>.diff`` (the paired differences) and ``latency.<quantile>.<side>``."""
        out = {"agreement": self.agreement, "candidate_failed": self.candidate_failed}
        if self.comparison is not None:
            out.update({f"{m.metric}.diff": m.difference for m in self.comparison.metrics})
        out.update({f"latency.{k}": v for k, v in self.latency.items()})
        return out


def _label_or_none(v: Any) -> str | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return canonical_label(v)


def _need(frame: pd.DataFrame, name: str, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"shadow_compare: the {name} table has no column {', '.join(map(repr, missing))} "
            f"(its columns: {', '.join(map(str, frame.columns))}); give one row per event with "
            "`id` and `prediction` (and optional prob_<label>, latency_ms, label)"
        )
    dup = frame["id"].astype(str).duplicated()
    if dup.any():
        raise DataError(
            f"shadow_compare: the {name} table has event id {frame['id'][dup].iloc[0]!r} more "
            "than once; give one row per event"
        )


def _proba(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    return {
        str(c)[5:]: pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float)
        for c in frame.columns
        if str(c).startswith("prob_")
    }


def _paired(
    rows: pd.DataFrame,
    prod: dict[str, np.ndarray],
    cand: dict[str, np.ndarray],
    positive_label: str | None,
) -> PairedPredictions:
    y = rows["label"].to_numpy(dtype=object)
    pc = rows["candidate"].to_numpy(dtype=object)
    pb = rows["production"].to_numpy(dtype=object)
    labels = sorted({*y, *pc, *pb})
    score_c = score_b = None
    positive: str | None = None
    # the compare check's rule: scores on a binary problem where both models give them
    if len(labels) == 2 and set(labels) <= set(prod) and set(labels) <= set(cand):
        chosen = (
            positive_label
            if positive_label is not None and positive_label in labels
            else str(labels[1])
        )
        sc, sb = cand[chosen], prod[chosen]
        positive = chosen
        if np.isfinite(sc).all() and np.isfinite(sb).all():
            score_c, score_b = sc, sb
        else:
            positive = None
    return PairedPredictions(
        "classification",
        [str(i) for i in rows["id"]],
        y,
        pc,
        pb,
        labels,
        score_c,
        score_b,
        positive,
    )


def _quantile_estimates(
    prod: np.ndarray, cand: np.ndarray, *, level: float, rng: np.random.Generator
) -> dict[str, Estimate]:
    """Each latency quantile of both sides and their paired difference, with percentile
    bootstrap intervals over events (one resample of rows serves every quantile). Resamples are
    drawn a few at a time, so memory stays near ``MAX_CELLS`` numbers whatever the event count;
    past ``LARGE_N`` events fewer resamples are drawn (``N_BOOTSTRAP_LARGE``)."""
    n = len(prod)
    if n == 0:
        return {}
    n_boot = N_BOOTSTRAP if n <= LARGE_N else N_BOOTSTRAP_LARGE
    qs = list(LATENCY_QUANTILES.values())
    boot_p = np.empty((len(qs), n_boot))
    boot_c = np.empty((len(qs), n_boot))
    step = max(1, MAX_CELLS // n)
    for start in range(0, n_boot, step):
        k = min(step, n_boot - start)
        idx = rng.integers(0, n, size=(k, n))
        boot_p[:, start : start + k] = np.quantile(prod[idx], qs, axis=1)
        boot_c[:, start : start + k] = np.quantile(cand[idx], qs, axis=1)
    lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
    method = f"percentile bootstrap over events ({n_boot} paired resamples)"
    out: dict[str, Estimate] = {}
    for j, (name, q) in enumerate(LATENCY_QUANTILES.items()):
        vp, vc = float(np.quantile(prod, q)), float(np.quantile(cand, q))
        for side, v, boot in (
            ("production", vp, boot_p[j]),
            ("candidate", vc, boot_c[j]),
            ("diff", vc - vp, boot_c[j] - boot_p[j]),
        ):
            out[f"{name}.{side}"] = Estimate(
                v, float(np.quantile(boot, lo)), float(np.quantile(boot, hi)), level, method, n
            )
    return out


def shadow_compare(
    production: pd.DataFrame,
    candidate: pd.DataFrame,
    *,
    options: CompareOptions | None = None,
    positive_label: str | None = None,
    level: float = 0.95,
    seed: Seed = 0,
) -> ShadowComparison:
    """Compare a candidate's predictions with production's on the same events.

    Args:
        production: one row per event: ``id``, ``prediction``; optional ``prob_<label>``
            columns, ``latency_ms`` and ``label`` (the ground truth; NaN/None where unknown).
        candidate: one row per event: ``id``, ``prediction`` (NaN/None where its call failed);
            optional ``prob_<label>`` columns and ``latency_ms``.
        options: the paired comparison's options (metrics, margins), as for ``compare``.
        positive_label: the positive class of ROC AUC on a binary problem (default: the second
            label in sorted order, as the compare check does).
        level: confidence level of every interval.
        seed: randomness of the bootstraps (paired metrics, latency).

    Returns:
        The ShadowComparison.

    Raises:
        DataError: a table without ``id`` or ``prediction``, or with an event id twice.

    Example:
        >>> prod = pd.DataFrame({"id": ["a", "b"], "prediction": ["1", "0"], "label": ["1", None]})
        >>> cand = pd.DataFrame({"id": ["a", "b"], "prediction": ["1", "1"]})
        >>> shadow_compare(prod, cand).agreement.value
        0.5
    """
    _need(production, "production", ["id", "prediction"])
    _need(candidate, "candidate", ["id", "prediction"])
    rng = as_generator(seed)
    notes: list[str] = []
    p = production.assign(id=production["id"].astype(str)).set_index("id", drop=False)
    c = candidate.assign(id=candidate["id"].astype(str)).set_index("id", drop=False)
    common = [i for i in p.index if i in c.index]
    only_p, only_c = len(p) - len(common), len(c) - len(common)
    if only_p:
        notes.append(f"{only_p} production events have no candidate row: left out")
    if only_c:
        notes.append(f"{only_c} candidate rows name events production does not have: left out")
    p, c = p.loc[common], c.loc[common]
    cand_pred = [_label_or_none(v) for v in c["prediction"]]
    prod_pred = [_label_or_none(v) for v in p["prediction"]]
    answered = np.array(
        [a is not None and b is not None for a, b in zip(cand_pred, prod_pred)], dtype=bool
    )
    n_failed = sum(v is None for v in cand_pred)
    if n_failed:
        notes.append(f"{n_failed} events without a candidate prediction (failed calls): left out")
    labels = [_label_or_none(v) for v in p["label"]] if "label" in p.columns else [None] * len(p)
    pairs = pd.DataFrame(
        {
            "id": common,
            "production": prod_pred,
            "candidate": cand_pred,
            "label": labels,
        }
    )[answered].reset_index(drop=True)
    pairs["agree"] = pairs["production"] == pairs["candidate"]
    n = len(pairs)
    said_p, said_c = set(pairs["production"]), set(pairs["candidate"])
    if n and not said_p & said_c:
        notes.append(
            f"production answers {_few(said_p)} and the candidate {_few(said_c)}: no answer in "
            "common, so they never agree; map the candidate's answers to production's labels "
            "(a verbaliser, or the same label encoding)"
        )
    agreement = wilson_interval(int(pairs["agree"].sum()), n, level=level)
    failed = wilson_interval(n_failed, len(common), level=level)

    labelled = pairs["label"].notna().to_numpy()
    comparison = None
    if labelled.sum() >= 2:
        keep = answered.copy()
        keep[answered] = labelled
        paired = _paired(
            pairs[labelled], _slice(_proba(p), keep), _slice(_proba(c), keep), positive_label
        )
        comparison = compare_paired(
            paired,
            options,
            candidate="candidate",
            baseline="production",
            dataset="events",
            level=level,
            seed=rng,
            where="shadow",
        )
    elif n:
        notes.append(f"{int(labelled.sum())} compared events have a label: no paired metrics")

    latency: dict[str, Estimate] = {}
    if "latency_ms" in p.columns and "latency_ms" in c.columns:
        lp = pd.to_numeric(p["latency_ms"], errors="coerce").to_numpy(dtype=float)[answered]
        lc = pd.to_numeric(c["latency_ms"], errors="coerce").to_numpy(dtype=float)[answered]
        both = np.isfinite(lp) & np.isfinite(lc)
        if (~both).any():
            notes.append(f"{int((~both).sum())} compared events lack a latency: left out of it")
        latency = _quantile_estimates(lp[both], lc[both], level=level, rng=rng)
    return ShadowComparison(
        n_production=len(production),
        n_candidate=len(candidate),
        n_compared=n,
        n_candidate_failed=n_failed,
        candidate_failed=failed,
        agreement=agreement,
        n_labelled=int(labelled.sum()),
        comparison=comparison,
        latency=latency,
        pairs=pairs,
        notes=notes,
    )


def _few(values: set[str]) -> str:
    shown = sorted(values)[:5]
    return ", ".join(map(repr, shown)) + (", …" if len(values) > 5 else "")


def _slice(proba: dict[str, np.ndarray], keep: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[keep] for k, v in proba.items()}
