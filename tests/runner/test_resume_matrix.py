"""The resume matrix: ``assay run`` killed with SIGKILL at several points, for a ``python:`` and an
``openai:`` model, then run again.

Each kill happens at a set point, not after a guessed delay: the ``python:`` model kills its own
process during its n-th call (after logging the call, before answering: the batch is in flight);
the loopback server kills the client when its n-th request arrives; a small launcher kills the
process when scoring starts or when the report is being written. After each kill, the re-run must
ask nothing that was already answered (only what was in flight, and what was never asked), and
its report must equal an uninterrupted run's number by number
(``tools/compare_report_numbers.py``).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import assay

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL"),
]

ROOT = Path(__file__).resolve().parents[2]
SRC = str(Path(assay.__file__).resolve().parents[1])
N_ROWS = 300
BATCH = 64
#: requests the openai: adapter keeps in flight at once
CONCURRENCY = 4

# Runs the CLI; kills itself when scoring starts or when the report files are being written.
LAUNCHER = textwrap.dedent(
    """
    import os, signal, sys

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    point = os.environ.get("KILL_AT", "")
    if point == "scoring":
        from assay.checks._performance import PerformanceCheck
        PerformanceCheck.score = die
    elif point == "report":
        import assay._runner._evaluate as evaluate
        evaluate.render_html = die  # inside write_report_files, before a file is replaced

    from assay._cli.main import main
    main(sys.argv[1:])
    """
)

# A python: model that logs each call (one JSON line per batch) and, when KILL_AFTER_CALLS says
# so, kills its own process during that call: logged, never answered.
MODEL = textwrap.dedent(
    """
    import json, os, signal
    from pathlib import Path

    def predict(batch):
        log = Path(os.environ["CALL_LOG"])
        with log.open("a") as f:
            f.write(json.dumps(list(batch)) + "\\n")
        n_calls = len(log.read_text().splitlines())
        if n_calls == int(os.environ.get("KILL_AFTER_CALLS", "0")):
            os.kill(os.getpid(), signal.SIGKILL)
        return ["positive" if "good" in text else "negative" for text in batch]
    """
)


def _rows() -> list[tuple[str, str, str]]:
    rows = []
    for i in range(N_ROWS):
        word = "good" if i % 3 else "bad"
        label = "positive" if (i % 3 != 0) != (i % 7 == 0) else "negative"  # some wrong
        answer = "positive" if word == "good" else "negative"
        rows.append((f"r{i}", f"SAY {answer} {word} film number {i} END", label))
    return rows


def _project(tmp_path: Path, kind: str, url: str | None) -> Path:
    with (tmp_path / "data.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "text", "label"])
        w.writerows(_rows())
    (tmp_path / "model.py").write_text(MODEL)
    (tmp_path / "launch.py").write_text(LAUNCHER)
    if kind == "python":
        model: Any = "python:model.py:predict"
    else:
        model = {
            "spec": f"openai:tiny@{url}",
            "options": {
                "verbaliser": {"positive": "positive", "negative": "negative"},
                "concurrency": CONCURRENCY,
            },
        }
    suite = {
        "data": {"path": "data.csv", "id": "id", "input": "text", "label": "label"},
        "labels": None,
        "models": {"candidate": model},
        "engine": {"cache": "cache.db", "batch_size": BATCH, "progress": False},
        "checks": {"performance": {"n_bootstrap": 200}},
        "gates": ["performance.accuracy.value >= 0.5"],
    }
    suite.pop("labels")
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    return tmp_path / "suite.yaml"


def _run(folder: Path, out: str, env: dict[str, str]) -> subprocess.Popen[str]:
    full = {
        **os.environ,
        # the assay under test, wherever it was imported from
        "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
        "CALL_LOG": str(folder / "calls.log"),
        **env,
    }
    cmd = [sys.executable, "launch.py", "run", "suite.yaml", "--out", out, "--quiet"]
    return subprocess.Popen(
        cmd, cwd=folder, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    stdout, stderr = proc.communicate(timeout=120)
    return proc.returncode, stdout + stderr


def _n_cached(folder: Path) -> int:
    if not (folder / "cache.db").exists():
        return 0
    with sqlite3.connect(folder / "cache.db") as conn:
        (n,) = conn.execute("SELECT COUNT(*) FROM responses").fetchone()
    conn.close()
    return int(n)


def _logged(folder: Path) -> list[list[str]]:
    log = folder / "calls.log"
    return [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []


def _same_numbers(a: Path, b: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "compare_report_numbers.py"), str(a), str(b)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    ra, rb = json.loads(a.read_text()), json.loads(b.read_text())
    flags = [sorted(f for r in rep["results"] for f in r["flags"]) for rep in (ra, rb)]
    assert flags[0] == flags[1]
    assert [r["n"] for r in ra["results"]] == [r["n"] for r in rb["results"]]


@pytest.fixture(scope="module")
def baselines(tmp_path_factory: pytest.TempPathFactory, server: Any) -> dict[str, Path]:
    """An uninterrupted run of each model's suite: its report.json."""
    out = {}
    for kind in ("python", "openai"):
        folder = tmp_path_factory.mktemp(f"baseline-{kind}")
        _project(folder, kind, server.url)
        code, text = _finish(_run(folder, "out", {}))
        assert code == 0, text
        out[kind] = folder / "out" / "report.json"
    return out


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    pytest.importorskip("fastapi")
    pytest.importorskip("transformers")
    from lm_fixtures import tiny_gpt2
    from lm_server import LMServer

    with LMServer(tiny_gpt2(tmp_path_factory.mktemp("tiny") / "gpt2")) as s:
        yield s


# (where, kill after this many model calls / server requests, or at a phase)
PYTHON_POINTS = [
    ("first batch", 1),
    ("mid-run, large batches", 3),
    ("scoring", "scoring"),
    ("report writing", "report"),
]
OPENAI_POINTS = [
    ("first batch", 10),
    ("mid-batch, large batches", 100),
    ("scoring", "scoring"),
    ("report writing", "report"),
]


@pytest.mark.parametrize(("where", "point"), PYTHON_POINTS, ids=[p[0] for p in PYTHON_POINTS])
def test_python_model_killed_then_resumed(
    where: str, point: int | str, tmp_path: Path, baselines: dict[str, Path]
) -> None:
    _project(tmp_path, "python", None)
    env = {"KILL_AFTER_CALLS": str(point)} if isinstance(point, int) else {"KILL_AT": point}
    code, text = _finish(_run(tmp_path, "out", env))
    assert code == -signal.SIGKILL, text
    assert not (tmp_path / "out" / "report.json").exists()

    first = _logged(tmp_path)
    cached = _n_cached(tmp_path)
    if isinstance(point, int):
        # every batch before the one in flight was answered, and is in the cache
        assert len(first) == point
        assert cached == sum(len(b) for b in first[:-1])
    else:
        assert cached == N_ROWS  # the engine had finished: everything is cached

    code, text = _finish(_run(tmp_path, "out", {}))
    assert code == 0, text
    again = [p for b in _logged(tmp_path)[len(first) :] for p in b]
    answered = {p for b in (first[:-1] if isinstance(point, int) else first) for p in b}
    assert not answered & set(again), "the re-run asked again what was already answered"
    assert len(again) == len(set(again)) == N_ROWS - cached
    _same_numbers(baselines["python"], tmp_path / "out" / "report.json")


@pytest.mark.parametrize(("where", "point"), OPENAI_POINTS, ids=[p[0] for p in OPENAI_POINTS])
def test_openai_model_killed_then_resumed(
    where: str, point: int | str, tmp_path: Path, server: Any, baselines: dict[str, Path]
) -> None:
    _project(tmp_path, "openai", server.url)
    before = server.total_calls
    env = {"KILL_AT": point} if isinstance(point, str) else {}
    proc = _run(tmp_path, "out", env)
    if isinstance(point, int):

        def kill_at(total: int) -> None:
            if total - before == point:
                proc.send_signal(signal.SIGKILL)

        server.on_call = kill_at
    try:
        code, text = _finish(proc)
    finally:
        server.reset_faults()
    assert code == -signal.SIGKILL, text
    assert not (tmp_path / "out" / "report.json").exists()
    asked_first = server.total_calls - before
    cached = _n_cached(tmp_path)
    if isinstance(point, int):
        # the requests already sent when the kill landed arrive too (at most the concurrency)
        assert point <= asked_first < point + CONCURRENCY
        # answers are committed as they arrive: when request `point` was sent, at most
        # CONCURRENCY were in flight and the others were in the cache, though the batch of 64
        # they belong to was not finished (it was 0 or 64 cached: a whole batch asked again)
        assert point - CONCURRENCY <= cached < asked_first
    else:
        assert cached == N_ROWS

    mid = server.total_calls
    code, text = _finish(_run(tmp_path, "out", {}))
    assert code == 0, text
    assert server.total_calls - mid == N_ROWS - cached  # only what was not answered
    _same_numbers(baselines["openai"], tmp_path / "out" / "report.json")
