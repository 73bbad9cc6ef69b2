"""One request of a load test, as the generator saw it, and the columns a summary reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Outcome", "Sample"]

#: How a request ended: answered, failed (HTTP error, refused, malformed) or past its timeout.
Outcome = Literal["ok", "error", "timeout"]


@dataclass(frozen=True)
class Sample:
    """One request of a load test. Times are seconds on one monotonic clock (``perf_counter``).

    Attributes:
        scheduled_s: when the schedule said to send it (open loop: its arrival time; closed
            loop: when the previous request of its worker finished).
        sent_s: when it was actually sent (later than ``scheduled_s`` when the generator lagged).
        done_s: when the answer was complete or the request failed.
        outcome: ``"ok"``, ``"error"`` or ``"timeout"``.
        ttft_s: time to first token, from ``sent_s`` (streamed answers only).
        token_times_s: arrival times of the chunks that carried text, from ``sent_s``.
        output_tokens: the answer's tokens (the server's count, else the chunks), when known.
        error: what failed (``"<ExceptionType>: message"``), empty when ``ok``.
        correct: whether the answer was right, when it was scored (accuracy under load).

    The latency a user feels is :attr:`latency_s`, from the **scheduled** send time: a generator
    that fell behind because the server stalled cannot hide the stall (no coordinated omission,
    as wrk2 measures it).

    Example:
        >>> s = Sample(scheduled_s=1.0, sent_s=1.25, done_s=1.5, outcome="ok")
        >>> s.latency_s, s.service_s, s.lag_s
        (0.5, 0.25, 0.25)
    """

    scheduled_s: float
    sent_s: float
    done_s: float
    outcome: Outcome
    ttft_s: float | None = None
    token_times_s: tuple[float, ...] = field(default=())
    output_tokens: int | None = None
    error: str = ""
    correct: bool | None = None

    @property
    def latency_s(self) -> float:
        """From the scheduled send time to the end (what the user waiting for it saw)."""
        return self.done_s - self.scheduled_s

    @property
    def service_s(self) -> float:
        """From the actual send to the end (what a closed-loop client reports)."""
        return self.done_s - self.sent_s

    @property
    def lag_s(self) -> float:
        """How late the generator sent it (0 when on time)."""
        return max(self.sent_s - self.scheduled_s, 0.0)

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    @property
    def itl_s(self) -> float | None:
        """The mean gap between the answer's chunks (``None`` with fewer than two)."""
        t = self.token_times_s
        return (t[-1] - t[0]) / (len(t) - 1) if len(t) > 1 else None

    @property
    def tpot_s(self) -> float | None:
        """Time per output token after the first: ``(t_last - ttft) / (tokens - 1)``."""
        t = self.token_times_s
        n = self.output_tokens if self.output_tokens else len(t)
        if len(t) < 2 or n < 2 or t[-1] <= t[0]:
            return None
        return (t[-1] - t[0]) / (n - 1)
