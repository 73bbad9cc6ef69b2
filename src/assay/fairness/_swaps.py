"""Counterfactual swaps: replace demographic terms in a text by their counterparts.

A word list (YAML, shipped in ``assay/fairness/wordlists/`` or given by the suite) has named
groups of equal length; position ``i`` of every group holds the same kind of word::

    description: gendered pronouns and nouns
    case_sensitive: false
    groups:
      male:   [he, him, his]
      female: [she, her, hers]

A swap replaces, in one pass, every whole-word occurrence of a listed word by its counterpart in
the next group (the last group's words go to the first's), so with two groups the swap goes both
ways at once ("he" → "she" and "she" → "he"). A word listed twice among the sources (``her`` is
the counterpart of both ``him`` and ``his``) takes its first counterpart before punctuation or the
end of the text ("saw her." → "saw him.") and its second before another word ("her book" →
"his book"); a third listing is ignored. Case is kept: ``He`` → ``She``, ``HE`` → ``SHE``. Lists marked
``case_sensitive`` (first names) match only the exact spelling, so the adjective "frank" is not
taken for the name "Frank".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from assay.errors import ConfigError

__all__ = [
    "BUILTIN_SWAPS",
    "Swapper",
    "WordList",
    "builtin_wordlists",
    "load_wordlist",
    "resolve_wordlists",
    "swap_payload",
]

#: The word lists shipped with assay, in the order they are applied by default.
BUILTIN_SWAPS = ("gender", "names", "nationality", "religion", "age")
_WORD_NEXT = re.compile(r"[ \t]+[^\W\d_]")


@dataclass(frozen=True)
class WordList:
    """Named groups of counterpart words (see the module docstring).

    Attributes:
        name: the swap type (``"gender"``).
        groups: group name → words; every group has the same length.
        case_sensitive: match the exact spelling only.
        description: one line for reports.
        source: the file it was read from.
    """

    name: str
    groups: dict[str, list[str]]
    case_sensitive: bool = False
    description: str = ""
    source: str = ""

    def mapping(self) -> dict[str, str]:
        """Source word (lower-cased unless case-sensitive) → replacement (its first listing)."""
        return {k: v[0] for k, v in self.counterparts().items()}

    def counterparts(self) -> dict[str, list[str]]:
        """Source word → its counterparts in listing order (at most two are used)."""
        names = list(self.groups)
        out: dict[str, list[str]] = {}
        for j, g in enumerate(names):
            target = self.groups[names[(j + 1) % len(names)]]
            for i, word in enumerate(self.groups[g]):
                key = word if self.case_sensitive else word.lower()
                seen = out.setdefault(key, [])
                if target[i] not in seen:
                    seen.append(target[i])
        return out

    def merged(self, other: WordList) -> WordList:
        """This list extended by ``other``: groups of the same name get its words appended."""
        groups = {g: list(ws) for g, ws in self.groups.items()}
        for g, ws in other.groups.items():
            groups.setdefault(g, [])
            groups[g] += ws
        merged = WordList(
            self.name,
            groups,
            self.case_sensitive,
            self.description,
            f"{self.source} + {other.source}",
        )
        _check_lengths(merged, merged.source)
        return merged


def _check_lengths(wl: WordList, where: str) -> None:
    lengths = {g: len(ws) for g, ws in wl.groups.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{g}: {n}" for g, n in lengths.items())
        raise ConfigError(
            f"{where}: word list {wl.name!r}: groups must have the same number of words (position i "
            f"of each group are counterparts); found {detail}. Add or remove words to align them."
        )


def load_wordlist(
    path: str | Path, *, name: str | None = None, text: str | None = None
) -> WordList:
    """Read a word-list YAML file.

    Args:
        path: the file (also used in messages when ``text`` is given).
        name: the swap type; default: the file name without extension.
        text: the YAML text, when it was already read.

    Returns:
        The :class:`WordList`.

    Raises:
        ConfigError: unreadable file, or not ``{groups: {name: [words...]}, ...}`` with at least
            two groups of equal length; the message names the file and what to fix.
    """
    p = Path(path)
    where = str(p)
    try:
        raw = yaml.safe_load(text if text is not None else p.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"{where}: cannot read word list ({e.strerror or e})") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{where}: not valid YAML ({e})") from None
    groups = raw.get("groups") if isinstance(raw, dict) else None
    if not isinstance(groups, dict) or len(groups) < 2:
        raise ConfigError(
            f"{where}: a word list needs `groups:` with at least two named lists of words, e.g. "
            "groups: {male: [he, him], female: [she, her]}"
        )
    clean: dict[str, list[str]] = {}
    for g, words in groups.items():
        if not isinstance(words, list) or not all(isinstance(w, (str, int)) for w in words):
            raise ConfigError(f"{where}: groups.{g} must be a list of words; got {words!r}")
        clean[str(g)] = [str(w) for w in words]
    extra = set(raw) - {"groups", "description", "case_sensitive"}
    if extra:
        raise ConfigError(
            f"{where}: unknown keys {sorted(extra)}; allowed: groups, description, case_sensitive"
        )
    wl = WordList(
        name=name or p.stem,
        groups=clean,
        case_sensitive=bool(raw.get("case_sensitive", False)),
        description=str(raw.get("description", "")),
        source=where,
    )
    _check_lengths(wl, where)
    return wl


def builtin_wordlists() -> dict[str, WordList]:
    """The word lists shipped with assay, by swap type."""
    folder = resources.files("assay.fairness").joinpath("wordlists")
    out = {}
    for name in BUILTIN_SWAPS:
        f = folder.joinpath(f"{name}.yaml")
        out[name] = load_wordlist(
            f"assay/fairness/wordlists/{name}.yaml", name=name, text=f.read_text(encoding="utf-8")
        )
    return out


def _match_case(found: str, target: str, case_sensitive: bool) -> str:
    if case_sensitive:
        return target
    if len(found) > 1 and found.isupper():
        return target.upper()
    if found[:1].isupper():
        return target[:1].upper() + target[1:]
    return target.lower()


@dataclass
class Swapper:
    """Applies one word list to texts.

    Example:
        >>> from assay.fairness import Swapper, WordList
        >>> s = Swapper(WordList("gender", {"m": ["he", "his"], "f": ["she", "her"]}))
        >>> s.swap("He said she lost his keys.")
        ('She said he lost her keys.', 3)
    """

    wordlist: WordList
    _map: dict[str, list[str]] = field(init=False, repr=False)
    _re: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._map = self.wordlist.counterparts()
        words = sorted(self._map, key=lambda w: (-len(w), w))
        flags = 0 if self.wordlist.case_sensitive else re.IGNORECASE
        self._re = re.compile(
            r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)", flags
        )

    def swap(self, text: str) -> tuple[str, int]:
        """The text with every listed word replaced, and the number of replacements."""
        count = 0
        cs = self.wordlist.case_sensitive

        def repl(m: re.Match[str]) -> str:
            nonlocal count
            found = m.group(0)
            targets = self._map.get(found if cs else found.lower())
            if not targets:  # pragma: no cover - the pattern only matches mapped words
                return found
            target = targets[0]
            if len(targets) > 1 and _WORD_NEXT.match(m.string, m.end()):
                target = targets[1]
            count += 1
            return _match_case(found, target, cs)

        return self._re.sub(repl, text), count


def resolve_wordlists(
    swaps: list[str] | None, extra: Mapping[str, str], base_dir: Path, where: str
) -> dict[str, WordList]:
    """The word lists a suite asks for: built-in ones, extended or added by suite files.

    Raises:
        ConfigError: a swap type that is neither built in nor given a file.
    """
    lists: dict[str, WordList] = builtin_wordlists()
    for name, path in extra.items():
        p = Path(path).expanduser()
        p = p if p.is_absolute() else base_dir / p
        wl = load_wordlist(p, name=name)
        lists[name] = lists[name].merged(wl) if name in lists else wl
    chosen = (
        list(swaps)
        if swaps is not None
        else [*BUILTIN_SWAPS, *[n for n in extra if n not in BUILTIN_SWAPS]]
    )
    unknown = [s for s in chosen if s not in lists]
    if unknown:
        raise ConfigError(
            f"{where}.swaps: unknown swap type(s) {unknown}; built in: {', '.join(BUILTIN_SWAPS)}; "
            f"add others with {where}.wordlists: {{{unknown[0]}: path/to/list.yaml}}"
        )
    return {s: lists[s] for s in chosen}


def swap_payload(payload: Any, swapper: Swapper, field_name: str | None) -> tuple[Any, int]:
    """Swap inside a model input: the text itself, or one text field of a feature mapping."""
    if isinstance(payload, str):
        return swapper.swap(payload)
    if (
        isinstance(payload, dict)
        and field_name is not None
        and isinstance(payload.get(field_name), str)
    ):
        text, n = swapper.swap(payload[field_name])
        return {**payload, field_name: text}, n
    return payload, 0
