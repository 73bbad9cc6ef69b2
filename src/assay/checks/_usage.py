"""What a served model's answers cost, and when their timings were measured: shared by the
checks that score language models (``generation``, and ``performance`` for LLM classifiers)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from assay._types import Output, Response

__all__ = ["cached_timings_flag", "usage_table"]

_SUMMED = ("prompt_tokens", "completion_tokens", "total_tokens", "cost")


def usage_table(outputs: Sequence[Output], *, priced: bool) -> tuple[dict[str, float], list[str]]:
    """The summed token usage (and cost) of ``outputs``, and a flag when a price is set but some
    answers came without usage (so the cost leaves them out).

    Args:
        outputs: the answers scored.
        priced: whether the model has a price (``ModelInfo.details["priced"]``).

    Returns:
        (``{"prompt_tokens", "completion_tokens", "total_tokens", "cost", "n_with_usage",
        "n_answers"}`` — only what was reported, empty when nothing was; flags).

    Example:
        >>> table, flags = usage_table([Output(text="a"), Output(text="b", usage={
        ...     "prompt_tokens": 3.0, "completion_tokens": 1.0, "cost": 0.5})], priced=True)
        >>> table["cost"], table["n_with_usage"], flags[0][:40]
        (0.5, 1.0, 'a price is set but the server returned n')
    """
    table: dict[str, float] = {}
    counted = 0
    for o in outputs:
        reported = {k: v for k, v in (o.usage or {}).items() if k in _SUMMED}
        counted += bool(reported)
        for k, v in reported.items():
            table[k] = table.get(k, 0.0) + float(v)
    flags = []
    if table:
        table["n_with_usage"] = float(counted)
        table["n_answers"] = float(len(outputs))
    if priced and outputs and counted < len(outputs):
        missing = len(outputs) - counted
        flags.append(
            f"a price is set but the server returned no token usage for {missing} of "
            f"{len(outputs)} answers, so the cost "
            + ("is unknown" if not counted else f"covers only the other {counted}")
            + " (streams often omit usage: assay asks for it with stream_options.include_usage, "
            "which this server ignored or refused)"
        )
    return table, flags


def cached_timings_flag(
    responses: Sequence[Response], *, what: str
) -> tuple[dict[str, Any], list[str]]:
    """When some answers came from the cache, their timings were measured by an earlier run:
    how many, and when (for the latency table), and a flag that says so.

    Args:
        responses: the answered Responses whose timings a table reports.
        what: what the timings are, for the flag (``"latencies and token timings"``).

    Returns:
        (``{"n_cached", "measured_from", "measured_to"}`` — dates as ISO strings; empty when
        every answer was measured in this run; flags).
    """
    cached = [r for r in responses if r.cached]
    if not cached:
        return {}, []
    when = sorted(r.measured_at for r in cached if r.measured_at is not None)
    info: dict[str, Any] = {"n_cached": len(cached)}
    span = ""
    if when:
        info["measured_from"] = _iso(when[0])
        info["measured_to"] = _iso(when[-1])
        span = f", measured {info['measured_from']}" + (
            f" to {info['measured_to']}" if info["measured_to"] != info["measured_from"] else ""
        )
    flags = [
        f"the {what} of {len(cached)} of {len(responses)} answers come from the cache{span}, not from "
        "this run; run with --no-cache to measure them again"
    ]
    return info, flags


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))
