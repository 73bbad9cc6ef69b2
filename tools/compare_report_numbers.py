"""Compare every number of two ``report.json`` files: did a change move any result?

For a refactor that must not change what assay reports (``python tools/compare_report_numbers.py
before/report.json after/report.json``). Every metric of every (check, model) is compared: its
point value, its interval bounds and its n; then the gate outcomes and the flags. Exits 1 when a
point value differs by more than ``--value-tol``, a bound by more than ``--bound-tol``, an n or a
gate outcome differs, or a metric exists in one report only.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any


def _metrics(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for r in report["results"]:
        for name, est in r["metrics"].items():
            out[f"{r['check']}[{r['model']}].{name}"] = est
    return out


def _diff(a: Any, b: Any) -> float:
    if a is None or b is None:
        return 0.0 if a is b else math.inf
    if math.isnan(a) and math.isnan(b):
        return 0.0
    return abs(float(a) - float(b))


def compare(before: dict[str, Any], after: dict[str, Any], value_tol: float, bound_tol: float) -> int:
    ma, mb = _metrics(before), _metrics(after)
    problems = [f"only before: {k}" for k in sorted(ma.keys() - mb.keys())]
    problems += [f"only after: {k}" for k in sorted(mb.keys() - ma.keys())]
    worst_value, worst_bound, moved_bounds = 0.0, 0.0, 0
    for k in sorted(ma.keys() & mb.keys()):
        a, b = ma[k], mb[k]
        dv = _diff(a["value"], b["value"])
        db = max(_diff(a["lower"], b["lower"]), _diff(a["upper"], b["upper"]))
        worst_value, worst_bound = max(worst_value, dv), max(worst_bound, db)
        moved_bounds += db > 0
        if dv > value_tol:
            problems.append(f"{k}: value {a['value']!r} -> {b['value']!r}")
        if db > bound_tol:
            problems.append(
                f"{k}: interval [{a['lower']}, {a['upper']}] -> [{b['lower']}, {b['upper']}]"
            )
        if a.get("n") != b.get("n"):
            problems.append(f"{k}: n {a.get('n')} -> {b.get('n')}")
    gates_a = {g["gate"]: g["passed"] for g in before.get("gates", [])}
    gates_b = {g["gate"]: g["passed"] for g in after.get("gates", [])}
    if gates_a != gates_b:
        problems.append(f"gate outcomes differ: {gates_a} -> {gates_b}")
    flags_a = sorted(f for r in before["results"] for f in r["flags"])
    flags_b = sorted(f for r in after["results"] for f in r["flags"])
    print(
        f"{len(ma.keys() & mb.keys())} metrics in both; largest change of a point value "
        f"{worst_value:.3g}, of an interval bound {worst_bound:.3g} ({moved_bounds} intervals "
        f"moved); gates {'same' if gates_a == gates_b else 'DIFFER'}; flags "
        f"{'same' if flags_a == flags_b else 'differ'}"
    )
    for p in problems:
        print("  " + p)
    return 1 if problems else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--value-tol", type=float, default=1e-12)
    ap.add_argument("--bound-tol", type=float, default=1e-12)
    args = ap.parse_args()
    load = lambda p: json.loads(p.read_text(encoding="utf-8"))  # noqa: E731
    return compare(load(args.before), load(args.after), args.value_tol, args.bound_tol)


if __name__ == "__main__":
    sys.exit(main())
