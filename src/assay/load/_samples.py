"""One request of a load test, as the generator saw it, and the columns a summary reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Outcome", "Sample"]

#: How a request ended: answered, failed (HTTP error, refused, malformed) or past its timeout.
Outcome = Literal["ok", "error", "timeout"]


@dataclass(frozen=True)
class Sample:
    """One request of a load test. Times are seconds on one monotonic clock (``perf_counter``);
    the streamed timings are the adapter's (:mod:`assay.models._timings`, as vLLM defines them).

    Attributes:
        scheduled_s: when the schedule said to send it (open loop: its arrival time; closed
            loop: when the previous request of its worker finished).
        sent_s: when it was actually sent (later than ``scheduled_s`` when the generator lagged).
        done_s: when the answer was complete or the request failed.
        outcome: ``"ok"``, ``"error"`` or ``"timeout"``.
        ttft_s: time to first token, from ``sent_s`` (streamed answers only).
        itl_s: the answer's mean inter-token latency (mean gap between the chunks that carried
            text; ``None`` with fewer than two).
        tpot_s: time per output token after the first, ``(t_last - ttft) / (tokens - 1)``.
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
    itl_s: float | None = None
    tpot_s: float | None = None
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
