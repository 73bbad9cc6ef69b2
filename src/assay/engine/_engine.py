"""``Engine``: answer Requests once each — dedupe, cache, batch, call concurrently, retry."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from assay._types import (
    AnswersById,
    AnswersEachInput,
    CallSettings,
    LimitsConcurrency,
    Model,
    Output,
    OverridesCallSettings,
    Request,
    Response,
    TakesTimeout,
)
from assay._util._progress import ProgressDisplay
from assay._util._retry import backoff_delay, describe_error, is_retryable, model_wide_cause
from assay.config._suite import EngineSettings
from assay.engine._cache import ResponseCache
from assay.engine._ray import ModelBuilder, RayPool, RemoteModel
from assay.errors import ConfigError, ModelError, PartialBatchError, RetryableModelError

__all__ = ["Engine", "EngineStats"]


@dataclass(frozen=True)
class EngineStats:
    """What one :meth:`Engine.run` did.

    Attributes:
        n_requests: Requests received (with repeats).
        n_unique: distinct keys among them (``n_cached + n_called``).
        n_cached: distinct keys answered from the cache.
        n_called: distinct keys sent to a model.
        n_errors: distinct keys whose Response is an error (a failed *call*: an input asked by
            several rows or checks is one call; a check's ``errors.n_errors`` counts its *rows*).
        n_retries: inputs asked again after a transient failure, each time it was asked again:
            a batch of 10 sent again counts 10, one request retried twice counts 2. The model
            was called ``n_called + n_retries`` times per input (for ``openai:``, requests sent).
        wall_s: wall time of the run, seconds.
    """

    n_requests: int = 0
    n_unique: int = 0
    n_cached: int = 0
    n_called: int = 0
    n_errors: int = 0
    n_retries: int = 0
    wall_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _CallPolicy:
    """How the engine calls one model: its retries and backoff base, resolved."""

    retries: int
    backoff_s: float


@dataclass(frozen=True)
class _Job:
    """One batch for one model: what a worker needs, nothing shared."""

    model_name: str
    model: Model
    fingerprint: str
    params: dict[str, Any] | None
    requests: tuple[Request, ...]
    #: retries and backoff base of this model (the suite's, or the model's own)
    retries: int
    backoff_s: float


@dataclass(frozen=True)
class _Outcome:
    job: _Job
    responses: tuple[Response, ...]
    n_retries: int


#: How many calls of one model in a row (with no answer between) must fail with the same
#: model-wide cause (401/403/404, connection refused, DNS) before the run stops.
STOP_AFTER_SAME_FAILURES = 3


class _RunState:
    """What the workers of one :meth:`Engine.run` share, behind one lock: the cache they commit
    settled answers to, the progress bar, and each model's health — whether it answered in this
    run, and its streak of calls that failed with one model-wide cause."""

    def __init__(
        self, cache: ResponseCache | None, bar: ProgressDisplay, calls: Mapping[str, int]
    ) -> None:
        self.cache = cache
        self.bar = bar
        self.lock = threading.Lock()
        #: distinct calls each model must answer in this run
        self.calls = dict(calls)
        self.answered: set[str] = set()
        self.n_answers: dict[str, int] = dict.fromkeys(calls, 0)
        self.streak: dict[str, tuple[str, int, BaseException]] = {}
        self.n_retries: dict[str, int] = dict.fromkeys(calls, 0)
        #: set when a model's calls fail for a reason retries cannot fix: the run stops
        self.stop: ModelError | None = None

    def has_answered(self, model: str) -> bool:
        with self.lock:
            return model in self.answered

    def settle(self, job: _Job, settled: Sequence[tuple[Response, BaseException | None]]) -> None:
        """Commit the answers among ``settled`` to the cache now, and update the model's health
        in the order the calls settled (a failure carries the exception it failed with)."""
        if not settled:
            return
        with self.lock:
            if self.cache is not None:
                self.cache.put_many([r for r, _ in settled], fingerprint=job.fingerprint)
            self.bar.advance(len(settled))
            name = job.model_name
            for resp, exc in settled:
                cause = model_wide_cause(exc) if exc is not None else None
                if resp.ok:
                    self.answered.add(name)
                    self.n_answers[name] += 1
                if cause is None or exc is None:
                    self.streak.pop(name, None)
                    continue
                old_cause, n, first = self.streak.get(name, (cause, 0, exc))
                n = n + 1 if old_cause == cause else 1
                self.streak[name] = (cause, n, first if old_cause == cause else exc)
            if self.stop is None and name in self.streak:
                cause, n, first = self.streak[name]
                if n >= min(STOP_AFTER_SAME_FAILURES, self.calls[name]):
                    self.stop = self._stop_error(name, cause, n, first)

    def _stop_error(self, name: str, cause: str, n: int, exc: BaseException) -> ModelError:
        answered = self.n_answers[name]
        when = (
            f"its first {n} calls failed"
            if not answered
            else f"{n} calls in a row failed, after {answered} answers,"
        )
        fix = getattr(exc, "fix", None) or "fix the model or its endpoint"
        stop = "" if fix.endswith((".", "?", "!")) else "."
        retries = self.n_retries[name]
        kept = " (cached: a re-run asks only the rest)" if answered else ""
        return ModelError(
            f"model {name!r}: stopped early: {when} the same way ({cause}), which retrying "
            f"cannot fix: {describe_error(exc)}. Fix: {fix}{stop} {answered} of its "
            f"{self.calls[name]} calls were answered{kept}; {retries} retries were made.",
            model_wide=cause,
            fix=fix,
        )


class Engine:
    """Answers Requests: each distinct key once, from the cache when it can, else from the model.

    The pipeline of :meth:`run`:

    1. **Dedupe** by ``Request.key`` (the first Request of a key decides its model).
    2. **Cache**: keys already answered (``ResponseCache``, for the same model fingerprint) are
       not asked again. No cache when ``cache_path`` is ``None`` or ``settings.cache`` is ``None``.
    3. **Batch** the rest per model (and per ``params``), ``settings.batch_size`` at a time, and
       call ``settings.concurrency`` batches at once on a thread pool — models are I/O-bound (HTTP
       APIs) or release the GIL (numpy, torch). The models take turns, and a model that declares
       :class:`~assay._types.LimitsConcurrency` never has more than its ``max_concurrency``
       batches in flight.
    4. **Retry** transient failures (:class:`~assay.errors.RetryableModelError`, httpx timeouts and
       network errors) up to ``settings.retries`` times with exponential backoff and jitter
       (``settings.backoff_s`` base; a ``retry_after_s`` on the error — the server's
       ``Retry-After`` — is a floor). The engine is the only place that retries: adapters raise,
       they do not loop. A model may override ``retries`` and ``backoff_s`` for itself
       (:class:`~assay._types.OverridesCallSettings`). A model that answers part of a batch
       (:class:`~assay.errors.PartialBatchError`) keeps those answers; only its transient
       failures are asked again. When a batch fails for any other reason, its items are asked one
       at a time, so one bad input fails alone. What still fails becomes
       ``Response(output=None, error="<ExceptionType>: message")``: never dropped, never cached
       (the next run tries again).
    5. **Persist**: answers are committed to the cache as they settle — a batch's when its call
       returns, and for a model that answers each input on its own
       (:class:`~assay._types.AnswersEachInput`, ``openai:``) each answer as it arrives — so a
       run killed half-way (even with ``SIGKILL``) repeats only the calls that were in flight.
    6. **Stop early**: when :data:`STOP_AFTER_SAME_FAILURES` calls of a model in a row fail
       with the same model-wide cause (the adapter's ``ModelError.model_wide``: HTTP 401, 403,
       404, connection refused, DNS failure — see :mod:`assay._util._retry`), no new batch
       starts and :meth:`run` raises ``ModelError`` naming the cause and its fix. An unreachable
       server is retried only once the model has answered in this run (a server restarting);
       before that, the first calls settle at once and the run stops.

    Latency: ``Response.latency_s`` is the request's own latency when the model measured it
    (``Output.timings["latency_s"]``: ``openai:`` times each HTTP request, and hands each answer
    over as it arrives, :class:`~assay._types.AnswersEachInput`), else the wall time of the
    successful call divided by the number of inputs in it — a per-example share of the batch, not
    the latency one request would see alone. Backoff waits and failed attempts are not counted. An
    error Response carries the per-example share of its last attempt.

    Timeouts: a thread cannot be interrupted, so the engine resolves ``settings.timeout_s`` (or
    the model's own ``call_settings.timeout_s``) and hands it to models that call over a network
    (:class:`~assay._types.TakesTimeout`), which bound each call with it and raise a transient
    error when it runs out.

    The thread pool lives in :meth:`_execute`; an asyncio path for async clients would be another
    implementation of that one method (take the jobs, yield outcomes as they complete).

    Args:
        settings: batch size, concurrency, retries, backoff, cache and progress settings.
        cache_path: the SQLite cache file (already resolved); ``None`` for no cache.
        progress: show a Rich progress bar (rate, ETA) when there is something to call; nothing
            is printed when false, or when ``settings.progress`` is false.
        console: a ``rich.console.Console`` to draw on (default: a new one on stderr).
        builders: with ``settings.backend == "ray"``, model name → a picklable callable that
            builds the model on a Ray actor (the runner's, from the model's spec); a model
            without one is shipped to the actors as an object (:mod:`assay.engine._ray`).

    Backends: ``settings.backend`` is ``"local"`` (the thread pool calls the models here) or
    ``"ray"``: each model's batches go to ``settings.ray.actors_per_model`` Ray actors, one batch
    per actor at a time; dedupe, the cache, retries, stopping early and the error Responses stay
    here, the same for both. :meth:`close` (or ``with Engine(...)``) stops the actors.

    Example:
        >>> from assay.config import EngineSettings
        >>> from assay.engine import Request, content_key
        >>> from assay.models import ModelInfo, Output
        >>> class Upper:
        ...     def info(self):
        ...         return ModelInfo("m", "python:upper", "generation", "fp-upper")
        ...     def predict(self, batch, params=None):
        ...         return [Output(text=p.upper()) for p in batch]
        >>> reqs = [Request(content_key("fp-upper", t), "m", t) for t in ["a", "b", "a"]]
        >>> engine = Engine(EngineSettings(cache=None), cache_path=None, progress=False)
        >>> answers = engine.run(reqs, {"m": Upper()})
        >>> sorted(r.output.text for r in answers.values()), engine.stats.n_called
        (['A', 'B'], 2)
    """

    def __init__(
        self,
        settings: EngineSettings,
        *,
        cache_path: Path | None,
        progress: bool = True,
        console: Any = None,
        builders: Mapping[str, ModelBuilder] | None = None,
    ) -> None:
        self.settings = settings
        self._pool = RayPool(settings.ray, builders or {}) if settings.backend == "ray" else None
        self.cache_path = (
            Path(cache_path) if cache_path is not None and settings.cache is not None else None
        )
        self.progress = progress and settings.progress
        self.console = console
        self.stats = EngineStats()
        self._rng = random.Random()
        self._rng_lock = threading.Lock()
        #: how the engine waits between retries; a seam for tests of our own retry logic.
        self._sleep: Callable[[float], None] = time.sleep

    def close(self) -> None:
        """Stop the Ray actors (and Ray, when this engine started it); nothing for ``local``."""
        if self._pool is not None:
            self._pool.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, requests: Sequence[Request], models: Mapping[str, Model]) -> dict[str, Response]:
        """Answer every distinct Request.

        Args:
            requests: what the checks asked; repeats (equal keys) are answered once.
            models: model name → model, covering every ``Request.model``.

        Returns:
            key → Response, one per distinct key, in order of first appearance. Failed calls are
            error Responses; nothing is dropped.

        Raises:
            ConfigError: a Request names a model not in ``models``.
            ModelError: a model's calls failed :data:`STOP_AFTER_SAME_FAILURES` times in a row
                the same way for a reason retries cannot fix (credentials refused, model or URL
                unknown, server unreachable): the run stops early, naming the cause and the fix.
                What was answered before is in the cache.
        """
        start = time.perf_counter()
        unique: dict[str, Request] = {}
        for r in requests:
            unique.setdefault(r.key, r)
        missing = sorted({r.model for r in unique.values()} - set(models))
        if missing:
            raise ConfigError(
                f"requests name model(s) {', '.join(map(repr, missing))} that are not loaded; "
                f"loaded models: {', '.join(map(repr, models)) or 'none'}"
            )
        used = {r.model for r in unique.values()}
        fingerprints = {name: models[name].info().fingerprint for name in used}
        policies = {name: self._call_policy(models[name]) for name in used}

        answered: dict[str, Response] = {}
        n_retries = 0
        stop: ModelError | None = None
        cache = ResponseCache(self.cache_path) if self.cache_path is not None else None
        try:
            if cache is not None:
                for name, fp in fingerprints.items():
                    keys = [k for k, r in unique.items() if r.model == name]
                    answered.update(cache.get_many(keys, fingerprint=fp))
            n_cached = len(answered)
            todo = [r for k, r in unique.items() if k not in answered]
            jobs = list(self._plan_jobs(todo, models, fingerprints, policies))
            if self._pool is not None:
                jobs = self._on_ray(jobs, self._pool)
            description = "calling " + ", ".join(sorted({j.model_name for j in jobs}))
            with ProgressDisplay(
                enabled=self.progress,
                total=len(todo),
                description=description,
                console=self.console,
            ) as bar:
                calls = dict.fromkeys(used, 0)
                for r in todo:
                    calls[r.model] += 1
                state = _RunState(cache, bar, calls)
                for outcome in self._execute(jobs, state):
                    for resp in outcome.responses:
                        answered[resp.key] = resp
                    n_retries += outcome.n_retries
                stop = state.stop
        finally:
            if cache is not None:
                cache.close()

        result = {k: answered[k] for k in unique if k in answered}
        self.stats = EngineStats(
            n_requests=len(requests),
            n_unique=len(unique),
            n_cached=n_cached,
            n_called=len(todo),
            n_errors=sum(1 for r in result.values() if not r.ok),
            n_retries=n_retries,
            wall_s=time.perf_counter() - start,
        )
        if stop is not None:
            raise stop
        return result

    # -- planning -------------------------------------------------------------------------------

    def _timeout(self, model: Model) -> float | None:
        """The timeout of one call of ``model``: its own, else the suite's."""
        own = model.call_settings if isinstance(model, OverridesCallSettings) else CallSettings()
        return own.timeout_s if own.timeout_s is not None else self.settings.timeout_s

    def _on_ray(self, jobs: list[_Job], pool: RayPool) -> list[_Job]:
        """The same jobs, each model replaced by its stand-in on the Ray actors — except a model
        that looks its answers up by id (a predictions file): they are already on disk, so it
        is asked here, as on the local backend, rather than loaded again on an actor."""
        remote: dict[str, Model] = {}
        for job in jobs:
            if job.model_name not in remote:
                remote[job.model_name] = (
                    job.model
                    if isinstance(job.model, AnswersById)
                    else pool.remote_model(job.model_name, job.model, self._timeout(job.model))
                )
        return [replace(job, model=remote[job.model_name]) for job in jobs]

    @property
    def ray_actors(self) -> dict[str, int]:
        """Model name → the Ray actors it ran on in this engine's runs (``{}`` on ``local``)."""
        return self._pool.actors() if self._pool is not None else {}

    def _call_policy(self, model: Model) -> _CallPolicy:
        """How to call ``model``: the suite's engine settings, overridden by the model's own
        (:class:`~assay._types.OverridesCallSettings`). A model that bounds its network calls
        (:class:`~assay._types.TakesTimeout`) is handed the resolved timeout here."""
        own = model.call_settings if isinstance(model, OverridesCallSettings) else CallSettings()
        timeout_s = self._timeout(model)
        if timeout_s is not None and isinstance(model, TakesTimeout):
            model.set_timeout(timeout_s)
        return _CallPolicy(
            retries=own.retries if own.retries is not None else self.settings.retries,
            backoff_s=own.backoff_s if own.backoff_s is not None else self.settings.backoff_s,
        )

    def _plan_jobs(
        self,
        todo: Sequence[Request],
        models: Mapping[str, Model],
        fingerprints: Mapping[str, str],
        policies: Mapping[str, _CallPolicy],
    ) -> Iterator[_Job]:
        groups: dict[tuple[str, str], list[Request]] = {}
        for r in todo:
            params_key = json.dumps(r.params, sort_keys=True, default=str)
            groups.setdefault((r.model, params_key), []).append(r)
        size = self.settings.batch_size
        for (name, _), reqs in groups.items():
            params = dict(reqs[0].params) or None
            policy = policies[name]
            for i in range(0, len(reqs), size):
                yield _Job(
                    name,
                    models[name],
                    fingerprints[name],
                    params,
                    tuple(reqs[i : i + size]),
                    retries=policy.retries,
                    backoff_s=policy.backoff_s,
                )

    # -- execution ------------------------------------------------------------------------------

    def _execute(self, jobs: Sequence[_Job], state: _RunState) -> Iterator[_Outcome]:
        """Run the jobs, yielding each outcome as soon as its batch is done.

        At most ``settings.concurrency`` batches are in flight (on Ray: one per actor), and at
        most :func:`model_concurrency` of any one model; the models take turns (round robin), so
        two local models share the cores rather than queue behind each other.

        The seam for other executors (asyncio): they take the same jobs and yield the same
        outcomes. Ray does not need another one: its jobs carry stand-in models that send each
        batch to an actor (:meth:`_on_ray`), and these threads wait for them. Answers are
        committed by :meth:`_answer` as they settle (``state``); no new batch starts once
        ``state.stop`` is set.
        """
        queues: dict[str, deque[_Job]] = {}
        for job in jobs:
            queues.setdefault(job.model_name, deque()).append(job)
        # On Ray, each actor takes one batch at a time: as many in flight as there are actors
        # (plus the suite's concurrency for a model still asked here).
        width = (
            self.settings.concurrency
            if self._pool is None
            else sum(
                q[0].model.max_concurrency
                if isinstance(q[0].model, RemoteModel)
                else min(self.settings.concurrency, model_concurrency(q[0].model))
                for q in queues.values()
            )
        )
        limits = {name: min(width, model_concurrency(q[0].model)) for name, q in queues.items()}
        if width == 1 or len(jobs) <= 1:
            for job in jobs:
                if state.stop is not None:
                    return
                yield self._answer(job, state)
            return
        in_flight = dict.fromkeys(queues, 0)
        turn = list(queues)
        pending: dict[Future[_Outcome], str] = {}

        def next_job() -> _Job | None:
            # the first model in turn order with work left and a free slot; it goes to the back
            for i, name in enumerate(turn):
                if queues[name] and in_flight[name] < limits[name]:
                    turn.append(turn.pop(i))
                    in_flight[name] += 1
                    return queues[name].popleft()
            return None

        # Keep at most `concurrency` batches in flight, so an interrupted run leaves no backlog
        # of submitted work behind and answers land in the cache in roughly request order.
        with ThreadPoolExecutor(max_workers=width, thread_name_prefix="assay-engine") as pool:
            try:
                while True:
                    while len(pending) < width and state.stop is None:
                        ready = next_job()
                        if ready is None:
                            break
                        pending[pool.submit(self._answer, ready, state)] = ready.model_name
                    if not pending:
                        return
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        in_flight[pending.pop(fut)] -= 1
                        yield fut.result()
            finally:
                for fut in pending:
                    fut.cancel()

    def _answer(self, job: _Job, state: _RunState) -> _Outcome:
        """Answer one batch, retrying what failed transiently; never raises for a model failure.

        Each attempt asks the model for the inputs still open. An input is settled by an answer,
        by a failure that is not transient, or by a transient failure once ``job.retries`` are
        spent; the others are asked again after a backoff. A model may settle part of a batch
        (:class:`~assay.errors.PartialBatchError`); when a whole batch fails for a reason that is
        not transient and not model-wide, its inputs are asked one at a time, so one bad input
        fails alone. A server that cannot be reached is asked again only once the model has
        answered in this run (it may be restarting); before that it settles at once.

        What settles is committed at once (``state.settle``): an answer reaches the cache when
        its attempt ends, or — for :class:`~assay._types.AnswersEachInput` models — when it
        arrives. Once ``state.stop`` is set, open inputs are settled unasked.
        """
        reqs = job.requests
        settled: dict[int, Response] = {}
        open_ = list(range(len(reqs)))
        attempt = 0
        n_retries = 0
        while open_:
            if state.stop is not None:
                note = f"not asked: the run stopped ({state.stop.model_wide or 'see above'})"
                for i in open_:
                    settled[i] = Response(reqs[i].key, None, 0.0, error=note)
                break
            t0 = time.perf_counter()
            early: dict[int, Response] = {}
            try:
                results = self._attempt(job, open_, state, t0, early)
            except Exception as exc:
                if len(open_) > 1 and not is_retryable(exc) and model_wide_cause(exc) is None:
                    # One bad input should not fail its neighbours: ask each on its own.
                    settled.update(early)
                    for i in open_:
                        if i in early:
                            continue
                        single = self._answer(replace(job, requests=(reqs[i],)), state)
                        settled[i] = single.responses[0]
                        n_retries += single.n_retries
                    break
                results = [exc] * len(open_)
            settled.update(early)
            # the per-example share of this attempt's wall time
            share = (time.perf_counter() - t0) / len(open_)
            again: list[tuple[int, BaseException]] = []
            now: list[tuple[Response, BaseException | None]] = []
            for i, result in zip(open_, results, strict=True):
                if i in early:
                    continue
                if isinstance(result, Output):
                    settled[i] = Response(reqs[i].key, result, _own_latency(result, share))
                    now.append((settled[i], None))
                elif self._retry(job, result, attempt, state):
                    again.append((i, result))
                else:
                    message = describe_error(result)
                    if attempt:
                        message += f" (gave up after {attempt} retries)"
                    settled[i] = Response(reqs[i].key, None, share, error=message)
                    now.append((settled[i], result))
            state.settle(job, now)
            if again and state.stop is None:
                with self._rng_lock:
                    delay = backoff_delay(
                        attempt,
                        base_s=job.backoff_s,
                        rng=self._rng,
                        retry_after_s=_retry_after([e for _, e in again]),
                    )
                self._sleep(delay)
                attempt += 1
                n_retries += len(again)
                with state.lock:
                    state.n_retries[job.model_name] += len(again)
            open_ = [i for i, _ in again]
        return _Outcome(job, tuple(settled[i] for i in range(len(reqs))), n_retries)

    @staticmethod
    def _retry(job: _Job, exc: BaseException, attempt: int, state: _RunState) -> bool:
        """Whether to ask again after ``exc``: a transient failure with retries left — and, when
        the server cannot be reached, only if this model has answered in this run."""
        if not is_retryable(exc) or attempt >= job.retries:
            return False
        return model_wide_cause(exc) is None or state.has_answered(job.model_name)

    def _attempt(
        self,
        job: _Job,
        open_: list[int],
        state: _RunState,
        t0: float,
        early: dict[int, Response],
    ) -> list[Output | BaseException]:
        """One call of the model for the inputs ``open_``: for each its Output or the exception
        it failed with. A model that answers each input on its own
        (:class:`~assay._types.AnswersEachInput`) hands answers over as they arrive; each is
        settled and committed at once into ``early`` (index in ``job.requests`` → Response,
        latency: the request's own ``timings["latency_s"]``, else the time since ``t0``).

        Raises:
            Exception: whatever the model raised for the batch as a whole, or ``ModelError``
                when it answered with the wrong number or kind of results.
        """
        reqs = job.requests
        payloads = [reqs[i].payload for i in open_]

        def on_answer(j: int, output: Output) -> None:
            if not 0 <= j < len(open_) or not isinstance(output, Output):
                return  # the batch's own result says what is wrong
            i = open_[j]
            latency = (output.timings or {}).get("latency_s", time.perf_counter() - t0)
            early[i] = Response(reqs[i].key, output, float(latency))
            state.settle(job, [(early[i], None)])

        try:
            if isinstance(job.model, AnswersEachInput):
                answers = job.model.predict_each(payloads, job.params, on_answer)
            else:
                answers = job.model.predict(payloads, job.params)
            return list(_checked(job.model_name, answers, len(payloads)))
        except PartialBatchError as partial:
            return _checked_partial(job.model_name, partial, len(payloads))


def _own_latency(output: Output, share: float) -> float:
    """The latency the model measured for this one answer, else its share of the batch's."""
    measured = (output.timings or {}).get("latency_s")
    return float(measured) if isinstance(measured, (int, float)) and measured >= 0 else share


def _retry_after(failures: Sequence[BaseException]) -> float | None:
    """The longest wait the server asked for among ``failures`` (``Retry-After``), if any."""
    asked = [
        e.retry_after_s
        for e in failures
        if isinstance(e, RetryableModelError) and e.retry_after_s is not None
    ]
    return max(asked) if asked else None


def _checked_partial(
    model_name: str, partial: PartialBatchError, n: int
) -> list[Output | BaseException]:
    results = partial.results
    if len(results) != n or not all(isinstance(r, (Output, BaseException)) for r in results):
        raise ModelError(
            f"model {model_name!r} raised PartialBatchError with {len(results)} results for a "
            f"batch of {n} inputs; expected one Output or exception per input"
        ) from partial
    return [r for r in results if isinstance(r, (Output, BaseException))]


def _checked(model_name: str, outputs: Any, n: int) -> list[Output]:
    try:
        outputs = list(outputs)
    except TypeError:
        raise ModelError(
            f"model {model_name!r} returned {type(outputs).__name__} from predict; "
            "expected a list of Output, one per input"
        ) from None
    if len(outputs) != n:
        raise ModelError(
            f"model {model_name!r} returned {len(outputs)} outputs for a batch of {n} inputs"
        )
    for i, o in enumerate(outputs):
        if not isinstance(o, Output):
            raise ModelError(
                f"model {model_name!r} returned {type(o).__name__} at position {i}; expected Output"
            )
    return outputs


def model_concurrency(model: Model) -> int:
    """How many batches of ``model`` may run at once: its ``max_concurrency`` when it declares
    :class:`~assay._types.LimitsConcurrency` (a local transformer says 1: its tokenizer is not
    thread-safe), else no limit of its own."""
    limit = model.max_concurrency if isinstance(model, LimitsConcurrency) else None
    if limit is None:
        return 1 << 30
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ConfigError(
            f"{type(model).__name__}.max_concurrency is {limit!r}; expected a positive int or None"
        )
    return limit
