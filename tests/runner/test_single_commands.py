"""``assay.check_leakage`` and ``assay.diagnose_curves`` as library calls: the Report, gates checked
before any file is read, and nothing written without ``out``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import assay
from assay.errors import ConfigError, DataError


@pytest.fixture
def texts(tmp_path: Path) -> Path:
    train = [f"training review number {i} about a film" for i in range(30)]
    test = [f"held-out review {i} of a different film" for i in range(20)]
    test[3] = train[7]
    test[4] = ""  # no text: left out, with a note
    pd.DataFrame({"review": train}).to_csv(tmp_path / "train.csv", index=False)
    pd.DataFrame({"review": test}).to_csv(tmp_path / "test.csv", index=False)
    return tmp_path


def test_check_leakage_returns_the_report_and_writes_only_with_out(
    texts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(texts)
    r = assay.check_leakage(
        "train.csv",
        "test.csv",
        input="review",
        gates=["leakage.exact.count == 1", "leakage.contaminated.rate.upper <= 0.3"],
    )
    assert sorted(p.name for p in texts.iterdir()) == ["test.csv", "train.csv"]
    res = r.result("leakage")
    assert res is not None and res.n == 19 and res.tables["duplicates"]["exact"] == [[3, 7]]
    assert [g.passed for g in r.gates] == [True, True] and r.passed  # 1/19: Wilson upper 0.25
    assert "1 rows left out (missing input: 1)" in res.tables["notes"][0]
    assert [d["name"] for d in r.datasets] == ["train", "test"]
    assert r.datasets[1]["dropped"] == {"missing input": 1}
    assay.check_leakage("train.csv", "test.csv", input="review", out="out")
    assert sorted(p.name for p in (texts / "out").iterdir()) == ["report.html", "report.json"]


def test_gates_and_options_are_checked_before_any_file_is_read(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    with pytest.raises(ConfigError, match="leakage.embedding.rate"):
        # embedding paths exist only when embeddings are compared
        assay.check_leakage(missing, missing, gates=["leakage.embedding.rate <= 0"])
    with pytest.raises(ConfigError, match="threshold must be in"):
        assay.check_leakage(missing, missing, threshold=1.5)
    with pytest.raises(ConfigError, match="generalization.curves.best_step"):
        assay.diagnose_curves(missing, gates=["generalization.test.accuracy >= 0.9"])
    with pytest.raises(DataError, match="no column 'text'.*review.*--input"):
        pd.DataFrame({"review": ["a"]}).to_csv(missing, index=False)
        assay.check_leakage(missing, missing)


def test_diagnose_curves_on_a_csv_log(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    rows = ["step,train_loss,val_loss"] + [
        f"{s},{1 / s:.4f},{0.5 + 0.01 * s:.4f}" for s in range(1, 9)
    ]
    log.write_text("\n".join(rows) + "\n")
    r = assay.diagnose_curves(
        log, smoothing=0, gates=["generalization.curves.best_step.value == 1"]
    )
    res = r.result("generalization")
    assert res is not None and res.tables["curves"]["source"] == str(log.resolve())
    assert res.tables["curves"]["verdict"] == "severe" and r.passed
    assert res.metrics["curves.best_step"].value == 1.0
    assert r.suite["options"]["smoothing"] == 0 and r.suite["gates"] == [
        "generalization.curves.best_step.value == 1"
    ]
