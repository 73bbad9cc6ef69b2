"""The drift example: is a 2015 employment model still good on 2016, 2017 and 2018?

Reads what ``prepare.py`` wrote to ``examples/drift/work/`` and shows, per survey year:

1. **drift** of the features and the model's outputs against the 2015 reference
   (``assay.drift.detect_drift``, one window per year);
2. **performance without labels** — CBPE's estimated accuracy (and F1, ROC AUC) with its
   interval — and, once the labels arrive (joined by ``id``), the realised values beside it, with
   an alert where the realised value leaves the estimate's interval; the same on windows of
   10,000 rows for a finer view;
3. **fairness by sex** per year: accuracy and selection rate per group with intervals, and the
   gaps between the groups (``assay.fairness.group_metrics``), estimated without labels (CBPE per
   group) and realised.

Everything printed is also written to ``work/drift_example.json``.

Run: ``python examples/drift/prepare.py && python examples/drift/monitor.py``
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

from assay.drift import detect_drift, estimate_performance
from assay.fairness import group_metrics

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
FEATURES = [
    "AGEP", "SCHL", "MAR", "RELP", "DIS", "ESP", "CIT", "MIG", "MIL", "ANC", "NATIVITY", "DEAR",
    "DEYE", "DREM", "SEX", "RAC1P",
]  # fmt: skip
OUTPUTS = {"y_true": "employed", "y_pred_proba": "predicted_probability", "y_pred": "prediction"}
SEX = {1: "male", 2: "female"}


def interval(e: Any) -> str:
    return f"{e.value:.4f} [{e.lower:.4f}, {e.upper:.4f}]"


def drift_by_year(reference: pd.DataFrame, current: pd.DataFrame) -> list[dict[str, Any]]:
    columns = [*FEATURES, "prediction", "predicted_probability"]
    result = detect_drift(
        reference[columns],
        current[[*columns, "survey_date"]],
        prediction="prediction",
        probabilities=["predicted_probability"],
        column_types={c: "categorical" for c in FEATURES if c != "AGEP"},
        time_column="survey_date",
        every="YS",
        seed=0,
    )
    print("\n1. Drift against 2015, per year (per-column distance; threshold in brackets)")
    rows = []
    for w in result.windows:
        if w.n == 0:
            continue
        ranked = sorted(w.columns.items(), key=lambda kv: -(kv[1].get("statistic") or 0.0))
        top = ", ".join(
            f"{c} {v['statistic']:.3f} [{v['threshold']:.2f}]{' DRIFT' if v['drifted'] else ''}"
            for c, v in ranked[:4]
        )
        print(f"  {w.label[:4]}: n={w.n}, share of features drifted {w.share_drifted:.2f}; {top}")
        rows.append(w.to_dict())
    return rows


def performance(
    reference: pd.DataFrame, current: pd.DataFrame, labels: pd.DataFrame
) -> dict[str, Any]:
    by_year = estimate_performance(
        reference,
        current,
        **OUTPUTS,
        window="YS",
        time_column="survey_date",
        labels=labels,
        id_column="id",
        seed=0,
    )
    print(
        f"\n2. Performance without labels (CBPE; calibration: {by_year.calibration.method}), "
        "then realised once the labels arrive"
    )
    print(f"   reference 2015: accuracy {interval(by_year.reference['accuracy'])}")
    for w in by_year.windows:
        if w.n == 0:
            continue
        for m in ("accuracy", "f1", "roc_auc"):
            alert = "  ALERT: realised outside the estimate" if m in w.disagree else ""
            print(
                f"   {w.label[:4]} {m:9} estimated {interval(w.estimated[m])}"
                f"  realised {interval(w.realised[m])}{alert}"
            )
    by_rows = estimate_performance(
        reference, current, **OUTPUTS, window=10_000, labels=labels, id_column="id", seed=0
    )
    alerts = [w.label for w in by_rows.windows if "accuracy" in w.disagree]
    inside = sum(
        1 for w in by_rows.windows if w.estimated["accuracy"].contains(w.realised["accuracy"].value)
    )
    print(
        f"   windows of 10,000 rows: realised accuracy inside the estimate's 95% interval in "
        f"{inside}/{len(by_rows.windows)}; alerts: {', '.join(alerts) or 'none'}"
    )
    return {"by_year": by_year.to_dict(), "by_10000_rows": by_rows.to_dict()}


def fairness_by_sex(
    reference: pd.DataFrame, current: pd.DataFrame, labels: pd.DataFrame
) -> list[dict[str, Any]]:
    print("\n3. Fairness by sex per year: estimated (no labels) and realised accuracy per group")
    joined = current.merge(labels, on="id", how="left")
    out = []
    for year, part in joined.groupby("year"):
        estimated = {}
        for code, name in SEX.items():
            est = estimate_performance(
                reference[reference["SEX"] == code],
                part[part["SEX"] == code].drop(columns="employed"),
                **OUTPUTS,
                metrics=["accuracy"],
                seed=0,
            )
            estimated[name] = est.windows[0].estimated["accuracy"]
        gm = group_metrics(
            part.employed, part.prediction, part.SEX.map(SEX), positive_label=1, seed=0
        )
        line = "; ".join(
            f"{g} est {interval(estimated[g])} real {interval(gm.by_group[g]['accuracy'])}"
            for g in ("male", "female")
        )
        gaps = (
            f"accuracy gap {interval(gm.summaries['accuracy_difference'])}, selection-rate gap "
            f"{interval(gm.summaries['demographic_parity_difference'])}"
        )
        print(f"   {year}: {line}\n         {gaps}")
        out.append(
            {
                "year": int(year),
                "estimated_accuracy": {g: e.to_dict() for g, e in estimated.items()},
                "realised": {
                    g: {m: e.to_dict() for m, e in v.items()} for g, v in gm.by_group.items()
                },
                "summaries": {k: v.to_dict() for k, v in gm.summaries.items()},
            }
        )
    return out


def main() -> None:
    if not (WORK / "current.parquet").exists():
        sys.exit("run python examples/drift/prepare.py first")
    t0 = time.perf_counter()
    reference = pd.read_parquet(WORK / "reference.parquet")
    current = pd.read_parquet(WORK / "current.parquet")
    labels = pd.read_parquet(WORK / "labels.parquet")
    print(f"reference: {len(reference)} rows of 2015; current: {len(current)} rows of 2016-2018")
    report = {
        "drift_by_year": drift_by_year(reference, current),
        "performance": performance(reference, current, labels),
        "fairness_by_sex": fairness_by_sex(reference, current, labels),
    }
    (WORK / "drift_example.json").write_text(json.dumps(report, indent=1, default=str))
    print(f"\nin {time.perf_counter() - t0:.1f} s; written {WORK / 'drift_example.json'}")


if __name__ == "__main__":
    main()
