"""What a language model's answers looked like: empty, cut short, or (scored as a classifier)
how much of the label probability the server's log-probabilities put outside the labels.

The performance and generation checks both report these, so that nothing that cannot be scored
passes silently: each count is a metric (gateable), a line of the ``answers`` table (shown on the
console) and, when not zero, a flag.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assay._types import Output
from assay.metrics._text import bootstrap_mean
from assay.stats import Estimate, Seed, wilson_interval

__all__ = ["AnswerNotes", "answer_notes"]

#: An answer made of nothing but chat-template tokens (``"\n[INST]"``, ``"<end_of_turn>"``): what
#: a chat endpoint returns for a model the server has no chat template for.
_TEMPLATE_ONLY = re.compile(
    r"\s*(?:(?:\[/?INST\]|</?s>|<\|[^|>\s]*\|>|<(?:start|end)_of_turn>|<\|?im_(?:start|end)\|?>)\s*)*"
)


@dataclass
class AnswerNotes:
    """Metrics, the ``answers`` table and flags about a model's answers."""

    metrics: dict[str, Estimate] = field(default_factory=dict)
    table: dict[str, Any] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)


def answer_notes(
    outs: Sequence[Output],
    *,
    n_unparseable: int | None,
    endpoint: str | None,
    level: float,
    seed: Seed,
) -> AnswerNotes:
    """Count the empty and cut-short answers and summarise the label probabilities' mass.

    Args:
        outs: the answered calls' outputs.
        n_unparseable: answers that named no label, when the model is read as a classifier.
        endpoint: the served model's endpoint (``chat`` adds the missing-template hint).
        level: the intervals' confidence level.
        seed: the bootstrap's seed (the mean probability outside the labels).
    """
    notes = AnswerNotes()
    texts = [o.text for o in outs if o.text is not None]
    if not texts:
        return notes
    n = len(outs)
    table: dict[str, Any] = {"n": n}
    if n_unparseable is not None:
        table["unparseable"] = n_unparseable
    n_empty = sum(not t.strip() for t in texts)
    notes.metrics["empty_rate"] = wilson_interval(n_empty, len(texts), level=level)
    table["empty"] = n_empty
    if n_empty:
        notes.flags.append(f"{n_empty} of {len(texts)} answers were empty")
    finishes = [o.finish_reason for o in outs if o.finish_reason is not None]
    if finishes:
        n_length = sum(f == "length" for f in finishes)
        n_none = sum(f == "" for f in finishes)
        notes.metrics["cut_short_rate"] = wilson_interval(
            n_length + n_none, len(finishes), level=level
        )
        table["cut_short"] = n_length + n_none
        if n_length:
            notes.flags.append(
                f"{n_length} of {len(finishes)} answers stopped at max_new_tokens "
                "(finish_reason length) and may be cut short; raise max_new_tokens or set a stop"
            )
        if n_none:
            notes.flags.append(
                f"{n_none} of {len(finishes)} answers came with no finish_reason and may be cut short"
            )
    scored = [o for o in outs if o.label_mass is not None]
    if scored:
        outside = np.array([1.0 - float(o.label_mass or 0.0) for o in scored])
        notes.metrics["outside_label_mass"] = bootstrap_mean(
            outside, level=level, seed=seed, proportion=False
        )
        floored = [o for o in scored if o.floored]
        notes.metrics["label_floor_rate"] = wilson_interval(len(floored), len(scored), level=level)
        table["outside_label_mass"] = float(outside.mean())
        table["label_floor"] = len(floored)
        notes.flags.append(
            f"on average {outside.mean():.1%} of the answers' probability fell outside the labels "
            f"(labels' probabilities renormalised over {len(scored)} answers)"
        )
        if floored:
            names = sorted({lbl for o in floored for lbl in o.floored or []})
            notes.flags.append(
                f"{len(floored)} of {len(scored)} answers had a label missing from the server's "
                f"top log-probabilities ({', '.join(names)}): it was given the floor, the k-th "
                "listed probability (an upper bound), not 0; raise top_logprobs to see more"
            )
    if endpoint == "chat" and all(_TEMPLATE_ONLY.fullmatch(t) for t in texts):
        hint = (
            f"every answer from the chat endpoint was empty or a chat-template token "
            f"(first: {texts[0]!r}): the server likely has no chat template for this model; "
            "use endpoint: completions with a prompt template"
        )
        table["hint"] = hint
        notes.flags.append(hint)
    notes.table = table
    return notes
