"""Engine: dedupe, cache, retries, error isolation, concurrency, progress, stats."""

from __future__ import annotations

import io
import itertools
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from _engine_doubles import CountingModel, requests_for
from rich.console import Console

from assay._types import CallSettings, OverridesCallSettings, TakesTimeout
from assay.config import EngineSettings
from assay.engine import Engine, EngineStats, Request, Response, content_key
from assay.errors import ConfigError, ModelError, PartialBatchError, RetryableModelError
from assay.models import ModelInfo, Output


def settings(**kw: Any) -> EngineSettings:
    kw.setdefault("backoff_s", 0.0)
    kw.setdefault("progress", False)
    return EngineSettings(**kw)


def engine(tmp_path: Path | None = None, **kw: Any) -> Engine:
    cache = tmp_path / "cache.db" if tmp_path is not None else None
    return Engine(settings(**kw), cache_path=cache, progress=False)


# -- dedupe -----------------------------------------------------------------------------------


def test_overlapping_requests_of_three_checks_call_each_key_once() -> None:
    texts = [f"text {i}" for i in range(30)]
    performance = requests_for(texts)
    slices = requests_for(texts[:20])  # same inputs, asked again
    robustness = requests_for(texts[10:] + [t.upper() for t in texts[:10]])
    model = CountingModel()
    eng = engine(batch_size=7)
    answers = eng.run(performance + slices + robustness, {"m": model})

    asked = [p for call in model.calls for p in call]
    assert sorted(asked) == sorted(set(texts) | {t.upper() for t in texts[:10]})
    assert len(asked) == len(set(asked)) == 40
    assert all(len(c) <= 7 for c in model.calls)
    assert set(answers) == {r.key for r in performance + slices + robustness}
    for r in performance:
        assert answers[r.key].output == Output(label=str(len(r.payload)))
    assert eng.stats == EngineStats(
        n_requests=80,
        n_unique=40,
        n_cached=0,
        n_called=40,
        n_errors=0,
        n_retries=0,
        wall_s=eng.stats.wall_s,
    )
    assert eng.stats.to_dict()["n_unique"] == 40


def test_responses_come_back_in_first_appearance_order() -> None:
    reqs = requests_for(["b", "a", "c", "a"])
    answers = engine().run(reqs, {"m": CountingModel()})
    assert list(answers) == [reqs[0].key, reqs[1].key, reqs[2].key]


def test_requests_with_different_params_are_batched_apart() -> None:
    seen: list[tuple[list[Any], dict[str, Any] | None]] = []

    class Echo:
        def info(self) -> ModelInfo:
            return ModelInfo("g", "test:echo", "generation", "fp-echo")

        def predict(self, batch: Any, params: dict[str, Any] | None = None) -> list[Output]:
            seen.append((list(batch), params))
            return [Output(text=f"{p}/{(params or {}).get('t')}") for p in batch]

    reqs = [
        Request(content_key("fp-echo", p, {"t": t}), "g", p, params={"t": t})
        for p in ["x", "y"]
        for t in [0, 1]
    ]
    answers = engine().run(reqs, {"g": Echo()})
    assert sorted(r.output.text for r in answers.values() if r.output) == [
        "x/0",
        "x/1",
        "y/0",
        "y/1",
    ]
    assert sorted((b, p["t"]) for b, p in seen if p) == [(["x", "y"], 0), (["x", "y"], 1)]


def test_a_request_for_an_unloaded_model_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"'other'.*loaded models: 'm'"):
        engine().run(requests_for(["a"], model="other"), {"m": CountingModel()})


# -- cache -------------------------------------------------------------------------------------


def test_second_run_answers_everything_from_the_cache(tmp_path: Path) -> None:
    reqs = requests_for([f"t{i}" for i in range(25)])
    first = CountingModel()
    eng = engine(tmp_path, batch_size=4)
    fresh = eng.run(reqs, {"m": first})
    assert first.n_items == 25 and not any(r.cached for r in fresh.values())

    second = CountingModel()
    eng2 = engine(tmp_path, batch_size=4)
    again = eng2.run(reqs, {"m": second})
    assert second.calls == []
    assert eng2.stats.n_cached == 25 and eng2.stats.n_called == 0
    assert all(r.cached for r in again.values())
    for k, r in fresh.items():
        assert again[k].output == r.output
        assert again[k].latency_s == pytest.approx(r.latency_s)


def test_a_changed_fingerprint_calls_the_model_again(tmp_path: Path) -> None:
    texts = [f"t{i}" for i in range(10)]
    engine(tmp_path).run(requests_for(texts, "fp-v1"), {"m": CountingModel("fp-v1")})
    v2 = CountingModel("fp-v2")
    eng = engine(tmp_path)
    eng.run(requests_for(texts, "fp-v2"), {"m": v2})
    assert v2.n_items == 10 and eng.stats.n_cached == 0


def test_requests_keyed_with_a_stale_fingerprint_are_not_answered_from_the_cache(
    tmp_path: Path,
) -> None:
    reqs = requests_for(["a", "b"], "fp-v1")
    engine(tmp_path).run(reqs, {"m": CountingModel("fp-v1")})
    changed = CountingModel("fp-v2")  # same keys, but the model now says it is another one
    engine(tmp_path).run(reqs, {"m": changed})
    assert changed.n_items == 2


@pytest.mark.parametrize("how", ["cache_path", "settings"])
def test_no_cache_calls_every_time_and_writes_nothing(tmp_path: Path, how: str) -> None:
    reqs = requests_for(["a", "b", "c"])
    for _ in range(2):
        model = CountingModel()
        if how == "cache_path":  # what --no-cache does
            eng = Engine(settings(), cache_path=None, progress=False)
        else:  # `engine: {cache: null}` in the suite
            eng = Engine(settings(cache=None), cache_path=tmp_path / "c.db", progress=False)
        eng.run(reqs, {"m": model})
        assert model.n_items == 3 and eng.stats.n_cached == 0
    assert list(tmp_path.iterdir()) == []


def test_errors_are_not_cached_so_a_rerun_retries_them(tmp_path: Path) -> None:
    reqs = requests_for(["good", "bad!"])
    failing = CountingModel(fail=lambda b: ValueError("no") if "bad!" in b else None)
    first = engine(tmp_path).run(reqs, {"m": failing})
    assert [r.ok for r in first.values()] == [True, False]

    healed = CountingModel()
    eng = engine(tmp_path)
    second = eng.run(reqs, {"m": healed})
    assert healed.calls == [["bad!"]]
    assert all(r.ok for r in second.values())
    assert eng.stats.n_cached == 1 and eng.stats.n_called == 1


# -- retries and errors ------------------------------------------------------------------------


def test_transient_failures_are_retried() -> None:
    attempts: list[int] = []

    def twice(batch: list[Any]) -> Exception | None:
        attempts.append(1)
        return RetryableModelError("rate limited") if len(attempts) <= 2 else None

    eng = engine(retries=3)
    answers = eng.run(requests_for(["a", "b"]), {"m": CountingModel(fail=twice)})
    assert all(r.ok for r in answers.values())
    # both inputs were asked again twice: every input re-sent counts (it was 2, one per round)
    assert eng.stats.n_retries == 4 and eng.stats.n_errors == 0


def test_httpx_timeouts_are_retried_too() -> None:
    attempts: list[int] = []

    def once(batch: list[Any]) -> Exception | None:
        attempts.append(1)
        return httpx.ReadTimeout("slow") if len(attempts) == 1 else None

    eng = engine()
    assert all(r.ok for r in eng.run(requests_for(["a"]), {"m": CountingModel(fail=once)}).values())
    assert eng.stats.n_retries == 1


def test_a_permanent_transient_failure_becomes_an_error_response() -> None:
    model = CountingModel(fail=lambda b: RetryableModelError("503 from upstream"))
    eng = engine(retries=2, batch_size=10)
    answers = eng.run(requests_for(["a", "b", "c"]), {"m": model})
    assert len(answers) == 3
    for r in answers.values():
        assert r.output is None and not r.ok
        assert r.error == "RetryableModelError: 503 from upstream (gave up after 2 retries)"
    assert len(model.calls) == 3  # one try and two retries, never split into single items
    assert eng.stats.n_errors == 3 and eng.stats.n_retries == 3 * 2


def test_a_non_retryable_error_is_not_retried() -> None:
    model = CountingModel(fail=lambda b: KeyError("boom"))
    answers = engine(retries=5).run(requests_for(["a"]), {"m": model})
    (r,) = answers.values()
    assert r.error == "KeyError: 'boom'"
    assert len(model.calls) == 1


def test_one_bad_item_fails_alone() -> None:
    model = CountingModel(fail=lambda b: ValueError("cannot read 'bad'") if "bad" in b else None)
    payloads = ["a", "b", "bad", "c", "d"]
    eng = engine(batch_size=5)
    answers = eng.run(requests_for(payloads), {"m": model})
    by_payload = dict(zip(payloads, answers.values(), strict=True))
    assert by_payload["bad"].error == "ValueError: cannot read 'bad'"
    assert all(by_payload[p].ok for p in ["a", "b", "c", "d"])
    assert model.calls[0] == payloads and sorted(map(tuple, model.calls[1:])) == [
        (p,) for p in sorted(payloads)
    ]
    assert eng.stats.n_errors == 1


def test_backoff_honours_retry_after() -> None:
    waits: list[float] = []
    attempts: list[int] = []

    def limited(batch: list[Any]) -> Exception | None:
        attempts.append(1)
        return RetryableModelError("429", retry_after_s=7.5) if len(attempts) == 1 else None

    eng = engine(retries=1, backoff_s=0.01)
    eng._sleep = waits.append  # the engine's seam for waiting; nothing sleeps 7.5 s here
    eng.run(requests_for(["a"]), {"m": CountingModel(fail=limited)})
    assert waits == [7.5]


def test_backoff_grows_exponentially_with_jitter() -> None:
    waits: list[float] = []
    model = CountingModel(fail=lambda b: RetryableModelError("busy"))
    eng = engine(retries=4, backoff_s=1.0)
    eng._sleep = waits.append
    eng.run(requests_for(["a"]), {"m": model})
    assert len(waits) == 4
    for attempt, w in enumerate(waits):
        assert 0.5 * 2**attempt <= w < 2**attempt


class _HalfAnswering(CountingModel):
    """Answers each input alone (as an HTTP adapter does) and reports the failures of a batch
    with PartialBatchError: ``flaky`` inputs fail transiently on their first ``flaky_times``
    calls, ``broken`` ones always fail for good."""

    def __init__(self, *, flaky: set[str], broken: set[str], flaky_times: int = 1) -> None:
        super().__init__()
        self.flaky, self.broken, self.flaky_times = flaky, broken, flaky_times
        self.seen: dict[str, int] = {}

    def predict(self, batch: Any, params: dict[str, Any] | None = None) -> list[Output]:
        with self._lock:
            self.calls.append(list(batch))
        results: list[Output | Exception] = []
        for p in batch:
            self.seen[p] = self.seen.get(p, 0) + 1
            if p in self.broken:
                results.append(ValueError(f"cannot answer {p}"))
            elif p in self.flaky and self.seen[p] <= self.flaky_times:
                results.append(RetryableModelError("429", retry_after_s=float(len(p))))
            else:
                results.append(Output(label=str(len(p))))
        if any(isinstance(r, Exception) for r in results):
            raise PartialBatchError("some failed", results=results)
        return [r for r in results if isinstance(r, Output)]


def test_a_partial_batch_keeps_its_answers_and_retries_only_transient_failures() -> None:
    model = _HalfAnswering(flaky={"ab", "abcd"}, broken={"x"})
    eng = engine(retries=3, batch_size=10)
    waits: list[float] = []
    eng._sleep = waits.append
    reqs = requests_for(["a", "ab", "x", "abcd"])
    answers = eng.run(reqs, {"m": model})
    # one call for all four, then one for the two transient failures; "x" failed for good
    assert model.calls == [["a", "ab", "x", "abcd"], ["ab", "abcd"]]
    assert [answers[r.key].ok for r in reqs] == [True, True, False, True]
    assert answers[reqs[2].key].error == "ValueError: cannot answer x"
    assert waits == [4.0]  # the longest Retry-After of the two
    # two inputs were sent again: two retries (one wait, but two requests)
    assert eng.stats.n_retries == 2 and eng.stats.n_errors == 1


def test_a_partial_batch_gives_up_after_the_retries() -> None:
    model = _HalfAnswering(flaky={"bb"}, broken=set(), flaky_times=10)
    eng = engine(retries=2, batch_size=10)
    eng._sleep = lambda s: None
    reqs = requests_for(["a", "bb"])
    answers = eng.run(reqs, {"m": model})
    assert model.calls == [["a", "bb"], ["bb"], ["bb"]]
    assert answers[reqs[0].key].ok
    assert answers[reqs[1].key].error == "RetryableModelError: 429 (gave up after 2 retries)"


def test_a_malformed_partial_batch_error_is_asked_item_by_item() -> None:
    class Malformed(CountingModel):
        def predict(self, batch: Any, params: dict[str, Any] | None = None) -> list[Output]:
            out = super().predict(batch, params)
            if len(batch) > 1:
                raise PartialBatchError("short", results=out[:1])
            return out

    model = Malformed()
    answers = engine(batch_size=10).run(requests_for(["a", "b", "c"]), {"m": model})
    assert all(r.ok for r in answers.values())
    assert model.calls == [["a", "b", "c"], ["a"], ["b"], ["c"]]


class _OwnSettings(CountingModel):
    """A network model double: its own call settings, and the timeout the engine hands it."""

    def __init__(self, own: CallSettings, fail: Any = None) -> None:
        super().__init__(fail=fail)
        self.call_settings = own
        self.timeouts: list[float] = []

    def set_timeout(self, timeout_s: float) -> None:
        self.timeouts.append(timeout_s)


def test_a_models_own_call_settings_override_the_engines() -> None:
    always = lambda b: RetryableModelError("busy")  # noqa: E731
    model = _OwnSettings(CallSettings(retries=1, backoff_s=8.0, timeout_s=9.0), fail=always)
    assert isinstance(model, OverridesCallSettings) and isinstance(model, TakesTimeout)
    eng = engine(retries=4, backoff_s=0.001, timeout_s=2.5)
    waits: list[float] = []
    eng._sleep = waits.append
    (r,) = eng.run(requests_for(["a"]), {"m": model}).values()
    assert r.error == "RetryableModelError: busy (gave up after 1 retries)"
    assert len(waits) == 1 and 4.0 <= waits[0] < 8.0  # the model's backoff base, with jitter
    assert model.timeouts == [9.0]
    # without its own values, the suite's engine settings hold, and the timeout is handed over
    plain = _OwnSettings(CallSettings(), fail=always)
    eng.run(requests_for(["b"]), {"m": plain})
    assert len(plain.calls) == 5 and plain.timeouts == [2.5]
    # no timeout anywhere: the model keeps its own default, nothing is handed over
    quiet = _OwnSettings(CallSettings())
    engine().run(requests_for(["c"]), {"m": quiet})
    assert quiet.timeouts == []


@pytest.mark.parametrize("returned", [[], [Output(label="x")] * 3])
def test_a_wrong_output_count_is_an_error_naming_model_and_counts(
    returned: list[Output],
) -> None:
    class Wrong:
        def info(self) -> ModelInfo:
            return ModelInfo("w", "test:wrong", "classification", "fp-w")

        def predict(self, batch: Any, params: Any = None) -> list[Output]:
            return returned

    answers = engine().run(requests_for(["a", "b"], "fp-w", model="wrong"), {"wrong": Wrong()})
    for r in answers.values():
        assert r.error is not None
        assert r.error.startswith("ModelError: model 'wrong' returned")
        assert f"returned {len(returned)} outputs for a batch of 1 inputs" in r.error


def test_a_non_output_answer_is_an_error() -> None:
    class Raw:
        def info(self) -> ModelInfo:
            return ModelInfo("r", "test:raw", "classification", "fp-r")

        def predict(self, batch: Any, params: Any = None) -> list[Any]:
            return ["yes" for _ in batch]

    (r,) = engine().run(requests_for(["a"], "fp-r", model="r"), {"r": Raw()}).values()
    assert r.error == "ModelError: model 'r' returned str at position 0; expected Output"
    assert isinstance(ModelError("x"), Exception)


# -- latency, concurrency, progress ---------------------------------------------------------------


def test_latency_is_the_batch_time_shared_by_its_examples() -> None:
    model = CountingModel(sleep_s=0.04)
    answers = engine(batch_size=4).run(requests_for(list("abcd")), {"m": model})
    ((start, end),) = model.spans
    for r in answers.values():
        assert r.latency_s == pytest.approx((end - start) / 4, rel=0.5)
        assert 0.01 <= r.latency_s < 0.04


def test_batches_run_concurrently() -> None:
    model = CountingModel(sleep_s=0.05)
    eng = engine(batch_size=2, concurrency=4)
    answers = eng.run(requests_for([f"t{i}" for i in range(16)]), {"m": model})
    assert len(answers) == 16 and all(r.ok for r in answers.values())
    # Overlap measured from the model's own timestamps: some batch started before another ended.
    spans = sorted(model.spans)
    overlapping = sum(1 for a, b in itertools.pairwise(spans) if b[0] < a[1])
    assert overlapping >= 3
    assert eng.stats.wall_s < 8 * 0.05  # serial would take at least 0.4 s
    assert threading.active_count() < 10  # the pool is shut down


class _SingleFile(CountingModel):
    """A CountingModel that declares one batch at a time, and records how many ran at once."""

    max_concurrency = 1

    def __init__(self, fingerprint: str) -> None:
        super().__init__(fingerprint, sleep_s=0.03)
        self.running = 0
        self.most_at_once = 0

    def predict(self, batch: Any, params: dict[str, Any] | None = None) -> list[Output]:
        with self._lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            return super().predict(batch, params)
        finally:
            with self._lock:
                self.running -= 1


def test_a_model_with_max_concurrency_one_runs_one_batch_at_a_time() -> None:
    model = _SingleFile("fp-a")
    answers = engine(batch_size=2, concurrency=4).run(
        requests_for([f"t{i}" for i in range(12)], "fp-a", model="a"), {"a": model}
    )
    assert len(answers) == 12 and all(r.ok for r in answers.values())
    assert model.most_at_once == 1 and len(model.calls) == 6


def test_two_single_batch_models_run_side_by_side() -> None:
    """Jobs used to be queued model after model, so with concurrency 2 and two models that take
    one batch at a time, the second model waited for the first."""
    a, b = _SingleFile("fp-a"), _SingleFile("fp-b")
    reqs = requests_for([f"a{i}" for i in range(8)], "fp-a", model="a") + requests_for(
        [f"b{i}" for i in range(8)], "fp-b", model="b"
    )
    eng = engine(batch_size=2, concurrency=2)
    answers = eng.run(reqs, {"a": a, "b": b})
    assert len(answers) == 16 and all(r.ok for r in answers.values())
    assert a.most_at_once == 1 and b.most_at_once == 1
    # each of a's batches overlaps one of b's: the two models shared the two slots
    overlaps = sum(1 for sa in a.spans for sb in b.spans if sa[0] < sb[1] and sb[0] < sa[1])
    assert overlaps >= 4
    assert eng.stats.wall_s < 8 * 0.03  # one after the other takes at least 0.24 s


@pytest.mark.parametrize("concurrency", [1, 2])
@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_a_bad_max_concurrency_is_a_config_error(bad: object, concurrency: int) -> None:
    model = CountingModel("fp-a")
    model.max_concurrency = bad  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="max_concurrency"):
        engine(batch_size=1, concurrency=concurrency).run(
            requests_for(["x", "y"], "fp-a", model="a"), {"a": model}
        )


def test_progress_bar_is_drawn_only_when_asked_and_needed(tmp_path: Path) -> None:
    reqs = requests_for([f"t{i}" for i in range(10)])
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    Engine(settings(progress=True), cache_path=tmp_path / "c.db", console=console).run(
        reqs, {"m": CountingModel()}
    )
    assert "10/10" in out.getvalue()

    quiet = io.StringIO()
    console = Console(file=quiet, force_terminal=True, width=100)
    # everything is cached now: nothing to call, nothing drawn
    Engine(settings(progress=True), cache_path=tmp_path / "c.db", console=console).run(
        reqs, {"m": CountingModel()}
    )
    off = io.StringIO()
    Engine(settings(progress=True), cache_path=None, progress=False, console=Console(file=off)).run(
        reqs, {"m": CountingModel()}
    )
    assert quiet.getvalue() == "" and off.getvalue() == ""


def test_empty_run() -> None:
    eng = engine()
    assert eng.run([], {}) == {}
    assert eng.stats.n_requests == 0


def test_response_type() -> None:
    (r,) = engine().run(requests_for(["a"]), {"m": CountingModel()}).values()
    assert isinstance(r, Response) and r.ok and not r.cached
