"""Side-by-side timings: assay's metrics with intervals against scikit-learn.

Run: ``.venv/bin/python benchmarks/bench_metrics.py [--n N] [--quick]``

(a) N examples, 10 classes: sklearn ``classification_report`` + ``roc_auc_score(ovr)`` + a naive
    1000-resample bootstrap of macro F1 (timed on 20 resamples, extrapolated ×50), against
    ``assay.metrics.classification_summary`` with probabilities and 95% intervals on every metric.
(b) 10·N examples, binary: sklearn ``roc_auc_score`` against ``assay.stats.delong_auc`` (AUC plus
    its DeLong interval).
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np


def timed(fn: Callable[[], Any], repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    from sklearn.metrics import classification_report, f1_score, roc_auc_score

    from assay.metrics import classification_summary
    from assay.stats import delong_auc

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="examples in (a); (b) uses 10×")
    ap.add_argument("--quick", action="store_true", help="N = 100,000 and 5 naive resamples")
    args = ap.parse_args()
    n = 100_000 if args.quick else args.n
    naive_b = 5 if args.quick else 20
    k = 10
    rng = np.random.default_rng(0)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)).astype(np.float64)
    logits[np.arange(n), y] += 1.5
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    pred = proba.argmax(axis=1)
    labels = list(range(k))

    print(f"(a) N = {n:,}, {k} classes")
    t_report = timed(lambda: classification_report(y, pred, output_dict=True, zero_division=0))
    t_auc = timed(lambda: roc_auc_score(y, proba, multi_class="ovr"))

    def naive() -> None:
        r = np.random.default_rng(1)
        for _ in range(naive_b):
            idx = r.integers(0, n, n)
            f1_score(y[idx], pred[idx], average="macro")

    t_naive = timed(naive) * (1000 / naive_b)
    sk_total = t_report + t_auc + t_naive
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t_assay = timed(
            lambda: classification_summary(
                y, pred, labels=labels, proba=proba, n_bootstrap=1000, seed=0
            ),
            repeat=2,
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t_counts = timed(
            lambda: classification_summary(
                y, pred, labels=labels, n_bootstrap=1000, seed=0
            ),
            repeat=2,
        )
    rows = [
        ("sklearn classification_report", t_report),
        ("sklearn roc_auc_score(ovr)", t_auc),
        (f"sklearn naive bootstrap of macro F1 ({naive_b} resamples ×{1000 // naive_b})", t_naive),
        ("sklearn total", sk_total),
        ("assay classification_summary (proba, 1000 resamples)", t_assay),
        ("assay classification_summary (no proba, 1000 resamples)", t_counts),
    ]
    for name, t in rows:
        print(f"  {name:<66} {t:9.3f} s")
    print(f"  ratio assay / sklearn naive bootstrap   {t_assay / t_naive:8.4f}   (target <= 0.01)")
    print(f"  ratio assay / sklearn total             {t_assay / sk_total:8.4f}")
    print(f"  ratio assay / classification_report     {t_assay / t_report:8.3f}   (target <= 2)")
    print(f"  ratio assay(no proba) / class._report   {t_counts / t_report:8.3f}")
    print(
        f"  ratio assay / (report + roc_auc ovr)    {t_assay / (t_report + t_auc):8.3f}"
    )

    nb = 10 * n
    print(f"(b) N = {nb:,}, binary")
    yb = rng.random(nb) < 0.3
    sb = rng.normal(size=nb) + yb
    t_sk = timed(lambda: roc_auc_score(yb, sb))
    t_dl = timed(lambda: delong_auc(yb, sb))
    print(f"  {'sklearn roc_auc_score':<66} {t_sk:9.3f} s")
    print(f"  {'assay delong_auc (AUC + DeLong interval)':<66} {t_dl:9.3f} s")
    print(f"  ratio assay / sklearn                   {t_dl / t_sk:8.3f}   (target < 1)")


if __name__ == "__main__":
    main()
