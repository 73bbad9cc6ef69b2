"""Counterfactual word swaps, word lists and the sentiment lexicon."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.errors import ConfigError
from assay.fairness import Swapper, WordList, builtin_wordlists, lexicon_score, load_wordlist
from assay.fairness._swaps import BUILTIN_SWAPS, resolve_wordlists, swap_payload


@pytest.fixture(scope="module")
def lists() -> dict[str, WordList]:
    return builtin_wordlists()


def test_builtin_lists_load_with_aligned_groups(lists: dict[str, WordList]) -> None:
    assert tuple(lists) == BUILTIN_SWAPS
    for wl in lists.values():
        assert len({len(ws) for ws in wl.groups.values()}) == 1
        assert len(wl.mapping()) >= 20


def test_gender_swap_goes_both_ways_keeps_case_and_is_an_involution(
    lists: dict[str, WordList],
) -> None:
    s = Swapper(lists["gender"])
    text = "He said SHE lost his keys; her brother saw her. It is his."
    swapped, n = s.swap(text)
    assert swapped == "She said HE lost her keys; his sister saw him. It is hers."
    assert n == 7
    assert s.swap(swapped)[0] == text


def test_whole_words_only(lists: dict[str, WordList]) -> None:
    s = Swapper(lists["gender"])
    assert s.swap("The theme: hemlock, shell, manhole, history.") == (
        "The theme: hemlock, shell, manhole, history.",
        0,
    )
    assert s.swap("the man's hat")[0] == "the woman's hat"


def test_names_are_case_sensitive(lists: dict[str, WordList]) -> None:
    s = Swapper(lists["names"])
    # position i of one group swaps with position i of the other
    assert s.swap("John met Mary. JOHN.") == ("Patricia met James. JOHN.", 2)
    custom = Swapper(WordList("n", {"m": ["Frank"], "f": ["Ruth"]}, case_sensitive=True))
    assert custom.swap("a frank talk with Frank") == ("a frank talk with Ruth", 1)


def test_nothing_to_swap_counts_zero(lists: dict[str, WordList]) -> None:
    assert Swapper(lists["religion"]).swap("A film about trains.") == ("A film about trains.", 0)


def test_multi_group_lists_rotate(lists: dict[str, WordList]) -> None:
    wl = WordList("x", {"a": ["one"], "b": ["two"], "c": ["three"]})
    assert Swapper(wl).swap("one two three") == ("two three one", 3)


def test_payload_swaps_text_or_one_field(lists: dict[str, WordList]) -> None:
    s = Swapper(lists["gender"])
    assert swap_payload("he", s, None) == ("she", 1)
    assert swap_payload({"bio": "he", "age": 3}, s, "bio") == ({"bio": "she", "age": 3}, 1)
    assert swap_payload({"bio": "he"}, s, None) == ({"bio": "he"}, 0)


def test_suite_word_lists_extend_and_add(tmp_path: Path) -> None:
    (tmp_path / "extra.yaml").write_text("groups: {male: [lad], female: [lass]}\n")
    (tmp_path / "pets.yaml").write_text("groups: {a: [cat], b: [dog]}\n")
    lists = resolve_wordlists(
        None,
        {"gender": "extra.yaml", "pets": "pets.yaml"},
        tmp_path,
        "checks.fairness.counterfactual",
    )
    assert list(lists)[-1] == "pets"
    assert Swapper(lists["gender"]).swap("lad")[0] == "lass"
    with pytest.raises(ConfigError, match="unknown swap type.*'colours'.*wordlists"):
        resolve_wordlists(["colours"], {}, tmp_path, "checks.fairness.counterfactual")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("groups: {a: [x, y], b: [z]}", "same number of words.*a: 2, b: 1"),
        ("groups: {a: [x]}", "at least two"),
        ("groups: {a: [x], b: [y]}\ncolour: red", "unknown keys"),
        ("groups: [", "not valid YAML"),
    ],
)
def test_bad_word_lists_are_named(tmp_path: Path, text: str, match: str) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=match) as e:
        load_wordlist(p)
    assert str(p) in str(e.value)


def test_lexicon_score() -> None:
    assert lexicon_score("a great film") == pytest.approx(0.6)
    assert lexicon_score("not a great film") == pytest.approx(-0.6)
    assert lexicon_score("it isn't good, terrible") == pytest.approx(-0.8)
    assert lexicon_score("a film") == 0.0
    assert lexicon_score("wonderful and awful") == pytest.approx(0.0)
