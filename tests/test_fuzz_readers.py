"""Property-based fuzzing of every reader a user's file reaches: no traceback, ever.

Whatever bytes a data file, predictions file, suite or report holds, reading it either works or
raises one of assay's own errors (exit 2 with a message). Any other exception — a KeyError, an
IndexError, a pandas ParserError leaking through — is a bug this test finds.
"""

from __future__ import annotations

import contextlib
import json
import os
import string
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assay.config import read_suite
from assay.data import load_dataset
from assay.errors import AssayError
from assay.models import load_model
from assay.report import Report

FUZZ = settings(
    max_examples=int(os.environ.get("ASSAY_FUZZ_EXAMPLES", "60")),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Cells a user's CSV really holds: words, numbers, blanks, quotes, separators, NaN spellings.
CELLS = st.one_of(
    st.sampled_from(
        ["", "NA", "nan", "NaN", "None", "null", "-", "inf", "-inf", "1e309", '"', "a,b"]
    ),
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(alphabet=string.ascii_letters + string.digits + " ,;\t\"'\n\r\\é€\x00", max_size=12),
)
HEADERS = st.lists(
    st.sampled_from(["id", "text", "label", "prediction", "prob_a", "prob_b", "x", "y", "", "id "]),
    min_size=0,
    max_size=6,
)


@st.composite
def csv_texts(draw: st.DrawFn) -> str:
    header = draw(HEADERS)
    rows = draw(st.lists(st.lists(CELLS, max_size=max(1, len(header) + 1)), max_size=6))
    lines = [",".join(header)] + [",".join(r) for r in rows]
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\r\n"]))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def jsonl_texts(draw: st.DrawFn) -> str:
    records = draw(
        st.lists(
            st.one_of(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "id": JSON_VALUES,
                        "text": JSON_VALUES,
                        "label": JSON_VALUES,
                        "prediction": JSON_VALUES,
                        "probabilities": JSON_VALUES,
                    },
                ),
                JSON_VALUES,
            ),
            max_size=5,
        )
    )
    lines = [json.dumps(r, allow_nan=True) for r in records]
    if draw(st.booleans()):  # a torn last line, as a killed writer leaves
        lines.append(draw(st.text(max_size=10)))
    return "\n".join(lines)


def _write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", errors="surrogatepass")
    return path


def _only_assay_errors(fn: Any) -> None:
    with contextlib.suppress(AssayError):
        fn()


@pytest.mark.slow
@FUZZ
@given(text=csv_texts(), roles=st.sampled_from(["text+label", "label only", "none"]))
def test_data_csv_never_tracebacks(text: str, roles: str) -> None:
    spec: dict[str, Any] = {"path": "test.csv"}
    if roles == "text+label":
        spec |= {"id": "id", "input": "text", "label": "label"}
    elif roles == "label only":
        spec |= {"label": "label"}
    with tempfile.TemporaryDirectory() as d:
        _write(Path(d), "test.csv", text)
        _only_assay_errors(lambda: load_dataset(spec, base_dir=Path(d)))


@pytest.mark.slow
@FUZZ
@given(text=jsonl_texts())
def test_data_jsonl_never_tracebacks(text: str) -> None:
    spec = {"path": "test.jsonl", "id": "id", "input": "text", "label": "label"}
    with tempfile.TemporaryDirectory() as d:
        _write(Path(d), "test.jsonl", text)
        _only_assay_errors(lambda: load_dataset(spec, base_dir=Path(d)))


@pytest.mark.slow
@FUZZ
@given(
    content=st.binary(max_size=64),
    name=st.sampled_from(
        ["test.parquet", "test.csv.gz", "test.jsonl.zst", "test.csv", "test.json"]
    ),
)
def test_data_binary_never_tracebacks(content: bytes, name: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        _write(Path(d), name, content)
        _only_assay_errors(lambda: load_dataset({"path": name, "label": "label"}, base_dir=Path(d)))


@pytest.mark.slow
@FUZZ
@given(
    text=st.one_of(csv_texts(), jsonl_texts()), jsonl=st.booleans(), ids=st.lists(CELLS, max_size=4)
)
def test_predictions_file_never_tracebacks(text: str, jsonl: bool, ids: list[str]) -> None:
    name = "preds.jsonl" if jsonl else "preds.csv"

    def load_and_ask() -> None:
        model = load_model(f"predictions:{name}", base_dir=Path(d))
        model.predict([{"id": i} for i in ids])  # type: ignore[arg-type]

    with tempfile.TemporaryDirectory() as d:
        _write(Path(d), name, text)
        _only_assay_errors(load_and_ask)


SUITE_KEYS = ["data", "datasets", "models", "checks", "gates", "engine", "labels", "task", "out"]


@st.composite
def suite_texts(draw: st.DrawFn) -> str:
    if draw(st.booleans()):  # anything at all
        return draw(st.text(max_size=60))
    suite = draw(st.dictionaries(st.sampled_from(SUITE_KEYS), JSON_VALUES, max_size=5))
    if draw(st.booleans()):
        suite["data"] = draw(
            st.dictionaries(
                st.sampled_from(["path", "input", "label", "id", "labels", "limit", "on_invalid"]),
                JSON_VALUES,
                max_size=4,
            )
        )
    if draw(st.booleans()):
        suite["gates"] = draw(st.lists(st.text(max_size=30), max_size=3))
    return yaml.safe_dump(suite)


@pytest.mark.slow
@FUZZ
@given(text=suite_texts())
def test_suite_never_tracebacks(text: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = _write(Path(d), "suite.yaml", text)
        _only_assay_errors(lambda: read_suite(path))


@pytest.mark.slow
@FUZZ
@given(
    report=st.one_of(
        JSON_VALUES,
        st.fixed_dictionaries(
            {"schema_version": st.one_of(st.integers(0, 5), st.text(max_size=3))},
            optional={"results": JSON_VALUES, "suite": JSON_VALUES, "models": JSON_VALUES},
        ),
    )
)
def test_report_never_tracebacks(report: Any) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = _write(Path(d), "report.json", json.dumps(report))
        _only_assay_errors(lambda: Report.load(path))


PROB_CELLS = st.one_of(
    st.floats(min_value=0, max_value=1).map(lambda f: f"{f:.3f}"),
    st.floats(min_value=0, max_value=1).map(lambda f: f"{f:.3f}"),
    st.sampled_from(["", "nan", "-0.1", "1.5", "inf", "x", "0", "1"]),
)


@st.composite
def scored_predictions(draw: st.DrawFn) -> str:
    """A predictions file for ids 1..6 of a binary set: mostly right-looking, with bad cells."""
    header = draw(st.sampled_from([["id", "prediction", "prob_a", "prob_b"], ["id", "prediction"]]))
    ids = draw(st.permutations(["1", "2", "3", "4", "5", "6"]))
    ids = ids[: len(ids) - draw(st.integers(0, 2))]  # ids missing
    extra = draw(st.sampled_from([[], [], [], ["7"], [""], ["1"]]))  # unknown, empty, duplicate
    rows = []
    for i in [*ids, *extra]:
        pred = draw(st.one_of(st.sampled_from(["a", "b", "a", "b", "A", "", "c"]), CELLS))
        probs = [draw(PROB_CELLS) for _ in header[2:]]
        rows.append(",".join([i, pred, *probs]))
    return "\n".join([",".join(header), *rows]) + "\n"


@pytest.mark.slow
@FUZZ
@given(preds=scored_predictions())
def test_run_on_a_fuzzed_predictions_file_never_tracebacks(preds: str) -> None:
    from typer.testing import CliRunner

    from assay._cli.main import app

    data = "id,text,label\n1,x,a\n2,y,b\n3,z,a\n4,w,b\n5,v,a\n6,u,b\n"
    suite = {
        "data": {
            "path": "test.csv",
            "id": "id",
            "input": "text",
            "label": "label",
            "labels": ["a", "b"],
        },
        "models": {"candidate": "predictions:preds.csv"},
        "checks": {"performance": {"n_bootstrap": 50}},
    }
    with tempfile.TemporaryDirectory() as d:
        _write(Path(d), "test.csv", data)
        _write(Path(d), "preds.csv", preds)
        path = _write(Path(d), "suite.yaml", yaml.safe_dump(suite))
        res = CliRunner().invoke(
            app, ["run", str(path), "--out", str(Path(d) / "out"), "--quiet", "--no-cache"]
        )
    if os.environ.get("ASSAY_FUZZ_SHOW"):
        print(res.exit_code, res.output.strip().splitlines()[-1:] if res.output.strip() else "")
    assert res.exit_code in (0, 1, 2, 3), res.output
    assert "Traceback" not in res.output, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
