"""The concurrency each model used, and why, for the report (``engine.concurrency``).

A model that adapts how many requests it keeps in flight (:class:`~assay._types.AdaptsConcurrency`,
the ``openai:`` adapter, whose limit is :class:`assay._util._concurrency.AdaptiveLimit`) keeps a
record; the run reads it once at the end, into ``report.engine["concurrency"]`` and, when the
limit had to come down or requests timed out while queued, a note that says what to change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from assay._types import AdaptsConcurrency, Model

__all__ = ["concurrency_notes", "concurrency_records"]


def concurrency_records(models: Mapping[str, Model]) -> dict[str, dict[str, Any]]:
    """model name → its concurrency record, for the models that keep one and sent requests."""
    out: dict[str, dict[str, Any]] = {}
    for name, model in models.items():
        if isinstance(model, AdaptsConcurrency):
            record = dict(model.concurrency_record())
            if record.get("most_in_flight"):
                out[name] = record
    return out


def concurrency_notes(records: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """A note for each model whose concurrency came down or whose requests timed out while
    others were in flight: what happened and the fix.

    Example:
        >>> concurrency_notes({"llm": {"configured": 32, "final": 2, "timeouts_queued": 5,
        ...     "timeouts": 5, "adaptive": True,
        ...     "why": "concurrency 32 → 2 (lowest 1): halved 3× on timeouts"}})[0][:60]
        "model 'llm': concurrency 32 → 2 (lowest 1): halved 3× on tim"
    """
    notes = []
    for name, r in records.items():
        lowered = r.get("final", 0) < r.get("configured", 0)
        queued = int(r.get("timeouts_queued", 0))
        if not lowered and not queued:
            continue
        text = f"model {name!r}: {r.get('why', '')}"
        if lowered:
            text += (
                "; the server answered fewer requests at once than were sent (it queues them): "
                f"set options.concurrency: {max(1, int(r.get('final', 1)))} to start there"
            )
        if queued:
            text += (
                f"; {queued} of {int(r.get('timeouts', queued))} timeouts hit requests sent while "
                "others were in flight (likely queued at the server): lower options.concurrency "
                "or raise timeout_s"
                + ("" if r.get("adaptive", True) else ", or drop adapt_concurrency: false")
            )
        notes.append(text)
    return notes
