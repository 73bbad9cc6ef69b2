"""Shared pieces of the monitor window tests (no conftest: h1's tests/monitor has one): the ACS employment data (shipped in the nannyml
package, read from its files without importing it) as events, and a list-backed store that
speaks the monitor Store API (docs/monitor.md) for the worker's own logic."""

from __future__ import annotations

import glob
import sysconfig
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

FEATURES = [
    "AGEP", "SCHL", "MAR", "RELP", "DIS", "ESP", "CIT", "MIG", "MIL", "ANC", "NATIVITY", "DEAR",
    "DEYE", "DREM", "SEX", "RAC1P",
]  # fmt: skip
NUMERIC = ("AGEP", "SCHL", "RELP", "ESP", "RAC1P")


def _acs_folder() -> Path | None:
    site = sysconfig.get_paths()["purelib"]
    found = glob.glob(f"{site}/nannyml/datasets/data/employment_MA_reference.pq")
    return Path(found[0]).parent if found else None


@pytest.fixture(scope="session", name="acs")
def acs_fixture() -> dict[str, pd.DataFrame]:
    """2015 (reference, with labels) and 2016-2018 (with their labels joined), NannyML's own
    model outputs as the production model's predictions."""
    folder = _acs_folder()
    if folder is None:
        pytest.skip("the ACS employment data ship with nannyml (pip install --no-deps nannyml)")
    ref = pd.read_parquet(folder / "employment_MA_reference.pq")
    cur = pd.read_parquet(folder / "employment_MA_analysis.pq").merge(
        pd.read_parquet(folder / "employment_MA_analysis_target.pq"), on="id"
    )
    for frame in (ref, cur):
        for c in FEATURES[1:]:
            frame[c] = frame[c].astype(int)
    return {"reference": ref, "current": cur}


def reference_table(rows: pd.DataFrame) -> pd.DataFrame:
    """The monitor's reference format: inputs, groups, prediction, prob_<label>, label."""
    return (
        rows[FEATURES]
        .assign(
            sex=np.where(rows["SEX"].to_numpy() == 1, "male", "female"),
            prediction=rows["prediction"].to_numpy(),
            prob_0=1 - rows["predicted_probability"].to_numpy(),
            prob_1=rows["predicted_probability"].to_numpy(),
            label=rows["employed"].to_numpy(),
        )
        .reset_index(drop=True)
    )


def as_events(
    rows: pd.DataFrame,
    *,
    start: datetime,
    step_s: float = 1.0,
    labelled_every: int = 0,
    prefix: str = "e",
    model_version: str = "v1",
) -> list[dict[str, Any]]:
    """Rows as monitor events, one every ``step_s`` seconds from ``start``; every
    ``labelled_every``-th event carries its label (0: none)."""
    out = []
    for i, row in enumerate(rows.itertuples(index=False)):
        r = row._asdict()
        p = float(r["predicted_probability"])
        out.append(
            {
                "event_id": f"{prefix}-{r['id']}",
                "timestamp": (pd.Timestamp(start) + pd.Timedelta(seconds=i * step_s)).isoformat(),
                "model_version": model_version,
                "inputs": {c: (float(r[c]) if c == "AGEP" else int(r[c])) for c in FEATURES},
                "prediction": int(r["prediction"]),
                "probabilities": {"0": 1 - p, "1": p},
                "groups": {"sex": "male" if int(r["SEX"]) == 1 else "female"},
                "latency_ms": 5.0 + (i % 40),
                "label": int(r["employed"]) if labelled_every and i % labelled_every == 0 else None,
            }
        )
    return out


def acs_suite(gates: list[str], checks: dict[str, Any] | None = None) -> Any:

    methods = {c: ("ks" if c in NUMERIC else "chi2") for c in FEATURES}
    raw = {
        "name": "acs-monitor",
        "data": {"test": {"path": "unused.parquet", "input": FEATURES, "label": "employed",
                          "groups": ["sex"]}},
        "models": {"production": "predictions:unused.csv"},
        "checks": checks
        if checks is not None
        else {"drift": {"reference": "reference.parquet", "methods": methods},
              "performance": {}, "fairness": {"positive_label": 1, "n_bootstrap": 200}},
        "gates": gates,
    }  # fmt: skip
    return _validated(raw)


def _validated(raw: dict[str, Any]) -> Any:
    # The suite's data and model files are not read by the monitor: only roles, checks, gates.
    from assay._runner._suite import read_suite_dict

    return read_suite_dict(raw, base_dir=Path("."), source="test suite")


class ListStore:
    """The monitor Store API over lists: events, window claims, windows, alerts."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.claims: set[str] = set()
        self.saved: dict[str, dict[str, Any]] = {}
        self.alert_rows: list[dict[str, Any]] = []
        self.n_claims_refused = 0

    def add_events(self, events: list[dict[str, Any]]) -> None:
        for e in events:
            self.rows.append({**e, "seq": len(self.rows) + 1})

    def add_labels(self, labels: dict[str, Any]) -> None:
        for r in self.rows:
            if r["event_id"] in labels:
                r["label"] = labels[r["event_id"]]

    def events(self, start=None, end=None, after_seq=None, limit=None) -> list[dict[str, Any]]:
        def ts(r: dict[str, Any]) -> pd.Timestamp:
            return pd.Timestamp(r["timestamp"]).tz_convert("UTC")

        out = [
            r
            for r in self.rows
            if (start is None or ts(r) >= pd.Timestamp(start))
            and (end is None or ts(r) < pd.Timestamp(end))
            and (after_seq is None or r["seq"] > after_seq)
        ]
        out.sort(key=lambda r: (ts(r), r["seq"]))
        return out[:limit] if limit else out

    def claim_window(self, key: str) -> bool:
        if key in self.claims:
            self.n_claims_refused += 1
            return False
        self.claims.add(key)
        return True

    def save_window(self, key, start, end, n_events, n_labelled, passed, summary, report_json):
        row = self.saved.get(key) or {"id": len(self.saved) + 1}
        row.update(key=key, start=start, end=end, n_events=n_events, n_labelled=n_labelled,
                   passed=passed, summary=summary, report_json=report_json)  # fmt: skip
        self.saved[key] = row
        return row["id"]

    def windows(self) -> list[dict[str, Any]]:
        return sorted(self.saved.values(), key=lambda r: r["id"])

    def window(self, id: int) -> dict[str, Any] | None:
        return next((r for r in self.saved.values() if r["id"] == id), None)

    def save_alert(self, **row: Any) -> int:
        self.alert_rows.append({**row, "created_at": datetime.now(timezone.utc)})
        return len(self.alert_rows)

    def alerts(self, state: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.alert_rows if state is None or r["state"] == state]
