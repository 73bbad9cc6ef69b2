"""Verbalisers: a language model as a classifier (label ↔ words, parsing, label probabilities)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from assay._types import canonical_label
from assay.errors import ConfigError

__all__ = ["LabelScores", "Verbaliser", "check_stop", "cut_at_stop", "render_prompt"]

_WORD = re.compile(r"\w+", re.UNICODE)


def _norm(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


@dataclass(frozen=True)
class Verbaliser:
    """How labels are said, and how an answer is read back as a label.

    Attributes:
        words: label → the strings that say it (``{"pos": ["positive", "good"]}``); the first is
            the one scored by log-likelihood and shown in prompts.
        extract: a regular expression applied to the answer first; its first group (or the whole
            match) is what is read.
        json_field: read this field of the first JSON object in the answer.

    Example:
        >>> v = Verbaliser.from_options({"verbaliser": {"pos": "positive", "neg": "negative"}})
        >>> v.parse("I think it is Positive."), v.parse("no idea")
        ('pos', None)
    """

    words: Mapping[str, tuple[str, ...]]
    extract: str | None = None
    json_field: str | None = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any], *, name: str = "candidate") -> Verbaliser:
        """Build from model options ``verbaliser`` (label → str or list) or ``labels`` (a list)."""
        raw = options.get("verbaliser")
        if raw is None and options.get("labels") is not None:
            raw = {str(lbl): str(lbl) for lbl in options["labels"]}
        if not isinstance(raw, Mapping) or not raw:
            raise ConfigError(
                f"models.{name}.options.verbaliser: expected a mapping label → word(s), such as "
                f"{{positive: [positive, good], negative: [negative, bad]}}; got {raw!r}"
            )
        words: dict[str, tuple[str, ...]] = {}
        for label, said in raw.items():
            items = [said] if isinstance(said, str) else list(said or [])
            if not items or not all(isinstance(w, str) and w.strip() for w in items):
                raise ConfigError(
                    f"models.{name}.options.verbaliser.{label}: expected a non-empty string or "
                    f"list of strings; got {said!r}"
                )
            words[canonical_label(label)] = tuple(items)
        extract = options.get("extract")
        if extract is not None:
            try:
                re.compile(extract)
            except re.error as e:
                raise ConfigError(
                    f"models.{name}.options.extract: {extract!r} is not a regular expression ({e})"
                ) from None
        return cls(words, extract, options.get("json_field"))

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.words)

    def parse(self, text: str) -> str | None:
        """The label an answer names, or ``None`` when it names none.

        The answer (after ``extract``/``json_field``) is normalised (lower case, words only).
        A verbalisation equal to it wins; otherwise the verbalisation that occurs first as whole
        words.
        """
        candidate: Any = text
        if self.json_field is not None:
            candidate = _json_field(text, self.json_field)
            if candidate is None:
                return None
        if self.extract is not None:
            m = re.search(self.extract, str(candidate), flags=re.IGNORECASE | re.DOTALL)
            if m is None:
                return None
            candidate = m.group(1) if m.groups() else m.group(0)
        said = _norm(str(candidate))
        if not said:
            return None
        best: tuple[int, int, str] | None = None
        for label, items in self.words.items():
            for w in items:
                nw = _norm(w)
                if not nw:
                    continue
                if said == nw:
                    return label
                m = re.search(rf"(?<!\w){re.escape(nw)}(?!\w)", said)
                if m is not None:
                    key = (m.start(), -len(nw), label)
                    if best is None or key < best:
                        best = key
        return best[2] if best is not None else None

    def first_words(self) -> list[tuple[str, list[str]]]:
        """First words said by more than one label (``[("thumbs", ["up", "down"])]``).

        Such labels share their first token, so the first answer token's probability cannot
        tell them apart: they must be scored by their whole verbalisations.
        """
        owners: dict[str, list[str]] = {}
        for label, items in self.words.items():
            for w in items:
                first = _norm(w).split(" ")[0]
                if first and label not in owners.setdefault(first, []):
                    owners[first].append(label)
        return [(word, labels) for word, labels in owners.items() if len(labels) > 1]

    def _token_labels(self, token: str) -> list[str]:
        """The labels a first answer token may begin: those it says whole, else those it is a
        prefix of (normalised)."""
        t = _norm(token)
        if not t:
            return []
        whole = [lbl for lbl, items in self.words.items() if any(_norm(w) == t for w in items)]
        if len(whole) == 1:
            return whole
        return [
            lbl for lbl, items in self.words.items() if any(_norm(w).startswith(t) for w in items)
        ]

    def ambiguous_token(self, top_logprobs: Mapping[str, float]) -> tuple[str, list[str]] | None:
        """A listed first token that begins more than one label's verbalisation, with those
        labels (``(" thumbs", ["up", "down"])``); ``None`` when every token is unambiguous."""
        for token in top_logprobs:
            labels = self._token_labels(token)
            if len(labels) > 1:
                return token, labels
        return None

    def probabilities_from_logprobs(self, top_logprobs: Mapping[str, float]) -> LabelScores:
        """Label probabilities from the first answer token's top log-probabilities.

        A token counts for the label it says whole, else for the label it is a prefix of
        (normalised); tokens of several labels are ambiguous (see :meth:`ambiguous_token`) and
        must not be passed here. A label with no listed token gets a floor, the k-th (smallest)
        listed probability, an upper bound on what the server did not list, never 0; it is named
        in ``floored``. The masses are then renormalised over the labels; ``label_mass`` is what
        the labels held before (floors not counted).
        """
        mass = dict.fromkeys(self.words, 0.0)
        for token, lp in top_logprobs.items():
            labels = self._token_labels(token)
            if len(labels) == 1:
                mass[labels[0]] += math.exp(lp)
        held = sum(mass.values())
        listed = [math.exp(lp) for lp in top_logprobs.values()]
        floor = min(listed) if listed else 1.0
        floored = tuple(label for label, m in mass.items() if m <= 0.0)
        for label in floored:
            mass[label] = floor
        total = sum(mass.values())
        return LabelScores({k: v / total for k, v in mass.items()}, min(held, 1.0), floored)

    def probabilities_from_verbalisations(
        self, logprobs: Mapping[str, Sequence[float]]
    ) -> LabelScores:
        """Label probabilities from the log-probability of each whole verbalisation.

        ``logprobs``: label → the summed token log-probabilities of each of its verbalisations,
        as the server scored them after the prompt. A label's probability is the sum over its
        verbalisations, renormalised over the labels; ``label_mass`` is that sum over all labels.
        """
        per_label = {label: _logsumexp(list(logprobs.get(label, ()))) for label in self.words}
        top = _logsumexp(list(per_label.values()))
        if not math.isfinite(top):
            raise ValueError("no verbalisation has a finite log-probability")
        probs = {label: math.exp(lp - top) for label, lp in per_label.items()}
        return LabelScores(probs, min(math.exp(top), 1.0), ())


@dataclass(frozen=True)
class LabelScores:
    """What a language model's log-probabilities say about the labels of one answer.

    Attributes:
        probabilities: label → probability, summing to 1 over the labels.
        label_mass: the probability the labels held before renormalising (the rest fell outside).
        floored: labels absent from the listed top log-probabilities, given the floor.
    """

    probabilities: dict[str, float]
    label_mass: float
    floored: tuple[str, ...] = ()


def _logsumexp(values: Sequence[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return -math.inf
    top = max(finite)
    return top + math.log(sum(math.exp(v - top) for v in finite))


def cut_at_stop(text: str, stop: Any) -> tuple[str, bool]:
    """``text`` up to the first of the ``stop`` strings (a base model runs on past its answer),
    and whether one was found."""
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    cut = min((i for i in (text.find(s) for s in stops if s) if i >= 0), default=-1)
    return (text, False) if cut < 0 else (text[:cut], True)


def check_stop(options: Mapping[str, Any], *, name: str, prefix: str) -> None:
    """Refuse a ``stop`` option that is not a string or a list of non-empty strings."""
    stop = options.get("stop")
    if stop is None:
        return
    items = [stop] if isinstance(stop, str) else stop
    if not isinstance(items, list) or not items or not all(isinstance(s, str) and s for s in items):
        raise ConfigError(
            f"models.{name}.options.stop: expected a string or a list of non-empty strings "
            f'(where a {prefix}: answer ends, e.g. ["\\n"]); got {stop!r}'
        )


def _json_field(text: str, field: str) -> Any:
    """The value of ``field`` in the first JSON object found in ``text`` (``None`` if none)."""
    decoder = json.JSONDecoder()
    for m in re.finditer(r"\{", text):
        try:
            obj, _ = decoder.raw_decode(text, m.start())
        except ValueError:
            continue
        if isinstance(obj, dict) and field in obj:
            return obj[field]
    return None


def render_prompt(template: str | None, payload: Any, *, labels: Sequence[str] = ()) -> str:
    """The prompt for one payload: ``template`` with ``{input}`` (or payload fields) filled in.

    ``{labels}`` becomes the comma-separated label words. Without a template, a text payload is
    its own prompt and a mapping is shown as ``key: value`` lines.
    """
    if isinstance(payload, Mapping):
        fields = {str(k): v for k, v in payload.items()}
        text = "\n".join(f"{k}: {v}" for k, v in payload.items())
    else:
        text = str(payload)
        fields = {}
    if template is None:
        return text
    values = {"input": text, "labels": ", ".join(labels), **fields}
    try:
        return template.format_map(values)
    except (KeyError, IndexError, ValueError) as e:
        raise ConfigError(
            f"options.prompt: the template {template!r} names {e} which the input lacks; "
            f"available: {', '.join(sorted(values))} (write {{{{ and }}}} for literal braces)"
        ) from None
