"""How many requests to keep in flight to one server: additive increase, multiplicative decrease.

A server that answers one request at a time (llama.cpp with one slot, Ollama, a single worker)
queues the rest, and each queued request's wait counts against its timeout: at 32 in flight and
5 s per answer, most time out and more concurrency buys no throughput. :class:`AdaptiveLimit`
starts from the configured concurrency (also its ceiling) and backs off as TCP does:

- **decrease** (halve, never below 1) on a timeout, a 429, a stream the server interrupted
  because another request was waiting (llama-cpp-python does), or queueing — a window of answers
  whose median queueing latency is more than :data:`QUEUE_FACTOR` times the fastest seen, while
  two or more requests were in flight (a parallel server answers several at once in about the time
  of one; a serial one takes k times as long for k). One decrease per round: signals from
  requests sent before the last decrease are not counted again.
- **increase** (by one, up to the configured concurrency) after a window of answers whose
  median queueing latency stayed within :data:`GROWTH_FACTOR` times the fastest, when the limit
  was reached (the limit, not the work, was what held requests back). Between the two factors
  the limit holds (as TCP Vegas does), so a serial server is not probed into timeouts again and
  again.

The queueing latency is what the caller passes: the time to first token for a streamed answer
(the queue wait shows there first), else the request's latency per output token when the server
says how many, else its latency.

It is plain bookkeeping (no clock, no I/O, no event loop): the ``openai:`` adapter gates its
requests with it, and the engine reports its :meth:`~AdaptiveLimit.record`.
"""

from __future__ import annotations

import statistics
import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = [
    "GROWTH_FACTOR",
    "QUEUE_FACTOR",
    "AdaptiveLimit",
    "ConcurrencyRecord",
    "Signal",
    "Ticket",
]

#: A window's median queueing latency above this many times the fastest one seen means the
#: server queues requests rather than answering them together.
QUEUE_FACTOR = 2.0
#: A window's median queueing latency within this many times the fastest one seen means the
#: server answered the requests together: room for one more.
GROWTH_FACTOR = 1.5
#: The fewest answers a window holds before it is judged.
_MIN_WINDOW = 4
#: The most answers a window holds (a high limit is still judged often).
_MAX_WINDOW = 16

#: What one request's end says about the server: answered, timed out, rate limited (429), or
#: failed for a reason that says nothing about load.
Signal = Literal["ok", "timeout", "rate_limited", "interrupted", "other"]


@dataclass(frozen=True)
class Ticket:
    """One request in flight: the round it was sent in, and how many were in flight with it."""

    epoch: int
    in_flight: int


@dataclass(frozen=True)
class ConcurrencyRecord:
    """What the limit did over a run: the concurrency used and why.

    Attributes:
        configured: the concurrency configured (the start and the ceiling).
        adaptive: whether it adapted (``False``: fixed at ``configured``).
        final: the limit at the end.
        lowest: the lowest limit used.
        most_in_flight: the most requests that were in flight at once.
        decreases: how often it was halved, by cause (``timeout``, ``rate_limited``,
            ``queueing``).
        increases: how often it was raised by one.
        timeouts_queued: timeouts of requests sent while others were in flight (likely queued
            behind them at a server that answers one at a time).
        timeouts: every timeout.
    """

    configured: int
    adaptive: bool
    final: int
    lowest: int
    most_in_flight: int
    decreases: dict[str, int] = field(default_factory=dict)
    increases: int = 0
    timeouts_queued: int = 0
    timeouts: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def why(self) -> str:
        """One line: the concurrency used, and what moved it.

        Example:
            >>> ConcurrencyRecord(32, True, 2, 1, 32, {"timeout": 2, "queueing": 3}, 1).why()
            'concurrency 32 → 2 (lowest 1): halved 2× on timeouts, 3× on queueing; raised 1×'
        """
        head = f"concurrency {self.configured}"
        if not self.adaptive:
            return head + " (fixed: adapt_concurrency is off)"
        if self.final == self.configured and not self.decreases:
            return head + " (kept: the server kept up)"
        causes = {
            "timeout": "timeouts",
            "rate_limited": "429s",
            "interrupted": "interrupted streams",
            "queueing": "queueing",
        }
        parts = [f"{n}× on {causes.get(k, k)}" for k, n in self.decreases.items() if n]
        text = f"{head} → {self.final} (lowest {self.lowest})"
        if parts:
            text += ": halved " + ", ".join(parts)
        if self.increases:
            text += f"; raised {self.increases}×"
        return text


class AdaptiveLimit:
    """An AIMD limit on requests in flight (see the module docstring).

    The caller asks :meth:`can_send` before each request, calls :meth:`sent` when it sends it and
    :meth:`finished` when it ends. Thread-safe, so a report may read :meth:`record` while requests
    run on another thread.

    Args:
        configured: the concurrency to start from; the limit never rises above it.
        adaptive: ``False`` keeps the limit at ``configured`` (the record still counts timeouts).

    Example:
        >>> lim = AdaptiveLimit(8)
        >>> t = lim.sent()
        >>> lim.finished(t, "timeout")
        >>> lim.limit, lim.record().decreases
        (4, {'timeout': 1})
    """

    def __init__(self, configured: int, *, adaptive: bool = True) -> None:
        if configured < 1:
            raise ValueError(f"concurrency must be at least 1, got {configured}")
        self.configured = configured
        self.adaptive = adaptive
        self.limit = configured
        self.in_flight = 0
        self._lock = threading.Lock()
        self._epoch = 0
        self._fastest: float | None = None
        self._window: list[tuple[float, int]] = []
        self._lowest = configured
        self._most = 0
        self._decreases: dict[str, int] = {}
        self._increases = 0
        self._timeouts = 0
        self._timeouts_queued = 0

    def can_send(self) -> bool:
        """Whether another request may be sent now."""
        with self._lock:
            return self.in_flight < self.limit

    def sent(self) -> Ticket:
        """Count a request as in flight; hand its ticket back to :meth:`finished`."""
        with self._lock:
            self.in_flight += 1
            self._most = max(self._most, self.in_flight)
            return Ticket(self._epoch, self.in_flight)

    def finished(
        self, ticket: Ticket, signal: Signal, queue_latency_s: float | None = None
    ) -> None:
        """A request ended: ``signal`` says how; ``queue_latency_s`` is its queueing latency
        (time to first token, or latency per output token) when it was answered."""
        with self._lock:
            self.in_flight -= 1
            if signal == "timeout":
                self._timeouts += 1
                self._timeouts_queued += ticket.in_flight > 1
            if not self.adaptive:
                return
            if signal in ("timeout", "rate_limited", "interrupted"):
                if ticket.epoch == self._epoch:
                    self._decrease(signal)
                return
            if signal != "ok" or queue_latency_s is None or queue_latency_s <= 0:
                return
            if self._fastest is None or queue_latency_s < self._fastest:
                self._fastest = queue_latency_s
            if ticket.epoch != self._epoch:
                return  # sent before the last decrease: it tells of the old limit
            self._window.append((queue_latency_s, ticket.in_flight))
            if len(self._window) >= max(min(self.limit, _MAX_WINDOW), _MIN_WINDOW):
                self._judge_window()

    def _judge_window(self) -> None:
        latencies = [w for w, _ in self._window]
        sent_with = [k for _, k in self._window]
        self._window = []
        assert self._fastest is not None
        crowded = max(sent_with) > 1
        median = statistics.median(latencies)
        if crowded and median > QUEUE_FACTOR * self._fastest:
            self._decrease("queueing")
        elif (
            median <= GROWTH_FACTOR * self._fastest
            and max(sent_with) >= self.limit
            and self.limit < self.configured
        ):
            self.limit += 1
            self._increases += 1

    def _decrease(self, cause: str) -> None:
        self._epoch += 1
        self._window = []
        if self.limit == 1:
            return  # nothing lower to try: the timeout, not the concurrency, is what is short
        self.limit = max(1, self.limit // 2)
        self._lowest = min(self._lowest, self.limit)
        self._decreases[cause] = self._decreases.get(cause, 0) + 1

    def record(self) -> ConcurrencyRecord:
        """What the limit did so far."""
        with self._lock:
            return ConcurrencyRecord(
                configured=self.configured,
                adaptive=self.adaptive,
                final=self.limit,
                lowest=self._lowest,
                most_in_flight=self._most,
                decreases=dict(self._decreases),
                increases=self._increases,
                timeouts_queued=self._timeouts_queued,
                timeouts=self._timeouts,
            )
