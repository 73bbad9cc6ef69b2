"""Text perturbations. Each is ``fn(text, rng, severity, env, **options) -> text``.

Severity is the share of words (or characters) touched; at least one is touched when any can be.
When nothing in a text can be changed (no words with synonyms, no numbers) the text comes back
unchanged, and the robustness check counts it as unchanged instead of dropping it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from assay.perturb._base import PerturbEnv, register_perturbation
from assay.perturb._wordlists import load_misspellings, load_synonyms

__all__ = ["NEGATION_RULES", "STOPWORDS", "word_spans"]

#: Function words that synonym substitution and the adversarial search leave alone.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "then",
        "so",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "from",
        "by",
        "with",
        "about",
        "as",
        "into",
        "than",
        "too",
        "very",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "am",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "can",
        "could",
        "will",
        "would",
        "shall",
        "should",
        "may",
        "might",
        "must",
        "not",
        "no",
        "nor",
        "i",
        "me",
        "my",
        "we",
        "our",
        "you",
        "your",
        "he",
        "him",
        "his",
        "she",
        "her",
        "it",
        "its",
        "they",
        "them",
        "their",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "what",
        "which",
        "who",
        "whom",
        "when",
        "where",
        "why",
        "how",
        "all",
        "any",
        "both",
        "each",
        "more",
        "most",
        "other",
        "some",
        "such",
        "only",
        "own",
        "same",
        "just",
        "also",
        "well",
        "even",
        "still",
        "get",
        "got",
        "one",
    ]
)

_WORD = re.compile(r"[A-Za-z][A-Za-z']*")
_WORD_SPLIT = re.compile(r"([A-Za-z][A-Za-z']*)")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_PUNCT = re.compile(r"[.,;:!?\"()\-]")
_SENT_END = re.compile(r"([.!?])(\s|$)")
_ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060")


def word_spans(text: str) -> list[tuple[int, int]]:
    """Start and end of each word (letters and apostrophes) in ``text``."""
    return [m.span() for m in _WORD.finditer(text)]


def _n_touch(n: int, severity: float) -> int:
    return 0 if n == 0 else max(1, min(n, round(n * severity)))


def _edit_words(
    text: str,
    rng: random.Random,
    severity: float,
    edit: Callable[[str, random.Random], str | None],
    *,
    min_len: int = 1,
    eligible: Callable[[str], bool] | None = None,
) -> str:
    """Apply ``edit`` to a ``severity`` share of the words, in random order; words ``edit`` cannot
    change (``None``) are skipped and the next is tried. ``eligible`` screens words out before
    the order is drawn (the share is still of all words of ``min_len`` letters).

    The order is a partial Fisher–Yates shuffle drawn one word at a time, so a text costs as many
    draws as words tried, not as many as it has words."""
    parts = _WORD_SPLIT.split(text)  # odd positions are the words
    if min_len > 1:
        cand = [i for i in range(1, len(parts), 2) if len(parts[i]) >= min_len]
    else:
        cand = list(range(1, len(parts), 2))
    k = _n_touch(len(cand), severity)
    if k == 0:
        return text
    if eligible is not None:
        cand = [i for i in cand if eligible(parts[i])]
    n = len(cand)
    below = rng.randrange
    done = 0
    for j in range(n):
        r = j + below(n - j)
        cand[j], cand[r] = cand[r], cand[j]
        i = cand[j]
        w = parts[i]
        new = edit(w, rng)
        if new is not None and new != w:
            parts[i] = new
            done += 1
            if done == k:
                break
    return "".join(parts) if done else text


def _match_case(new: str, old: str) -> str:
    if old.isupper() and len(old) > 1:
        return new.upper()
    if old[:1].isupper():
        return new[:1].upper() + new[1:]
    return new


# --------------------------------------------------------------------------- character noise


@register_perturbation("typos", kind="text", default_severity=0.1)
def typos(text: str, rng: random.Random, severity: float, env: PerturbEnv) -> str:
    """Keyboard typos: one letter of a word replaced by a neighbouring key."""
    keyboard = env.lists.keyboard

    def edit(w: str, r: random.Random) -> str | None:
        idx = [i for i, c in enumerate(w) if c.lower() in keyboard]
        if not idx:
            return None
        i = idx[r.randrange(len(idx))]
        c = w[i]
        near = keyboard[c.lower()]
        n = near[r.randrange(len(near))]
        return w[:i] + (n.upper() if c.isupper() else n) + w[i + 1 :]

    return _edit_words(text, rng, severity, edit, min_len=2)


@register_perturbation("misspellings", kind="text", default_severity=0.2)
def misspellings(text: str, rng: random.Random, severity: float, env: PerturbEnv) -> str:
    """Real misspellings people make (Debian's codespell dictionary, read backwards)."""
    table = load_misspellings()

    def edit(w: str, r: random.Random) -> str | None:
        options = table.get(w.lower())
        return _match_case(options[r.randrange(len(options))], w) if options else None

    return _edit_words(text, rng, severity, edit, min_len=3)


@register_perturbation("char_swap", kind="text", default_severity=0.1)
def char_swap(text: str, rng: random.Random, severity: float, env: PerturbEnv) -> str:
    """Two adjacent letters of a word swapped."""

    def edit(w: str, r: random.Random) -> str | None:
        if len(w) < 4:
            return None
        i = r.randrange(1, len(w) - 2)  # keep the first and last letter
        return w[:i] + w[i + 1] + w[i] + w[i + 2 :]

    return _edit_words(text, rng, severity, edit, min_len=4)


@register_perturbation("char_insert", kind="text", default_severity=0.1)
def char_insert(text: str, rng: random.Random, severity: float, env: PerturbEnv) -> str:
    """A random letter inserted into a word."""

    def edit(w: str, r: random.Random) -> str | None:
        i = r.randrange(1, len(w) + 1)
        return w[:i] + chr(r.randrange(97, 123)) + w[i:]

    return _edit_words(text, rng, severity, edit, min_len=2)


@register_perturbation("char_delete", kind="text", default_severity=0.1)
def char_delete(text: str, rng: random.Random, severity: float, env: PerturbEnv) -> str:
    """One letter of a word deleted."""

    def edit(w: str, r: random.Random) -> str | None:
        if len(w) < 3:
            return None
        i = r.randrange(1, len(w))
        return w[:i] + w[i + 1 :]

    return _edit_words(text, rng, severity, edit, min_len=3)


@register_perturbation("case", kind="text", default_severity=0.2)
def case(text: str, rng: random.Random, severity: float, env: PerturbEnv) -> str:
    """Words shouted in capitals, lowered or title-cased at random."""

    def edit(w: str, r: random.Random) -> str | None:
        for _ in range(3):
            new = (w.upper, w.lower, w.title)[r.randrange(3)]()
            if new != w:
                return new
        return None

    return _edit_words(text, rng, severity, edit)


@register_perturbation("uppercase", kind="text", default_severity=1.0)
def uppercase(text: str, rng: random.Random, severity: float, env: PerturbEnv) -> str:
    """The whole text in capitals (severity < 1: that share of the words)."""
    if severity >= 1:
        return text.upper()
    return _edit_words(text, rng, severity, lambda w, r: w.upper())


@register_perturbation("lowercase", kind="text", default_severity=1.0)
def lowercase(text: str, rng: random.Random, severity: float, env: PerturbEnv) -> str:
    """The whole text in lower case."""
    if severity >= 1:
        return text.lower()
    return _edit_words(text, rng, severity, lambda w, r: w.lower())


@register_perturbation("whitespace", kind="text", default_severity=0.2)
def whitespace(text: str, rng: random.Random, severity: float, env: PerturbEnv) -> str:
    """Extra spaces, tabs or line breaks between words."""
    gaps = [m.start() for m in re.finditer(r" ", text)]
    k = _n_touch(len(gaps), severity)
    if k == 0:
        return text + " "
    chosen = sorted(rng.sample(gaps, k))
    out, pos = [], 0
    for g in chosen:
        out.append(text[pos:g])
        out.append((" " * rng.randrange(2, 5), "\t", "\n", "  \n ")[rng.randrange(4)])
        pos = g + 1
    out.append(text[pos:])
    return "".join(out)


@register_perturbation("punctuation_remove", kind="text", default_severity=1.0)
def punctuation_remove(text: str, rng: random.Random, severity: float, env: PerturbEnv) -> str:
    """Punctuation marks removed (a ``severity`` share of them)."""
    marks = [m.start() for m in _PUNCT.finditer(text)]
    k = _n_touch(len(marks), severity)
    if k == 0:
        return text
    drop = set(rng.sample(marks, k))
    return "".join(c for i, c in enumerate(text) if i not in drop)


@register_perturbation("punctuation_add", kind="text", default_severity=0.1)
def punctuation_add(text: str, rng: random.Random, severity: float, env: PerturbEnv) -> str:
    """Stray punctuation after words (``,`` ``!`` ``...``)."""
    marks = (",", "!", "...", ";", "!!", "?")

    def edit(w: str, r: random.Random) -> str | None:
        return w + marks[r.randrange(len(marks))]

    return _edit_words(text, rng, severity, edit)


# --------------------------------------------------------------------------- words


def _phrase_swap(
    text: str, pairs: list[tuple[str, str]], rng: random.Random, severity: float
) -> str:
    hits: list[tuple[int, int, str]] = []
    taken: set[int] = set()
    lower = text.lower()
    for src, dst in pairs:
        for m in re.finditer(r"\b" + re.escape(src) + r"\b", lower):
            a, b = m.span()
            if any(i in taken for i in range(a, b)):
                continue
            taken.update(range(a, b))
            hits.append((a, b, _match_case(dst, text[a:b])))
    k = _n_touch(len(hits), severity)
    if k == 0:
        return text
    chosen = sorted(rng.sample(hits, k))
    out, pos = [], 0
    for a, b, new in chosen:
        out.append(text[pos:a])
        out.append(new)
        pos = b
    out.append(text[pos:])
    return "".join(out)


@register_perturbation("contract", kind="text", default_severity=1.0)
def contract(text: str, rng: random.Random, severity: float, env: PerturbEnv) -> str:
    """Expansions contracted (``do not`` → ``don't``)."""
    return _phrase_swap(text, env.lists.contractions, rng, severity)


@register_perturbation("expand", kind="text", default_severity=1.0)
def expand(text: str, rng: random.Random, severity: float, env: PerturbEnv) -> str:
    """Contractions expanded (``don't`` → ``do not``)."""
    pairs = [(b, a) for a, b in env.lists.contractions]
    first: dict[str, str] = {}
    for a, b in pairs:
        first.setdefault(a, b)  # can't → can not (the first listed expansion)
    unique = list(first.items())
    return _phrase_swap(text, unique, rng, severity)


@register_perturbation("fillers", kind="text", default_severity=0.1)
def fillers(text: str, rng: random.Random, severity: float, env: PerturbEnv) -> str:
    """Filler words inserted between words (``um``, ``like``, ``you know``)."""
    words = env.lists.get("fillers")

    def edit(w: str, r: random.Random) -> str | None:
        return f"{w} {words[r.randrange(len(words))]}" if words else None

    return _edit_words(text, rng, severity, edit)


@register_perturbation("synonyms", kind="text", default_severity=0.2)
def synonyms(text: str, rng: random.Random, severity: float, env: PerturbEnv) -> str:
    """Words replaced by a WordNet synonym (Debian's wordnet-base)."""
    table = load_synonyms()
    memo = _SYNONYM_MEMO.setdefault(id(table), {})

    def options(w: str) -> tuple[str, ...]:
        got = memo.get(w)
        if got is None:
            low = w.lower()
            # Capitalised words are likely names; function words have no synonyms worth the name.
            if (w[:1].isupper() and not w.isupper()) or low in STOPWORDS:
                got = ()
            else:
                got = table.get(low, ())[:4]  # first senses: the likeliest meanings
            memo[w] = got
        return got

    def edit(w: str, r: random.Random) -> str | None:
        top = options(w)
        return _match_case(top[r.randrange(len(top))], w) if top else None

    return _edit_words(text, rng, severity, edit, min_len=3)


#: word as written → its candidate synonyms, per synonym table (the lookups repeat across texts).
_SYNONYM_MEMO: dict[int, dict[str, tuple[str, ...]]] = {}


@register_perturbation("numbers", kind="text", default_severity=0.5)
def numbers(text: str, rng: random.Random, severity: float, env: PerturbEnv) -> str:
    """Numbers changed by up to ``severity`` of their value (at least by one)."""
    spans = [m.span() for m in _NUMBER.finditer(text)]
    k = _n_touch(len(spans), severity)
    if k == 0:
        return text
    chosen = sorted(rng.sample(spans, k))
    out, pos = [], 0
    for a, b in chosen:
        s = text[a:b]
        v = float(s)
        delta = max(1.0, abs(v) * severity) * (1 if rng.random() < 0.5 else -1)
        new = v + delta * rng.uniform(0.5, 1.0)
        rep = (
            str(max(0, round(new))) if "." not in s else f"{max(0.0, new):.{len(s.split('.')[1])}f}"
        )
        if rep == s:
            rep = str(int(v) + 1) if "." not in s else rep + "1"
        out.append(text[pos:a])
        out.append(rep)
        pos = b
    out.append(text[pos:])
    return "".join(out)


def _swap_from(
    text: str, rng: random.Random, severity: float, pool: tuple[str, ...], known: frozenset[str]
) -> str:
    def edit(w: str, r: random.Random) -> str | None:
        if w not in known:
            return None
        others = [p for p in pool if p != w and " " not in p]
        return others[r.randrange(len(others))] if others else None

    return _edit_words(text, rng, severity, edit)


@register_perturbation("names", kind="text", default_severity=1.0)
def names(text: str, rng: random.Random, severity: float, env: PerturbEnv) -> str:
    """Person names swapped for other names (counterfactual names)."""
    return _swap_from(text, rng, severity, env.lists.get("names"), env.lists.names_set)


@register_perturbation("locations", kind="text", default_severity=1.0)
def locations(text: str, rng: random.Random, severity: float, env: PerturbEnv) -> str:
    """Place names swapped for other places."""
    return _swap_from(text, rng, severity, env.lists.get("locations"), env.lists.locations_set)


@register_perturbation("confusables", kind="text", default_severity=0.1)
def confusables(text: str, rng: random.Random, severity: float, env: PerturbEnv) -> str:
    """Latin letters replaced by look-alike Cyrillic or Greek characters (homoglyphs)."""
    table = env.lists.confusables

    def edit(w: str, r: random.Random) -> str | None:
        idx = [i for i, c in enumerate(w) if c in table]
        if not idx:
            return None
        i = idx[r.randrange(len(idx))]
        opts = table[w[i]]
        return w[:i] + opts[r.randrange(len(opts))] + w[i + 1 :]

    return _edit_words(text, rng, severity, edit)


@register_perturbation("zero_width", kind="text", default_severity=0.1)
def zero_width(text: str, rng: random.Random, severity: float, env: PerturbEnv) -> str:
    """Invisible zero-width characters inserted inside words."""

    def edit(w: str, r: random.Random) -> str | None:
        i = r.randrange(1, len(w))
        return w[:i] + _ZERO_WIDTH[r.randrange(len(_ZERO_WIDTH))] + w[i:]

    return _edit_words(text, rng, severity, edit, min_len=2)


@register_perturbation("truncate", kind="text", preserves_label=False, default_severity=0.3)
def truncate(text: str, rng: random.Random, severity: float, env: PerturbEnv) -> str:
    """The last ``severity`` share of the words cut off (may remove what decides the label)."""
    spans = word_spans(text)
    k = round(len(spans) * severity)
    if k == 0 or k >= len(spans):
        return text if k == 0 else text[: spans[0][1]]
    return text[: spans[len(spans) - k - 1][1]]


def _add_sentences(
    text: str, rng: random.Random, pool: tuple[str, ...], count: int, where: str
) -> str:
    if not pool:
        return text
    picked = [pool[rng.randrange(len(pool))] for _ in range(count)]
    sep = "" if not text or text.endswith(" ") else " "
    place = where if where in ("start", "end") else ("start", "end")[rng.randrange(2)]
    if place == "start":
        return " ".join(picked) + " " + text
    return text + sep + " ".join(picked)


@register_perturbation("distractor", kind="text", default_severity=0.2)
def distractor(
    text: str, rng: random.Random, severity: float, env: PerturbEnv, where: str = "either"
) -> str:
    """Neutral sentences prepended or appended: a change of context, not of meaning.
    ``severity`` × 5 sentences (at least one); option ``where``: ``start``, ``end``, ``either``."""
    return _add_sentences(
        text, rng, env.lists.get("distractors"), max(1, round(5 * severity)), where
    )


@register_perturbation("rephrase", kind="text", default_severity=1.0)
def rephrase(text: str, rng: random.Random, severity: float, env: PerturbEnv) -> str:
    """The input wrapped in another prompt template (``Here is the text: {text}``)."""
    templates = [t for t in env.lists.get("rephrase") if t.strip() != "{text}"]
    if not templates:
        return text
    return templates[rng.randrange(len(templates))].replace("\\n", "\n").format(text=text)


# --------------------------------------------------------------------------- directional


#: Verb → negated verb: the first match in a text is negated by ``negate``.
NEGATION_RULES = (
    ("is", "is not"),
    ("was", "was not"),
    ("are", "are not"),
    ("were", "were not"),
    ("has", "has not"),
    ("have", "have not"),
    ("can", "cannot"),
    ("will", "will not"),
    ("would", "would not"),
    ("should", "should not"),
    ("could", "could not"),
    ("does", "does not"),
    ("do", "do not"),
    ("did", "did not"),
)
_NEG_RE = re.compile(r"\b(" + "|".join(w for w, _ in NEGATION_RULES) + r")\b", re.IGNORECASE)
_NEG_MAP = dict(NEGATION_RULES)


@register_perturbation("negate", kind="text", preserves_label=False, default_severity=1.0)
def negate(text: str, rng: random.Random, severity: float, env: PerturbEnv) -> str:
    """The first auxiliary verb negated (``is`` → ``is not``, ``is not`` → ``is``); texts
    without one are unchanged. Not label-preserving: meant for directional tests."""
    m = _NEG_RE.search(text)
    if m is None:
        return text
    w = m.group(0)
    after = re.match(r"\s+not\b", text[m.end() :], re.IGNORECASE)
    if after:  # already negated: remove the negation instead
        return text[: m.end()] + text[m.end() + after.end() :]
    return text[: m.start()] + _match_case(_NEG_MAP[w.lower()], w) + text[m.end() :]


@register_perturbation("add_positive", kind="text", preserves_label=False, default_severity=0.2)
def add_positive(
    text: str, rng: random.Random, severity: float, env: PerturbEnv, where: str = "end"
) -> str:
    """A clearly positive sentence appended (directional tests: the positive class should rise)."""
    return _add_sentences(text, rng, env.lists.get("positive"), 1, where)


@register_perturbation("add_negative", kind="text", preserves_label=False, default_severity=0.2)
def add_negative(
    text: str, rng: random.Random, severity: float, env: PerturbEnv, where: str = "end"
) -> str:
    """A clearly negative sentence appended (directional tests: the positive class should fall)."""
    return _add_sentences(text, rng, env.lists.get("negative"), 1, where)
