"""Mergeable per-group statistics for the fairness metrics of rows that arrive in chunks.

:func:`assay.fairness.group_metrics` needs every row at once. A :class:`GroupSketch` instead
reduces each chunk of rows to small per-group statistics that add up, so a caller can stream a
file of any length (or reduce its chunks on other processes and merge them) and still get the
same :class:`GroupMetrics`:

* the five count cells ``[TN, FP, FN, TP, TNX]`` of every group (see :mod:`._groups`): integer
  sums, so any chunking and any merge order give the same cells, and :meth:`GroupSketch.metrics`
  gives *exactly* what ``group_metrics`` gives on the same rows with the same seed (both go
  through the same code from the cells on, and draw the same random numbers in the same order);
* with probabilities, for the expected calibration error: per group and per *block*, the per-bin
  count, confidence sum and correctness sum. The block of a row is a seeded hash of its global
  row number (:func:`assay.stats.hashed_block_codes`), never of its place in a chunk, so whichever process reduces a
  chunk, every row lands in the same block. The ECE point value is the in-memory one (to float
  rounding, ~1e-12); its interval is a block bootstrap over the group's non-empty blocks, like
  the in-memory one (:func:`assay.fairness._groups._block_boot_means`), but over hashed blocks of
  random sizes instead of a random partition into equal blocks, and so close to it, not equal.

Memory grows with the number of distinct groups only (``5`` integers per group, plus
``n_blocks · 3 · n_bins`` floats per group with ECE), never with the number of rows.

Float sums (the ECE confidence sums) depend on the order in which they are added; adding the
chunks' states in chunk order (as :meth:`GroupSketch.add` and :meth:`GroupSketch.merge` do when
called in chunk order) makes the result the same bit for bit on every backend.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from assay.errors import MetricError
from assay.fairness._groups import (
    GroupMetrics,
    _ece_point_boot,
    _from_cells,
    _row_cells,
)
from assay.stats._bootstrap import block_multiplicities, hashed_block_codes
from assay.stats._random import Seed, as_generator
from assay.stats._wilson import check_level

__all__ = ["GroupSketch"]

_N_CELLS = 5


class GroupSketch:
    """Per-group fairness statistics of the rows seen so far, mergeable across chunks.

    Args:
        binary: whether the problem has two labels (the positive one and one other). ``False``
            is always correct (a wrong prediction between two non-positive labels becomes the
            ``TNX`` cell, which cannot happen with two labels); ``True`` lets :meth:`add` go
            without ``wrong``. Give it from the label set, not from one chunk.
        with_ece: whether rows come with ECE inputs (``ece=`` of :meth:`add`).
        n_bins: ECE bins (as ``group_metrics``'s ``n_bins``).
        n_blocks: hashed blocks per group for the ECE bootstrap.
        block_seed: seed of the row-to-block hash (the same on every process).

    Example:
        >>> import numpy as np
        >>> sk = GroupSketch(binary=True, with_ece=False)
        >>> g = np.array(["a", "a", "b", "b"], dtype=object)
        >>> t, p = np.array([1, 0, 1, 1], bool), np.array([1, 0, 0, 1], bool)
        >>> sk.add(g[:2], t[:2], p[:2], rows=np.arange(2))
        >>> other = GroupSketch(binary=True, with_ece=False)
        >>> other.add(g[2:], t[2:], p[2:], rows=np.arange(2, 4))
        >>> sk.merge(other)
        >>> gm = sk.metrics(level=0.95, n_bootstrap=100, seed=0, min_n=1)
        >>> gm.by_group["b"]["recall"].value, gm.cells["a"]
        (0.5, [1, 0, 0, 1, 0])
    """

    def __init__(
        self,
        *,
        binary: bool,
        with_ece: bool,
        n_bins: int = 10,
        n_blocks: int = 200,
        block_seed: int = 0,
    ) -> None:
        if n_bins < 1 or n_blocks < 1:
            raise MetricError(
                f"GroupSketch: n_bins and n_blocks must be >= 1; got {n_bins}, {n_blocks}"
            )
        self.binary = binary
        self.with_ece = with_ece
        self.n_bins = n_bins
        self.n_blocks = n_blocks
        self.block_seed = block_seed
        #: group names in the order of their first row (as ``encode_groups`` orders strings)
        self.names: list[str] = []
        self._index: dict[str, int] = {}
        self.cells = np.zeros((0, _N_CELLS), dtype=np.int64)
        #: per group, block and ECE bin: ``[count | confidence sum | correct sum]``
        self.ece_sums = np.zeros((0, n_blocks if with_ece else 0, 3 * n_bins), dtype=np.float64)

    @property
    def n_rows(self) -> int:
        """Rows added so far."""
        return int(self.cells.sum())

    def _params(self) -> tuple[bool, bool, int, int, int]:
        return (self.binary, self.with_ece, self.n_bins, self.n_blocks, self.block_seed)

    def _grow(self, names: list[str]) -> NDArray[np.intp]:
        """Global indices of ``names``, adding the new ones at the end."""
        out = np.empty(len(names), dtype=np.intp)
        for i, name in enumerate(names):
            j = self._index.get(name)
            if j is None:
                j = self._index[name] = len(self.names)
                self.names.append(name)
            out[i] = j
        extra = len(self.names) - len(self.cells)
        if extra:
            self.cells = np.vstack([self.cells, np.zeros((extra, _N_CELLS), dtype=np.int64)])
            pad = np.zeros((extra, *self.ece_sums.shape[1:]), dtype=np.float64)
            self.ece_sums = np.concatenate([self.ece_sums, pad])
        return out

    def add(
        self,
        groups: ArrayLike,
        y_true_pos: ArrayLike,
        y_pred_pos: ArrayLike,
        wrong: ArrayLike | None = None,
        *,
        rows: ArrayLike,
        ece: tuple[ArrayLike, ArrayLike, ArrayLike] | None = None,
    ) -> None:
        """Add a chunk of rows.

        Args:
            groups: the group of every row, as strings (an intersection already joined, e.g.
                ``"F&White"``); missing values are an error (the fairness check names them
                ``<missing>``).
            y_true_pos: whether the true label is the positive one.
            y_pred_pos: whether the predicted label is the positive one.
            wrong: whether the prediction differs from the truth (needed unless ``binary``).
            rows: the global 0-based row number of every row (places it in its ECE block).
            ece: with ``with_ece``: the ECE bin, top-class confidence and correctness of every
                row (:func:`assay.fairness.ece_rows` of the chunk).

        Raises:
            MetricError: lengths differ, a group is missing, or ``wrong``/``ece`` is missing.

        Adding chunk after chunk gives the same state, bit for bit, as merging one sketch per
        chunk in chunk order.
        """
        chunk = GroupSketch(**self._chunk_kwargs())
        chunk._fill(groups, y_true_pos, y_pred_pos, wrong, rows=rows, ece=ece)
        self.merge(chunk)

    def _chunk_kwargs(self) -> dict[str, Any]:
        return {
            "binary": self.binary,
            "with_ece": self.with_ece,
            "n_bins": self.n_bins,
            "n_blocks": self.n_blocks,
            "block_seed": self.block_seed,
        }

    def _fill(
        self,
        groups: ArrayLike,
        y_true_pos: ArrayLike,
        y_pred_pos: ArrayLike,
        wrong: ArrayLike | None,
        *,
        rows: ArrayLike,
        ece: tuple[ArrayLike, ArrayLike, ArrayLike] | None,
    ) -> None:
        """Reduce one chunk into this (empty) sketch."""
        g = np.asarray(groups)
        t_pos = np.asarray(y_true_pos, dtype=bool)
        p_pos = np.asarray(y_pred_pos, dtype=bool)
        r = np.asarray(rows, dtype=np.int64)
        n = len(g)
        arrays = {"y_true_pos": t_pos, "y_pred_pos": p_pos, "rows": r}
        w = None
        if not self.binary:
            if wrong is None:
                raise MetricError("GroupSketch.add: a non-binary problem needs wrong=")
            w = arrays["wrong"] = np.asarray(wrong, dtype=bool)
        for name, a in arrays.items():
            if a.shape != (n,):
                raise MetricError(
                    f"GroupSketch.add: groups has {n} rows but {name} has shape {a.shape}"
                )
        local, uniques = pd.factorize(pd.Series(g, dtype=object))
        if (local < 0).any():
            i = int(np.flatnonzero(local < 0)[0])
            raise MetricError(
                f"groups: missing value at row {int(r[i]) + 1}; give missing values a group of "
                "their own (the fairness check names them <missing>)"
            )
        codes = self._grow([str(u) for u in uniques])[local]
        n_groups = len(self.names)
        self.cells += np.bincount(
            codes * _N_CELLS + _row_cells(t_pos, p_pos, w), minlength=n_groups * _N_CELLS
        ).reshape(n_groups, _N_CELLS)
        if self.with_ece != (ece is not None):
            raise MetricError(
                f"GroupSketch.add: with_ece={self.with_ece} but ece= was "
                f"{'given' if ece is not None else 'not given'}"
            )
        if ece is None:
            return
        b = np.asarray(ece[0], dtype=np.intp)
        conf = np.asarray(ece[1], dtype=np.float64)
        correct = np.asarray(ece[2], dtype=np.float64)
        if b.shape != (n,) or conf.shape != (n,) or correct.shape != (n,):
            raise MetricError(f"GroupSketch.add: ece= needs three arrays of {n} rows")
        nb, k = self.n_blocks, self.n_bins
        slot = (codes * nb + hashed_block_codes(r, nb, self.block_seed)) * k + b
        size = n_groups * nb * k
        for j, weights in enumerate((None, conf, correct)):
            sums = np.bincount(slot, weights=weights, minlength=size).astype(np.float64)
            self.ece_sums[:, :, j * k : (j + 1) * k] += sums.reshape(n_groups, nb, k)

    def merge(self, other: GroupSketch) -> None:
        """Add ``other``'s rows to this sketch, in place (groups new to it go at the end, in
        ``other``'s order). Merge in chunk order for bit-identical float sums."""
        if other._params() != self._params():
            raise MetricError(
                f"GroupSketch.merge: sketches differ in (binary, with_ece, n_bins, n_blocks, "
                f"block_seed): {self._params()} vs {other._params()}"
            )
        idx = self._grow(other.names)
        self.cells[idx] += other.cells
        if self.with_ece:
            self.ece_sums[idx] += other.ece_sums

    def metrics(
        self,
        *,
        level: float = 0.95,
        n_bootstrap: int = 1000,
        seed: Seed = None,
        min_n: int = 30,
        summary_min_n: int = 0,
    ) -> GroupMetrics:
        """The :class:`GroupMetrics` of every row added, as ``group_metrics`` computes them.

        Without ECE the result equals ``group_metrics`` on the same rows (groups given as the
        same strings) with the same ``seed``, every interval included. With ECE the point value
        matches to float rounding and the interval is a block bootstrap over hashed blocks
        (close to ``group_metrics``'s, not equal; see the module docstring).

        Raises:
            MetricError: no rows were added.
        """
        level = check_level(level)
        if not self.names:
            raise MetricError("group_metrics needs at least one example; got none")
        rng = as_generator(seed)

        def ece(r: np.random.Generator) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
            sums, boots = [], []
            for blocks in self.ece_sums:
                used = blocks[blocks[:, : self.n_bins].sum(axis=1) > 0]  # drop empty blocks
                mult = block_multiplicities(len(used), n_bootstrap, r)
                sums.append(used.sum(axis=0))
                boots.append(mult @ used)
            return _ece_point_boot(sums, boots, self.n_bins)

        return _from_cells(
            self.cells,
            list(self.names),
            level=level,
            n_bootstrap=n_bootstrap,
            rng=rng,
            min_n=min_n,
            ece=ece if self.with_ece else None,
            summary_min_n=summary_min_n,
        )
