"""Power of assay's drift tests on known shifts, and their false-alarm rate, by simulation.

Prints a Markdown table (docs/drift.md quotes it): for each sample size (reference = current =
n rows) and shift, the share of repetitions in which the column is called drifted by the method
``auto`` picks (KS / chi-squared with BH at 0.05 while n <= 1000; normalised Wasserstein >= 0.1 /
Jensen–Shannon >= 0.1 beyond).

    python benchmarks/drift_power.py [--reps 200]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from assay.drift import detect_drift

SHIFTS = {
    "none": lambda rng, n: (
        rng.normal(size=n),
        rng.choice(list("abcd"), n, p=[0.4, 0.3, 0.2, 0.1]),
    ),
    "mean +0.1 sd": lambda rng, n: (rng.normal(0.1, 1, n), None),
    "mean +0.25 sd": lambda rng, n: (rng.normal(0.25, 1, n), None),
    "sd x1.2": lambda rng, n: (rng.normal(0, 1.2, n), None),
    "mix: 5 pts a->d": lambda rng, n: (None, rng.choice(list("abcd"), n, p=[0.35, 0.3, 0.2, 0.15])),
    "mix: 10 pts a->d": lambda rng, n: (None, rng.choice(list("abcd"), n, p=[0.3, 0.3, 0.2, 0.2])),
}
SIZES = (100, 500, 1000, 5000, 50_000)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=200)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    header = "| shift | " + " | ".join(f"n = {n:,}" for n in SIZES) + " |"
    print(header)
    print("| --- |" + " --- |" * len(SIZES))
    for name, draw in SHIFTS.items():
        cells = []
        for n in SIZES:
            hits = 0
            reps = args.reps if n <= 5000 else max(20, args.reps // 5)
            for _ in range(reps):
                ref = pd.DataFrame(
                    {
                        "x": rng.normal(size=n),
                        "c": rng.choice(list("abcd"), n, p=[0.4, 0.3, 0.2, 0.1]),
                    }
                )
                x, c = draw(rng, n)
                cur = ref.copy()
                cur["x"] = x if x is not None else rng.normal(size=n)
                cur["c"] = (
                    c if c is not None else rng.choice(list("abcd"), n, p=[0.4, 0.3, 0.2, 0.1])
                )
                col = "c" if name.startswith("mix") else "x"
                r = detect_drift(ref, cur, n_jobs=1)
                hits += r.column(col).drifted
            cells.append(f"{hits / reps:.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
