"""The load generator: calls a model directly (never through the engine's cache or dedup: a load
test must reach the model every time) on an open- or closed-loop schedule, and summarises.

- **Open loop** (``rates``): arrivals at a target rate (Poisson or constant), each request sent at
  its scheduled time whatever the earlier ones are doing; latency counts from the **scheduled**
  time, so a stalled server shows in the percentiles (no coordinated omission, as wrk2).
- **Closed loop** (``concurrency``): that many workers, each sending its next request when its
  previous one ended (latency then equals the service time: the classic client's view).
- **Batch size** (``batch_size``, in-process models): one worker sending batches of that size.

HTTP endpoints (:class:`~assay.models._openai.OpenAIModel`) are driven by asyncio on the
adapter's own event loop (:meth:`OpenAIModel.send_once`: its timeouts, body, answer parsing and
stream timings), sending with the small HTTP/1.1 keep-alive client of
:mod:`assay.models._http1` (httpx costs a generator several times the CPU per request; a URL
behind a proxy stays on httpx, with a note); in-process models (``hf:``, ``sklearn:``, ``python:``) by a thread pool calling
``predict``. The first request of the run is a probe: an endpoint that is down fails the run at
once with the cause and fix of ``_util/_retry.py``'s model-wide classification.

**Server-side view.** For an HTTP endpoint the generator also scrapes the server's Prometheus
``/metrics`` (the base URL without ``/v1``, with the endpoint's auth headers) right before and
after each level and a few times during it, on a connection of its own in its own thread (a
scrape is never a load request and never counts in a latency); :func:`assay.load.server_view`
turns the scrapes into the level's ``server`` table. A server without ``/metrics`` (404, refused,
not Prometheus text) gives one note and no server view.
"""

from __future__ import annotations

import asyncio
import math
import resource
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import numpy as np

from assay._types import Model, Output, Payload, canonical_label
from assay._util._redact import redact_spec
from assay._util._retry import describe_error, model_wide_cause
from assay.checks._base import Check, DeclaresLoad, RunContext
from assay.errors import ConfigError, ModelError
from assay.load import (
    Capacity,
    LoadPlan,
    MetricsScrape,
    Mode,
    Sample,
    StepSummary,
    capacity,
    parse_metrics,
    server_view,
    summarize_step,
)
from assay.models._openai import OpenAIModel
from assay.stats import Estimate, stream

__all__ = ["LoadReport", "run_declared_loads", "run_load"]

#: The most HTTP connections a load run opens (requests beyond wait for one, counted in latency).
_MAX_CONNECTIONS = 512


@dataclass(frozen=True)
class LoadReport:
    """What a load run measured.

    Attributes:
        model: the model's name and spec.
        plan: the plan as run.
        steps: one summary per level, in the order run.
        capacity: per sweep mode, throughput against load, the knee and the highest level
            meeting the SLO.
        deadline_miss_rate: the worst level's (``None`` without a deadline).
        cold_start_s: how long loading the model took (``None`` when it was given loaded).
        peak_rss_mb: this process's peak resident memory (an in-process model's footprint).
        warmup: requests run in each level's warm-up and left out, by step name.
        notes: what the reader must know about the run as a whole.
        samples: every measured request, per step name (not in :meth:`to_dict`).
    """

    model: dict[str, Any]
    plan: LoadPlan
    steps: tuple[StepSummary, ...]
    capacity: dict[str, Capacity]
    deadline_miss_rate: Estimate | None
    cold_start_s: float | None
    peak_rss_mb: float
    warmup: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    samples: dict[str, list[Sample]] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The ``latency`` result: each step under its name (``rate_20``) so gates read
        ``latency.rate_20.p95_ms.upper``, ``latency.capacity.max_rps_at_slo`` (the rate sweep's,
        else the first sweep's) and ``latency.deadline_miss_rate.upper``."""
        main = self.capacity.get("rate") or next(iter(self.capacity.values()), None)
        return {
            "model": self.model,
            "plan": {
                k: (list(v) if isinstance(v, tuple) else v) for k, v in self.plan.__dict__.items()
            },
            **{s.name: s.to_dict() for s in self.steps},
            "steps": [s.name for s in self.steps],
            "capacity": None if main is None else main.to_dict(),
            "capacity_by_mode": {k: v.to_dict() for k, v in self.capacity.items()},
            "deadline_miss_rate": (
                None if self.deadline_miss_rate is None else self.deadline_miss_rate.to_dict()
            ),
            "cold_start_s": self.cold_start_s,
            "peak_rss_mb": self.peak_rss_mb,
            "warmup": dict(self.warmup),
            "notes": list(self.notes),
        }


def run_load(
    model: Model,
    payloads: Sequence[Payload],
    plan: LoadPlan,
    *,
    references: Sequence[Any] | None = None,
    cold_start_s: float | None = None,
    on_step: Callable[[StepSummary], None] | None = None,
    fast_http: bool = True,
) -> LoadReport:
    """Run ``plan`` against ``model`` with inputs drawn (seeded) from ``payloads``.

    Args:
        model: a loaded model; an ``openai:`` one is driven over its own HTTP client.
        payloads: the inputs to draw from.
        plan: the levels, durations, SLO and deadline.
        references: the right answer per payload: answers are scored (accuracy under load).
        cold_start_s: how long loading the model took, for the report.
        on_step: called with each level's summary as it ends (progress).
        fast_http: send HTTP requests with :mod:`assay.models._http1` (``False``: httpx, as
            the engine does; the benchmark compares the two).

    Raises:
        ConfigError: the plan is invalid (see :meth:`LoadPlan.check`), or no payloads.
        ModelError: the model failed model-wide (unreachable, 401/403/404) before answering.
    """
    slo = plan.check()
    if not payloads:
        raise ConfigError("load: the data has no rows to send")
    if references is not None and len(references) != len(payloads):
        raise ConfigError("load: references and payloads differ in length")
    driver: _Driver = (
        _HTTPDriver(model, plan, fast_http)
        if isinstance(model, OpenAIModel)
        else _ThreadDriver(model, plan)
    )
    driver.probe(payloads[0])
    scraper = _MetricsScraper.of(model)
    steps: list[StepSummary] = []
    kept: dict[str, list[Sample]] = {}
    warmup: dict[str, int] = {}
    for mode, level in plan.levels():
        rng = stream(plan.seed, "load", f"{mode}_{level:g}")
        watch = scraper.start(plan.warmup_s + plan.duration_s) if scraper.on else None
        samples, n_warm = driver.run(mode, level, payloads, rng, references)
        server = watch.finish() if watch is not None else None
        summary = summarize_step(
            samples,
            mode=mode,
            level=level,
            slo=slo,
            deadline_s=plan.deadline_s,
            confidence=plan.confidence,
        )
        if server is not None:
            server["client_requests"] = len(samples) + n_warm
            summary = replace(summary, server=server)
        warmup[summary.name] = n_warm
        steps.append(summary)
        kept[summary.name] = samples
        if on_step is not None:
            on_step(summary)
    scraper.close()
    by_mode: dict[str, Capacity] = {}
    for swept in dict.fromkeys(s.mode for s in steps):
        by_mode[swept] = capacity([s for s in steps if s.mode == swept])
    misses = [s.deadline_miss_rate for s in steps if s.deadline_miss_rate is not None]
    worst = max(misses, key=lambda e: (e.upper, e.value)) if misses else None
    info = model.info()
    return LoadReport(
        model={"name": info.name, "spec": info.spec, "task": info.task},
        plan=plan,
        steps=tuple(steps),
        capacity=by_mode,
        deadline_miss_rate=worst,
        cold_start_s=cold_start_s,
        peak_rss_mb=_peak_rss_mb(),
        warmup=warmup,
        notes=tuple(driver.notes() + scraper.notes),
        samples=kept,
    )


#: A level's gauges are sampled this many times while it runs (besides before and after).
_GAUGE_SAMPLES = 5
#: How long one scrape of ``/metrics`` may take.
_SCRAPE_TIMEOUT_S = 5.0


class _MetricsScraper:
    """Scrapes an HTTP endpoint's ``/metrics``; off (``on`` false, one note) when the server has
    none, or for an in-process model."""

    def __init__(self, url: str | None, headers: dict[str, str]) -> None:
        self.url = url
        self.notes: list[str] = []
        self.client = httpx.Client(headers=headers, timeout=_SCRAPE_TIMEOUT_S) if url else None
        self.on = False
        if url is not None:
            try:
                self.scrape()
                self.on = True
            except _NoMetrics as e:
                self.notes.append(
                    f"no server-side view: {redact_spec(url)} gives no Prometheus metrics ({e})"
                )

    @classmethod
    def of(cls, model: Model) -> _MetricsScraper:
        if not isinstance(model, OpenAIModel):
            return cls(None, {})
        root = model.base_url.removesuffix("/v1")
        return cls(f"{root}/metrics", model.auth_headers())

    def scrape(self) -> MetricsScrape:
        assert self.client is not None and self.url is not None
        try:
            resp = self.client.get(self.url)
        except httpx.HTTPError as e:
            raise _NoMetrics(describe_error(e)) from None
        if resp.status_code != 200:
            raise _NoMetrics(f"HTTP {resp.status_code}")
        try:
            return parse_metrics(resp.text)
        except ImportError:
            raise _NoMetrics(
                "prometheus-client is not installed: pip install 'assay[monitor]'"
            ) from None
        except (ValueError, KeyError, IndexError) as e:
            raise _NoMetrics(f"not Prometheus text: {str(e)[:80]}") from None

    def start(self, expected_s: float) -> _LevelWatch:
        return _LevelWatch(self, expected_s)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


class _NoMetrics(Exception):
    pass


class _LevelWatch:
    """The scrapes of one level: before, a few during (a thread of its own), after."""

    def __init__(self, scraper: _MetricsScraper, expected_s: float) -> None:
        self.scraper = scraper
        self.during: list[MetricsScrape] = []
        self.failed: str | None = None
        self.stop = threading.Event()
        self.interval = max(expected_s / _GAUGE_SAMPLES, 0.05)
        self.before = self._get()
        self.t0 = time.perf_counter()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _get(self) -> MetricsScrape | None:
        try:
            return self.scraper.scrape()
        except _NoMetrics as e:
            self.failed = str(e)
            return None

    def _sample(self) -> None:
        while not self.stop.wait(self.interval):
            got = self._get()
            if got is not None:
                self.during.append(got)

    def finish(self) -> dict[str, Any] | None:
        self.stop.set()
        self.thread.join()
        seconds = time.perf_counter() - self.t0
        after = self._get()
        if self.before is None or after is None:
            return {"error": f"a scrape of /metrics failed during the level ({self.failed})"}
        return server_view(self.before, after, self.during, seconds)


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _is_correct(out: Output, reference: Any) -> bool:
    if out.label is not None:
        return canonical_label(out.label) == canonical_label(reference)
    if out.value is not None:
        try:
            return math.isclose(float(out.value), float(reference))
        except (TypeError, ValueError):
            return False
    return (out.text or "").strip() == str(reference).strip()


def _sample(
    scheduled: float,
    sent: float,
    done: float,
    out: Output | None,
    exc: BaseException | None,
    timeout_s: float,
    reference: Any = None,
    scored: bool = False,
) -> Sample:
    if exc is not None:
        timeout = isinstance(exc, (httpx.TimeoutException, TimeoutError))
        return Sample(
            scheduled, sent, done, "timeout" if timeout else "error", error=describe_error(exc)
        )
    assert out is not None
    if done - sent > timeout_s:  # an in-process call cannot be cut short: it ran past its time
        return Sample(scheduled, sent, done, "timeout", error=f"took {done - sent:.3f}s")
    t = out.timings or {}
    tokens = (out.usage or {}).get("completion_tokens")
    return Sample(
        scheduled,
        sent,
        done,
        "ok",
        ttft_s=t.get("ttft_s"),
        itl_s=t.get("itl_s"),
        tpot_s=t.get("tpot_s"),
        output_tokens=int(tokens) if tokens is not None else None,
        correct=_is_correct(out, reference) if scored else None,
    )


def _draws(rng: np.random.Generator, n: int, chunk: int = 4096) -> Iterator[int]:
    """Row indices drawn uniformly from ``range(n)``, without end, a chunk at a time."""
    while True:
        yield from (int(i) for i in rng.integers(0, n, size=chunk))


def _arrivals(plan: LoadPlan, rate: float, rng: np.random.Generator) -> tuple[list[float], int]:
    """Offsets (seconds from the start) of every request of a level, and how many of them fall
    in the warm-up."""
    total = plan.warmup_s + plan.duration_s
    n = math.ceil(total * rate) + 1
    if plan.arrivals == "constant":
        times = np.arange(n) / rate
    else:
        times = np.cumsum(rng.exponential(1.0 / rate, size=int(n * 1.2) + 20))
    times = times[times < total]
    n_warm = int(np.sum(times < plan.warmup_s))
    if plan.max_requests is not None:
        times = times[: n_warm + plan.max_requests]
    return [float(x) for x in times], n_warm


class _Driver:
    def __init__(self, model: Model, plan: LoadPlan) -> None:
        self.model = model
        self.plan = plan
        self.any_ok = False

    def probe(self, payload: Payload) -> None:
        """One request before the run (warms the connection too): a model-wide failure ends
        the run here."""
        raise NotImplementedError

    def notes(self) -> list[str]:
        """What the reader must know about how the requests were sent."""
        return []

    def run(
        self,
        mode: Mode,
        level: float,
        payloads: Sequence[Payload],
        rng: np.random.Generator,
        references: Sequence[Any] | None,
    ) -> tuple[list[Sample], int]:
        raise NotImplementedError

    def _answered(
        self,
        scheduled: float,
        sent: float,
        done: float,
        out: Output,
        i: int,
        references: Sequence[Any] | None,
    ) -> Sample:
        """The sample of payload ``i`` answered with ``out`` (scored against ``references[i]``
        when the plan has references)."""
        ref = references[i] if references is not None else None
        return _sample(
            scheduled, sent, done, out, None, self.plan.timeout_s, ref, references is not None
        )

    def _fail_fast(self, exc: BaseException) -> None:
        """Raise when ``exc`` fails every call of the model and none has been answered."""
        cause = model_wide_cause(exc)
        if cause is None or self.any_ok:
            return
        name = self.model.info().name
        fix = exc.fix if isinstance(exc, ModelError) else None
        raise ModelError(
            f"load: model {name!r} failed before answering anything ({cause}): "
            f"{describe_error(exc)}" + (f"; {fix}" if fix else ""),
            model_wide=cause,
            fix=fix,
        ) from None


class _Abort(Exception):
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class _HTTPDriver(_Driver):
    """asyncio on the adapter's event loop, sending with :meth:`OpenAIModel.send_once`."""

    def __init__(self, model: Model, plan: LoadPlan, fast_http: bool = True) -> None:
        super().__init__(model, plan)
        assert isinstance(model, OpenAIModel)
        self.http = model
        model.set_timeout(plan.timeout_s)
        peak = max([*plan.concurrency, 1]) + int(
            max([*plan.rates, 0.0]) * min(plan.timeout_s, 10.0)
        )
        # enough connections for what may be in flight, within the file descriptors a process has
        self.loop = model.event_loop(connections=min(peak, _MAX_CONNECTIONS), fast_http=fast_http)

    def notes(self) -> list[str]:
        fallback = self.http.fast_http_fallback
        if fallback is not None:
            return [
                f"requests were sent with httpx ({fallback}): the generator's own ceiling is "
                "lower (see docs/load.md, benchmark)"
            ]
        counts = self.http.fast_http_counts()
        if counts is None or not counts["stale_retries"]:
            return []
        return [
            f"the server closed {counts['stale_retries']} keep-alive connection(s) between "
            "requests (idle, or as a request went out): those requests went out on a new "
            f"connection ({counts['connections_opened']} opened in all; reconnecting counts in "
            "their latency), none was lost"
        ]

    def _call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def probe(self, payload: Payload) -> None:
        try:
            self._call(self.http.send_once(payload))
            self.any_ok = True
        except Exception as e:
            self._fail_fast(e)

    def run(
        self,
        mode: Mode,
        level: float,
        payloads: Sequence[Payload],
        rng: np.random.Generator,
        references: Sequence[Any] | None,
    ) -> tuple[list[Sample], int]:
        if mode == "batch_size":
            raise ConfigError(
                "--batch-size: an HTTP endpoint answers one input per request; use --rate or "
                "--concurrency (the server batches on its side)"
            )
        try:
            if mode == "rate":
                return self._call(self._open(level, payloads, rng, references))
            return self._call(self._closed(int(level), payloads, rng, references))
        except _Abort as a:
            self._fail_fast(a.exc)
            raise ModelError(describe_error(a.exc)) from None

    async def _one(
        self,
        scheduled: float,
        i: int,
        payloads: Sequence[Payload],
        references: Sequence[Any] | None,
    ) -> Sample:
        sent = time.perf_counter()
        try:
            out = await self.http.send_once(payloads[i])
        except Exception as e:
            if model_wide_cause(e) and not self.any_ok:
                raise _Abort(e) from None
            return _sample(scheduled, sent, time.perf_counter(), None, e, self.plan.timeout_s)
        self.any_ok = True
        return self._answered(scheduled, sent, time.perf_counter(), out, i, references)

    async def _open(
        self,
        rate: float,
        payloads: Sequence[Payload],
        rng: np.random.Generator,
        references: Sequence[Any] | None,
    ) -> tuple[list[Sample], int]:
        offsets, n_warm = _arrivals(self.plan, rate, rng)
        picks = rng.integers(0, len(payloads), size=len(offsets))
        start = time.perf_counter() + 0.005
        tasks = []
        for k, off in enumerate(offsets):
            at = start + off
            delay = at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self._one(at, int(picks[k]), payloads, references)))
        samples = await asyncio.gather(*tasks)
        return list(samples[n_warm:]), n_warm

    async def _closed(
        self,
        workers: int,
        payloads: Sequence[Payload],
        rng: np.random.Generator,
        references: Sequence[Any] | None,
    ) -> tuple[list[Sample], int]:
        start = time.perf_counter()
        measure_from = start + self.plan.warmup_s
        end = measure_from + self.plan.duration_s
        limit = self.plan.max_requests
        picks = _draws(rng, len(payloads))
        measured: list[Sample] = []
        warm = 0

        async def worker() -> None:
            nonlocal warm
            while True:
                now = time.perf_counter()
                if now >= end or (limit is not None and len(measured) >= limit):
                    return
                s = await self._one(now, int(next(picks)), payloads, references)
                if s.scheduled_s < measure_from:
                    warm += 1
                else:
                    measured.append(s)

        await asyncio.gather(*(worker() for _ in range(workers)))
        return measured, warm


class _ThreadDriver(_Driver):
    """Threads calling ``predict`` on an in-process model."""

    def _predict(
        self, batch: list[Payload]
    ) -> tuple[float, float, list[Output] | None, BaseException | None]:
        sent = time.perf_counter()
        try:
            outs = self.model.predict(batch)
        except Exception as e:
            return sent, time.perf_counter(), None, e
        return sent, time.perf_counter(), list(outs), None

    def probe(self, payload: Payload) -> None:
        _, _, _outs, exc = self._predict([payload])
        if exc is not None:
            self._fail_fast(exc)
        else:
            self.any_ok = True

    def _samples(
        self,
        scheduled: float,
        idx: list[int],
        references: Sequence[Any] | None,
    ) -> list[Sample]:
        batch = [self._payloads[i] for i in idx]
        sent, done, outs, exc = self._predict(batch)
        if exc is not None or outs is None or len(outs) != len(batch):
            err = exc or ModelError(
                f"predict returned {len(outs or [])} outputs for {len(batch)} inputs"
            )
            return [_sample(scheduled, sent, done, None, err, self.plan.timeout_s) for _ in idx]
        self.any_ok = True
        return [
            self._answered(scheduled, sent, done, o, i, references)
            for o, i in zip(outs, idx, strict=True)
        ]

    def run(
        self,
        mode: Mode,
        level: float,
        payloads: Sequence[Payload],
        rng: np.random.Generator,
        references: Sequence[Any] | None,
    ) -> tuple[list[Sample], int]:
        self._payloads = payloads
        if mode == "rate":
            return self._open(level, rng, references)
        workers, batch = (int(level), 1) if mode == "concurrency" else (1, int(level))
        return self._closed(workers, batch, rng, references)

    def _open(
        self, rate: float, rng: np.random.Generator, references: Sequence[Any] | None
    ) -> tuple[list[Sample], int]:
        offsets, n_warm = _arrivals(self.plan, rate, rng)
        picks = rng.integers(0, len(self._payloads), size=len(offsets))
        start = time.perf_counter() + 0.005
        with ThreadPoolExecutor(max_workers=self.plan.max_workers) as pool:
            futures = []
            for k, off in enumerate(offsets):
                at = start + off
                delay = at - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                futures.append(pool.submit(self._samples, at, [int(picks[k])], references))
            samples = [s for f in futures for s in f.result()]
        return samples[n_warm:], n_warm

    def _closed(
        self, workers: int, batch: int, rng: np.random.Generator, references: Sequence[Any] | None
    ) -> tuple[list[Sample], int]:
        start = time.perf_counter()
        measure_from = start + self.plan.warmup_s
        end = measure_from + self.plan.duration_s
        limit = self.plan.max_requests
        lock = threading.Lock()
        measured: list[Sample] = []
        warm = [0]
        seeds = rng.integers(0, 2**63 - 1, size=workers)

        def worker(k: int) -> None:
            r = np.random.default_rng(int(seeds[k]))
            while True:
                now = time.perf_counter()
                with lock:
                    full = limit is not None and len(measured) >= limit
                if now >= end or full:
                    return
                idx = [int(i) for i in r.integers(0, len(self._payloads), size=batch)]
                got = self._samples(now, idx, references)
                with lock:
                    if now < measure_from:
                        warm[0] += len(got)
                    else:
                        measured.extend(got)

        with ThreadPoolExecutor(max_workers=workers) as pool:
            for f in [pool.submit(worker, k) for k in range(workers)]:
                f.result()
        return measured, warm[0]


def run_declared_loads(checks: Sequence[Check], ctx: RunContext) -> None:
    """Run the load plan of each check that declares one (:class:`DeclaresLoad`) on its model,
    and put the measured table in ``ctx.load_results`` for the check's ``score``."""
    for check in checks:
        if isinstance(check, DeclaresLoad):
            payloads, references = check.load_rows(ctx)
            report = run_load(
                ctx.models[check.model], payloads, check.load_plan(ctx), references=references
            )
            ctx.load_results[(check.name, check.model)] = report.to_dict()
