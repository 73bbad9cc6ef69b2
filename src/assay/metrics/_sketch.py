"""``ClassificationSketch``: mergeable statistics of a classification evaluation, whose memory does
not grow with the number of rows, and the ``ClassificationSummary`` computed from them.

Rows arrive in chunks (``add``); sketches of different chunks, possibly reduced in other processes,
combine with ``merge``. Every statistic is a sum (integer counts, or float sums per bootstrap block),
so the merged state depends only on the rows, their global row numbers (through the blocks of
:func:`assay.stats.hashed_block_codes`) and, for float sums, the order of the merges.

What the summary gives, against ``classification_summary`` on the same rows:

* **Exact**: the confusion matrix and every count metric — ``count_estimates`` runs first on the
  same generator, so with the same seed values *and* intervals are identical; log loss, Brier,
  ECE and the reliability table (exact means; only the float-sum order differs); per-example
  catalogue function metrics (``top_k_accuracy``), their Wilson intervals too.
* **Block bootstrap on hashed blocks**: log loss, Brier, ECE and per-example ``bootstrap``
  function metrics — the math of ``proba_estimates`` (per-block sums, one multinomial draw of
  block multiplicities per resample, percentile bounds) over the ``n_blocks`` hashed blocks
  (empty blocks dropped); in-memory, the blocks are a random permutation instead.
* **Binned**: every ranking metric, from per-(score column, true class) histograms of the scores
  on ``score_bins`` equal-width bins of ``logit(p)`` clipped to ``[-LOGIT_CLIP, LOGIT_CLIP]``
  (about ``[1.1e-7, 1 - 1.1e-7]``; clipped scores fall in the end bins). The transform is
  monotone, so the binned scores keep the order of the exact ones and only scores within one bin
  are tied. ROC AUC is the Mann–Whitney AUC of the binned scores (a positive and a negative in one
  bin count one half), with DeLong's variance from the binned placements (method
  ``delong-binned``). The exact AUC lies within ``½ Σ_b pos_b·neg_b / (P·N)`` of it (the pairs
  tied inside a bin, each misordered by at most one half); that bound is computed exactly and
  reported in ``tables["binned_auc"]["max_abs_error"]`` for every AUC (for an average of AUCs, the
  same average of the bounds). Multiclass averages (OVR, OVO Hand & Till) are the same averages of
  binned AUCs; their covariances cannot be had from marginal histograms, so the interval uses the
  Cauchy–Schwarz bound ``Var(Σ w_c A_c) ≤ (Σ w_c sd_c)²`` (method
  ``delong-binned-conservative``: at least as wide as the interval with the true covariances).
  Average precision treats each bin as one threshold; its interval adds the block-bootstrap
  deviations of the AP on ``AP_BINS`` coarse bins (per-block histograms, the same coarsening in
  every block) to the fine-binned value, as ``proba_estimates`` does with quantile bins. ROC and PR
  curves have one point per non-empty bin; a point's threshold is its bin's lower edge as a
  probability (0 for the first bin).

Not streamable: a catalogued function metric that is not the mean of a per-example score needs
every row; it is left out of the summary and listed in ``not_computed`` (name → reason).

Memory: ``k² + n_blocks·(3 + 3·n_bins + f) + n_cols·k·score_bins + n_blocks·n_cols·2·AP_BINS``
numbers (``n_cols`` = 1 for binary, ``k`` for multiclass; ``f`` the function metrics).
``score_bins`` defaults to 65536 for binary problems (1 MiB of histograms) and to
``clip(2**21 // k², 64, 8192)`` for multiclass ones (at most 16 MiB).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit

from assay.errors import MetricError
from assay.metrics._calibration import (
    ece_bins,
    ece_from_sums,
    per_example_brier,
    per_example_log_loss,
    reliability_table,
)
from assay.metrics._catalog import metric_info, metrics_for
from assay.metrics._classification import ClassificationSummary, _check_common
from assay.metrics._count_summary import count_estimates
from assay.metrics._counts import nan_mean
from assay.metrics._ranking import average_precision_binned, curves_by_class, curves_from_counts
from assay.metrics._validation import check_labels
from assay.stats._bootstrap import block_multiplicities, percentile_bounds
from assay.stats._delong import binned_delong, logit_auc_bounds
from assay.stats._estimate import Estimate
from assay.stats._policy import ZeroDivision, report_undefined
from assay.stats._random import Seed, as_generator
from assay.stats._wilson import wilson_interval

__all__ = ["AP_BINS", "LOGIT_CLIP", "ClassificationSketch", "default_score_bins"]

#: Coarse per-block bins for the average-precision bootstrap (as ``proba_estimates``).
AP_BINS = 50
#: Scores are binned on ``logit(p)`` clipped to ``[-LOGIT_CLIP, LOGIT_CLIP]``.
LOGIT_CLIP = 16.0

F = NDArray[np.float64]
I64 = NDArray[np.int64]
#: The count arrays of a sketch's state (int64) and all of its arrays.
_COUNT_STATE = ("cm", "block_n", "block_ece_n", "hist", "block_ap")
_STATE = (*_COUNT_STATE, "block_sums")
_FUNCTION = frozenset({"function"})


def default_score_bins(k: int) -> int:
    """Score bins per (column, class) histogram when none are given (see the module docstring)."""
    if k == 2:
        return 1 << 16
    return int(min(8192, max(64, (1 << 21) // (k * k))))


def score_bin_codes(p: F, score_bins: int) -> NDArray[np.intp]:
    """Bin of each probability: equal-width bins of ``logit(p)`` clipped to ``±LOGIT_CLIP``
    (monotone in ``p``: a higher probability never falls in a lower bin)."""
    # log(p / (1 - p)): both roundings are monotone, so the result is too (and one vectorised
    # log is ten times faster than log(p) - log1p(-p)).
    with np.errstate(divide="ignore"):
        z = p / (1.0 - p)
        np.log(z, out=z)
    np.clip(z, -LOGIT_CLIP, LOGIT_CLIP, out=z)
    z += LOGIT_CLIP
    z *= score_bins / (2.0 * LOGIT_CLIP)
    codes = z.astype(np.intp)
    np.minimum(codes, score_bins - 1, out=codes)
    return codes


def _bin_lower_edges(score_bins: int) -> F:
    """The lower edge of each score bin as a probability (0 for the first bin)."""
    edges = expit(-LOGIT_CLIP + np.arange(score_bins) * (2.0 * LOGIT_CLIP / score_bins))
    edges[0] = 0.0
    out: F = edges
    return out


class ClassificationSketch:
    """Mergeable statistics of a single-label classification evaluation (module docstring).

    Args:
        k: the number of classes (placeholders such as ``(other)`` included).
        proba: whether ``add`` gets class probabilities (adds the probability and ranking metrics).
        positive: the positive class index of a binary problem (``k == 2``), else ``None``.
        n_blocks: bootstrap blocks (rows are assigned by ``hashed_block_codes``).
        n_bins: equal-width confidence bins of ECE and the reliability table.
        score_bins: score bins of the ranking histograms (default: ``default_score_bins(k)``).
        function_metrics: keep the catalogued per-example function metrics (``top_k_accuracy``).

    Raises:
        MetricError: an invalid option.

    Example:
        >>> import numpy as np
        >>> from assay.stats import hashed_block_codes
        >>> sk = ClassificationSketch(2, proba=False, positive=1)
        >>> t, p = np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0])
        >>> sk.add(t, p, blocks=hashed_block_codes(np.arange(4), 1000, seed=0))
        >>> sk.summary(["a", "b"], level=0.95, n_bootstrap=100, seed=0).metrics["accuracy"].value
        0.75
    """

    def __init__(
        self,
        k: int,
        *,
        proba: bool,
        positive: int | None,
        n_blocks: int = 1000,
        n_bins: int = 10,
        score_bins: int | None = None,
        function_metrics: bool = True,
    ) -> None:
        for name, val, least in (("k", k, 2), ("n_blocks", n_blocks, 1), ("n_bins", n_bins, 1)):
            if not isinstance(val, (int, np.integer)) or isinstance(val, bool) or val < least:
                raise MetricError(f"{name} must be an int >= {least}; got {val!r}")
        if (k == 2) != (positive is not None) or (positive is not None and not 0 <= positive < k):
            raise MetricError(
                f"positive must be the positive class index (0 or 1) when k == 2, and None "
                f"otherwise; got k={k}, positive={positive!r}"
            )
        bins = default_score_bins(int(k)) if score_bins is None else score_bins
        if not isinstance(bins, (int, np.integer)) or bins < 2:
            raise MetricError(f"score_bins must be an int >= 2; got {score_bins!r}")
        self.k = int(k)
        self.proba = bool(proba)
        self.positive = positive
        self.n_blocks = int(n_blocks)
        self.n_bins = int(n_bins)
        self.score_bins = int(bins)
        self.function_metrics = bool(function_metrics)
        self.cols: list[int] = [positive] if positive is not None else list(range(self.k))
        self.functions: list[str] = []
        self.not_computed: dict[str, str] = {}
        if function_metrics:
            for info in metrics_for("classification", sources=_FUNCTION):
                if info.function is None or not info.applies_to(self.k, proba=self.proba):
                    continue
                if info.per_example:
                    self.functions.append(info.name)
                else:
                    self.not_computed[info.name] = (
                        "not a mean of per-example scores: it needs every row at once, which a "
                        "streamed evaluation does not keep"
                    )
        g, c = self.n_blocks, len(self.cols)
        self.cm: I64 = np.zeros((self.k, self.k), dtype=np.int64)
        self.block_n: I64 = np.zeros(g, dtype=np.int64)
        # Per block: [log loss, Brier, ECE confidence (n_bins), ECE correctness (n_bins),
        # one column per function metric].
        self.block_sums: F = np.zeros((g, self._n_sums()), dtype=np.float64)
        self.block_ece_n: I64 = np.zeros((g, self.n_bins if self.proba else 0), dtype=np.int64)
        s = self.score_bins if self.proba else 0
        self.hist: I64 = np.zeros((c if self.proba else 0, self.k, s), dtype=np.int64)
        self.block_ap: I64 = np.zeros((g, c if self.proba else 0, AP_BINS, 2), dtype=np.int64)

    def _n_sums(self) -> int:
        return (2 + 2 * self.n_bins if self.proba else 0) + len(self.functions)

    @property
    def n(self) -> int:
        """Rows added so far."""
        return int(self.cm.sum())

    def _options(self) -> tuple[Any, ...]:
        return (
            self.k,
            self.proba,
            self.positive,
            self.n_blocks,
            self.n_bins,
            self.score_bins,
            self.functions,
        )

    @property
    def nbytes(self) -> int:
        """Bytes held by the statistics (fixed by the options, whatever the number of rows)."""
        return sum(a.nbytes for a in self._arrays().values())

    def _arrays(self) -> dict[str, NDArray[Any]]:
        return {key: getattr(self, key) for key in _STATE}

    def __getstate__(self) -> dict[str, Any]:
        # A chunk's counts are small: pickle each count array in the smallest unsigned type that
        # holds it (exact; a sketch of 1e5 rows pickles about 4x smaller). Unpickling restores
        # int64, so merges never overflow.
        state = dict(self.__dict__)
        for key in _COUNT_STATE:
            arr = state[key]
            top = int(arr.max()) if arr.size else 0
            state[key] = arr.astype(np.min_scalar_type(top)) if top >= 0 else arr
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for key in _COUNT_STATE:
            state[key] = np.asarray(state[key]).astype(np.int64)
        self.__dict__.update(state)

    # ---- reduce ---------------------------------------------------------------------------------

    def add(
        self,
        y_true: NDArray[np.intp],
        y_pred: NDArray[np.intp],
        *,
        blocks: NDArray[np.int64],
        proba: NDArray[np.float64] | None = None,
    ) -> None:
        """Add a chunk of rows.

        Args:
            y_true: true class codes in ``range(k)``.
            y_pred: predicted class codes in ``range(k)``.
            blocks: the rows' bootstrap blocks (``hashed_block_codes`` of their global row
                numbers, with this sketch's ``n_blocks``).
            proba: ``(n, k)`` probabilities with rows summing to 1 (validated by the caller);
                required exactly when the sketch was made with ``proba=True``.

        Raises:
            MetricError: mismatched lengths or shapes, a code out of range, ``proba`` missing or
                unexpected.
        """
        t = np.asarray(y_true, dtype=np.intp)
        p = np.asarray(y_pred, dtype=np.intp)
        b = np.asarray(blocks, dtype=np.int64)
        n = len(t)
        if t.ndim != 1 or p.shape != (n,) or b.shape != (n,):
            raise MetricError(
                f"y_true, y_pred and blocks must be 1-D of equal length; got shapes {t.shape}, "
                f"{p.shape} and {b.shape}"
            )
        if n == 0:
            return
        checks = (("y_true", t, self.k), ("y_pred", p, self.k), ("blocks", b, self.n_blocks))
        for name, arr, top in checks:
            lo, hi = int(arr.min()), int(arr.max())
            if lo < 0 or hi >= top:
                raise MetricError(f"{name} must hold codes in range({top}); found {lo}..{hi}")
        if (proba is None) == self.proba:
            raise MetricError(
                "proba is required exactly when the sketch was made with proba=True; "
                f"proba={self.proba}, got {'no' if proba is None else 'a'} proba"
            )
        pr = None
        if proba is not None:
            pr = np.asarray(proba, dtype=np.float64)
            if pr.shape != (n, self.k):
                raise MetricError(f"proba must have shape ({n}, {self.k}); got {pr.shape}")
        k, g = self.k, self.n_blocks
        sums = np.zeros((g, self._n_sums()), dtype=np.float64)
        more = self._add_proba(t, b, pr, sums) if pr is not None else None
        self._add_functions(t, p, pr, b, sums)
        # State changes last, so that an error above leaves the sketch unchanged.
        self.cm += np.bincount(t * k + p, minlength=k * k).reshape(k, k)
        self.block_n += np.bincount(b, minlength=g)
        self.block_sums += sums
        if more is not None:
            self.block_ece_n += more[0]
            self.hist += more[1]
            self.block_ap += more[2]

    def _add_proba(self, t: NDArray[np.intp], b: I64, pr: F, sums: F) -> tuple[I64, I64, I64]:
        k, g, nb, s = self.k, self.n_blocks, self.n_bins, self.score_bins
        sums[:, 0] = np.bincount(b, weights=per_example_log_loss(pr, t), minlength=g)
        brier = per_example_brier(pr, t, positive=self.positive)
        sums[:, 1] = np.bincount(b, weights=brier, minlength=g)
        ebin, conf, correct = ece_bins(pr, t, nb)
        ece_key = b * nb + ebin
        ece_n = np.bincount(ece_key, minlength=g * nb).reshape(g, nb)
        sums[:, 2 : 2 + nb] = np.bincount(ece_key, weights=conf, minlength=g * nb).reshape(g, nb)
        sums[:, 2 + nb : 2 + 2 * nb] = np.bincount(
            ece_key, weights=correct, minlength=g * nb
        ).reshape(g, nb)
        c = len(self.cols)
        # Keys built in place on (n, c) integer arrays: a chunk allocates few temporaries.
        bins = score_bin_codes(pr[:, self.cols], s)  # (n, c)
        key = t[:, None] * s + bins
        key += np.arange(c)[None, :] * (k * s)
        hist = np.bincount(key.ravel(), minlength=c * k * s).reshape(c, k, s)
        ap_key = key  # reuse the buffer: (block, column, coarse bin, own class)
        np.floor_divide(bins * AP_BINS, s, out=ap_key)
        ap_key += np.arange(c)[None, :] * AP_BINS
        ap_key += b[:, None] * (c * AP_BINS)
        ap_key *= 2
        ap_key += t[:, None] == np.asarray(self.cols)[None, :]
        ap = np.bincount(ap_key.ravel(), minlength=g * c * AP_BINS * 2).reshape(g, c, AP_BINS, 2)
        return ece_n, hist, ap

    def _add_functions(
        self, t: NDArray[np.intp], p: NDArray[np.intp], pr: F | None, b: I64, sums: F
    ) -> None:
        first = 2 + 2 * self.n_bins if self.proba else 0
        for j, name in enumerate(self.functions):
            info = metric_info(name, task="classification")
            assert info.function is not None  # only catalogued function metrics are listed
            kwargs: dict[str, Any] = {**info.options, "labels": list(range(self.k))}
            scores = np.asarray(
                info.function(t, pr if info.needs_proba else p, **kwargs), dtype=np.float64
            )
            if info.interval == "wilson" and not np.isin(scores, (0.0, 1.0)).all():
                raise MetricError(f"{name}: a Wilson interval needs 0/1 scores per example")
            sums[:, first + j] = np.bincount(b, weights=scores, minlength=self.n_blocks)

    def merge(self, other: ClassificationSketch) -> None:
        """Add ``other``'s statistics to this sketch, in place.

        Raises:
            MetricError: ``other`` was made with other options.
        """
        if not isinstance(other, ClassificationSketch) or other._options() != self._options():
            raise MetricError(
                "can only merge a ClassificationSketch made with the same k, proba, positive, "
                "n_blocks, n_bins, score_bins and function metrics"
            )
        self.cm += other.cm
        self.block_n += other.block_n
        self.block_sums += other.block_sums
        self.block_ece_n += other.block_ece_n
        self.hist += other.hist
        self.block_ap += other.block_ap

    # ---- summarise ------------------------------------------------------------------------------

    def summary(
        self,
        labels: Sequence[str],
        *,
        level: float,
        n_bootstrap: int,
        seed: Seed,
        zero_division: ZeroDivision = "nan",
        curve_points: int = 200,
    ) -> ClassificationSummary:
        """The ``ClassificationSummary`` of the rows added, with the metric names and tables of
        ``classification_summary`` (plus ``tables["binned_auc"]`` with probabilities).

        Args:
            labels: the ``k`` class labels, in code order.
            level: confidence level of every interval.
            n_bootstrap: bootstrap resamples (0 disables the bootstrap intervals).
            seed: the bootstrap's randomness; the same seed gives the count metrics of
                ``classification_summary`` exactly.
            zero_division: ``"warn"``, ``"nan"`` or ``"raise"`` for undefined metrics.
            curve_points: maximum points kept per ROC / PR curve.

        Raises:
            MetricError: no rows, ``labels`` not of length ``k``, an invalid option, or an
                undefined metric with ``zero_division="raise"``.
        """
        policy = _check_common(level, n_bootstrap, zero_division)
        if not isinstance(curve_points, (int, np.integer)) or curve_points < 2:
            raise MetricError(f"curve_points must be an int >= 2; got {curve_points!r}")
        labs = check_labels(labels)
        if len(labs) != self.k:
            raise MetricError(f"labels has {len(labs)} classes; the sketch has k={self.k}")
        n = self.n
        if n == 0:
            raise MetricError("no examples were added to the sketch")
        rng = as_generator(seed)
        metrics, messages = count_estimates(
            self.cm, labs, positive=self.positive, level=level, n_bootstrap=n_bootstrap, rng=rng
        )
        tables: dict[str, Any] = {"labels": labs, "confusion_matrix": self.cm.tolist()}
        boot = "bootstrap" if n_bootstrap > 0 else "none"
        nonempty = self.block_n > 0
        mult = (
            block_multiplicities(int(nonempty.sum()), n_bootstrap, rng) if n_bootstrap > 0 else None
        )

        def resample(per_block: F) -> F | None:
            return None if mult is None else mult @ per_block[nonempty]

        counts = self.block_n.astype(np.float64)
        res_n = resample(counts[:, None])
        res_sums = resample(self.block_sums)
        total_sums = self.block_sums.sum(axis=0)
        if self.proba:
            more, more_tables, more_msgs = self._proba_metrics(
                labs, level, curve_points, total_sums, res_n, res_sums, resample, boot
            )
            metrics.update(more)
            tables.update(more_tables)
            messages.extend(more_msgs)
        first = 2 + 2 * self.n_bins if self.proba else 0
        for j, name in enumerate(self.functions):
            info = metric_info(name, task="classification")
            total = float(total_sums[first + j])
            if not math.isfinite(total):
                metrics[name] = Estimate(math.nan, math.nan, math.nan, level, info.interval, n)
            elif info.interval == "wilson":
                metrics[name] = wilson_interval(round(total), n, level=level)
            elif res_n is None or res_sums is None:
                metrics[name] = Estimate(total / n, math.nan, math.nan, level, "none", n)
            else:
                lo, hi = percentile_bounds(res_sums[:, first + j] / res_n[:, 0], level)
                metrics[name] = Estimate(total / n, float(lo), float(hi), level, "bootstrap", n)
        report_undefined(messages, policy)
        return ClassificationSummary(metrics, tables, n)

    def _proba_metrics(
        self,
        labs: list[Any],
        level: float,
        curve_points: int,
        total_sums: F,
        res_n: F | None,
        res_sums: F | None,
        resample: Any,
        boot: str,
    ) -> tuple[dict[str, Estimate], dict[str, Any], list[str]]:
        n, nb = self.n, self.n_bins
        out: dict[str, Estimate] = {}
        messages: list[str] = []
        tables: dict[str, Any] = {}
        bounds: dict[str, float] = {}

        # ---- ranking: binned AUCs ----------------------------------------------------------------
        own = np.stack([self.hist[i, c] for i, c in enumerate(self.cols)])  # (c, s)
        rest = self.hist.sum(axis=1) - own
        if self.positive is not None:
            auc, var, bound = binned_delong(own[0], rest[0])
            if math.isnan(auc):
                messages.append("roc_auc (y_true contains a single class)")
            lo, hi = logit_auc_bounds(auc, var, level)
            out["roc_auc"] = Estimate(auc, lo, hi, level, "delong-binned", n)
            bounds["roc_auc"] = bound
        else:
            out.update(self._multiclass_aucs(labs, level, own, rest, bounds, messages))
        tables["binned_auc"] = {
            "score_bins": self.score_bins,
            "logit_clip": LOGIT_CLIP,
            "max_abs_error": bounds,
        }

        # ---- average precision: fine bins, deviations of the coarse per-block bins --------------
        ap_fine = average_precision_binned(own.astype(np.float64), rest.astype(np.float64))
        ap_blocks = self.block_ap.astype(np.float64)  # (g, c, AP_BINS, 2)
        coarse = ap_blocks.sum(axis=0)
        ap_coarse = average_precision_binned(coarse[..., 1], coarse[..., 0])
        if res_n is not None:
            g, c = ap_blocks.shape[:2]
            res = resample(ap_blocks.reshape(g, -1)).reshape(-1, c, AP_BINS, 2)
            deviation = average_precision_binned(res[..., 1], res[..., 0]) - ap_coarse
            ap_res = np.clip(ap_fine + deviation, 0.0, 1.0)
        else:
            ap_res = np.full((1, len(self.cols)), np.nan)
        if self.positive is not None:
            ap_val, ap_samples, name = float(ap_fine[0]), ap_res[:, 0], "average_precision"
        else:
            ap_val, ap_samples = float(nan_mean(ap_fine)), nan_mean(ap_res)
            name = "average_precision_macro"
        for i in np.flatnonzero(np.isnan(ap_fine)).tolist():
            messages.append(f"average precision of class {labs[self.cols[i]]!r} (no true examples)")
        lo_, hi_ = percentile_bounds(ap_samples, level)
        out[name] = (
            Estimate(ap_val, float(lo_), float(hi_), level, boot, n)
            if not math.isnan(ap_val)
            else Estimate(math.nan, math.nan, math.nan, level, boot, n)
        )

        # ---- log loss, Brier, ECE: exact means, block bootstrap ----------------------------------
        ece_n = self.block_ece_n.astype(np.float64)
        exact = {
            "log_loss": float(total_sums[0] / n),
            "brier": float(total_sums[1] / n),
            "ece": float(
                ece_from_sums(
                    ece_n.sum(axis=0), total_sums[2 : 2 + nb], total_sums[2 + nb : 2 + 2 * nb]
                )
            ),
        }
        if res_n is not None and res_sums is not None:
            res_ece_n = resample(ece_n)
            with np.errstate(invalid="ignore", divide="ignore"):
                samples = {
                    "log_loss": res_sums[:, 0] / res_n[:, 0],
                    "brier": res_sums[:, 1] / res_n[:, 0],
                    "ece": ece_from_sums(
                        res_ece_n, res_sums[:, 2 : 2 + nb], res_sums[:, 2 + nb : 2 + 2 * nb]
                    ),
                }
            for key, val in exact.items():
                lo_, hi_ = percentile_bounds(samples[key], level)
                out[key] = Estimate(val, float(lo_), float(hi_), level, boot, n)
        else:
            for key, val in exact.items():
                out[key] = Estimate(val, math.nan, math.nan, level, boot, n)

        # ---- tables ------------------------------------------------------------------------------
        edges = _bin_lower_edges(self.score_bins)
        curves = []
        for i in range(len(self.cols)):
            used = np.flatnonzero(own[i] + rest[i] > 0)
            pos, neg = own[i][used].astype(np.float64), rest[i][used].astype(np.float64)
            curves.append(
                curves_from_counts(
                    np.cumsum(pos[::-1]), np.cumsum(neg[::-1]), edges[used], curve_points
                )
            )
        tables.update(curves_by_class(curves, list(labs), binary=self.positive is not None))
        tables["reliability"] = reliability_table(
            ece_n.sum(axis=0), total_sums[2 : 2 + nb], total_sums[2 + nb : 2 + 2 * nb]
        )
        return out, tables, messages

    def _multiclass_aucs(
        self,
        labs: list[Any],
        level: float,
        own: I64,
        rest: I64,
        bounds: dict[str, float],
        messages: list[str],
    ) -> dict[str, Estimate]:
        n, k = self.n, self.k
        out: dict[str, Estimate] = {}
        method = "delong-binned-conservative"
        support = self.cm.sum(axis=1).astype(np.float64)

        def combine(key: str, vals: F, sds: F, errs: F, weights: F) -> None:
            ok = ~np.isnan(vals)
            if not ok.any():
                out[key] = Estimate(math.nan, math.nan, math.nan, level, method, n)
                bounds[key] = math.nan
                return
            w = weights[ok] / weights[ok].sum()
            val = float(w @ vals[ok])
            lo, hi = logit_auc_bounds(val, float(w @ sds[ok]) ** 2, level)  # Cauchy–Schwarz
            out[key] = Estimate(val, lo, hi, level, method, n)
            bounds[key] = float(w @ errs[ok])

        ovr = np.array([binned_delong(own[c], rest[c]) for c in range(k)])  # (k, 3)
        for c in np.flatnonzero(np.isnan(ovr[:, 0])):
            messages.append(
                f"roc_auc_ovr for class {labs[int(c)]!r} (it is absent or is every example)"
            )
        sd = np.sqrt(np.maximum(ovr[:, 1], 0.0))
        combine("roc_auc_ovr_macro", ovr[:, 0], sd, ovr[:, 2], np.ones(k))
        combine("roc_auc_ovr_weighted", ovr[:, 0], sd, ovr[:, 2], support)

        present = support > 0
        pairs = [(a, b) for a in range(k) for b in range(a + 1, k) if present[a] and present[b]]
        for a in range(k):
            for b in range(a + 1, k):
                if not (present[a] and present[b]):
                    messages.append(
                        f"roc_auc_ovo pair ({labs[a]!r}, {labs[b]!r}) (a class is absent)"
                    )
        pair_stats = np.full((max(len(pairs), 1), 3), np.nan)
        for i, (a, b) in enumerate(pairs):
            ab = binned_delong(self.hist[a, a], self.hist[a, b])  # A(a|b), column a
            ba = binned_delong(self.hist[b, b], self.hist[b, a])  # A(b|a), column b
            pair_stats[i] = (
                (ab[0] + ba[0]) / 2.0,
                (math.sqrt(max(ab[1], 0.0)) + math.sqrt(max(ba[1], 0.0))) / 2.0,
                (ab[2] + ba[2]) / 2.0,
            )
        prev = np.array([support[a] + support[b] for a, b in pairs] or [np.nan])
        vals, sds, errs = pair_stats.T
        combine("roc_auc_ovo_macro", vals, sds, errs, np.ones(len(prev)))
        combine("roc_auc_ovo_weighted", vals, sds, errs, prev)
        return out
