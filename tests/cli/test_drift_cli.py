"""``assay drift``: JSON + HTML written, exit code by gates (0 pass, 1 gate failed, 2 bad input)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from assay._cli.main import app

runner = CliRunner()


@pytest.fixture
def files(tmp_path: Path, seed: int) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    n = 600
    ref = pd.DataFrame(
        {
            "id": np.arange(n),
            "income": rng.lognormal(10, 0.5, n),
            "region": rng.choice(["n", "s", "e", "w"], n),
            "day": np.repeat(pd.date_range("2024-01-01", periods=3), n // 3),
        }
    )
    cur = ref.copy()
    cur["income"] = rng.lognormal(10.4, 0.5, n)  # incomes rose
    ref.to_parquet(tmp_path / "ref.parquet")
    cur.to_csv(tmp_path / "cur.csv", index=False)
    return tmp_path / "ref.parquet", tmp_path / "cur.csv"


def test_drift_command_writes_reports_and_exits_by_gates(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    ref, cur = files
    out = tmp_path / "out"
    args = ["drift", "--reference", str(ref), "--current", str(cur), "--exclude", "id"]
    res = runner.invoke(
        app, [*args, "--out", str(out), "--gate", "drift.columns.region.psi <= 0.2"]
    )
    assert res.exit_code == 0, res.output
    assert "income" in res.output and "DRIFT" in res.output
    report = json.loads((out / "report.json").read_text())
    drift = report["results"][0]["tables"]["drift"]
    cols = {c["column"]: c for c in drift["columns"]}
    assert cols["income"]["drifted"] and not cols["region"]["drifted"]
    assert "id" not in cols
    assert 'id="check-drift"' in (out / "report.html").read_text()
    # a failing gate: exit 1, and the report is still written
    res = runner.invoke(
        app, [*args, "--out", str(out), "--gate", "drift.share_drifted.upper <= 0.2"]
    )
    assert res.exit_code == 1, res.output
    assert json.loads((out / "report.json").read_text())["gates"][0]["passed"] is False
    # windows by time and JSON on stdout
    res = runner.invoke(
        app, [*args, "--time-column", "day", "--every", "1D", "--method", "income=ks", "--json"]
    )
    assert res.exit_code == 0, res.output
    printed = json.loads(res.output)
    assert [w["n"] for w in printed["windows"]] == [200, 200, 200]
    assert {c["column"]: c["method"] for c in printed["columns"]}["income"] == "ks"


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--gate", "drift.share_drifting <= 0.2"], "share_drifted"),
        (["--method", "income=nope"], "'nope' does not test a numeric column"),
        (["--threshold", "income=high"], "must be a number"),
        (["--column", "salary"], "'salary' is in neither table"),
        (["--time-column", "day"], "needs every="),
        (["--every", "1D"], "needs time_column="),
    ],
)
def test_bad_options_exit_2_with_the_fix(
    files: tuple[Path, Path], extra: list[str], words: str
) -> None:
    ref, cur = files
    res = runner.invoke(app, ["drift", "--reference", str(ref), "--current", str(cur), *extra])
    assert res.exit_code == 2, res.output
    assert words in " ".join(res.output.split())


def test_missing_file_exits_2(files: tuple[Path, Path], tmp_path: Path) -> None:
    ref, _ = files
    res = runner.invoke(
        app, ["drift", "--reference", str(ref), "--current", str(tmp_path / "none.csv")]
    )
    assert res.exit_code == 2, res.output
    assert "none.csv" in res.output
