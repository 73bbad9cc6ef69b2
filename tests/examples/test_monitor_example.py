"""examples/monitor: the ACS traffic replayed through a running monitor, from a temporary copy of
the example (a 2% sample, half-year windows, to stay near a minute).

The windows the monitor stored are checked against the replayed files without assay: every event
sent is in exactly one window, and each window's realised accuracy is the share of its events whose
prediction equals the label that arrived later.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from assay.monitor import Store

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_monitor_example_replays_acs_traffic_end_to_end(tmp_path: Path) -> None:
    if importlib.util.find_spec("nannyml") is None:  # its files are read, the package never imported
        pytest.skip("the ACS data ship with nannyml (pip install --no-deps nannyml)")
    for name in ("drift", "monitor"):
        shutil.copytree(
            ROOT / "examples" / name,
            tmp_path / name,
            ignore=shutil.ignore_patterns("work", "__pycache__"),
        )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "ASSAY_MONITOR_LOG_LEVEL": "warning"}
    subprocess.run([sys.executable, str(tmp_path / "monitor" / "prepare.py")], check=True, env=env)
    done = subprocess.run(
        [sys.executable, str(tmp_path / "monitor" / "replay.py"), "--sample", "0.02",
         "--window", "182d"],
        check=True, env=env, capture_output=True, text=True,
    )  # fmt: skip
    work = tmp_path / "monitor" / "work"
    assert "every window scored with its labels" in done.stdout, done.stdout + done.stderr

    sent = _jsonl(work / "events.jsonl")[::50]  # what --sample 0.02 sends
    truth = {x["event_id"]: x["label"] for x in _jsonl(work / "labels.jsonl")}
    events = pd.DataFrame(
        {
            "id": [e["event_id"] for e in sent],
            "t": pd.to_datetime([e["timestamp"] for e in sent], utc=True, format="ISO8601"),
            "right": [e["prediction"] == truth[e["event_id"]] for e in sent],
        }
    )
    store = Store(f"sqlite:///{work / 'monitor.db'}")
    try:
        windows = store.windows()
    finally:
        store.close()
    assert sum(w.n_events for w in windows) == len(events)
    for w in windows:
        inside = events[(events["t"] >= w.start) & (events["t"] < w.end)]
        assert len(inside) == w.n_events == w.n_labelled
        realised = w.summary["realised"]["accuracy"]["value"]
        assert realised == pytest.approx(float(np.mean(inside["right"])), abs=1e-12)
        assert "accuracy" in w.summary["estimated"]  # CBPE's estimate beside it

    exported = _jsonl(work / "next_finetune.jsonl")
    assert exported and len({x["id"] for x in exported}) == len(exported)
    reasons = {r for x in exported for r in x["provenance"]["reasons"]}
    assert {"low-confidence", "misclassified"} <= reasons
    wrong = [x for x in exported if "misclassified" in x["provenance"]["reasons"]]
    assert all(x["prediction"] != x["label"] == truth[x["id"]] for x in wrong)
    page = (work / "dashboard.html").read_text()
    assert "Plotly" in page and windows[0].key.split(":")[1] == "182d"


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path) as f:
        return [json.loads(line) for line in f]
