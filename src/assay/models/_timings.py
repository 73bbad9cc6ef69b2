"""Token timings of one streamed answer, defined as vLLM's ``benchmark_serving`` defines them.

Times are seconds since the request was sent; ``chunk_times`` are the arrival times of the
stream's chunks that carried text (a server may bundle several tokens in one chunk).

- ``ttft_s`` (time to first token): the first such chunk.
- ``itl_s`` (inter-token latency): the mean gap between successive chunks; ``itl_gaps`` is how
  many gaps, so a report can pool the gaps of every answer as vLLM does.
- ``tpot_s`` (time per output token, the first excluded): ``(t_last - ttft) / (n - 1)``.
- ``tokens_per_s``: ``(n - 1) / (t_last - ttft)``, the decode rate (``1 / tpot_s``).
- ``latency_s``: until the answer was complete (end-to-end latency).

``n`` is the server's ``completion_tokens`` when it reports usage, else the number of chunks.
With one token there is no decode span: ``itl_s``, ``tpot_s`` and ``tokens_per_s`` are left out
(undefined), never reported as 0 or as a huge rate.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["stream_timings"]


def stream_timings(
    chunk_times: Sequence[float], *, end_s: float, n_tokens: int | None = None
) -> dict[str, float]:
    """The timings of one streamed answer (see the module docstring for the definitions).

    Args:
        chunk_times: arrival times of the chunks that carried text, increasing.
        end_s: when the answer was complete.
        n_tokens: output tokens (the server's ``completion_tokens``); ``None``: one per chunk.

    Example:
        >>> t = stream_timings([0.5, 0.6, 0.8], end_s=0.9, n_tokens=5)
        >>> t["ttft_s"], round(t["itl_s"], 3), round(t["tpot_s"], 3), round(t["tokens_per_s"], 3)
        (0.5, 0.15, 0.075, 13.333)
        >>> sorted(stream_timings([0.5], end_s=0.6))
        ['latency_s', 'ttft_s']
    """
    timings: dict[str, float] = {"latency_s": float(end_s)}
    if not chunk_times:
        return timings
    first, last = float(chunk_times[0]), float(chunk_times[-1])
    timings["ttft_s"] = first
    gaps = len(chunk_times) - 1
    if gaps:
        timings["itl_s"] = (last - first) / gaps
        timings["itl_gaps"] = float(gaps)
    n = n_tokens if n_tokens is not None and n_tokens > 0 else len(chunk_times)
    span = last - first
    if n > 1 and span > 0:
        timings["tpot_s"] = span / (n - 1)
        timings["tokens_per_s"] = (n - 1) / span
    return timings
