"""``assay.check_drift`` as a library call: the Report, gates checked before any file is read,
nothing written without ``out``, and no earlier report left behind when a run fails."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import assay
from assay.errors import ConfigError, DataError


@pytest.fixture
def tables(tmp_path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame({"age": rng.normal(40, 10, 400), "plan": rng.choice(["a", "b"], 400)})
    cur = pd.DataFrame({"age": rng.normal(45, 10, 300), "plan": rng.choice(["a", "b"], 300)})
    ref.to_csv(tmp_path / "ref.csv", index=False)
    cur.to_json(tmp_path / "cur.jsonl", orient="records", lines=True)
    return tmp_path


def test_check_drift_returns_the_report_and_writes_only_with_out(
    tables: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tables)
    r = assay.check_drift(
        "ref.csv",
        "cur.jsonl",
        gates=["drift.columns.age.drifted == 1", "drift.columns.plan.p_adjusted >= 0.001"],
    )
    assert sorted(p.name for p in tables.iterdir()) == ["cur.jsonl", "ref.csv"]
    res = r.result("drift")
    assert res is not None and res.n == 300
    assert [g.passed for g in r.gates] == [True, True] and r.passed
    assert [d["name"] for d in r.datasets] == ["reference", "current"]
    assert res.metrics["share_drifted"].value == 0.5
    assay.check_drift("ref.csv", "cur.jsonl", out="out")
    assert sorted(p.name for p in (tables / "out").iterdir()) == ["report.html", "report.json"]


def test_bad_gates_before_files_and_no_stale_report(tables: Path) -> None:
    missing = tables / "nope.csv"
    with pytest.raises(ConfigError, match="drift.columns"):
        assay.check_drift(missing, missing, gates=["drift.age.psi <= 0.2"])
    out = tables / "out"
    assay.check_drift(tables / "ref.csv", tables / "cur.jsonl", out=out)
    assert (out / "report.json").exists()
    with pytest.raises(DataError, match="nope.csv"):
        assay.check_drift(tables / "ref.csv", missing, out=out)
    assert not (out / "report.json").exists()  # a failed run leaves no earlier pass behind
