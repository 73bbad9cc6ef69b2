"""Side-by-side timing: assay's group table with intervals against Fairlearn's MetricFrame.

Run: ``.venv/bin/python benchmarks/bench_fairness.py [--n N] [--groups G] [--quick]``

N examples (default 1,000,000), G groups (default 10), binary labels. Fairlearn: ``MetricFrame``
with accuracy, precision, recall, selection rate and false positive rate per group, plus
``demographic_parity_difference`` and ``equalized_odds_difference`` — point values only.
assay: ``assay.fairness.group_metrics`` — every per-group metric (those five and F1, FNR) with a
95% interval, and every across-group summary (min, max, difference, ratio, demographic parity,
equalized odds, …) with a 1000-resample bootstrap interval. Both in the same process; the values
they share are checked equal before the ratio is printed.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    from fairlearn.metrics import (
        MetricFrame,
        demographic_parity_difference,
        equalized_odds_difference,
        false_positive_rate,
        selection_rate,
    )
    from sklearn.metrics import accuracy_score, precision_score, recall_score

    from assay.fairness import group_metrics

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--groups", type=int, default=10)
    ap.add_argument("--quick", action="store_true", help="N = 100,000")
    args = ap.parse_args()
    n = 100_000 if args.quick else args.n
    rng = np.random.default_rng(0)
    g = rng.integers(0, args.groups, n)
    y = (rng.random(n) < 0.3 + 0.02 * g).astype(int)
    yp = np.where(rng.random(n) < 0.8, y, 1 - y)

    def fairlearn() -> dict[str, Any]:
        mf = MetricFrame(
            metrics={
                "accuracy": accuracy_score,
                "precision": precision_score,
                "recall": recall_score,
                "selection_rate": selection_rate,
                "false_positive_rate": false_positive_rate,
            },
            y_true=y,
            y_pred=yp,
            sensitive_features=g,
        )
        return {
            "by_group": mf.by_group,
            "dpd": demographic_parity_difference(y, yp, sensitive_features=g),
            "eod": equalized_odds_difference(y, yp, sensitive_features=g),
        }

    def ours() -> Any:
        return group_metrics(y, yp, g, positive_label=1, n_bootstrap=1000, seed=0)

    ours()  # warm-up (imports)
    t_assay, gm = timed(ours, repeat=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_fl, ref = timed(fairlearn)
    worst = max(
        abs(gm.summaries["demographic_parity_difference"].value - ref["dpd"]),
        abs(gm.summaries["equalized_odds_difference"].value - ref["eod"]),
    )
    for key, row in ref["by_group"].iterrows():
        for m in row.index:
            worst = max(worst, abs(gm.by_group[str(key)][m].value - float(row[m])))
    assert worst <= 1e-12, worst
    print(
        f"group table, N={n:,}, {args.groups} groups (max |difference| of shared values: "
        f"{worst:.1e})"
    )
    print(f"  fairlearn MetricFrame (5 metrics) + DP + EO, no intervals: {t_fl:9.3f} s")
    print(f"  assay group_metrics, every value with an interval:        {t_assay:9.4f} s")
    print(f"  ratio: {t_fl / t_assay:,.0f}x")


if __name__ == "__main__":
    main()
