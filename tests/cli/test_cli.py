"""The CLI only parses and calls the library: exit codes and messages."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import joblib
import pytest
import yaml
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from assay._cli.main import app

runner = CliRunner()


def make_project(tmp_path: Path) -> Path:
    data = load_breast_cancer(as_frame=True)
    frame = data.frame.rename(columns=lambda c: c.replace(" ", "_")).iloc[:300]
    features = ["mean_radius", "mean_texture", "mean_smoothness"]
    model = LogisticRegression(max_iter=1000).fit(frame[features], frame["target"])
    joblib.dump(model, tmp_path / "model.joblib")
    frame[[*features, "target"]].to_csv(tmp_path / "test.csv", index=False)
    return tmp_path


def test_init_then_run_then_report(tmp_path: Path) -> None:
    make_project(tmp_path)
    res = runner.invoke(
        app,
        [
            "init",
            "--data",
            str(tmp_path / "test.csv"),
            "--label",
            "target",
            "--out",
            str(tmp_path / "suite.yaml"),
        ],
    )
    assert res.exit_code == 0, res.output
    suite = yaml.safe_load((tmp_path / "suite.yaml").read_text())
    assert suite["data"]["label"] == "target"
    assert set(suite["data"]["input"]) == {"mean_radius", "mean_texture", "mean_smoothness"}
    # loading a pickle runs code: the starter suite never trusts it on the user's behalf
    assert "trust" not in suite
    assert "assay run suite.yaml --trust" in (tmp_path / "suite.yaml").read_text()
    res = runner.invoke(
        app,
        [
            "run",
            str(tmp_path / "suite.yaml"),
            "--model",
            f"sklearn:{tmp_path / 'model.joblib'}",
            "--trust",
            "--out",
            str(tmp_path / "out"),
            "--quiet",
            "--no-cache",
        ],
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "out" / "report.json").exists()
    res = runner.invoke(
        app,
        ["report", str(tmp_path / "out" / "report.json"), "--html", str(tmp_path / "again.html")],
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "again.html").read_text().startswith("<!DOCTYPE html>")


def _run_cancer_suite(tmp_path: Path, *, inputs: list[str], gate: str) -> Any:
    """``assay run`` on the breast-cancer project with these input columns and one gate."""
    make_project(tmp_path)
    suite = {
        "data": {"path": "test.csv", "input": inputs, "label": "target"},
        "models": "sklearn:model.joblib",
        "trust": True,
        "engine": {"cache": None},
        "gates": [gate],
    }
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    return runner.invoke(
        app, ["run", str(tmp_path / "suite.yaml"), "--quiet", "--out", str(tmp_path / "o")]
    )


def test_failed_gate_exits_1(tmp_path: Path) -> None:
    features = ["mean_radius", "mean_texture", "mean_smoothness"]
    res = _run_cancer_suite(tmp_path, inputs=features, gate="performance.accuracy.lower >= 0.999")
    assert res.exit_code == 1, res.output


def test_a_model_that_fails_on_every_row_exits_2_with_the_cause(tmp_path: Path) -> None:
    # a feature missing from `input:`: every call raises; this used to be "no metric matched"
    # and exit 1 (a failed gate), with the cause only inside report.json
    res = _run_cancer_suite(
        tmp_path, inputs=["mean_radius"], gate="performance.accuracy.lower >= 0.5"
    )
    assert res.exit_code == 2, res.output
    # 265 distinct inputs among the 300 rows (the engine asks each once)
    assert re.search(r"(\d+) of \1 calls failed after retries, every one", res.output)
    assert "lacks feature(s) 'mean_texture'" in res.output
    assert not (tmp_path / "o" / "report.json").exists()


def test_config_error_exits_2_with_message(tmp_path: Path) -> None:
    make_project(tmp_path)
    suite = {
        "data": {"path": "test.csv", "input": ["mean_radius"], "label": "targt"},
        "models": "sklearn:model.joblib",
        "trust": True,
    }
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    res = runner.invoke(app, ["run", str(tmp_path / "suite.yaml"), "--quiet"])
    assert res.exit_code == 2
    assert "targt" in res.output and "target" in res.output


def test_untrusted_joblib_exits_2(tmp_path: Path) -> None:
    make_project(tmp_path)
    suite = {
        "data": {"path": "test.csv", "input": ["mean_radius"], "label": "target"},
        "models": "sklearn:model.joblib",
    }
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    res = runner.invoke(app, ["run", str(tmp_path / "suite.yaml"), "--quiet"])
    assert res.exit_code == 2 and "--trust" in res.output


def test_report_of_missing_file_exits_2(tmp_path: Path) -> None:
    res = runner.invoke(app, ["report", str(tmp_path / "nope.json")])
    assert res.exit_code == 2 and "no such report" in res.output


def test_init_declares_the_labels_and_gates_on_what_could_not_be_scored(tmp_path: Path) -> None:
    make_project(tmp_path)
    out = tmp_path / "suite.yaml"
    res = runner.invoke(
        app, ["init", "--data", str(tmp_path / "test.csv"), "--label", "target", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    text = out.read_text()
    suite = yaml.safe_load(text)
    assert suite["data"]["labels"] == ["0", "1"]
    assert suite["checks"]["performance"] == {"positive_label": "1"}
    assert "performance.unscored.* <= 0" in suite["gates"]
    assert "- performance.unscored.* <= 0   # every row is scored" in text
    res = runner.invoke(
        app,
        [
            "run",
            str(out),
            "--model",
            f"sklearn:{tmp_path / 'model.joblib'}",
            "--trust",
            "--out",
            str(tmp_path / "out"),
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "unscored candidate · test: none, every row scored" in res.output


def test_init_refuses_labels_that_differ_only_in_case(tmp_path: Path) -> None:
    rows = [
        f"{i},{'a long enough review text' if i % 2 else 'short'},{'pos' if i % 2 else 'neg'}"
        for i in range(30)
    ]
    rows[7] = "7,a long enough review text,Pos"
    (tmp_path / "d.csv").write_text("id,text,label\n" + "\n".join(rows) + "\n")
    res = runner.invoke(
        app, ["init", "--data", str(tmp_path / "d.csv"), "--out", str(tmp_path / "s.yaml")]
    )
    output = " ".join(res.output.split())
    assert res.exit_code == 2, res.output
    assert "'Pos' (1 row: 8)" in output and "'pos' (14 rows: 2, 4, 6, …)" in output
    assert not (tmp_path / "s.yaml").exists()


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    make_project(tmp_path)
    (tmp_path / "suite.yaml").write_text("x: 1\n")
    res = runner.invoke(
        app, ["init", "--data", str(tmp_path / "test.csv"), "--out", str(tmp_path / "suite.yaml")]
    )
    assert res.exit_code == 2 and "--force" in res.output


def _suite_with_a_planted_bug(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A valid suite whose scoring hits an error assay did not foresee (planted: a
    ZeroDivisionError inside the performance check), so it reaches the CLI's last line of
    defence. (A suite without a label column used to do this; it is now a DataError.)"""
    (tmp_path / "d.csv").write_text("id,text,y\n1,good,pos\n2,bad,neg\n", encoding="utf-8")
    (tmp_path / "m.py").write_text("def f(batch):\n    return ['pos' for _ in batch]\n")
    suite = {
        "data": {"path": "d.csv", "id": "id", "input": "text", "label": "y"},
        "models": {"m": "python:m.py:f"},
        "checks": {"performance": {}},
        "engine": {"progress": False},
    }
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(suite), encoding="utf-8")

    def planted(*args: Any, **kwargs: Any) -> Any:
        raise ZeroDivisionError("planted bug")

    monkeypatch.setattr("assay.checks._performance.collect_predictions", planted)
    return tmp_path / "s.yaml"


def test_unexpected_error_is_exit_2_with_a_short_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from assay._cli.main import main

    suite = _suite_with_a_planted_bug(tmp_path, monkeypatch)
    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(suite), "--out", str(tmp_path / "out"), "--quiet", "--no-cache"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "unexpected ZeroDivisionError" in err and "planted bug" in err
    assert "--debug" in err and "Traceback" not in err


def test_debug_shows_the_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from assay._cli.main import main

    suite = _suite_with_a_planted_bug(tmp_path, monkeypatch)
    args = ["run", str(suite), "--out", str(tmp_path / "out"), "--quiet", "--no-cache"]
    with pytest.raises(ZeroDivisionError, match="planted bug"):
        main(["--debug", *args])
    monkeypatch.setenv("ASSAY_DEBUG", "1")
    with pytest.raises(ZeroDivisionError, match="planted bug"):
        main(args)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"<html><body>404 Not Found</body></html>", "a text/HTML page"),
        (b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 9\n", "git lfs pull"),
        (b"", "an empty file"),
        ("truncated", "not a joblib/pickle file, or saved with another version"),
    ],
)
def test_corrupt_joblib_file_exits_2_naming_the_file_and_the_fix(
    tmp_path: Path, content: bytes | str, words: str
) -> None:
    make_project(tmp_path)
    model = tmp_path / "model.joblib"
    good = model.read_bytes()
    model.write_bytes(good[: len(good) // 2] if content == "truncated" else content)
    suite = {
        "data": {"path": "test.csv", "input": ["mean_radius"], "label": "target"},
        "models": "sklearn:model.joblib",
        "trust": True,
    }
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    res = runner.invoke(
        app, ["run", str(tmp_path / "suite.yaml"), "--quiet", "--out", str(tmp_path / "o")]
    )
    assert res.exit_code == 2, res.output
    flat = " ".join(res.output.split())
    assert "could not load model file" in flat and "model.joblib" in flat and words in flat
    assert "re-save it with joblib.dump(model, 'model.joblib')" in flat
    assert "unexpected" not in flat


def test_command_line_paths_resolve_against_the_working_directory_suite_paths_against_the_suite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One rule: a path on the command line is relative to where assay runs; a path inside the
    suite file (data, models, out) is relative to the suite's folder."""
    (tmp_path / "project").mkdir()
    project = make_project(tmp_path / "project")
    features = ["mean_radius", "mean_texture", "mean_smoothness"]
    frame = __import__("pandas").read_csv(project / "test.csv")
    frame.insert(0, "id", [f"r{i}" for i in range(len(frame))])
    frame.to_csv(project / "test.csv", index=False)
    suite = {
        "data": {"path": "test.csv", "id": "id", "input": features, "label": "target"},
        "models": "sklearn:model.joblib",
        "trust": True,
        "engine": {"cache": None, "progress": False},
        "out": "results",
    }
    (project / "suite.yaml").write_text(yaml.safe_dump(suite))
    here = tmp_path / "elsewhere"
    here.mkdir()
    monkeypatch.chdir(here)
    # the suite's own paths: data, model and out beside the suite, run from another folder
    res = runner.invoke(app, ["run", "../project/suite.yaml", "--quiet"])
    assert res.exit_code == 0, res.output
    assert (project / "results" / "report.json").exists() and not (here / "results").exists()
    # command-line paths: a predictions file and a dataset in the working directory; files of
    # the same name beside the suite must not be read instead
    frame.iloc[:50].to_csv(here / "small.csv", index=False)
    (here / "preds.csv").write_text(
        "id,prediction\n" + "".join(f"r{i},{t}\n" for i, t in enumerate(frame["target"][:50]))
    )
    (project / "preds.csv").write_text("id,prediction\nr0,0\n")
    res = runner.invoke(
        app,
        [
            "run", "../project/suite.yaml", "--quiet", "--model", "predictions:preds.csv",
            "--data", "small.csv", "--out", "mine",
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    report = __import__("json").loads((here / "mine" / "report.json").read_text())
    perf = next(r for r in report["results"] if r["check"] == "performance")
    assert perf["n"] == 50 and perf["metrics"]["accuracy"]["value"] == 1.0


@pytest.mark.parametrize("command", ["compare", "shadow"])
@pytest.mark.parametrize("margin", ["accuracy", "=0.01", "accuracy=high"])
def test_a_bad_margin_exits_2_with_the_same_message_in_compare_and_shadow(
    tmp_path: Path, command: str, margin: str
) -> None:
    """Both commands read ``--margin METRIC=VALUE`` with one parser (``parse_margins``)."""
    a, b = str(tmp_path / "a.json"), str(tmp_path / "b.json")
    args = [a, b] if command == "compare" else ["--events", a, "--candidate", "python:m.py:f"]
    res = CliRunner().invoke(app, [command, *args, "--margin", margin])
    assert res.exit_code == 2, res.output
    assert f"--margin {margin!r}: expected METRIC=VALUE" in res.output
