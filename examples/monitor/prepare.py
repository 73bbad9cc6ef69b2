"""Build the monitor example: the ACS employment model of the drift example, replayed as traffic.

Reads what ``examples/drift/prepare.py`` writes (running it first when its files are missing) and
writes, to ``examples/monitor/work/`` (ignored by git):

- ``reference.parquet``: the 2015 rows the model was evaluated on, in the monitor's table format
  (the feature columns — age a number, the survey's codes as text: they are categories —, the group column ``sex``, ``prediction``, ``prob_0``, ``prob_1``,
  ``label``) — what the drift check and CBPE compare each window with;
- ``events.jsonl``: 2016–2018 as production events in time order. ACS gives only the survey
  year, so each year's rows are spread evenly over that year (a seeded shuffle), one event every
  few minutes, with the model's prediction, probabilities and ``groups: {"sex": ...}``;
- ``labels.jsonl``: the true ``employed`` of every event, each with ``arrives_at`` = its event's
  time plus 60 days (ground truth arrives late, as it does in production).

Run: ``python examples/monitor/prepare.py`` (then ``python examples/monitor/replay.py``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
DRIFT_WORK = HERE.parent / "drift" / "work"
FEATURES = [
    "AGEP", "SCHL", "MAR", "RELP", "DIS", "ESP", "CIT", "MIG", "MIL", "ANC", "NATIVITY", "DEAR",
    "DEYE", "DREM", "SEX", "RAC1P",
]  # fmt: skip
SEX = {1: "male", 2: "female"}
LABEL_DELAY = pd.Timedelta(days=60)


def monitor_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The drift example's columns in the monitor's table format."""
    p1 = frame["predicted_probability"].to_numpy(dtype=float)
    return pd.DataFrame(
        {
            "id": frame["id"].astype(str),
            "AGEP": frame["AGEP"].to_numpy(),
            # survey codes are categories, not quantities: sent as text
            **{c: frame[c].astype(int).astype(str).to_numpy() for c in FEATURES if c != "AGEP"},
            "sex": frame["SEX"].map(SEX).to_numpy(),
            "prediction": frame["prediction"].astype(int).astype(str).to_numpy(),
            "prob_0": 1.0 - p1,
            "prob_1": p1,
        }
    )


def event_times(years: pd.Series, seed: int = 0) -> pd.Series:
    """Each row's time: its year's rows spread evenly over the year, in a seeded random order."""
    rng = np.random.default_rng(seed)
    times = pd.Series(pd.NaT, index=years.index, dtype="datetime64[ns, UTC]")
    for year, rows in years.groupby(years).groups.items():
        start = pd.Timestamp(f"{year}-01-01", tz="UTC")
        span = pd.Timestamp(f"{year + 1}-01-01", tz="UTC") - start
        order = rng.permutation(len(rows))
        times[rows] = start + span * (order / len(rows))
    return times


def main() -> None:
    t0 = time.perf_counter()
    if not (DRIFT_WORK / "current.parquet").exists():
        subprocess.run([sys.executable, str(HERE.parent / "drift" / "prepare.py")], check=True)
    reference = pd.read_parquet(DRIFT_WORK / "reference.parquet")
    current = pd.read_parquet(DRIFT_WORK / "current.parquet")
    labels = pd.read_parquet(DRIFT_WORK / "labels.parquet").set_index("id")["employed"]
    WORK.mkdir(exist_ok=True)

    ref = monitor_table(reference).assign(label=reference["employed"].astype(int).astype(str))
    ref.to_parquet(WORK / "reference.parquet", index=False)

    live = monitor_table(current)
    live["timestamp"] = event_times(current["year"]).to_numpy()
    live["label"] = current["id"].map(labels).astype(int).astype(str).to_numpy()
    live = live.sort_values("timestamp", kind="stable")
    with open(WORK / "events.jsonl", "w") as events, open(WORK / "labels.jsonl", "w") as truth:
        for row in live.itertuples(index=False):
            r = row._asdict()
            stamp = r["timestamp"]
            events.write(
                json.dumps(
                    {
                        "event_id": r["id"],
                        "timestamp": stamp.isoformat(),
                        "model_version": "hgb-2015",
                        "inputs": {c: r[c] if c != "AGEP" else int(r[c]) for c in FEATURES},
                        "prediction": r["prediction"],
                        "probabilities": {"0": round(r["prob_0"], 6), "1": round(r["prob_1"], 6)},
                        "groups": {"sex": r["sex"]},
                    }
                )
                + "\n"
            )
            arrives = (stamp + LABEL_DELAY).isoformat()
            truth.write(
                json.dumps({"event_id": r["id"], "label": r["label"], "arrives_at": arrives}) + "\n"
            )
    print(
        f"reference {len(ref)} rows (2015); {len(live)} events 2016-2018 and their labels "
        f"(arriving {LABEL_DELAY.days} days late) in {time.perf_counter() - t0:.1f} s -> {WORK}"
    )


if __name__ == "__main__":
    main()
