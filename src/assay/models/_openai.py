"""``openai:`` — any OpenAI-compatible server (vLLM, TGI, llama.cpp, Ollama, OpenAI).

Spec: ``openai:<model>@<base url>`` (``openai:my-ft@http://127.0.0.1:8000/v1``) or
``openai:<model>`` with ``options.base_url`` / ``ASSAY_OPENAI_BASE_URL``.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import hashlib
import json
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from assay._types import UNPARSEABLE_LABEL, CallSettings, ModelInfo, Output, Payload, Task
from assay._util._concurrency import AdaptiveLimit, Signal, Ticket
from assay._util._retry import connect_failure
from assay.errors import ConfigError, ModelError, PartialBatchError, RetryableModelError
from assay.models._convert import parse_task
from assay.models._http1 import Http1Client, unsupported
from assay.models._registry import check_options, redact_spec, register_model
from assay.models._sse import sse_data
from assay.models._timings import stream_timings
from assay.models._verbalise import (
    LabelScores,
    Verbaliser,
    check_stop,
    cut_at_stop,
    render_prompt,
)

__all__ = ["DEFAULT_KEY_ENV", "OpenAIModel"]

#: Where the API key is read from unless ``options.api_key_env`` names another variable.
DEFAULT_KEY_ENV = "ASSAY_OPENAI_API_KEY"
_DEFAULT_BASE = "https://api.openai.com/v1"
#: How long one request may take when neither the options nor the suite's engine say.
_DEFAULT_TIMEOUT_S = 60.0

_OPTIONS = {
    "task",
    "base_url",
    "api_key_env",
    "endpoint",
    "prompt",
    "system",
    "max_new_tokens",
    "stop",
    "temperature",
    "top_p",
    "seed",
    "stream",
    "logprobs",
    "top_logprobs",
    "timeout_s",
    "concurrency",
    "adapt_concurrency",
    "retries",
    "backoff_s",
    "price_per_1k",
    "price_per_1k_prompt",
    "price_per_1k_completion",
    "verbaliser",
    "labels",
    "extract",
    "json_field",
}
# Options that change neither what the model answers nor what is measured stay out of the
# fingerprint (cache key). ``stream`` is not one of them: a streamed answer carries its token
# timings, so a suite that adds ``stream: true`` asks again rather than reading answers that
# have none from the cache.
_TRANSPORT_OPTIONS = {
    "api_key_env",
    "timeout_s",
    "concurrency",
    "adapt_concurrency",
    "retries",
    "backoff_s",
    "price_per_1k",
    "price_per_1k_prompt",
    "price_per_1k_completion",
}
#: Servers that reject ``stream_options`` say so in a 4xx naming it; the adapter then streams
#: without asking for usage.
_STREAM_OPTIONS = "stream_options"


class OpenAIModel:
    """A model behind ``/v1/chat/completions`` (default) or ``/v1/completions``.

    Each ``predict`` batch is sent as concurrent requests on one ``httpx.AsyncClient`` (an event
    loop on a background thread), at most ``concurrency`` (default 32) in flight across all
    batches. Each request is sent once: a 429, 5xx, timeout, dropped connection, malformed JSON
    or stream cut before ``[DONE]`` becomes a :class:`~assay.errors.RetryableModelError` (with
    the server's ``Retry-After`` as ``retry_after_s``), any other failure a ``ModelError``.

    Retrying is the engine's: when some requests of a batch fail, ``predict`` raises
    :class:`~assay.errors.PartialBatchError` with each input's answer or error, and the engine
    keeps the answers and asks again only for the transient failures, with its backoff and
    jitter, never sooner than ``Retry-After``. Every failure that stays reaches the Report as an
    error with its cause and retry count.

    Every answer's ``Output.timings["latency_s"]`` is the request's own latency (from sending
    it to the complete answer, not a batch's time shared out). With ``stream: true`` the answer is
    read as server-sent events and ``Output.timings`` also holds ``ttft_s``, ``itl_s``,
    ``tpot_s`` and ``tokens_per_s`` as vLLM's ``benchmark_serving`` defines them
    (:mod:`assay.models._timings`). ``Output.usage`` holds the server's token counts and, with
    prices set, ``cost``; a stream asks for usage with ``stream_options: {include_usage: true}``,
    and a server that rejects that option is asked again without it (once; later streams go
    without).

    The requests in flight are bounded by an AIMD limit (:mod:`assay._util._concurrency`): it
    starts at ``concurrency`` and halves on timeouts, 429s and queueing, so a server that answers
    one request at a time is not sent 32 that time out in its queue; ``adapt_concurrency: false``
    keeps it fixed. :meth:`concurrency_record` says what it used and why; a timeout of a request
    sent while others were in flight says it was likely queued and what to change.

    With a ``verbaliser`` (or ``labels``) the model is a classifier: the answer is parsed into a
    label (``(unparseable)`` when it names none, whatever the log-probabilities say) and, with
    ``logprobs: true``, the first token's ``top_logprobs`` become label probabilities; a label
    absent from them gets the k-th listed probability as a floor (``Output.floored``), never 0.
    Labels whose verbalisations begin alike ("thumbs up" / "thumbs down") are scored by the
    probability of each whole verbalisation (one ``echo`` request per verbalisation on the
    completions endpoint); on the chat endpoint they are refused.

    ``Output.finish_reason`` is the server's (``""`` when it gave none); a stream that ends with
    ``[DONE]`` but no finish reason was interrupted by the server and is retried like a cut one.

    The API key comes from the environment (``ASSAY_OPENAI_API_KEY`` or ``api_key_env``); it is
    held only in the client's headers and scrubbed from every error message.

    The options ``retries``, ``backoff_s`` and ``timeout_s`` override the suite's ``engine``
    settings for this model (:attr:`call_settings`, read by the engine); the engine hands the
    resolved timeout back (:meth:`set_timeout`). Outside the engine a request has 60 s.
    """

    def __init__(
        self,
        *,
        model_name: str,
        base_url: str,
        api_key: str | None,
        options: dict[str, Any],
        info: ModelInfo,
        verbaliser: Verbaliser | None,
    ) -> None:
        self.model_name = model_name
        self.base_url = base_url.rstrip("/")
        self._where = redact_spec(self.base_url)
        self.__key = api_key
        self.options = options
        self._info = info
        self.verbaliser = verbaliser
        self.endpoint = options.get("endpoint", "chat")
        self.call_settings = CallSettings(
            retries=_opt(options, "retries", int),
            backoff_s=_opt(options, "backoff_s", float),
            timeout_s=_opt(options, "timeout_s", float),
        )
        timeout_s = self.call_settings.timeout_s
        self.timeout_s = _DEFAULT_TIMEOUT_S if timeout_s is None else timeout_s
        self.concurrency = int(options.get("concurrency", 32))
        if self.concurrency < 1:
            raise ConfigError(
                f"models.{info.name}.options.concurrency: {self.concurrency} is below 1; "
                "give the most requests to keep in flight (default 32)"
            )
        self._limit = AdaptiveLimit(
            self.concurrency, adaptive=bool(options.get("adapt_concurrency", True))
        )
        self._stream_options = True  # ask streams for usage until a server refuses the option
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: httpx.AsyncClient | None = None
        #: the load tests' client (:meth:`event_loop` with ``fast_http``), else ``None``
        self._fast: Http1Client | None = None
        self._send_fast = False  # send_once on the fast client (the last event_loop call's say)
        #: why a load test asked for the fast client and stayed on httpx
        self.fast_http_fallback: str | None = None
        self._gate: asyncio.Condition | None = None
        self._start_lock = threading.Lock()
        self._fast_box: list[Http1Client] = []  # what the finalizer closes
        self._finalizer: weakref.finalize[Any, Any] | None = None

    def __repr__(self) -> str:
        return f"OpenAIModel({self.model_name!r} at {self._where!r})"

    def set_timeout(self, timeout_s: float) -> None:
        """Bound each request by ``timeout_s`` (:class:`~assay._types.TakesTimeout`): the engine
        calls this with the model's ``timeout_s`` option, else the suite's ``engine.timeout_s``."""
        self.timeout_s = float(timeout_s)

    def info(self) -> ModelInfo:
        return self._info

    def auth_headers(self) -> dict[str, str]:
        """The headers that authenticate a request to this server (the load generator reuses
        them to scrape the server's ``/metrics``)."""
        return {"Authorization": f"Bearer {self.__key}"} if self.__key else {}

    def concurrency_record(self) -> dict[str, Any]:
        """The concurrency this model's requests used and why
        (:class:`~assay._types.AdaptsConcurrency`; a :class:`ConcurrencyRecord` as a dict, with
        its one-line ``why``)."""
        record = self._limit.record()
        return {**record.to_dict(), "why": record.why()}

    # -- event loop -----------------------------------------------------------------------------

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._start_lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=_run_loop, args=(loop,), name="assay-openai", daemon=True
                )
                thread.start()
                self._loop = loop

                async def setup() -> None:
                    headers = {"Authorization": f"Bearer {self.__key}"} if self.__key else {}
                    limits = httpx.Limits(
                        max_connections=self.concurrency,
                        max_keepalive_connections=self.concurrency,
                    )
                    # the timeout is given per request: the engine may set it after this
                    self._client = httpx.AsyncClient(headers=headers, limits=limits)
                    self._gate = asyncio.Condition()

                asyncio.run_coroutine_threadsafe(setup(), loop).result()
                # Close the connections and stop the thread when the model goes away.
                self._finalizer = weakref.finalize(
                    self, _shutdown, loop, self._client, self._fast_box
                )
            return self._loop

    def close(self) -> None:
        """Close the HTTP clients and stop the event loop thread."""
        self._loop = None
        if self._finalizer is not None:
            self._finalizer()  # runs once: the garbage collector will not again

    # -- load tests -----------------------------------------------------------------------------

    def event_loop(
        self, *, connections: int | None = None, fast_http: bool = False
    ) -> asyncio.AbstractEventLoop:
        """The event loop this model's HTTP client lives on (started now if need be), for a load
        generator that runs its coroutines there and sends with :meth:`send_once`.

        Args:
            connections: the most connections the client keeps when it is created by this call
                (a load test keeps more requests in flight than ``concurrency``); ignored once
                the client exists.
            fast_http: :meth:`send_once` sends with the small HTTP/1.1 client of
                :mod:`assay.models._http1` (a fraction of httpx's CPU per request) unless the
                URL needs what only httpx does (a proxy, a scheme other than http/https):
                then it stays on httpx and :attr:`fast_http_fallback` says why. A later call
                with ``fast_http=False`` sends on httpx again.
        """
        if connections is not None and self._loop is None:
            self.concurrency = max(self.concurrency, int(connections))
        loop = self._ensure_loop()
        self._send_fast = fast_http
        if fast_http and self._fast is None:
            why = unsupported(self._url())
            if why is None:
                headers = {"Authorization": f"Bearer {self.__key}"} if self.__key else {}
                self._fast = Http1Client(headers, max(self.concurrency, int(connections or 0)))
                self._fast_box.append(self._fast)
            self.fast_http_fallback = why
        return loop

    def fast_http_counts(self) -> dict[str, int] | None:
        """The fast client's connections opened and requests sent again on a fresh connection
        after the server closed an idle keep-alive one (``None`` without the fast client)."""
        if self._fast is None:
            return None
        return {
            "connections_opened": self._fast.connections_opened,
            "stale_retries": self._fast.stale_retries,
        }

    async def send_once(self, payload: Payload, params: dict[str, Any] | None = None) -> Output:
        """One request, sent now on this model's client (run on :meth:`event_loop`), past the
        concurrency limit: a load test's requests go out on its own schedule, never queued by
        the adapter. Same body, timeout and stream timings as :meth:`predict`.

        Raises:
            httpx.TimeoutException | httpx.TransportError: as httpx raised them (the caller
                classifies them with :mod:`assay._util._retry`), except that
            RetryableModelError: a connection that could not be opened (``model_wide`` and
                ``fix`` set as :meth:`predict` sets them), or a transient answer (5xx, 429);
            ModelError: what any other answer means (a 404 …); the API key scrubbed.
        """
        labels = [v[0] for v in self.verbaliser.words.values()] if self.verbaliser else []
        prompt = render_prompt(self.options.get("prompt"), payload, labels=labels)
        try:
            return await self._request(
                prompt,
                {**self.options, **(params or {})},
                self._fast if self._send_fast else self._client,
            )
        except httpx.ConnectError as e:
            raise self._connect_error(e) from None
        except RetryableModelError as e:
            raise RetryableModelError(
                self._scrub(str(e)),
                retry_after_s=e.retry_after_s,
                model_wide=e.model_wide,
                fix=e.fix,
            ) from None
        except ModelError as e:
            raise ModelError(self._scrub(str(e)), model_wide=e.model_wide, fix=e.fix) from None

    # -- predict --------------------------------------------------------------------------------

    def predict(
        self, batch: Sequence[Payload], params: dict[str, Any] | None = None
    ) -> list[Output]:
        """One request per input, sent concurrently, each once.

        Raises:
            RetryableModelError | ModelError: the failure of a batch of one.
            PartialBatchError: when some requests of a larger batch failed; it holds each
                input's Output or error, for the engine to retry what is transient.
        """
        return self._predict(batch, params, None)

    def predict_each(
        self,
        batch: Sequence[Payload],
        params: dict[str, Any] | None,
        on_answer: Callable[[int, Output], None],
    ) -> list[Output]:
        """:meth:`predict`, handing each answer to ``on_answer(index, output)`` as it arrives
        (:class:`~assay._types.AnswersEachInput`; called on the event loop's thread), so the
        engine commits it before the rest of the batch is done."""
        return self._predict(batch, params, on_answer)

    def _predict(
        self,
        batch: Sequence[Payload],
        params: dict[str, Any] | None,
        on_answer: Callable[[int, Output], None] | None,
    ) -> list[Output]:
        if not batch:
            return []
        labels = [v[0] for v in self.verbaliser.words.values()] if self.verbaliser else []
        prompts = [render_prompt(self.options.get("prompt"), p, labels=labels) for p in batch]
        opts = {**self.options, **(params or {})}
        loop = self._ensure_loop()
        results = asyncio.run_coroutine_threadsafe(
            self._gather(prompts, opts, on_answer), loop
        ).result()
        failures = [r for r in results if isinstance(r, Exception)]
        if not failures:
            return [r for r in results if isinstance(r, Output)]
        if len(batch) == 1:
            raise failures[0]
        raise PartialBatchError(
            f"{len(failures)} of {len(batch)} requests to {self._where} failed "
            f"(first: {failures[0]})",
            results=results,
        )

    async def _gather(
        self,
        prompts: list[str],
        opts: dict[str, Any],
        on_answer: Callable[[int, Output], None] | None,
    ) -> list[Output | Exception]:
        async def one(i: int, prompt: str) -> Output | Exception:
            result = await self._one(prompt, opts)
            if on_answer is not None and isinstance(result, Output):
                on_answer(i, result)
            return result

        return list(await asyncio.gather(*(one(i, p) for i, p in enumerate(prompts))))

    async def _one(self, prompt: str, opts: dict[str, Any]) -> Output | Exception:
        """One request, sent when the concurrency limit allows: its Output, or the error it
        failed with (the key scrubbed). How it ended is fed back to the limit."""
        gate = self._gate
        assert gate is not None
        async with gate:
            await gate.wait_for(self._limit.can_send)
            ticket = self._limit.sent()
        signal: Signal = "other"
        queue_s: float | None = None
        try:
            out = await self._request(prompt, opts)
            signal, queue_s = "ok", _queueing_latency(out)
            return out
        except httpx.TimeoutException as e:
            signal = "timeout"
            return RetryableModelError(self._scrub(self._timeout_message(e, ticket)))
        except httpx.ConnectError as e:
            return self._connect_error(e)
        except httpx.TransportError as e:
            where = redact_spec(self._url())
            return RetryableModelError(self._scrub(f"{type(e).__name__} from {where}: {e}"))
        except RetryableModelError as e:
            if isinstance(e, _RateLimited):
                signal = "rate_limited"
            elif isinstance(e, _Interrupted):
                signal = "interrupted"
            return RetryableModelError(
                self._scrub(str(e)),
                retry_after_s=e.retry_after_s,
                model_wide=e.model_wide,
                fix=e.fix,
            )
        except ModelError as e:
            return ModelError(self._scrub(str(e)), model_wide=e.model_wide, fix=e.fix)
        finally:
            self._limit.finished(ticket, signal, queue_s)
            async with gate:
                gate.notify_all()

    def _connect_error(self, e: httpx.ConnectError) -> RetryableModelError:
        where = redact_spec(self._url())
        cause = connect_failure(e)
        fix = (
            f"check the host name in the base URL {self._where}"
            if cause == "DNS lookup failed"
            else f"is the server running at {self._where}?"
        )
        # transient once the model has answered (a server restarting); the engine decides
        return RetryableModelError(
            self._scrub(f"{cause}: cannot connect to {where} ({e})"), model_wide=cause, fix=fix
        )

    def _url(self) -> str:
        return f"{self.base_url}/{'completions' if self.endpoint == 'completions' else 'chat/completions'}"

    def _timeout_message(self, exc: Exception, ticket: Ticket) -> str:
        where = redact_spec(self._url())
        message = f"{type(exc).__name__} after {self.timeout_s:g}s from {where}"
        others = ticket.in_flight - 1
        if others > 0:
            message += (
                f"; {others} other request{'s were' if others > 1 else ' was'} in flight when "
                "it was sent, so it was likely queued at the server (the wait counts against "
                "timeout_s): lower options.concurrency or engine.concurrency, or raise timeout_s"
            )
        return message

    def _scrub(self, message: str) -> str:
        key = self.__key
        return message.replace(key, "***") if key else message

    def _body(self, prompt: str, opts: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {
            "model": self.model_name,
            "max_tokens": int(opts.get("max_new_tokens", 256)),
            "temperature": float(opts.get("temperature", 0.0)),
        }
        for k in ("top_p", "seed"):
            if opts.get(k) is not None:
                body[k] = opts[k]
        if opts.get("stop") is not None:
            stop = opts["stop"]
            body["stop"] = [stop] if isinstance(stop, str) else list(stop)
        want_logprobs = bool(opts.get("logprobs", False))
        top = int(opts.get("top_logprobs", 5))
        if self.endpoint == "completions":
            body["prompt"] = prompt
            if want_logprobs:
                body["logprobs"] = top
            url = f"{self.base_url}/completions"
        else:
            messages = [{"role": "user", "content": prompt}]
            if opts.get("system"):
                messages.insert(0, {"role": "system", "content": str(opts["system"])})
            body["messages"] = messages
            if want_logprobs:
                body["logprobs"] = True
                body["top_logprobs"] = top
            url = f"{self.base_url}/chat/completions"
        if opts.get("stream"):
            body["stream"] = True
            if self._stream_options:
                body["stream_options"] = {"include_usage": True}
        return url, body

    async def _request(self, prompt: str, opts: dict[str, Any], client: Any = None) -> Output:
        """One request on ``client`` (this model's httpx client unless a load test gives its
        :class:`~assay.models._http1.Http1Client`, which answers the same calls)."""
        client = client or self._client
        assert client is not None
        url, body = self._body(prompt, opts)
        where = redact_spec(url)
        if body.get("stream"):
            try:
                return await self._stream(prompt, url, body, where, opts, client)
            except _StreamOptionsRefused:
                # Some servers refuse `stream_options` (a 4xx naming it): stream without usage.
                self._stream_options = False
                body.pop(_STREAM_OPTIONS, None)
                return await self._stream(prompt, url, body, where, opts, client)
        t0 = time.perf_counter()
        resp = await client.post(url, json=body, timeout=self.timeout_s)
        elapsed = time.perf_counter() - t0
        self._raise_for_status(resp.status_code, resp.headers, resp.text, where)
        try:
            data = resp.json()
        except ValueError:
            raise RetryableModelError(f"malformed JSON from {where}: {resp.text[:120]!r}") from None
        text, lp_top, finish = _parse_completion(data, self.endpoint, where)
        timings = {"latency_s": elapsed}
        return await self._output(prompt, text, finish, data.get("usage"), timings, lp_top, opts)

    def _raise_for_status(
        self, status: int, headers: Mapping[str, str], text: str, where: str
    ) -> None:
        """Raise the error an HTTP status means: transient (429, 408, 5xx), model-wide (401,
        403, 404: every request fails the same way) or this input's (any other 4xx)."""
        if status < 400:
            return
        snippet = text[:200].replace("\n", " ")
        message = f"HTTP {status} from {where}: {snippet}"
        if status == 429:
            raise _RateLimited(message, retry_after_s=_retry_after(headers))
        if status >= 500 or status == 408:
            raise RetryableModelError(message, retry_after_s=_retry_after(headers))
        if status in (401, 403):
            key_env = str(self._info.details.get("api_key_env", DEFAULT_KEY_ENV))
            state = "is set" if self.__key else "is not set"
            fix = (
                f"check the API key: {key_env} {state} (options.api_key_env names the variable "
                "that holds it)"
                + ("" if status == 401 else ", and that the key may use this model")
            )
            raise ModelError(message, model_wide=f"HTTP {status}", fix=fix)
        if status == 404:
            fix = (
                f"check the model name {self.model_name!r} and the base URL {self._where} "
                "(it usually ends in /v1)"
            )
            raise ModelError(message, model_wide="HTTP 404", fix=fix)
        raise ModelError(message)

    async def _stream(
        self,
        prompt: str,
        url: str,
        body: dict[str, Any],
        where: str,
        opts: dict[str, Any],
        client: Any,
    ) -> Output:
        t0 = time.perf_counter()
        pieces: list[str] = []
        token_times: list[float] = []
        usage: dict[str, Any] | None = None
        lp_top: dict[str, float] | None = None
        finish = ""
        done = False
        async with client.stream("POST", url, json=body, timeout=self.timeout_s) as resp:
            if resp.status_code >= 400:
                text = (await resp.aread()).decode("utf-8", "replace")
                if (
                    400 <= resp.status_code < 500
                    and _STREAM_OPTIONS in text
                    and (_STREAM_OPTIONS in body)
                ):
                    raise _StreamOptionsRefused
                self._raise_for_status(resp.status_code, resp.headers, text, where)
            ctype = resp.headers.get("content-type", "")
            if "event-stream" not in ctype:
                text = (await resp.aread()).decode("utf-8", "replace")
                raise RetryableModelError(
                    f"malformed stream from {where}: content-type {ctype!r}, body {text[:80]!r}"
                )
            async for data in sse_data(resp.aiter_lines()):
                if data.strip() == "[DONE]":
                    done = True
                    break
                try:
                    chunk = json.loads(data)
                except ValueError:
                    raise RetryableModelError(
                        f"malformed JSON in the stream from {where}"
                    ) from None
                if chunk.get("usage"):
                    usage = chunk["usage"]
                for choice in chunk.get("choices") or []:
                    piece = (
                        (choice.get("delta") or {}).get("content")
                        if self.endpoint == "chat"
                        else choice.get("text")
                    )
                    if piece:
                        pieces.append(piece)
                        token_times.append(time.perf_counter() - t0)
                    if lp_top is None and choice.get("logprobs"):
                        lp_top = _first_top_logprobs(choice["logprobs"], self.endpoint)
                    if choice.get("finish_reason"):
                        finish = str(choice["finish_reason"])
        if not done:
            raise RetryableModelError(
                f"the stream from {where} ended before [DONE] after {len(pieces)} chunks"
            )
        if not finish:
            # llama-cpp-python ends a stream this way when another request waits for the model
            raise _Interrupted(
                f"the stream from {where} sent [DONE] with no finish_reason after "
                f"{len(pieces)} chunks: the server interrupted the answer (llama-cpp-python does "
                "when another request waits; lower the model's concurrency or start the server "
                "with --interrupt_requests false)"
            )
        reported = (usage or {}).get("completion_tokens")
        timings = stream_timings(
            token_times,
            end_s=time.perf_counter() - t0,
            n_tokens=int(reported) if isinstance(reported, (int, float)) else None,
        )
        return await self._output(prompt, "".join(pieces), finish, usage, timings, lp_top, opts)

    async def _output(
        self,
        prompt: str,
        text: str,
        finish: str,
        usage: dict[str, Any] | None,
        timings: dict[str, float],
        lp_top: dict[str, float] | None,
        opts: dict[str, Any],
    ) -> Output:
        text, stopped = cut_at_stop(text, opts.get("stop"))
        if stopped:  # the server ran past a stop string (some ignore it while streaming)
            finish = "stop"
        u: dict[str, float] = {}
        for k in ("prompt_tokens", "completion_tokens", "total_tokens"):
            if usage and isinstance(usage.get(k), (int, float)):
                u[k] = float(usage[k])
        both = opts.get("price_per_1k")
        p_in = opts.get("price_per_1k_prompt", both)
        p_out = opts.get("price_per_1k_completion", both)
        if (p_in is not None or p_out is not None) and u:
            u["cost"] = (
                u.get("prompt_tokens", 0.0) * float(p_in or 0.0)
                + u.get("completion_tokens", 0.0) * float(p_out or 0.0)
            ) / 1000.0
        if self.verbaliser is None:
            return Output(text=text, usage=u or None, timings=timings, finish_reason=finish)
        # an answer that names no label is unparseable, whatever the log-probabilities say
        label = self.verbaliser.parse(text) or UNPARSEABLE_LABEL
        scores = await self._label_scores(prompt, text, lp_top, opts) if lp_top else None
        return Output(
            label=label,
            probabilities=scores.probabilities if scores else None,
            text=text,
            usage=u or None,
            timings=timings,
            finish_reason=finish,
            label_mass=scores.label_mass if scores else None,
            floored=list(scores.floored) if scores and scores.floored else None,
        )

    async def _label_scores(
        self, prompt: str, text: str, lp_top: dict[str, float], opts: dict[str, Any]
    ) -> LabelScores:
        """Label probabilities: from the first answer token's alternatives, or, when labels
        begin alike, from the probability of each whole verbalisation after the prompt."""
        v = self.verbaliser
        assert v is not None
        clash = v.ambiguous_token(lp_top)
        if clash is None and not v.first_words():
            return v.probabilities_from_logprobs(lp_top)
        if self.endpoint == "chat":
            token, labels = clash or ("?", [])
            raise ModelError(
                f"the first answer token {token!r} begins the verbalisations of labels "
                f"{', '.join(labels)}: its probability cannot be split between them; use "
                "endpoint: completions (which scores whole verbalisations) or verbalisations "
                "whose first words differ"
            )
        lead = text[: len(text) - len(text.lstrip())]
        said: dict[str, list[float]] = {}
        for label, items in v.words.items():
            said[label] = [await self._continuation_logprob(prompt, lead + w) for w in items]
        try:
            return v.probabilities_from_verbalisations(said)
        except ValueError as e:
            raise ModelError(f"cannot score the labels from {self._where}: {e}") from None

    async def _continuation_logprob(self, prompt: str, continuation: str) -> float:
        """log P(continuation | prompt): the server's log-probabilities of the prompt's tokens
        (``echo`` with ``logprobs``), summed over the tokens of the continuation."""
        assert self._client is not None
        url = f"{self.base_url}/completions"
        where = redact_spec(url)
        body = {
            "model": self.model_name,
            "prompt": prompt + continuation,
            "echo": True,
            "logprobs": 1,
            "max_tokens": 1,
            "temperature": 0.0,
        }
        resp = await self._client.post(url, json=body, timeout=self.timeout_s)
        try:
            self._raise_for_status(resp.status_code, resp.headers, resp.text, where)
        except RetryableModelError:
            raise
        except ModelError as e:
            if e.model_wide:
                raise
            raise ModelError(
                f"scoring whole verbalisations needs echo with logprobs on the completions "
                f"endpoint, which {where} refused: {e}"
            ) from None
        try:
            lp = resp.json()["choices"][0]["logprobs"]
            spans = zip(lp["text_offset"], lp["tokens"], lp["token_logprobs"], strict=True)
            start, end = len(prompt), len(prompt) + len(continuation)
            return sum(
                float(value)
                for offset, token, value in spans
                if offset < end and offset + len(token) > start and value is not None
            )
        except (ValueError, KeyError, IndexError, TypeError):
            raise RetryableModelError(
                f"malformed echo logprobs from {where} (need text_offset, tokens and "
                f"token_logprobs): {resp.text[:120]!r}"
            ) from None


class _RateLimited(RetryableModelError):
    """A 429: the server asks for fewer requests (a signal to the concurrency limit). Reaches
    the engine as a plain :class:`RetryableModelError`."""


class _Interrupted(RetryableModelError):
    """A stream the server ended early because another request was waiting (``[DONE]`` with no
    ``finish_reason``): retried, and a signal to the concurrency limit that the server is not
    parallel. Reaches the engine as a plain :class:`RetryableModelError`."""


class _StreamOptionsRefused(Exception):
    """The server refused ``stream_options``: stream again without it."""


def _queueing_latency(out: Output) -> float | None:
    """What the concurrency limit watches for queueing: the time to first token of a stream,
    else the latency per output token when the server counted them, else the latency."""
    t = out.timings or {}
    if "ttft_s" in t:
        return t["ttft_s"]
    latency = t.get("latency_s")
    if latency is None:
        return None
    n = (out.usage or {}).get("completion_tokens")
    return latency / n if n and n > 1 else latency


def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        loop.close()


def _shutdown(
    loop: asyncio.AbstractEventLoop,
    client: httpx.AsyncClient | None,
    fast: list[Http1Client] | None = None,
) -> None:
    if loop.is_closed() or not loop.is_running():
        return
    for c in [client, *(fast or [])]:
        if c is not None:
            # Closing is best effort: the process may be exiting.
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(c.aclose(), loop).result(timeout=5)

    def stop() -> None:
        loop.stop()

    loop.call_soon_threadsafe(stop)


def _opt(options: dict[str, Any], key: str, kind: type[int] | type[float]) -> Any:
    """``options[key]`` as ``kind``, or ``None`` when the options do not set it."""
    value = options.get(key)
    return None if value is None else kind(value)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def _first_top_logprobs(logprobs: Any, endpoint: str) -> dict[str, float] | None:
    try:
        if endpoint == "chat":
            first = logprobs["content"][0]
            return {str(t["token"]): float(t["logprob"]) for t in first["top_logprobs"]}
        top = logprobs["top_logprobs"][0]
        return {str(k): float(v) for k, v in top.items()}
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def _parse_completion(
    data: Any, endpoint: str, where: str
) -> tuple[str, dict[str, float] | None, str]:
    """The answer's text, its first token's top log-probabilities and its finish reason."""
    try:
        choice = data["choices"][0]
        text = choice["message"]["content"] if endpoint == "chat" else choice["text"]
    except (KeyError, IndexError, TypeError):
        raise RetryableModelError(
            f"malformed answer from {where}: no choices[0]."
            f"{'message.content' if endpoint == 'chat' else 'text'}"
        ) from None
    lp = choice.get("logprobs")
    finish = str(choice.get("finish_reason") or "")
    return str(text or ""), (_first_top_logprobs(lp, endpoint) if lp else None), finish


@register_model("openai")
def _load_openai(
    target: str,
    *,
    name: str,
    spec: str,
    trust: bool,
    base_dir: Path,
    options: dict[str, Any],
) -> OpenAIModel:
    check_options(options, _OPTIONS, name=name, prefix="openai")
    model_name, at, url = target.partition("@")
    model_name = model_name.strip()
    base_url = (
        url.strip()
        if at
        else str(
            options.get("base_url") or os.environ.get("ASSAY_OPENAI_BASE_URL") or _DEFAULT_BASE
        )
    )
    if not model_name or not base_url.startswith(("http://", "https://")):
        raise ConfigError(
            f"models.{name}: {spec!r} is not an openai: spec; write "
            "openai:<model>@<base url>, e.g. openai:my-ft@http://127.0.0.1:8000/v1"
        )
    if options.get("endpoint", "chat") not in ("chat", "completions"):
        raise ConfigError(
            f"models.{name}.options.endpoint: {options['endpoint']!r} is not chat or completions"
        )
    key_env = str(options.get("api_key_env") or DEFAULT_KEY_ENV)
    api_key = os.environ.get(key_env) or None
    check_stop(options, name=name, prefix="openai")
    verbaliser = (
        Verbaliser.from_options(options, name=name)
        if options.get("verbaliser") is not None or options.get("labels") is not None
        else None
    )
    scoring = None
    if verbaliser is not None and options.get("logprobs"):
        shared = verbaliser.first_words()
        if shared and options.get("endpoint", "chat") == "chat":
            word, labels = shared[0]
            raise ConfigError(
                f"models.{name}.options.verbaliser: labels {', '.join(labels)} all begin with "
                f"{word!r}, so the first answer token's probability cannot tell them apart; use "
                "endpoint: completions (assay then scores each whole verbalisation) or "
                "verbalisations whose first words differ"
            )
        scoring = "verbalisation" if shared else "first-token"
    task: Task = parse_task(options.get("task"), name=name) or (
        "classification" if verbaliser is not None else "generation"
    )
    clean_url = redact_spec(base_url)
    answer_opts = {k: v for k, v in options.items() if k not in _TRANSPORT_OPTIONS}
    fp = hashlib.sha256(
        json.dumps([model_name, clean_url, answer_opts], sort_keys=True, default=str).encode()
    ).hexdigest()
    info = ModelInfo(
        name=name,
        spec=spec,
        task=task,
        fingerprint=fp,
        labels=verbaliser.labels if verbaliser is not None else None,
        details={
            "adapter": "openai",
            "model": model_name,
            "base_url": clean_url,
            "endpoint": options.get("endpoint", "chat"),
            "api_key_env": key_env,
            "api_key_set": api_key is not None,
            "stream": bool(options.get("stream", False)),
            "priced": any(
                options.get(k) is not None
                for k in ("price_per_1k", "price_per_1k_prompt", "price_per_1k_completion")
            ),
            **({"label_scoring": scoring} if scoring else {}),
        },
    )
    return OpenAIModel(
        model_name=model_name,
        base_url=base_url,
        api_key=api_key,
        options=dict(options),
        info=info,
        verbaliser=verbaliser,
    )
