"""Memorisation probe for generative models: do they complete their training texts verbatim?

Each probed text is cut after ``prefix_fraction`` of its words; the model gets the prefix as its
prompt and its answer is compared with the true rest of the text. **Exact**: the normalised answer
starts with the normalised true continuation. **Near**: the character 5-shingle Jaccard similarity
between the true continuation and the answer (cut to the continuation's length) is at least
``near_threshold``. Rates on training texts are compared with rates on held-out texts; a higher
training rate (Newcombe interval of the difference above 0) means the model memorised.
"""

from __future__ import annotations

from dataclasses import dataclass

from assay.leakage._duplicates import _jaccard, normalise, shingle_hashes

__all__ = ["Probe", "continuation_match", "split_prompt"]


@dataclass(frozen=True)
class Probe:
    """One probed text: the prompt given and the continuation expected."""

    prompt: str
    continuation: str


def split_prompt(text: str, prefix_fraction: float = 0.5, min_words: int = 8) -> Probe | None:
    """The prompt (first words) and the expected continuation, or ``None`` for texts too short."""
    words = str(text).split()
    if len(words) < min_words:
        return None
    cut = max(1, min(len(words) - 1, round(len(words) * prefix_fraction)))
    return Probe(" ".join(words[:cut]), " ".join(words[cut:]))


def continuation_match(
    expected: str, answer: str, *, near_threshold: float = 0.5
) -> tuple[bool, bool]:
    """``(exact, near)`` for one answer (see the module docstring)."""
    e, a = normalise(expected), normalise(answer)
    if not e:
        return False, False
    exact = a.startswith(e)
    a = a[: len(e)]
    if exact:
        return True, True
    if not a:
        return False, False
    h, s = shingle_hashes([e, a], 5)
    near = _jaccard(h[s[0] : s[1]], h[s[1] : s[2]]) >= near_threshold
    return False, bool(near)
