"""Scoring in one pass over chunks: what a check that can stream gets, and what it returns.

A classification suite over a big data file is scored without holding its rows: the runner
(``assay._runner._stream``) reads the data in chunks of ``engine.chunk_rows`` rows, with the
lined-up rows of a file of predictions or the answers of a model asked a chunk at a time,
encodes each chunk as a :class:`Chunk`, and hands it to every check's :class:`StreamState`. A state reduces its chunks to
statistics that merge (confusion counts, per-group cells, per-block sums, score histograms), so
the memory a run needs does not grow with the number of rows. On the Ray backend the chunks are
reduced on the workers and the driver merges the states in chunk order, which is what the local
backend does too: the two give the same numbers.

A check streams when it implements :class:`StreamsChunks` and
:meth:`StreamsChunks.stream_refusal` finds nothing in its configuration that needs every row at
once; a refusal (a sentence saying why) sends the run back to the in-memory path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from assay.checks._predictions import Unscored
from assay.config._suite import Suite
from assay.report._schema import CheckResult, ErrorSummary

__all__ = ["Chunk", "StreamFacts", "StreamState", "StreamsChunks"]


@dataclass
class Chunk:
    """Consecutive scored rows of the data file with their predictions, encoded.

    Attributes:
        rows: the 0-based data row of each row in the file (seeds per-row randomness, so that a
            row's bootstrap block does not depend on which chunk or process holds it).
        ids: the example ids.
        y_true: label codes, indices into :attr:`StreamFacts.labels`.
        y_pred: predicted label codes, the same way.
        proba: ``(n, k)`` class probabilities (columns in label order), or ``None`` when the file
            has none.
        columns: the values of the data columns the checks asked for (slices, groups, input).
    """

    rows: NDArray[np.int64]
    ids: NDArray[Any]
    y_true: NDArray[np.intp]
    y_pred: NDArray[np.intp]
    proba: NDArray[np.float64] | None
    columns: dict[str, NDArray[Any]] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.rows)


@dataclass
class StreamFacts:
    """What the pass over the files learned that every check of the model reports.

    Attributes:
        dataset: the dataset's name in the suite.
        labels: the labels scored, in code order (the data's, plus ``(other)`` when predictions
            outside them count as wrong answers).
        n_read: data rows read.
        n: rows scored.
        unscored: what could not be scored, by reason (``performance.unscored.*``).
        errors: the failed calls of a model asked through the engine (none for a file of
            predictions).
        flags: what the report should say about the files.
        has_proba: every scored row came with probabilities.
        chunk_rows: rows per chunk.
        n_chunks: chunks reduced.
    """

    dataset: str
    labels: list[str]
    n_read: int
    n: int
    unscored: Unscored
    errors: ErrorSummary
    flags: list[str] = field(default_factory=list)
    has_proba: bool = False
    chunk_rows: int = 0
    n_chunks: int = 0


@runtime_checkable
class StreamState(Protocol):
    """A check's running statistics: reduce a chunk, merge another state of the same check."""

    def add(self, chunk: Chunk) -> None: ...

    def merge(self, other: Any) -> None: ...


@runtime_checkable
class StreamsChunks(Protocol):
    """A check that can score a streamed run."""

    def stream_columns(self, suite: Suite) -> list[str]:
        """The data columns its state reads from each chunk (``Chunk.columns``)."""
        ...

    def stream_refusal(self, suite: Suite) -> str | None:
        """Why this configuration cannot stream (a sentence), or ``None``."""
        ...

    def stream_state(self, ctx: Any, facts: StreamFacts) -> StreamState:
        """An empty state for the labels in ``facts``."""
        ...

    def score_stream(self, ctx: Any, state: Any, facts: StreamFacts) -> CheckResult:
        """The result from the merged state of every chunk."""
        ...
