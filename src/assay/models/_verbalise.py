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

__all__ = ["Verbaliser", "render_prompt"]

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

    def probabilities_from_logprobs(
        self, top_logprobs: Mapping[str, float]
    ) -> dict[str, float] | None:
        """Label probabilities from the first answer token's top log-probabilities.

        A token counts for a label when, normalised, it is a non-empty prefix of one of the
        label's verbalisations. The masses are renormalised over labels; ``None`` when no token
        matches any label.
        """
        mass = dict.fromkeys(self.words, 0.0)
        for token, lp in top_logprobs.items():
            t = _norm(token)
            if not t:
                continue
            for label, items in self.words.items():
                if any(_norm(w).startswith(t) for w in items):
                    mass[label] += math.exp(lp)
                    break
        total = sum(mass.values())
        if total <= 0:
            return None
        return {k: v / total for k, v in mass.items()}


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
