"""The engine stops a run whose calls fail for a reason retries cannot fix, commits each answer
as it settles, and counts every retry it makes.

Test doubles stand in for models here: these tests are about the engine's own logic. The same
behaviour against a real HTTP server is in tests/runner/test_endpoint_faults.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from _engine_doubles import CountingModel, requests_for

from assay._types import AnswersEachInput
from assay.config import EngineSettings
from assay.engine import Engine
from assay.engine._engine import STOP_AFTER_SAME_FAILURES
from assay.errors import ModelError, PartialBatchError, RetryableModelError
from assay.models import ModelInfo, Output


def engine(tmp_path: Path | None = None, **kw: Any) -> Engine:
    kw.setdefault("backoff_s", 0.0)
    kw.setdefault("progress", False)
    cache = tmp_path / "cache.db" if tmp_path is not None else None
    eng = Engine(EngineSettings(**kw), cache_path=cache, progress=False)
    eng._sleep = lambda s: None
    return eng


def _refused() -> RetryableModelError:
    return RetryableModelError(
        "connection refused: cannot connect to http://127.0.0.1:9/v1",
        model_wide="connection refused",
        fix="is the server running at http://127.0.0.1:9/v1?",
    )


def test_a_model_wide_failure_stops_the_run_after_the_first_calls() -> None:
    """Every call 401: the engine asked all 100 inputs (each batch split into single calls, 110
    calls) and returned 100 errors; now the first batch fails as a whole, is not split, and the
    run stops naming the cause and the fix."""
    unauthorized = ModelError(
        "HTTP 401 from http://x/v1: bad key", model_wide="HTTP 401", fix="check MY_KEY"
    )
    model = CountingModel(fail=lambda b: unauthorized)
    eng = engine(batch_size=10, retries=3)
    with pytest.raises(ModelError) as err:
        eng.run(requests_for([f"t{i}" for i in range(100)]), {"m": model})
    message = str(err.value)
    assert "model 'm': stopped early: its first 10 calls failed the same way (HTTP 401)" in message
    assert "Fix: check MY_KEY" in message and "HTTP 401 from http://x/v1" in message
    assert model.calls == [[f"t{i}" for i in range(10)]]  # one batch, not split, not retried
    assert eng.stats.n_retries == 0 and eng.stats.n_called == 100


def test_an_unreachable_server_is_not_retried_before_the_model_answered() -> None:
    """Connection refused on the first calls: was retried 3 times each (the 2,000 connection
    attempts of a suite against a server that is down); now three calls and a stop."""
    model = CountingModel(fail=lambda b: _refused())
    eng = engine(batch_size=1, retries=3)
    with pytest.raises(ModelError, match=r"is the server running at http://127\.0\.0\.1:9/v1\?"):
        eng.run(requests_for([f"t{i}" for i in range(50)]), {"m": model})
    assert len(model.calls) == STOP_AFTER_SAME_FAILURES


def test_a_raw_httpx_connect_error_is_classified_too() -> None:
    def refuse(batch: list[Any]) -> Exception:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError as cause:
            raise httpx.ConnectError("[Errno 111] Connection refused") from cause
        raise AssertionError  # pragma: no cover

    def fail(batch: list[Any]) -> Exception:
        try:
            refuse(batch)
        except httpx.ConnectError as e:
            return e
        raise AssertionError  # pragma: no cover

    model = CountingModel(fail=fail)
    with pytest.raises(ModelError, match=r"\(connection refused\)"):
        engine(batch_size=1, retries=2).run(requests_for(["a", "b", "c", "d"]), {"m": model})
    assert len(model.calls) == 3


def test_a_server_that_went_away_after_answering_is_retried_and_comes_back() -> None:
    state = {"n": 0}

    def flaky(batch: list[Any]) -> Exception | None:
        state["n"] += 1
        return _refused() if state["n"] in (2, 3) else None  # down for two calls

    model = CountingModel(fail=flaky)
    eng = engine(batch_size=1, retries=3)
    answers = eng.run(requests_for(["a", "bb", "ccc"]), {"m": model})
    assert all(r.ok for r in answers.values())
    assert eng.stats.n_retries == 2 and len(model.calls) == 3 + 2


def test_a_server_that_dies_for_good_mid_run_stops_the_run_after_retries() -> None:
    state = {"n": 0}

    def dies(batch: list[Any]) -> Exception | None:
        state["n"] += 1
        return _refused() if state["n"] > 2 else None

    model = CountingModel(fail=dies)
    eng = engine(batch_size=1, retries=2)
    with pytest.raises(ModelError) as err:
        eng.run(requests_for([f"t{i}" for i in range(40)]), {"m": model})
    assert "3 calls in a row failed, after 2 answers," in str(err.value)
    assert "6 retries were made" in str(err.value)
    assert len(model.calls) == 2 + 3 * (1 + 2)  # two answers, then three inputs with 2 retries


def test_failures_of_one_input_do_not_stop_the_run() -> None:
    model = CountingModel(fail=lambda b: ValueError("cannot read") if "bad" in b[0] else None)
    eng = engine(batch_size=1)
    answers = eng.run(requests_for([f"bad{i}" for i in range(5)] + ["ok"]), {"m": model})
    assert sum(r.ok for r in answers.values()) == 1 and eng.stats.n_errors == 5


class _EachAnswering:
    """Answers each input on its own (as ``openai:`` does) and hands each answer over as it
    arrives; before returning the batch it reads, from the cache file, how many were committed."""

    def __init__(self, cache: Path, *, fail_last: Exception | None = None) -> None:
        self.cache = cache
        self.fail_last = fail_last
        self.committed_before_return: list[int] = []

    def info(self) -> ModelInfo:
        return ModelInfo("m", "test:each", "classification", "fp-count")

    def predict(self, batch: Sequence[Any], params: dict[str, Any] | None = None) -> list[Output]:
        return self.predict_each(batch, params, lambda i, o: None)

    def predict_each(
        self,
        batch: Sequence[Any],
        params: dict[str, Any] | None,
        on_answer: Callable[[int, Output], None],
    ) -> list[Output]:
        results: list[Output | Exception] = []
        for i, p in enumerate(batch):
            if self.fail_last is not None and i == len(batch) - 1:
                results.append(self.fail_last)
                continue
            out = Output(label=str(len(str(p))), timings={"latency_s": 0.25})
            on_answer(i, out)
            results.append(out)
        with sqlite3.connect(self.cache) as conn:
            (n,) = conn.execute("SELECT COUNT(*) FROM responses").fetchone()
        conn.close()
        self.committed_before_return.append(int(n))
        if any(isinstance(r, Exception) for r in results):
            raise PartialBatchError("last failed", results=results)
        return [r for r in results if isinstance(r, Output)]


def test_answers_are_committed_as_they_arrive_not_when_the_batch_ends(tmp_path: Path) -> None:
    """A batch of 64 was committed when all 64 had answered, so a run killed mid-batch asked
    the answered ones again; now each answer is in the cache file when it arrives."""
    eng = engine(tmp_path, batch_size=64)
    model = _EachAnswering(tmp_path / "cache.db")
    assert isinstance(model, AnswersEachInput)
    answers = eng.run(requests_for([f"t{i}" for i in range(100)]), {"m": model})
    assert model.committed_before_return == [64, 100]
    assert all(r.ok and r.latency_s == 0.25 for r in answers.values())


def test_answers_given_before_a_retry_are_committed_before_the_backoff(tmp_path: Path) -> None:
    """The answered part of a partial batch waited in memory through every backoff (a
    ``Retry-After`` of a minute) until the batch was settled; now it is committed first."""
    waits: list[int] = []
    eng = engine(tmp_path, batch_size=8, retries=1)

    def count_then_wait(s: float) -> None:
        with sqlite3.connect(tmp_path / "cache.db") as conn:
            (n,) = conn.execute("SELECT COUNT(*) FROM responses").fetchone()
        conn.close()
        waits.append(int(n))

    eng._sleep = count_then_wait
    model = _EachAnswering(tmp_path / "cache.db", fail_last=RetryableModelError("429"))
    eng.run(requests_for([f"t{i}" for i in range(8)]), {"m": model})
    assert waits == [7]
    assert eng.stats.n_retries == 1 and eng.stats.n_errors == 1
