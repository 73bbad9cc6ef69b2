"""Word lists: the ones shipped as package data, and two read from Debian packages at run time.

Shipped (``assay/perturb/data/*.txt``, one entry a line, ``#`` comments): keyboard neighbours,
contractions, fillers, distractor sentences, person names, locations, Unicode confusables,
prompt rephrasing templates, positive and negative sentences. A suite can extend or replace any
of them (``word_lists:`` in the robustness check).

Read from the system, never copied into the repository:

- real misspellings from Debian's ``codespell`` (``codespell_lib/data/dictionary.txt``), and
- synonyms from Debian's ``wordnet-base`` (``/usr/share/wordnet/data.{noun,verb,adj,adv}``), parsed
  here without nltk.
"""

from __future__ import annotations

import functools
import glob
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from assay.errors import ConfigError

__all__ = [
    "LIST_NAMES",
    "WordLists",
    "codespell_path",
    "load_misspellings",
    "load_synonyms",
    "wordnet_dir",
]

#: The shipped lists that a suite may extend or replace.
LIST_NAMES = (
    "confusables",
    "contractions",
    "distractors",
    "fillers",
    "keyboard",
    "locations",
    "names",
    "negative",
    "positive",
    "rephrase",
)

_CODESPELL_GLOBS = (
    "/usr/lib/python3/dist-packages/codespell_lib/data/dictionary.txt",
    "/usr/lib/python3*/dist-packages/codespell_lib/data/dictionary.txt",
    "/usr/lib/python3*/site-packages/codespell_lib/data/dictionary.txt",
)
_WORDNET_DIRS = ("/usr/share/wordnet",)


def _read_lines(text: str) -> list[str]:
    return [ln.rstrip("\n") for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


@functools.cache
def _shipped(name: str) -> tuple[str, ...]:
    text = resources.files("assay.perturb").joinpath("data", f"{name}.txt").read_text("utf-8")
    return tuple(_read_lines(text))


def _pairs(lines: Iterable[str]) -> list[tuple[str, str]]:
    out = []
    for ln in lines:
        left, _, right = ln.partition("\t")
        out.append((left, right))
    return out


@dataclass(frozen=True)
class WordLists:
    """The lists the text perturbations draw from. Build with :meth:`default` or :meth:`with_overrides`."""

    lists: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def default(cls) -> WordLists:
        return cls({name: _shipped(name) for name in LIST_NAMES})

    def with_overrides(
        self, overrides: Mapping[str, list[str] | str], *, base_dir: Path = Path("."), where: str
    ) -> WordLists:
        """Extend lists from a suite: ``{names: [Ada, Grace]}`` adds entries; a string is a file
        path (one entry a line) whose entries are added; ``{names: {replace: [...]}}`` is not
        supported, to keep the shipped entries always present.

        Raises:
            ConfigError: an unknown list name, or a file that cannot be read.
        """
        merged = dict(self.lists)
        for name, value in overrides.items():
            if name not in LIST_NAMES:
                raise ConfigError(
                    f"{where}.{name}: unknown word list; known lists: {', '.join(LIST_NAMES)}"
                )
            if isinstance(value, str):
                p = Path(value).expanduser()
                p = p if p.is_absolute() else base_dir / p
                try:
                    entries = _read_lines(p.read_text("utf-8"))
                except OSError as e:
                    raise ConfigError(
                        f"{where}.{name}: cannot read word list file {str(p)!r} ({e.strerror}); "
                        "give a UTF-8 text file with one entry a line, or a YAML list"
                    ) from None
            else:
                entries = [str(v) for v in value]
            merged[name] = tuple(dict.fromkeys([*merged.get(name, ()), *entries]))
        return WordLists(merged)

    def get(self, name: str) -> tuple[str, ...]:
        return self.lists.get(name, ())

    @functools.cached_property
    def keyboard(self) -> dict[str, str]:
        return {k: v for k, v in _pairs(self.get("keyboard"))}

    @functools.cached_property
    def contractions(self) -> list[tuple[str, str]]:
        return _pairs(self.get("contractions"))

    @functools.cached_property
    def confusables(self) -> dict[str, str]:
        return {k: v for k, v in _pairs(self.get("confusables")) if v}

    @functools.cached_property
    def names_set(self) -> frozenset[str]:
        return frozenset(self.get("names"))

    @functools.cached_property
    def locations_set(self) -> frozenset[str]:
        return frozenset(x for x in self.get("locations") if " " not in x)


def codespell_path() -> Path | None:
    """Where Debian's codespell dictionary is, or ``None``."""
    env = os.environ.get("ASSAY_CODESPELL_DICTIONARY")
    if env:
        return Path(env) if Path(env).is_file() else None
    for pattern in _CODESPELL_GLOBS:
        for hit in sorted(glob.glob(pattern)):
            return Path(hit)
    return None


def wordnet_dir() -> Path | None:
    """Where Debian's WordNet data files are, or ``None``."""
    env = os.environ.get("ASSAY_WORDNET_DIR")
    candidates = [env] if env else list(_WORDNET_DIRS)
    for d in candidates:
        if d and (Path(d) / "data.adj").is_file():
            return Path(d)
    return None


@functools.lru_cache(maxsize=1)
def load_misspellings() -> dict[str, tuple[str, ...]]:
    """Correct word → real misspellings of it, from codespell's ``wrong->right`` dictionary.

    Raises:
        ConfigError: the dictionary is not installed; names the apt package.
    """
    path = codespell_path()
    if path is None:
        raise ConfigError(
            "the `misspellings` perturbation reads Debian's codespell dictionary, which is not "
            "installed; run `apt-get install codespell` (or set ASSAY_CODESPELL_DICTIONARY to a "
            "file of `wrong->right` lines)"
        )
    out: dict[str, list[str]] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            wrong, sep, rights = line.rstrip("\n").partition("->")
            if not sep or not wrong.isalpha():
                continue
            for right in rights.split(","):
                right = right.strip()
                # Only single-word corrections that differ from the typo by a few letters.
                if right.isalpha() and right.islower() and abs(len(right) - len(wrong)) <= 2:
                    out.setdefault(right, []).append(wrong)
    return {k: tuple(v) for k, v in out.items()}


_POS_FILES = ("adj", "adv", "verb", "noun")


@functools.lru_cache(maxsize=1)
def load_synonyms(senses: int = 2) -> dict[str, tuple[str, ...]]:
    """Word → single-word synonyms from its ``senses`` most frequent WordNet senses, in order.

    Parsed from Debian's ``wordnet-base``: ``data.<pos>`` lines read
    ``offset lexfile pos word_count(hex) word lex_id [word lex_id ...] ...``; ``index.<pos>`` lines
    end with the word's synset offsets, most frequent sense first. Parts of speech are merged in
    the order adjective, adverb, verb, noun.

    Raises:
        ConfigError: the WordNet files are not installed; names the apt package.
    """
    d = wordnet_dir()
    if d is None:
        raise ConfigError(
            "the `synonyms` perturbation and the adversarial search read WordNet from Debian's "
            "wordnet-base, which is not installed; run `apt-get install wordnet-base` (or set "
            "ASSAY_WORDNET_DIR to a folder with the data.* and index.* files)"
        )
    syn: dict[str, list[str]] = {}
    for pos in _POS_FILES:
        synsets: dict[str, list[str]] = {}
        with open(d / f"data.{pos}", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(" "):
                    continue  # licence header
                parts = line.split(" ", 4 + 2 * 64)
                try:
                    count = int(parts[3], 16)
                except (IndexError, ValueError):
                    continue
                words = [parts[4 + 2 * i].partition("(")[0].lower() for i in range(count)]
                synsets[parts[0]] = [w for w in words if w.isalpha()]
        with open(d / f"index.{pos}", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(" "):
                    continue
                parts = line.split()
                lemma = parts[0]
                if not lemma.isalpha():
                    continue
                try:
                    n_synsets = int(parts[2])
                except (IndexError, ValueError):
                    continue
                bucket = syn.setdefault(lemma, [])
                for offset in parts[len(parts) - n_synsets :][:senses]:
                    for w in synsets.get(offset, ()):
                        if w != lemma and w not in bucket:
                            bucket.append(w)
    return {k: tuple(v) for k, v in syn.items() if v}
