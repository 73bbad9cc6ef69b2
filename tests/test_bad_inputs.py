"""The bad-input matrix: malformed inputs a new user brings, each with its exit code and message.

Every case starts from one small, valid project (a text data set, a predictions file, a suite),
breaks one thing, runs ``assay`` as the console entry point does, and checks:

- the exit code (2: usage, config or data error; 1: a gate failed; 0: all gates pass);
- the words the message must contain: where (file, row or line, column or YAML path) and a fix;
- that no report claiming success is left behind: the ``--out`` folder starts with a stale
  report.json/report.html from an "earlier success", which a failed run must not leave in place.

Groups: data files, predictions files, suites, models, gates, command-line arguments, endpoints.
"""

from __future__ import annotations

import copy
import json
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from assay._cli.main import main

LABELS = ["neg", "pos"]
N_ROWS = 40


@dataclass
class Project:
    """The files of one small valid project, as plain data a case can break."""

    data: list[list[Any]] = field(
        default_factory=lambda: (
            [["id", "text", "label"]]
            + [[i, f"review number {i}", LABELS[i % 2]] for i in range(1, N_ROWS + 1)]
        )
    )
    preds: list[list[Any]] = field(
        default_factory=lambda: (
            [["id", "prediction", "prob_neg", "prob_pos"]]
            + [
                [i, LABELS[i % 2] if i % 7 else LABELS[1 - i % 2], *_probs(i)]
                for i in range(1, N_ROWS + 1)
            ]
        )
    )
    suite: dict[str, Any] = field(
        default_factory=lambda: {
            "data": {
                "path": "test.csv",
                "id": "id",
                "input": "text",
                "label": "label",
                "labels": list(LABELS),
            },
            "models": {"candidate": "predictions:preds.csv"},
            "checks": {"performance": {"n_bootstrap": 50}},
            "gates": ["performance.accuracy >= 0.5"],
        }
    )
    files: dict[str, str | bytes] = field(default_factory=dict)  # extra or replaced files
    args: list[str] = field(default_factory=list)  # extra CLI arguments after `run suite.yaml`
    argv: list[str] | None = None  # the whole command line instead, {dir} is the project folder


def _probs(i: int) -> list[str]:
    p_pos = 0.8 if (i % 2 == 1) == bool(i % 7) else 0.3
    return [f"{1 - p_pos:.2f}", f"{p_pos:.2f}"]


def _csv(rows: list[list[Any]]) -> str:
    return "\n".join(",".join("" if v is None else str(v) for v in r) for r in rows) + "\n"


@dataclass(frozen=True)
class Case:
    name: str
    group: str
    breaks: Callable[[Project], None]
    exit: int
    words: tuple[str, ...]


def case(
    group: str, name: str, exit: int, *words: str
) -> Callable[[Callable[[Project], None]], Case]:
    def wrap(fn: Callable[[Project], None]) -> Case:
        return Case(name, group, fn, exit, words)

    return wrap


def _set(path: str, value: Any) -> Callable[[Project], None]:
    """A case that sets one suite field, ``path`` dotted (``data.labels``); None deletes it."""

    def breaks(p: Project) -> None:
        *parents, last = path.split(".")
        node = p.suite
        for key in parents:
            node = node.setdefault(key, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value

    return breaks


def _cell(table: str, row: int, column: str, value: Any) -> Callable[[Project], None]:
    """A case that sets one cell; ``row`` is the 1-based data row (as the message says it)."""

    def breaks(p: Project) -> None:
        rows = p.data if table == "data" else p.preds
        rows[row][rows[0].index(column)] = value

    return breaks


def _file(name: str, content: str | bytes) -> Callable[[Project], None]:
    def breaks(p: Project) -> None:
        p.files[name] = content

    return breaks


def _model(spec: str, **options: Any) -> Callable[[Project], None]:
    def breaks(p: Project) -> None:
        p.suite["models"] = {"candidate": {"spec": spec, "options": options} if options else spec}

    return breaks


def _args(*args: str) -> Callable[[Project], None]:
    def breaks(p: Project) -> None:
        p.args = list(args)

    return breaks


def _argv(*argv: str) -> Callable[[Project], None]:
    def breaks(p: Project) -> None:
        p.argv = list(argv)

    return breaks


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _both(*fns: Callable[[Project], None]) -> Callable[[Project], None]:
    def breaks(p: Project) -> None:
        for fn in fns:
            fn(p)

    return breaks


def _drop_data_rows(*rows: int) -> Callable[[Project], None]:
    def breaks(p: Project) -> None:
        p.preds = [r for k, r in enumerate(p.preds) if k not in rows]

    return breaks


PY_MODEL = """
def always_fails(texts):
    raise RuntimeError("feature 'age' is missing")

def says_maybe(texts):
    return ["maybe" for _ in texts]
"""

CASES: list[Case] = [
    # --- data files -----------------------------------------------------------------------
    case("data", "missing file", 2, "test.csv", "Fix")(_set("data.path", "tset.csv")),
    case("data", "empty file", 2, "test.csv", "empty")(_file("test.csv", "")),
    case("data", "header only", 2, "test.csv", "no data rows")(
        _file("test.csv", "id,text,label\n")
    ),
    case("data", "label column misspelled", 2, "'label'", "lable")(
        _cell("data", 0, "label", "lable")
    ),
    case("data", "input column missing", 2, "'text'", "Fix")(_cell("data", 0, "text", "body")),
    case("data", "missing label", 2, "row 3", "'label'", "Fix")(_cell("data", 3, "label", "")),
    case("data", "missing id", 2, "row 4", "'id'", "Fix")(_cell("data", 4, "id", "")),
    case("data", "missing input", 2, "row 5", "'text'", "Fix")(_cell("data", 5, "text", " ")),
    case("data", "label outside labels", 2, "row 6", "'maybe'", "labels")(
        _cell("data", 6, "label", "maybe")
    ),
    case("data", "duplicate id", 2, "rows 2 and 9", "'2'")(_cell("data", 9, "id", 2)),
    case("data", "too many fields", 2, "test.csv", "line")(_cell("data", 7, "text", "a,b")),
    case("data", "not utf-8", 2, "test.csv", "UTF-8")(
        _file("test.csv", "id,text,label\n1,caf\xe9,pos\n".encode("latin-1"))
    ),
    case("data", "malformed JSON line", 2, "test.jsonl", "line 2")(
        _both(
            _set("data.path", "test.jsonl"),
            _file("test.jsonl", '{"id": 1, "text": "a", "label": "pos"}\n{"id": 2, "text": \n'),
        )
    ),
    case("data", "JSON list as label", 2, "test.jsonl", "row 2", "a list")(
        _both(
            _set("data.path", "test.jsonl"),
            _file(
                "test.jsonl",
                '{"id": 1, "text": "a", "label": "pos"}\n{"id": 2, "text": "b", "label": ["pos"]}\n',
            ),
        )
    ),
    case("data", "unknown extension", 2, "test.xlsx", "csv")(
        _both(_set("data.path", "test.xlsx"), _file("test.xlsx", b"PK\x03\x04"))
    ),
    case("data", "parquet that is not parquet", 2, "test.parquet")(
        _both(_set("data.path", "test.parquet"), _file("test.parquet", "id,text\n1,a\n"))
    ),
    case("data", "label typo without declared labels", 2, "'Pos'", "'pos'", "labels")(
        _both(_set("data.labels", None), _cell("data", 8, "label", "Pos"))
    ),
    case("data", "every row invalid under skip", 2, "every one of the 40 rows")(
        _both(
            _set("data.on_invalid", "skip"),
            lambda p: [r.__setitem__(2, "maybe") for r in p.data[1:]],
        )
    ),
    case("data", "path is a folder", 2, "data")(_set("data.path", ".")),
    # --- predictions files ----------------------------------------------------------------
    case("predictions", "missing file", 2, "prds.csv", "does not exist")(
        _model("predictions:prds.csv")
    ),
    case("predictions", "prediction outside labels", 2, "preds.csv", "row 3", "'maybe'")(
        _cell("preds", 3, "prediction", "maybe")
    ),
    case("predictions", "duplicate id", 2, "preds.csv", "rows 4, 5", "keep one prediction per id")(
        _cell("preds", 5, "id", 4)
    ),
    case("predictions", "empty id", 2, "preds.csv", "row(s) 5", "needs the id")(
        _cell("preds", 5, "id", "")
    ),
    case("predictions", "probabilities do not sum to 1", 2, "preds.csv", "id '2'", "sum to 0.6")(
        _both(_cell("preds", 2, "prob_neg", "0.3"), _cell("preds", 2, "prob_pos", "0.3"))
    ),
    case("predictions", "NaN probability", 2, "preds.csv", "row 2", "prob_pos")(
        _cell("preds", 2, "prob_pos", "nan")
    ),
    case("predictions", "negative probability", 2, "preds.csv", "row 3", "prob_neg")(
        _both(_cell("preds", 3, "prob_neg", "-0.2"), _cell("preds", 3, "prob_pos", "1.2"))
    ),
    case("predictions", "probability not a number", 2, "preds.csv", "row 4", "prob_pos")(
        _cell("preds", 4, "prob_pos", "x")
    ),
    case("predictions", "numbers against class labels", 2, "'label'", "task: classification")(
        lambda p: setattr(p, "preds", [["id", "prediction"]] + [[i, 0.5] for i in range(1, 41)])
    ),
    case("predictions", "unparseable CSV", 2, "preds.csv", "row 1")(
        _file("preds.csv", 'id,prediction\n1,"pos\n2,neg\n')
    ),
    case("predictions", "no prediction column", 2, "preds.csv", "name it one of prediction")(
        lambda p: setattr(p, "preds", [["id", "score"]] + [[i, "pos"] for i in range(1, 41)])
    ),
    case("predictions", "unknown option", 2, "models.candidate", "'colum'", "allowed: column")(
        _model("predictions:preds.csv", colum="prediction")
    ),
    # --- suites -----------------------------------------------------------------------------
    case("suite", "missing suite file", 2, "suite.yml", "assay init")(
        _argv("run", "{dir}/suite.yml")
    ),
    case("suite", "YAML syntax error", 2, "suite.yaml", "line 3, column")(
        _file("suite.yaml", "data:\n  path: test.csv\n   label: [\n")
    ),
    case("suite", "empty suite", 2, "suite.yaml", "empty", "`data:` and `models:`")(
        _file("suite.yaml", "")
    ),
    case("suite", "suite is a list", 2, "suite.yaml", "mapping", "found list")(
        _file("suite.yaml", "- a\n- b\n")
    ),
    case("suite", "field typo", 2, "chekcs", "did you mean 'checks'")(
        lambda p: p.suite.__setitem__("chekcs", p.suite.pop("checks"))
    ),
    case("suite", "field at the wrong level", 2, "'data.labels'")(_set("labels", ["neg", "pos"])),
    case("suite", "unknown check", 2, "checks.perfomance", "did you mean 'performance'")(
        lambda p: p.suite.__setitem__("checks", {"perfomance": {}})
    ),
    case("suite", "check option typo", 2, "n_bootstap", "did you mean 'n_bootstrap'")(
        _set("checks.performance", {"n_bootstap": 50})
    ),
    case(
        "suite", "check option wrong type", 2, "checks.performance.n_bootstrap", "'many'", "integer"
    )(_set("checks.performance", {"n_bootstrap": "many"})),
    case("suite", "labels declared twice", 2, "labels", "pos")(_set("data.labels", ["pos", "pos"])),
    case("suite", "positive_label outside labels", 2, "positive_label", "'yes'", "neg, pos")(
        _set("checks.performance.positive_label", "yes")
    ),
    case("suite", "integer positive_label with integer labels", 0)(
        _both(
            _set("data.labels", [0, 1]),
            _set("checks.performance.positive_label", 1),
            lambda p: [r.__setitem__(2, LABELS.index(r[2])) for r in p.data[1:]],
            lambda p: [r.__setitem__(1, LABELS.index(r[1])) for r in p.preds[1:]],
            lambda p: p.preds[0].__setitem__(2, "prob_0"),
            lambda p: p.preds[0].__setitem__(3, "prob_1"),
        )
    ),
    # `assay init` on data whose label column it did not recognise wrote such a suite: the run
    # ended in "unexpected ValueError ... declares no label column"
    case("suite", "no label column", 2, "data.test", "`label:`", "id, text, label")(
        _both(_set("data.label", None), _set("data.labels", None))
    ),
    case("suite", "no models", 2, "models", "add `models:")(_set("models", {})),
    # --- models -----------------------------------------------------------------------------
    case("models", "unknown prefix", 2, "models.candidate", "prefix", "predictions")(
        _model("predictons:preds.csv")
    ),
    case("models", "sklearn without trust", 2, "--trust")(
        _both(_model("sklearn:model.joblib"), _file("model.joblib", b"not really"))
    ),
    case("models", "corrupt joblib", 2, "model.joblib", "re-save")(
        _both(
            _model("sklearn:model.joblib"),
            _file("model.joblib", b"\x80\x04\x95<corrupt>"),
            _args("--trust"),
        )
    ),
    case("models", "python module missing", 2, "modle.py", "does not exist", "'model.py'")(
        _both(_model("python:modle.py:always_fails"), _file("model.py", PY_MODEL))
    ),
    case("models", "python function missing", 2, "model.py", "'always_fail'", "always_fails")(
        _both(_model("python:model.py:always_fail"), _file("model.py", PY_MODEL))
    ),
    case("models", "every call raises", 2, "feature 'age' is missing", "40 of 40")(
        _both(_model("python:model.py:always_fails"), _file("model.py", PY_MODEL))
    ),
    case("models", "answers outside labels", 2, "'maybe'")(
        _both(_model("python:model.py:says_maybe"), _file("model.py", PY_MODEL))
    ),
    # --- gates -------------------------------------------------------------------------------
    case("gates", "unknown metric", 2, "gates[0]", "performance.acuracy", "accuracy")(
        _set("gates", ["performance.acuracy >= 0.5"])
    ),
    case("gates", "bad operator", 2, "gates[0]", ">>=")(
        _set("gates", ["performance.accuracy >>= 0.5"])
    ),
    case("gates", "threshold not a number", 2, "gates[0]", "'high' is not a number", "e.g.")(
        _set("gates", ["performance.accuracy >= high"])
    ),
    case("gates", "class that does not exist", 2, "gates[0]", "per_class.maybe", "did you mean")(
        _set("gates", ["performance.per_class.maybe.recall >= 0.5"])
    ),
    case("gates", "check not in the suite", 2, "gates[0]", "fairness")(
        _set("gates", ["fairness.accuracy.ratio >= 0.8"])
    ),
    case("gates", "a gate that fails", 1, "performance.accuracy")(
        _set("gates", ["performance.accuracy >= 0.99"])
    ),
    # --- command-line arguments ----------------------------------------------------------
    case("cli", "unknown command", 2, "rnu")(_argv("rnu", "{dir}/suite.yaml")),
    # typer refuses the command line before the run starts: out/ is not touched
    case("cli", "unknown option", 2, "--outt")(_argv("run", "{dir}/suite.yaml", "--outt", "x")),
    case("cli", "--data missing file", 2, "nothere.csv")(_args("--data", "{dir}/nothere.csv")),
    case("cli", "--model bad spec", 2, "prefix")(_args("--model", "preds.csv")),
    case("cli", "--out is a file", 2, "out")(
        _argv("run", "{dir}/suite.yaml", "--out", "{dir}/test.csv")
    ),
    case("cli", "report on a non-report", 2, "test.csv")(_argv("report", "{dir}/test.csv")),
    case("cli", "compare with a missing report", 2, "nope.json")(
        _argv("compare", "{dir}/nope.json", "{dir}/nope2.json")
    ),
    # --- endpoints ----------------------------------------------------------------------------
    case("endpoints", "connection refused", 2, "127.0.0.1", "running")(
        lambda p: _model(
            f"openai:m@http://127.0.0.1:{_closed_port()}/v1", retries=1, backoff_s=0.01
        )(p)
    ),
    case("endpoints", "DNS failure", 2, "nowhere.invalid")(
        _model("openai:m@http://nowhere.invalid/v1", retries=1, backoff_s=0.01)
    ),
    case("endpoints", "password in the URL never printed", 2, "127.0.0.1")(
        lambda p: _model(
            f"openai:m@http://user:s3cr3t@127.0.0.1:{_closed_port()}/v1", retries=1, backoff_s=0.01
        )(p)
    ),
]


def _write(p: Project, folder: Path) -> None:
    (folder / "test.csv").write_text(_csv(p.data), encoding="utf-8")
    (folder / "preds.csv").write_text(_csv(p.preds), encoding="utf-8")
    (folder / "suite.yaml").write_text(yaml.safe_dump(p.suite, sort_keys=False), encoding="utf-8")
    for name, content in p.files.items():
        if isinstance(content, bytes):
            (folder / name).write_bytes(content)
        else:
            (folder / name).write_text(content, encoding="utf-8")


STALE = {"stale": "a report from an earlier, successful run"}


def test_the_matrix_is_big_enough() -> None:
    assert len(CASES) >= 50
    assert {c.group for c in CASES} == {
        "data",
        "predictions",
        "suite",
        "models",
        "gates",
        "cli",
        "endpoints",
    }
    assert len({(c.group, c.name) for c in CASES}) == len(CASES)


@pytest.mark.parametrize("c", CASES, ids=[f"{c.group}: {c.name}" for c in CASES])
def test_bad_input(
    c: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.delenv("ASSAY_DEBUG", raising=False)
    project = Project()
    c.breaks(project)
    project.suite = copy.deepcopy(project.suite)
    _write(project, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text(json.dumps(STALE))
    (out / "report.html").write_text("<p>PASS</p>")
    if project.argv is not None:
        argv = [a.format(dir=tmp_path) for a in project.argv]
    else:
        extra = [a.format(dir=tmp_path) for a in project.args]
        argv = ["run", str(tmp_path / "suite.yaml"), "--out", str(out), "--no-cache", *extra]

    with pytest.raises(SystemExit) as exited:
        main([*argv, "--quiet"] if argv[0] == "run" and c.exit == 2 else argv)
    code = exited.value.code if isinstance(exited.value.code, int) else 2
    captured = capsys.readouterr()
    said = " ".join((captured.out + captured.err).split())

    assert code == c.exit, said
    assert "Traceback" not in said
    for word in c.words:
        assert word in said, f"{word!r} not in: {said}"
    assert "s3cr3t" not in said
    report = out / "report.json"
    if project.argv is not None and str(out) not in argv:
        return  # a command that writes no report into out/
    if c.exit == 2:
        assert not report.exists() or json.loads(report.read_text()) != STALE
        assert not report.exists() or "error" in report.read_text()
        assert not (out / "report.html").exists() or "PASS" not in (out / "report.html").read_text()
    else:
        assert json.loads(report.read_text()) != STALE
