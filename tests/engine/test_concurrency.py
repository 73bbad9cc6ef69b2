"""The AIMD concurrency limit and the notes that report it."""

from __future__ import annotations

from assay._util._concurrency import QUEUE_FACTOR, AdaptiveLimit
from assay.engine import concurrency_notes


def _fill(lim: AdaptiveLimit) -> list:
    tickets = []
    while lim.can_send():
        tickets.append(lim.sent())
    return tickets


def test_timeouts_halve_once_per_round_and_never_below_one() -> None:
    lim = AdaptiveLimit(32)
    tickets = _fill(lim)
    assert len(tickets) == 32 and not lim.can_send()
    for t in tickets:  # 32 timeouts of one round: one decrease, as TCP does per window
        lim.finished(t, "timeout")
    assert lim.limit == 16 and lim.record().decreases == {"timeout": 1}
    for _ in range(10):
        (t,) = [lim.sent()]
        lim.finished(t, "rate_limited")
    assert lim.limit == 1
    rec = lim.record()
    assert rec.lowest == 1 and rec.decreases == {"timeout": 1, "rate_limited": 4}
    assert rec.timeouts == 32 and rec.timeouts_queued == 31  # the first was sent alone


def test_queueing_latency_halves_and_a_parallel_server_keeps_its_limit() -> None:
    serial, parallel = AdaptiveLimit(8), AdaptiveLimit(8)
    for lim, latency in ((serial, lambda k: 0.1 * k), (parallel, lambda k: 0.1)):
        tickets = _fill(lim)
        for t in tickets:  # a serial server answers the k-th of a burst after k service times
            lim.finished(t, "ok", latency(t.in_flight))
    assert serial.limit == 4 and serial.record().decreases == {"queueing": 1}
    assert parallel.limit == 8 and parallel.record().decreases == {}
    assert QUEUE_FACTOR == 2.0


def test_additive_increase_only_when_the_limit_held_requests_back() -> None:
    lim = AdaptiveLimit(8)
    lim.finished(lim.sent(), "timeout")
    assert lim.limit == 4
    for _ in range(4):  # one at a time: the limit is not what held anything back
        lim.finished(lim.sent(), "ok", 0.1)
    assert lim.limit == 4
    tickets = _fill(lim)  # the limit reached, answers as fast as alone: one more
    for t in tickets:
        lim.finished(t, "ok", 0.1)
    assert lim.limit == 5 and lim.record().increases == 1


def test_fixed_limit_counts_but_does_not_move() -> None:
    lim = AdaptiveLimit(4, adaptive=False)
    tickets = _fill(lim)
    for t in tickets:
        lim.finished(t, "timeout")
    rec = lim.record()
    assert lim.limit == 4 and rec.decreases == {} and rec.timeouts_queued == 3
    assert "fixed" in rec.why()


def test_notes_say_what_happened_and_the_fix() -> None:
    lim = AdaptiveLimit(32)
    for t in _fill(lim):
        lim.finished(t, "timeout")
    rec = lim.record()
    (note,) = concurrency_notes({"llm": {**rec.to_dict(), "why": rec.why()}})
    assert "concurrency 32 → 16" in note and "halved 1× on timeouts" in note
    assert "options.concurrency: 16" in note and "raise timeout_s" in note
    kept = AdaptiveLimit(4)
    kept.finished(kept.sent(), "ok", 0.1)
    assert concurrency_notes({"m": {**kept.record().to_dict(), "why": ""}}) == []


def test_a_stream_the_server_interrupted_halves_the_limit() -> None:
    # llama-cpp-python ends a stream ([DONE], no finish_reason) when another request waits: the
    # server is not parallel, so sending two at a time only loses answers (they were retried at
    # the same concurrency until the retries ran out)
    lim = AdaptiveLimit(2)
    a, b = _fill(lim)
    lim.finished(a, "interrupted")
    lim.finished(b, "ok", 0.1)
    assert lim.limit == 1 and lim.record().decreases == {"interrupted": 1}
    assert "halved 1× on interrupted streams" in lim.record().why()
