"""A budgeted greedy word-substitution attack, asked round by round through ``next_requests``.

For each attacked example (originally classified correctly): round 1 deletes each word in turn
(leave-one-out) to rank words by how much they hold up the true class; then, word by word in that
order, every candidate substitute (WordNet synonyms, keyboard typos) is asked, the one that lowers
the true class most is kept, and the search stops when the prediction flips (success) or when
``budget`` words have been changed or no word is left (failure). Every asked text is a Request, so
a re-run replays the whole search from the cache.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from assay._types import Request, Response, canonical_label, content_key
from assay.perturb._base import PerturbEnv, rng_for
from assay.perturb._text import STOPWORDS, _match_case, word_spans
from assay.perturb._wordlists import load_synonyms
from assay.stats._estimate import Estimate

__all__ = ["AdversarialConfig", "AdversarialSearch"]


class AdversarialConfig(BaseModel):
    """Options of the adversarial search.

    Attributes:
        budget: the most words changed per example.
        max_examples: attack at most this many correctly classified examples (seeded choice).
        max_words: rank at most this many words per example (the first ones).
        candidates: substitutes tried per word: ``synonyms`` (WordNet), ``typos`` (keyboard).
        max_candidates: substitutes tried per word and source.
    """

    model_config = ConfigDict(extra="forbid")

    budget: int = Field(default=5, ge=1)
    max_examples: int = Field(default=200, ge=1)
    max_words: int = Field(default=40, ge=1)
    candidates: list[str] = Field(default_factory=lambda: ["synonyms", "typos"])
    max_candidates: int = Field(default=6, ge=1)


@dataclass
class _Attack:
    example_id: str
    original: str
    label: str
    p_start: float
    text: str = ""
    p_current: float = 1.0
    order: list[tuple[int, int]] = field(default_factory=list)  # word spans, most important first
    pos: int = 0
    changed: int = 0
    queries: int = 0
    pending: dict[str, str] = field(default_factory=dict)  # request key → candidate text
    span: tuple[int, int] | None = None
    done: bool = False
    success: bool = False
    final_label: str = ""


def _true_prob(resp: Response | None, label: str) -> tuple[float, str] | None:
    if resp is None or not resp.ok or resp.output is None or resp.output.label is None:
        return None
    pred = canonical_label(resp.output.label)
    probs = resp.output.probabilities
    if probs:
        p = sum(float(v) for k, v in probs.items() if canonical_label(k) == label)
    else:
        p = 1.0 if pred == label else 0.0
    return p, pred


class AdversarialSearch:
    """The state of the attack on one model's examples, advanced one round per call."""

    def __init__(
        self,
        config: AdversarialConfig,
        *,
        model: str,
        fingerprint: str,
        seed: int,
        env: PerturbEnv,
    ) -> None:
        self.config = config
        self.model = model
        self.fingerprint = fingerprint
        self.seed = seed
        self.env = env
        self.attacks: list[_Attack] = []
        self.started = False
        self.ranked = False
        self._synonyms: Mapping[str, tuple[str, ...]] | None = None

    def _request(self, att: _Attack, text: str, role: str) -> Request:
        att.queries += 1
        return Request(
            key=content_key(self.fingerprint, text),
            model=self.model,
            payload=text,
            tags={"example_id": att.example_id, "variant": f"adversarial:{role}"},
        )

    def start(self, targets: list[tuple[str, str, str, float]]) -> list[Request]:
        """Leave-one-out requests for ``(id, text, true label, p(true))`` of each target."""
        self.started = True
        out: list[Request] = []
        for example_id, text, label, p in targets:
            att = _Attack(example_id, text, label, p, text=text, p_current=p)
            spans = [s for s in word_spans(text) if text[s[0] : s[1]].lower() not in STOPWORDS][
                : self.config.max_words
            ]
            for a, b in spans:
                loo = (text[:a] + text[b:]).replace("  ", " ").strip()
                req = self._request(att, loo, "loo")
                att.pending[req.key] = f"{a}:{b}"
                out.append(req)
            if not spans:
                att.done = True
            self.attacks.append(att)
        return out

    def step(self, responses: Mapping[str, Response]) -> list[Request]:
        """Read the last round's answers and ask the next one; ``[]`` when every attack is over."""
        out: list[Request] = []
        for att in self.attacks:
            if att.done:
                continue
            if not self.ranked:
                scored = []
                for key, where in att.pending.items():
                    got = _true_prob(responses.get(key), att.label)
                    a, b = (int(x) for x in where.split(":"))
                    drop = att.p_start - got[0] if got else float("-inf")
                    scored.append((-drop, a, b))
                att.order = [(a, b) for _, a, b in sorted(scored)]
                att.pending = {}
            else:
                self._read_candidates(att, responses)
            if not att.done:
                out.extend(self._next_word(att))
        self.ranked = True
        return out

    def _read_candidates(self, att: _Attack, responses: Mapping[str, Response]) -> None:
        best: tuple[float, str, str] | None = None
        for key, text in att.pending.items():
            got = _true_prob(responses.get(key), att.label)
            if got is None:
                continue
            p, pred = got
            if pred != att.label:
                att.text, att.changed, att.done, att.success = text, att.changed + 1, True, True
                att.final_label = pred
                att.pending = {}
                return
            if best is None or p < best[0]:
                best = (p, text, pred)
        att.pending = {}
        if best is not None and best[0] < att.p_current:
            # Keep the substitution; later word positions shift by the length difference.
            shift = len(best[1]) - len(att.text)
            assert att.span is not None
            end = att.span[1]
            att.order = [(a + shift, b + shift) if a >= end else (a, b) for a, b in att.order]
            att.text, att.p_current = best[1], best[0]
            att.changed += 1
        if att.changed >= self.config.budget:
            att.done = True

    def _next_word(self, att: _Attack) -> list[Request]:
        while att.pos < len(att.order):
            a, b = att.order[att.pos]
            att.pos += 1
            word = att.text[a:b]
            cands = self._candidates(att, word, att.pos)
            if not cands:
                continue
            att.span = (a, b)
            reqs = []
            for c in cands:
                text = att.text[:a] + c + att.text[b:]
                req = self._request(att, text, "candidate")
                att.pending[req.key] = text
                reqs.append(req)
            return reqs
        att.done = True
        return []

    def _candidates(self, att: _Attack, word: str, pos: int) -> list[str]:
        k = self.config.max_candidates
        out: list[str] = []
        if "synonyms" in self.config.candidates:
            if self._synonyms is None:
                self._synonyms = load_synonyms()
            out += [_match_case(s, word) for s in self._synonyms.get(word.lower(), ())[:k]]
        if "typos" in self.config.candidates and len(word) >= 3:
            rng = rng_for(self.seed, att.example_id, "adversarial", float(pos))
            keyboard = self.env.lists.keyboard
            for _ in range(k):
                i = rng.randrange(len(word))
                near = keyboard.get(word[i].lower())
                if near:
                    out.append(word[:i] + near[rng.randrange(len(near))] + word[i + 1 :])
        return [c for c in dict.fromkeys(out) if c != word]

    def summary(self, level: float, make_rate: Callable[[int, int], Any]) -> dict[str, Any]:
        """Metrics and example rows once the search is over."""
        n = len(self.attacks)
        wins = [a for a in self.attacks if a.success]
        words = [a.changed for a in wins]
        queries = [a.queries for a in self.attacks]
        metrics = {
            "adversarial.success_rate": make_rate(len(wins), n),
            "adversarial.words_changed": Estimate.point(
                sum(words) / len(words) if words else float("nan"), n=len(words), level=level
            ),
            "adversarial.queries": Estimate.point(
                sum(queries) / n if n else float("nan"), n=n, level=level
            ),
        }
        rows = [
            {
                "id": a.example_id,
                "original": a.original,
                "perturbed": a.text,
                "label": a.label,
                "perturbed_prediction": a.final_label,
                "words_changed": a.changed,
                "queries": a.queries,
            }
            for a in wins
        ]
        return {"metrics": metrics, "examples": rows}
