"""``detect_drift``: compare a current table with a reference, column by column and per window.

Each column gets one test chosen by its kind and the reference's size (overridable): while the
reference has at most :data:`SMALL_SAMPLE` rows, Kolmogorov–Smirnov for numbers and chi-squared
for categories, whose p-values are corrected across columns (Benjamini–Hochberg by default); on
larger samples every p-value is significant, so the normalised Wasserstein distance (numbers) and
the Jensen–Shannon distance (categories) are compared with thresholds. Every column also gets the
other distances of its kind (KS, Wasserstein, PSI, Jensen–Shannon, Cramér's V) for gates, and an
effect size. The dataset drifts when at least ``drift_share`` of the tested feature columns drift.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from assay.drift._columns import Kind, Prepared, dtype_family, infer_kind, prepare
from assay.drift._result import ColumnDrift, ColumnQuality, Counted, DriftResult, WindowDrift
from assay.drift._sketch import CategoricalSketch, NumericSketch, reference_edges
from assay.drift._statistics import (
    anderson_darling,
    chi_squared,
    cramer_von_mises,
    jensen_shannon,
    ks_pvalue,
    merge_sorted,
    psi,
)
from assay.drift._text import TextDrift, text_drift
from assay.drift._windows import Windows, tumbling_windows
from assay.errors import ConfigError, DataError
from assay.stats import benjamini_hochberg
from assay.stats._estimate import Estimate
from assay.stats._random import Seed, as_generator

__all__ = [
    "DEFAULT_THRESHOLDS",
    "METHODS",
    "SMALL_SAMPLE",
    "Method",
    "detect_drift",
]

Method = Literal[
    "auto",
    "ks",
    "chi2",
    "wasserstein",
    "jensenshannon",
    "psi",
    "anderson",
    "cramervonmises",
    "energy",
    "mmd",
    "classifier",
]

#: The reference size up to which ``auto`` picks a test with a p-value (KS, chi-squared).
SMALL_SAMPLE = 1000

#: The statistic at or beyond which a distance method calls a column drifted, unless given.
DEFAULT_THRESHOLDS: dict[str, float] = {
    "wasserstein": 0.1,
    "jensenshannon": 0.1,
    "psi": 0.2,
    "energy": 0.1,
}

_P_METHODS = frozenset({"ks", "chi2", "anderson", "cramervonmises", "mmd", "classifier"})
METHODS: dict[str, frozenset[str]] = {
    "numeric": frozenset(
        {"ks", "wasserstein", "jensenshannon", "psi", "anderson", "cramervonmises", "energy"}
    ),
    "categorical": frozenset({"chi2", "jensenshannon", "psi"}),
    "text": frozenset({"mmd", "classifier"}),
}
_EFFECT = {
    "ks": "ks",
    "chi2": "cramers_v",
    "wasserstein": "wasserstein",
    "jensenshannon": "jensenshannon",
    "psi": "psi",
    "anderson": "wasserstein",
    "cramervonmises": "wasserstein",
    "energy": "energy",
    "mmd": "mmd",
    "classifier": "auc",
}
_T = TypeVar("_T")
_OTHER = "(other)"
_N_BINS = 10
_PLOT_BINS = 30
_CHUNKS_SD = 3.0
#: Reference chunks held out at most when learning a threshold (each costs one reference build).
_MAX_LEARN = 20


@dataclass
class _Reference:
    """What one column's reference side gives every comparison, computed once."""

    name: str
    role: str
    kind: Kind
    method: str
    threshold: float  # nan: decide by p-value
    rule: str
    prepared: Prepared
    sorted_finite: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    scale: float = 1.0
    edges: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    bin_counts: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    plot_edges: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    max_categories: int = 1000
    notes: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    #: every reference row holds a distinct finite number in this column: no duplicate rows
    all_distinct: bool = False


def _pick_method(kind: Kind, n_ref: int, asked: str | None, name: str) -> str:
    if asked is None or asked == "auto":
        if kind == "text":
            return "mmd"
        small = n_ref <= SMALL_SAMPLE
        if kind == "numeric":
            return "ks" if small else "wasserstein"
        return "chi2" if small else "jensenshannon"
    allowed = METHODS.get(kind, frozenset())
    if asked not in allowed:
        raise ConfigError(
            f"methods[{name!r}]: {asked!r} does not test a {kind} column; use one of "
            f"{', '.join(sorted(allowed))} or 'auto'"
        )
    return asked


def _pooled_counts(
    ref: pd.Series, cur: pd.Series, max_categories: int
) -> tuple[list[str], NDArray[np.int64], NDArray[np.int64], str]:
    """Both sides' counts on shared levels: every level while there are at most
    ``max_categories``; else the ``max_categories - 1`` most frequent of both sides together,
    the rest pooled as ``(other)`` on both sides alike (pooling by one side's levels only would
    turn the other side's rare values into a false alarm). Returns levels, counts and a note."""
    both = ref.add(cur, fill_value=0)
    if len(both) <= max_categories:
        levels = [str(v) for v in both.index]
        note = ""
    else:
        keep = both.sort_values(ascending=False, kind="stable").index[: max_categories - 1]
        levels = [*(str(v) for v in keep), _OTHER]
        note = (
            f"{len(both)} levels in reference and current together: the {max_categories - 1} "
            f"most frequent kept, the other {len(both) - len(keep)} pooled as {_OTHER!r}"
        )
    index = pd.Index(levels[: len(levels) - (1 if note else 0)], dtype=object)
    out = []
    for side in (ref, cur):
        kept = side.reindex(index, fill_value=0).to_numpy(dtype=np.int64)
        if note:
            kept = np.append(kept, int(side.sum()) - int(kept.sum()))
        out.append(kept.astype(np.int64))
    return levels, out[0], out[1], note


def _build_reference(
    name: str,
    role: str,
    kind: Kind,
    series: pd.Series,
    *,
    method: str | None,
    threshold: float | None,
    alpha: float,
    correction: str,
    max_categories: int,
) -> _Reference:
    prepared = prepare(series, kind)
    chosen = _pick_method(kind, prepared.n_values, method, name)
    if threshold is not None:
        rule = f"drifts when {chosen} >= {threshold:g} (given)"
        thr = float(threshold)
    elif chosen in _P_METHODS:
        rule = f"drifts when the {correction}-adjusted p-value <= {alpha:g}"
        thr = math.nan
    else:
        thr = DEFAULT_THRESHOLDS[chosen]
        rule = f"drifts when {chosen} >= {thr:g} (default threshold)"
    ref = _Reference(name, role, kind, chosen, thr, rule, prepared)
    if kind == "numeric":
        finite = prepared.numbers[np.isfinite(prepared.numbers)]  # a copy: sort it in place
        finite.sort()
        ref.sorted_finite = finite
        ref.all_distinct = finite.size == prepared.n_rows and _distinct_sorted(finite)
        sd = float(np.std(ref.sorted_finite)) if finite.size else 0.0
        ref.scale = sd if sd > 0 else 1.0
        if finite.size and sd == 0:
            ref.notes.append(
                "the reference is constant: Wasserstein and energy distances are not divided by "
                "its standard deviation (0)"
            )
        ref.edges = reference_edges(ref.sorted_finite, _N_BINS)
        ref.bin_counts = _sorted_bin_counts(ref.sorted_finite, ref.edges)
    elif kind == "categorical":
        ref.max_categories = max_categories
    elif kind == "text":
        ref.texts = prepared.texts
    return ref


@dataclass
class _Comparison:
    statistic: float = math.nan
    p_value: float = math.nan
    effect: float = math.nan
    distances: dict[str, float] = field(default_factory=dict)
    n_cur: int = 0
    reason: str = ""
    plot: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: current finite values outside the reference's range (numeric columns; for data quality)
    n_out_of_range: int = 0
    #: every current row holds a distinct finite number in this column: no duplicate rows
    all_distinct: bool = False


def _distinct_sorted(values: NDArray[np.float64]) -> bool:
    """No two of the ascending ``values`` are equal (``-0.0 == 0.0`` counts as equal)."""
    return not bool(np.any(values[1:] == values[:-1]))


def _sorted_bin_counts(
    values: NDArray[np.float64], edges: NDArray[np.float64]
) -> NDArray[np.int64]:
    """Counts in the bins of ``edges`` (bin ``i``: ``edges[i-1] <= x < edges[i]``, open outer
    bins) of ascending ``values``: a binary search per edge, not per value."""
    cuts = np.searchsorted(values, edges, side="left")
    return np.diff(np.r_[0, cuts, values.size]).astype(np.int64)


def _compare_numeric(ref: _Reference, cur: Prepared, *, plot: bool) -> _Comparison:
    if ref.sorted_finite.size == 0:
        return _Comparison(reason="no finite values in the reference")
    cur_sorted = cur.numbers[np.isfinite(cur.numbers)]  # a copy: sort it in place
    if cur_sorted.size == 0:
        return _Comparison(reason=f"no finite values in the current data ({cur.n_rows} rows)")
    cur_sorted.sort()
    merged = merge_sorted(ref.sorted_finite, cur_sorted)
    cur_bins = _sorted_bin_counts(cur_sorted, ref.edges)
    d = {
        "ks": merged.ks,
        "wasserstein": merged.wasserstein / ref.scale,
        "energy": merged.energy / ref.scale,
        "psi": psi(ref.bin_counts, cur_bins),
        "jensenshannon": jensen_shannon(ref.bin_counts, cur_bins),
    }
    below = np.searchsorted(cur_sorted, ref.sorted_finite[0], side="left")
    above = cur_sorted.size - np.searchsorted(cur_sorted, ref.sorted_finite[-1], side="right")
    outside = int(below) + int(above)
    out = _Comparison(
        distances=d,
        n_cur=int(cur_sorted.size),
        n_out_of_range=outside,
        all_distinct=cur_sorted.size == cur.n_rows and _distinct_sorted(cur_sorted),
    )
    m = ref.method
    if m == "ks":
        out.statistic, out.p_value = d["ks"], ks_pvalue(d["ks"], ref.sorted_finite, cur_sorted)
    elif m == "anderson":
        out.statistic, out.p_value = anderson_darling(ref.sorted_finite, cur_sorted)
    elif m == "cramervonmises":
        out.statistic, out.p_value = cramer_von_mises(ref.sorted_finite, cur_sorted)
    else:
        out.statistic = d[m]
    out.effect = d[_EFFECT[m]]
    if plot:
        lo = float(min(ref.sorted_finite[0], cur_sorted[0]))
        hi = float(max(ref.sorted_finite[-1], cur_sorted[-1]))
        span = (lo, hi) if hi > lo else (lo - 0.5, lo + 0.5)
        edges = np.linspace(span[0], span[1], _PLOT_BINS + 1)
        # numpy.histogram's bins: [e_i, e_i+1), the last one closed
        r = np.diff(np.r_[np.searchsorted(ref.sorted_finite, edges[:-1]), ref.sorted_finite.size])
        c = np.diff(np.r_[np.searchsorted(cur_sorted, edges[:-1]), cur_sorted.size])
        r, c = r / ref.sorted_finite.size, c / cur_sorted.size
        out.plot = {
            "kind": "numeric",
            "bins": [float(x) for x in edges],
            "reference": [float(x) for x in r],
            "current": [float(x) for x in c],
        }
    return out


def _compare_categorical(ref: _Reference, cur: Prepared, *, plot: bool) -> _Comparison:
    if ref.prepared.n_values == 0:
        return _Comparison(reason="no values in the reference")
    if cur.n_values == 0:
        return _Comparison(reason=f"no values in the current data ({cur.n_rows} rows)")
    labels, refc, counts, note = _pooled_counts(ref.prepared.counts, cur.counts, ref.max_categories)
    chi = chi_squared(refc, counts)
    d = {
        "psi": psi(refc, counts),
        "jensenshannon": jensen_shannon(refc, counts),
        "cramers_v": chi.cramers_v,
    }
    out = _Comparison(distances=d, n_cur=cur.n_values, notes=[note] if note else [])
    if ref.method == "chi2":
        out.statistic, out.p_value = chi.statistic, chi.p_value
    else:
        out.statistic = d[ref.method]
    out.effect = d[_EFFECT[ref.method]]
    if plot:
        r, c = refc / refc.sum(), counts / counts.sum()
        top = np.argsort(-(r + c), kind="stable")[:20]
        out.plot = {
            "kind": "categorical",
            "bins": [labels[i] for i in top],
            "reference": [float(r[i]) for i in top],
            "current": [float(c[i]) for i in top],
        }
    return out


def _compare(
    ref: _Reference, cur: Prepared, *, plot: bool, rng: np.random.Generator
) -> _Comparison:
    if ref.kind == "numeric":
        return _compare_numeric(ref, cur, plot=plot)
    if ref.kind == "categorical":
        return _compare_categorical(ref, cur, plot=plot)
    if ref.kind == "text":
        if not ref.texts:
            return _Comparison(reason="no text in the reference")
        if not cur.texts:
            return _Comparison(reason=f"no text in the current data ({cur.n_rows} rows)")
        td: TextDrift = text_drift(ref.texts, cur.texts, method=ref.method, seed=rng)
        if td.reason:
            return _Comparison(reason=td.reason)
        return _Comparison(
            statistic=td.statistic,
            p_value=td.p_value,
            effect=td.effect,
            distances={"auc": td.auc, "mmd": td.mmd},
            n_cur=len(cur.texts),
            details=td.details,
        )
    return _Comparison(reason="a datetime column: time drifts by nature; cut windows by it")


def _sketch(ref: _Reference, cur: Prepared) -> NumericSketch | CategoricalSketch | None:
    if ref.kind == "numeric":
        return NumericSketch.of(cur.numbers, ref.edges)
    if ref.kind == "categorical":
        return CategoricalSketch.of({str(k): int(v) for k, v in cur.counts.items()}, cur.n_missing)
    return None


def _learn_threshold(
    ref: _Reference, series: pd.Series, n_chunks: int, rng: np.random.Generator
) -> tuple[float, str]:
    """Mean + 3 SD of the statistic of reference chunks, each against the rest of the reference
    (a chunk compared with a reference that contains it would look closer than new data does).

    The reference is cut into ``n_chunks`` consecutive chunks; at most :data:`_MAX_LEARN`
    of them, evenly spread, are held out in turn.
    """
    bounds = np.linspace(0, len(series), n_chunks + 1).astype(int)
    pairs = [(a, b) for a, b in itertools.pairwise(bounds) if b > a]
    held = [pairs[i] for i in _spread(len(pairs), _MAX_LEARN)]
    stats = []
    for a, b in held:
        rest = pd.concat([series.iloc[:a], series.iloc[b:]])
        others = _build_reference(
            ref.name,
            ref.role,
            ref.kind,
            rest,
            method=ref.method,
            threshold=math.inf,
            alpha=0.05,
            correction="none",
            max_categories=ref.max_categories,
        )
        c = _compare(others, prepare(series.iloc[a:b], ref.kind), plot=False, rng=rng)
        if not c.reason and math.isfinite(c.statistic):
            stats.append(c.statistic)
    if len(stats) < 2:
        return math.nan, "too few reference chunks to learn a threshold"
    arr = np.asarray(stats)
    thr = float(arr.mean() + _CHUNKS_SD * arr.std(ddof=1))
    return thr, (
        f"drifts when {ref.method} >= {thr:.4g}, learned from the reference: mean + "
        f"{_CHUNKS_SD:g} SD of the statistic of {len(stats)} of {len(pairs)} reference chunks "
        f"(about {len(series) // n_chunks} rows each), each against the rest of the reference"
    )


def _spread(n: int, k: int) -> list[int]:
    """``min(n, k)`` indices evenly spread over ``range(n)``."""
    if n <= k:
        return list(range(n))
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


def _decide(
    refs: list[_Reference], comps: list[_Comparison], alpha: float, correction: str
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Adjusted p-values and verdicts of one set of comparisons (whole data or one window)."""
    p = np.array(
        [
            c.p_value if (not c.reason and math.isnan(r.threshold)) else np.nan
            for r, c in zip(refs, comps)
        ]
    )
    if correction == "bh":
        adjusted, _ = benjamini_hochberg(p, alpha=alpha)
    elif correction == "bonferroni":
        m = int(np.sum(~np.isnan(p)))
        adjusted = np.minimum(1.0, p * m)
    else:
        adjusted = p.copy()
    drifted = np.zeros(len(refs), dtype=bool)
    for i, (r, c) in enumerate(zip(refs, comps)):
        if c.reason:
            continue
        if math.isnan(r.threshold):
            drifted[i] = bool(adjusted[i] <= alpha)
        else:
            drifted[i] = bool(c.statistic >= r.threshold)
    return adjusted, drifted


def _share(
    refs: list[_Reference], comps: list[_Comparison], drifted: NDArray[np.bool_]
) -> tuple[int, int]:
    tested = [
        i for i, (r, c) in enumerate(zip(refs, comps)) if r.role == "feature" and not c.reason
    ]
    return int(sum(bool(drifted[i]) for i in tested)), len(tested)


def _as_list(v: str | Sequence[str] | None) -> list[str]:
    if v is None:
        return []
    return [v] if isinstance(v, str) else list(v)


def _quality(
    name: str,
    ref_s: pd.Series | None,
    cur_s: pd.Series | None,
    ref: _Reference | None,
    cur: Prepared | None,
    comp: _Comparison | None = None,
) -> ColumnQuality:
    n_ref = ref.prepared.n_rows if ref else (len(ref_s) if ref_s is not None else 0)
    n_cur = cur.n_rows if cur else (len(cur_s) if cur_s is not None else 0)

    def counted(a: int, b: int) -> Counted:
        return Counted(a, n_ref, b, n_cur)

    def n_missing(s: pd.Series | None, prepared: Prepared | None) -> int:
        if prepared is not None:
            return prepared.n_missing
        return int(s.isna().sum()) if s is not None else 0

    missing = counted(n_missing(ref_s, ref.prepared if ref else None), n_missing(cur_s, cur))
    zero = counted(0, 0)
    non_finite, unreadable, out_of_range, new_cat = zero, zero, zero, zero
    new_values: tuple[int, tuple[str, ...]] = (0, ())
    if ref is not None and cur is not None:
        rp = ref.prepared
        unreadable = counted(rp.n_unreadable, cur.n_unreadable)
        if ref.kind == "numeric":
            non_finite = counted(int(np.isinf(rp.numbers).sum()), int(np.isinf(cur.numbers).sum()))
            if comp is not None:  # counted on the sorted current values
                out_of_range = counted(0, comp.n_out_of_range)
        elif ref.kind == "categorical":
            unseen = cur.counts[~cur.counts.index.isin(rp.counts.index)]
            new_cat = counted(0, int(unseen.sum()))
            top = unseen.sort_values(ascending=False, kind="stable").index[:5]
            new_values = (len(unseen), tuple(str(v) for v in top))
    return ColumnQuality(
        column=name,
        reference_type=dtype_family(ref_s) if ref_s is not None else "absent",
        current_type=dtype_family(cur_s) if cur_s is not None else "absent",
        missing=missing,
        non_finite=non_finite,
        unreadable=unreadable,
        out_of_range=out_of_range,
        new_categories=new_cat,
        new_category_values=new_values,
    )


def _chunks(asked: int | None, n_reference: int, plan: Windows | None) -> int:
    """Reference chunks for learned thresholds: as asked, else the reference cut into pieces
    the size of the median non-empty window (2 to 100 of them), else 10."""
    if asked is not None:
        if asked < 2:
            raise ConfigError(f"reference_chunks must be at least 2, got {asked!r}")
        return int(asked)
    sizes = [w.n for w in plan or () if w.n]
    if not sizes:
        return 10
    return int(np.clip(n_reference // max(1, int(np.median(sizes))), 2, 100))


def _duplicate_rows(frame: pd.DataFrame, columns: list[str], *, known_distinct: bool) -> int:
    """Rows equal to an earlier row on ``columns``: none when one of them is known to hold a
    distinct value in every row (a numeric column without missing, infinite or repeated values,
    seen on its sorted values), else counted by a 64-bit hash of each row (a collision among a
    million rows has odds below 1e-7)."""
    if not columns or known_distinct:
        return 0
    hashes = pd.util.hash_pandas_object(frame[columns], index=False)
    return int(hashes.duplicated().sum())


def _map(fn: Callable[[int], _T], kinds: Sequence[Kind], n_jobs: int | None) -> list[_T]:
    """``fn`` over the column indices ``range(len(kinds))`` in threads (numpy and pandas release
    the GIL in sorts, merges and hashing), numeric columns first (the longest); text columns one
    after another at the end (torch has threads of its own). Results in the order of the
    indices; they do not depend on the threads."""
    workers = n_jobs if n_jobs is not None else min(4, os.cpu_count() or 1)
    items = range(len(kinds))
    parallel = sorted((i for i in items if kinds[i] != "text"), key=lambda i: kinds[i] != "numeric")
    out: dict[int, _T] = {}
    if workers > 1 and len(parallel) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            out.update(zip(parallel, pool.map(fn, parallel)))
    else:
        out.update((i, fn(i)) for i in parallel)
    out.update((i, fn(i)) for i in items if kinds[i] == "text")
    return [out[i] for i in items]


def _check_frames(reference: Any, current: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both tables with their column names as text (``0`` and ``"0"`` are one column)."""
    for what, frame in (("reference", reference), ("current", current)):
        if not isinstance(frame, pd.DataFrame):
            raise DataError(
                f"detect_drift: {what} must be a pandas DataFrame, got {type(frame).__name__}; "
                "read files with assay.load_dataset or pandas"
            )
    if len(reference) == 0:
        raise DataError("detect_drift: the reference has no rows; nothing to compare against")
    if len(current) == 0:
        raise DataError("detect_drift: the current data has no rows; nothing to test")
    out = []
    for what, frame in (("reference", reference), ("current", current)):
        named = frame.rename(columns=str)
        dup = named.columns[named.columns.duplicated()]
        if len(dup):
            raise DataError(
                f"detect_drift: the {what} has the column {str(dup[0])!r} more than once; "
                "rename the copies"
            )
        out.append(named)
    return out[0], out[1]


def detect_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    prediction: str | Sequence[str] | None = None,
    probabilities: Sequence[str] | None = None,
    label: str | None = None,
    text: Sequence[str] | None = None,
    column_types: Mapping[str, Kind] | None = None,
    methods: Method | Mapping[str, Method] = "auto",
    thresholds: Mapping[str, float] | Literal["reference"] | None = None,
    alpha: float = 0.05,
    correction: Literal["bh", "bonferroni", "none"] = "bh",
    drift_share: float = 0.5,
    max_categories: int = 1000,
    max_numeric_levels: int = 5,
    reference_chunks: int | None = None,
    window_size: int | None = None,
    time_column: str | None = None,
    every: str | None = None,
    seed: Seed = 0,
    n_jobs: int | None = None,
) -> DriftResult:
    """Compare ``current`` with ``reference`` column by column (and per window).

    Args:
        reference: the data the model was evaluated on.
        current: today's data.
        columns: the columns to compare (default: every column of either table, less
            ``time_column``). A column on one side only is reported as untested, never dropped.
        prediction: the model's predicted label or value column(s): prediction drift.
        probabilities: the predicted-probability columns (numeric).
        label: the true label column, when labels exist: label drift.
        text: columns to test as text (MiniLM embeddings); others are detected by their values.
        column_types: kind per column (``numeric``, ``categorical``, ``text``), overriding
            detection.
        methods: one method for every column, or one per column (``auto`` elsewhere): ``ks``,
            ``chi2``, ``wasserstein``, ``jensenshannon``, ``psi``, ``anderson``,
            ``cramervonmises``, ``energy`` (numbers), ``mmd``, ``classifier`` (text).
        thresholds: a statistic threshold per column, or ``"reference"`` to learn every
            column's threshold from the reference (mean + 3 SD over ``reference_chunks``
            consecutive chunks); default: p-values for tests, :data:`DEFAULT_THRESHOLDS` for
            distances.
        alpha: the level of p-value tests (after the correction).
        correction: across the tested columns: Benjamini–Hochberg, Bonferroni or none.
        drift_share: the dataset drifts when at least this share of tested feature columns
            drift.
        max_categories: more levels than this (both sides together) are pooled, the most
            frequent kept; categories the reference never has are counted in data quality.
        max_numeric_levels: numbers with at most this many distinct reference values are
            categories.
        reference_chunks: chunks for learned thresholds (default: chunks the size of a typical
            window when there are windows, so the threshold matches the noise of a window's
            statistic; else 10).
        window_size, time_column, every: tumbling windows over ``current`` (see
            :func:`assay.drift.tumbling_windows`); each window is tested on its own.
        seed: seed of the permutation tests (text drift) and subsamples.
        n_jobs: threads for the columns (default: up to 4, one per CPU); results do not depend
            on it.

    Returns:
        A :class:`DriftResult`.

    Raises:
        DataError: a table is empty or not a DataFrame, or names a column twice.
        ConfigError: an unknown column, method or option.

    Example:
        >>> import numpy as np, pandas as pd
        >>> rng = np.random.default_rng(0)
        >>> ref = pd.DataFrame({"x": rng.normal(size=500), "c": rng.choice(["a", "b"], 500)})
        >>> cur = pd.DataFrame({"x": rng.normal(1.0, size=500), "c": rng.choice(["a", "b"], 500)})
        >>> r = detect_drift(ref, cur)
        >>> r.drifted_columns, r.column("x").method
        (['x'], 'ks')
    """
    reference, current = _check_frames(reference, current)
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"alpha must lie strictly between 0 and 1, got {alpha!r}")
    if correction not in ("bh", "bonferroni", "none"):
        raise ConfigError(f"correction must be 'bh', 'bonferroni' or 'none', got {correction!r}")
    if not 0.0 < drift_share <= 1.0:
        raise ConfigError(f"drift_share must lie in (0, 1], got {drift_share!r}")
    if max_categories < 2:
        raise ConfigError(f"max_categories must be at least 2, got {max_categories!r}")
    rng = as_generator(seed)
    names = list(dict.fromkeys([*reference.columns, *current.columns]))
    if columns is not None:
        unknown = [c for c in columns if c not in names]
        if unknown:
            raise ConfigError(
                f"columns: {unknown[0]!r} is in neither table; columns: {', '.join(names)}"
            )
        names = list(dict.fromkeys(columns))
    roles: dict[str, str] = {}
    for role, cols in (
        ("prediction", _as_list(prediction)),
        ("probability", _as_list(probabilities)),
        ("label", _as_list(label)),
    ):
        for c in cols:
            if c not in reference.columns and c not in current.columns:
                raise ConfigError(f"{role}: {c!r} is in neither table")
            roles[c] = role
            if c not in names:
                names.append(c)
    notes: list[str] = []
    if time_column is not None and time_column in names:
        names.remove(time_column)
        notes.append(f"{time_column!r} cuts the windows and is not tested itself")
    kinds_given = dict(column_types or {})
    for c in _as_list(list(text) if text else None):
        kinds_given[c] = "text"
    for c, k in kinds_given.items():
        if k not in ("numeric", "categorical", "text"):
            raise ConfigError(
                f"column_types[{c!r}]: {k!r} is not a kind; use numeric, categorical or text"
            )
    per_method: Mapping[str, str]
    if isinstance(methods, str):
        per_method = {n: methods for n in names}
    else:
        per_method = dict(methods)
        unknown = [c for c in per_method if c not in names]
        if unknown:
            raise ConfigError(f"methods: {unknown[0]!r} is not a compared column")
    if isinstance(thresholds, Mapping):
        unknown = [c for c in thresholds if c not in names]
        if unknown:
            raise ConfigError(f"thresholds: {unknown[0]!r} is not a compared column")
    elif thresholds is not None and thresholds != "reference":
        raise ConfigError(
            f"thresholds must be a mapping column -> value or 'reference', got {thresholds!r}"
        )

    plan: Windows | None = None
    if every is not None and time_column is None:
        raise ConfigError(
            f"every={every!r} needs time_column= (the column holding each row's time), "
            "or use window_size= for windows of rows"
        )
    if window_size is not None or time_column is not None:
        plan = tumbling_windows(current, size=window_size, time_column=time_column, every=every)
    n_chunks = _chunks(reference_chunks, len(reference), plan)
    pending: list[tuple[str, str, Kind, pd.Series, pd.Series]] = []
    results: dict[str, ColumnDrift] = {}
    quality: list[ColumnQuality] = []
    ref_only = tuple(c for c in names if c not in current.columns)
    cur_only = tuple(c for c in names if c not in reference.columns)
    for name in names:
        role = roles.get(name, "feature")
        ref_s = reference[name] if name in reference.columns else None
        cur_s = current[name] if name in current.columns else None
        if ref_s is None or cur_s is None:
            side = "reference" if ref_s is not None else "current data"
            other = "current data" if ref_s is not None else "reference"
            results[name] = ColumnDrift(
                column=name,
                role=role,
                kind="absent",
                tested=False,
                reason=f"only in the {side}; the {other} has no column {name!r}",
            )
            quality.append(_quality(name, ref_s, cur_s, None, None))
            continue
        kind = kinds_given.get(name) or infer_kind(ref_s, max_numeric_levels=max_numeric_levels)
        pending.append((name, role, kind, ref_s, cur_s))
    column_rngs = rng.spawn(len(pending))

    def one_column(i: int) -> tuple[_Reference, _Comparison, ColumnQuality]:
        name, role, kind, ref_s, cur_s = pending[i]
        given = thresholds.get(name) if isinstance(thresholds, Mapping) else None
        ref = _build_reference(
            name,
            role,
            kind,
            ref_s,
            method=per_method.get(name),
            threshold=given,
            alpha=alpha,
            correction=correction,
            max_categories=max_categories,
        )
        if thresholds == "reference" and kind != "datetime":
            thr, rule = _learn_threshold(ref, ref_s, n_chunks, column_rngs[i])
            if math.isnan(thr):
                ref.notes.append(rule + "; the default rule applies")
            else:
                ref.threshold, ref.rule = thr, rule
        cur = prepare(cur_s, kind)
        comp = _compare(ref, cur, plot=True, rng=column_rngs[i])
        return ref, comp, _quality(name, ref_s, cur_s, ref, cur, comp)

    done = _map(one_column, [p[2] for p in pending], n_jobs)
    refs = [d[0] for d in done]
    comps = [d[1] for d in done]
    quality.extend(d[2] for d in done)
    shared = [n for n in names if n in reference.columns and n in current.columns]
    distinct = (any(r.all_distinct for r in refs), any(c.all_distinct for c in comps))
    dup_ref, dup_cur = _map(
        lambda i: _duplicate_rows((reference, current)[i], shared, known_distinct=distinct[i]),
        ["numeric", "numeric"],
        n_jobs,
    )
    adjusted, drifted = _decide(refs, comps, alpha, correction)
    for i, (ref, comp) in enumerate(zip(refs, comps)):
        results[ref.name] = ColumnDrift(
            column=ref.name,
            role=ref.role,
            kind=ref.kind,
            tested=not comp.reason,
            method=ref.method,
            statistic=comp.statistic,
            p_value=comp.p_value,
            p_adjusted=float(adjusted[i]),
            threshold=ref.threshold,
            rule=ref.rule,
            drifted=bool(drifted[i]),
            effect_size=comp.effect,
            effect_size_name=_EFFECT.get(ref.method, "auc"),
            distances=comp.distances,
            n_reference=ref.prepared.n_values,
            n_current=comp.n_cur,
            reason=comp.reason,
            notes=tuple(ref.notes + comp.notes),
            plot=comp.plot,
            details=comp.details,
        )

    n_drifted, n_tested = _share(refs, comps, drifted)
    share = n_drifted / n_tested if n_tested else math.nan
    n_p = int(np.sum(~np.isnan(adjusted)))
    rule = (
        f"the dataset drifts when at least {drift_share:.0%} of its tested feature columns "
        "drift; each column by its own rule"
        + (
            f" (tests with a p-value: {correction}-adjusted p <= {alpha:g}, across {n_p} columns)"
            if n_p
            else ""
        )
    )
    if n_tested == 0:
        notes.append("no feature column could be tested; the dataset verdict is 'no drift'")
    window_results: tuple[WindowDrift, ...] = ()
    window_rule = ""
    if plan is not None:
        window_rule = plan.rule
        window_results = _per_window(refs, current, plan, alpha, correction, drift_share, rng)
        if plan.n_without_time:
            notes.append(
                f"{plan.n_without_time} current rows have no readable time in {time_column!r} "
                "and are in no window (they are in the whole-data comparison)"
            )
        if plan.n_empty:
            notes.append(
                f"{plan.n_empty} of {len(plan)} windows have no rows; nothing tested there"
            )
    ordered = tuple(results[n] for n in names)
    duplicates = Counted(dup_ref, len(reference), dup_cur, len(current))
    return DriftResult(
        columns=ordered,
        quality=tuple(quality),
        share_drifted=Estimate(share, share, share, 0.95, "exact count of columns", n_tested),
        drifted=bool(n_tested and share >= drift_share),
        rule=rule,
        alpha=alpha,
        correction=correction,
        reference_only=ref_only,
        current_only=cur_only,
        duplicates=duplicates,
        n_reference=len(reference),
        n_current=len(current),
        windows=window_results,
        window_rule=window_rule,
        notes=tuple(notes),
    )


def _per_window(
    refs: list[_Reference],
    current: pd.DataFrame,
    plan: Windows,
    alpha: float,
    correction: str,
    drift_share: float,
    rng: np.random.Generator,
) -> tuple[WindowDrift, ...]:
    out = []
    for w in plan:
        if w.n == 0:
            out.append(WindowDrift(w.index, w.label, 0, {}, math.nan, False))
            continue
        rows = current.iloc[w.rows]
        comps, sketches = [], {}
        for ref in refs:
            cur = prepare(rows[ref.name], ref.kind)
            comps.append(_compare(ref, cur, plot=False, rng=rng))
            sk = _sketch(ref, cur)
            if sk is not None:
                sketches[ref.name] = sk
        adjusted, drifted = _decide(refs, comps, alpha, correction)
        k, m = _share(refs, comps, drifted)
        share = k / m if m else math.nan
        cols = {
            ref.name: {
                "statistic": c.statistic,
                "p_value": c.p_value,
                "p_adjusted": float(adjusted[i]),
                "threshold": ref.threshold,
                "drifted": bool(drifted[i]),
                "n": c.n_cur,
                **({"reason": c.reason} if c.reason else {}),
            }
            for i, (ref, c) in enumerate(zip(refs, comps))
        }
        out.append(
            WindowDrift(
                w.index, w.label, w.n, cols, share, bool(m and share >= drift_share), sketches
            )
        )
    return tuple(out)
