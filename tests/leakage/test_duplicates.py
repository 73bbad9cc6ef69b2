"""Duplicate detection: a planted leakage case on real reviews, checked against all pairs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from assay.errors import ConfigError
from assay.leakage import find_duplicates, normalise
from assay.leakage._duplicates import shingle_hashes


def _all_pairs_jaccard(train: list[str], test: list[str], k: int) -> np.ndarray:
    """The oracle: exact Jaccard of every test × train pair of shingle sets (sparse products)."""
    hashed = [shingle_hashes([normalise(t) for t in texts], k) for texts in (test, train)]
    vocab = np.unique(np.concatenate([h for h, _ in hashed]))

    def matrix(h: np.ndarray, s: np.ndarray) -> sparse.csr_matrix:
        rows = np.repeat(np.arange(len(s) - 1), np.diff(s))
        cols = np.searchsorted(vocab, h)
        m = sparse.csr_matrix((np.ones(len(h)), (rows, cols)), shape=(len(s) - 1, len(vocab)))
        m.sum_duplicates()
        m.data[:] = 1.0
        return m

    a, b = matrix(*hashed[0]), matrix(*hashed[1])
    inter = (a @ b.T).toarray()
    sizes_a = np.asarray(a.sum(1)).ravel()[:, None]
    sizes_b = np.asarray(b.sum(1)).ravel()[None, :]
    return inter / (sizes_a + sizes_b - inter)


def _edit(text: str, rng: np.random.Generator) -> str:
    words = text.split()
    i = int(rng.integers(len(words)))
    words[i] = words[i][::-1]  # one word garbled
    return " ".join(words)


def test_planted_leakage_is_found(reviews: list[str], seed: int) -> None:
    rng = np.random.default_rng(seed)
    train, pool = reviews[:1500], reviews[1500:2500]
    exact_src = rng.choice(1500, 20, replace=False)
    near_src = rng.choice(np.setdiff1d(np.arange(1500), exact_src), 20, replace=False)
    test = list(pool[:300])
    test += [train[i].upper() + "!!" for i in exact_src]  # same after normalisation
    test += [_edit(train[i], rng) for i in near_src]
    rep = find_duplicates(train, test, threshold=0.7)
    exact = dict(rep.exact)
    assert {j for j in range(300, 320)} <= set(exact)
    assert all(normalise(train[exact[j]]) == normalise(test[j]) for j in exact)
    # oracle: every pair at Jaccard ≥ 0.7 that is not exact
    jac = _all_pairs_jaccard(train, test, 5)
    truth = {j for j in range(len(test)) if jac[j].max() >= 0.7 and j not in exact}
    found = {j for j, _, _ in rep.near}
    assert found <= truth  # confirmed by the exact Jaccard: no false positives
    assert len(found & truth) / len(truth) >= 0.95
    assert set(range(320, 340)) & truth <= found | set(exact)
    for j, i, sim in rep.near:
        assert sim == pytest.approx(jac[j, i], abs=1e-12)
        assert jac[j].max() == pytest.approx(sim, abs=1e-12)


def test_clean_split_has_no_duplicates(reviews: list[str]) -> None:
    rep = find_duplicates(reviews[:500], reviews[500:800], threshold=0.8)
    jac = _all_pairs_jaccard(reviews[:500], reviews[500:800], 5)
    truth = int((jac.max(axis=1) >= 0.8).sum())
    assert len(rep.exact) + len(rep.near) == truth


def test_normalise() -> None:
    assert normalise("  It's   GREAT!\n") == normalise("it s great") == "it s great"


def test_bad_threshold() -> None:
    with pytest.raises(ConfigError, match="threshold"):
        find_duplicates(["a"], ["a"], threshold=0)
