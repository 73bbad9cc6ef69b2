"""A run killed with SIGKILL half-way resumes: the rerun asks the model only what is unanswered."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")

N_REQUESTS = 400
BATCH = 10

# The child process: the real Engine and ResponseCache over a slow test-double model that
# appends every payload it is asked about to a log *before* answering, so an in-flight batch
# is in the log even when the process dies before the batch is cached.
SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from assay.config import EngineSettings
    from assay.engine import Engine, Request, content_key
    from assay.models import ModelInfo, Output

    log_path, cache_path = Path(sys.argv[1]), Path(sys.argv[2])

    class SlowLoggingModel:
        def info(self):
            return ModelInfo("m", "test:slow", "classification", "fp-slow")

        def predict(self, batch, params=None):
            with log_path.open("a") as f:
                f.write(json.dumps(list(batch)) + "\\n")
            time.sleep(0.03)
            return [Output(label=str(int(p) % 3)) for p in batch]

    payloads = [str(i) for i in range({n})] * 2  # every input asked twice: dedupe too
    requests = [Request(content_key("fp-slow", p), "m", p) for p in payloads]
    engine = Engine(
        EngineSettings(batch_size={batch}, concurrency=1, backoff_s=0),
        cache_path=cache_path,
        progress=False,
    )
    answers = engine.run(requests, {{"m": SlowLoggingModel()}})
    print(json.dumps({{
        "n": len(answers),
        "ok": sum(r.ok for r in answers.values()),
        "labels_right": all(r.output.label == str(int(p) % 3)
                            for p, r in zip(payloads, (answers[q.key] for q in requests))),
        "stats": engine.stats.to_dict(),
    }}))
    """
).format(n=N_REQUESTS, batch=BATCH)


def _logged(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def test_sigkill_half_way_then_rerun_asks_only_for_what_is_missing(tmp_path: Path) -> None:
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    log, cache = tmp_path / "calls.log", tmp_path / "cache.db"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(script), str(log), str(cache)]

    child = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while sum(len(b) for b in _logged(log)) < N_REQUESTS // 4:  # about 10 batches in
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "the child made no progress"
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    child.communicate()
    assert child.returncode == -signal.SIGKILL

    first_run = [p for b in _logged(log) for p in b]
    with sqlite3.connect(cache) as conn:
        (cached_after_kill,) = conn.execute("SELECT COUNT(*) FROM responses").fetchone()
    conn.close()
    assert 0 < cached_after_kill < N_REQUESTS
    in_flight = len(first_run) - cached_after_kill
    print(
        f"\nkilled: {len(first_run)} logged, {cached_after_kill} cached, {in_flight} in flight"
    )
    assert 0 <= in_flight <= BATCH  # at most the batch that was running when killed

    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(done.stdout)
    all_calls = [p for b in _logged(log) for p in b]
    second_run = all_calls[len(first_run) :]

    assert len(second_run) == N_REQUESTS - cached_after_kill  # exactly the unanswered keys
    assert len(all_calls) == N_REQUESTS + in_flight <= N_REQUESTS + BATCH
    assert set(first_run) | set(second_run) == {str(i) for i in range(N_REQUESTS)}
    assert len(set(second_run)) == len(second_run)  # nothing asked twice in the rerun
    assert result["n"] == result["ok"] == N_REQUESTS and result["labels_right"]
    assert result["stats"]["n_cached"] == cached_after_kill
    assert result["stats"]["n_called"] == N_REQUESTS - cached_after_kill
