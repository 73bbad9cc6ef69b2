"""Near duplicates by meaning: test rows whose sentence embedding is close to a training row's.

MinHash finds texts that share their characters; a paraphrase ("a bland, pretentious mess" /
"pretentious and bland: a mess") shares few shingles but sits next to the original in embedding
space. With unit-length embeddings the cosine similarity is a dot product, computed a block of test
rows at a time against all training rows, so memory stays ``block × n_train`` floats.
"""

from __future__ import annotations

import numpy as np

from assay.errors import ConfigError

__all__ = ["embedding_duplicates"]


def embedding_duplicates(
    train: np.ndarray,
    test: np.ndarray,
    *,
    threshold: float = 0.95,
    block: int = 2048,
    skip: set[int] | frozenset[int] = frozenset(),
) -> list[tuple[int, int, float]]:
    """Test rows whose most similar training row has cosine similarity ≥ ``threshold``.

    Args:
        train, test: ``(n, dim)`` embeddings with unit rows (as
            :func:`assay._embeddings.embed_texts` returns them).
        threshold: cosine similarity from which two rows are near duplicates (in (0, 1]).
        block: test rows per matrix product.
        skip: test positions not to report (those already exact duplicates).

    Returns:
        ``(test position, train position, cosine)`` for each such test row, by test position; the
        training row is the most similar one (the lowest position among ties).

    Raises:
        ConfigError: a threshold outside (0, 1] or embeddings of different widths.

    Example:
        >>> e = np.eye(3, dtype=np.float32)
        >>> embedding_duplicates(e[:2], np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), threshold=0.9)
        [(0, 1, 1.0)]
    """
    if not 0 < threshold <= 1:
        raise ConfigError(f"embedding threshold must be in (0, 1]; got {threshold!r}")
    train = np.asarray(train, dtype=np.float32)
    test = np.asarray(test, dtype=np.float32)
    if len(train) == 0 or len(test) == 0:
        return []
    if train.ndim != 2 or test.ndim != 2 or train.shape[1] != test.shape[1]:
        raise ConfigError(
            f"embeddings must be 2-d with the same width; got train {train.shape}, test "
            f"{test.shape}"
        )
    out: list[tuple[int, int, float]] = []
    # float32 rounding can put an identical pair a hair under 1.0.
    cut = np.float32(threshold) - np.float32(1e-6)
    for lo in range(0, len(test), block):
        sims = test[lo : lo + block] @ train.T
        best = sims.argmax(axis=1)
        top = sims[np.arange(len(best)), best]
        for j in np.flatnonzero(top >= cut):
            t = lo + int(j)
            if t not in skip:
                out.append((t, int(best[j]), min(float(top[j]), 1.0)))
    return out
