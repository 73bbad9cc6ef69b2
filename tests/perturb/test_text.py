"""Text perturbations: determinism, the definition of each, word lists and bad input."""

from __future__ import annotations

import re

import pytest

from assay.errors import ConfigError
from assay.perturb import (
    PerturbEnv,
    get_perturbation,
    parse_recipe,
    perturb_inputs,
    perturbation_names,
)
from assay.perturb._wordlists import codespell_path, wordnet_dir

TEXTS = [
    "The movie is not great, but Mary in London liked it a lot.",
    "I don't think the plot works; the acting is superb though.",
    "A gorgeous, witty, seductive movie with 12 memorable scenes.",
    "",
    "ok",
]
IDS = [str(i) for i in range(len(TEXTS))]
ENV = PerturbEnv()
NEEDS = {"misspellings": codespell_path, "synonyms": wordnet_dir}


def _run(name: str, seed: int = 0, texts: list[str] = TEXTS) -> list[str]:
    return perturb_inputs(texts, parse_recipe(name), ids=IDS[: len(texts)], seed=seed, env=ENV)


@pytest.mark.parametrize("name", perturbation_names("text"))
def test_every_text_perturbation_is_deterministic_and_changes_something(name: str) -> None:
    if name in NEEDS and NEEDS[name]() is None:
        pytest.skip(f"{name}: the Debian word list is not installed")
    a, b = _run(name, seed=3), _run(name, seed=3)
    assert a == b
    assert all(isinstance(x, str) for x in a)
    assert a[:3] != TEXTS[:3] or name in ("names", "locations", "numbers", "contract")
    assert a[3] == "" or name in (
        "whitespace",
        "distractor",
        "rephrase",
        "add_positive",
        "add_negative",
    )


def test_seed_and_id_drive_the_randomness() -> None:
    many = ["the quick brown fox jumps over the lazy dog again and again"] * 20
    ids = [str(i) for i in range(20)]
    out = perturb_inputs(many, parse_recipe("typos:0.3"), ids=ids, seed=0, env=ENV)
    assert len(set(out)) > 10  # different ids, different typos
    other = perturb_inputs(many, parse_recipe("typos:0.3"), ids=ids, seed=1, env=ENV)
    assert out != other


@pytest.mark.parametrize("severity", [0.1, 0.3, 0.6, 1.0])
def test_typos_touch_the_stated_share_of_words_with_keyboard_neighbours(severity: float) -> None:
    text = "several cheerful players gathered quietly around the wooden table tonight"
    [out] = perturb_inputs([text], parse_recipe(f"typos:{severity}"), ids=["x"], env=ENV)
    words, new = text.split(), out.split()
    assert len(words) == len(new)
    changed = [(w, n) for w, n in zip(words, new) if w != n]
    assert len(changed) == max(1, round(len(words) * severity))
    kb = ENV.lists.keyboard
    for w, n in changed:
        diff = [(a, b) for a, b in zip(w, n) if a != b]
        assert len(diff) == 1 and diff[0][1] in kb[diff[0][0]]


def test_case_changes_only_case_and_uppercase_shouts() -> None:
    out = _run("case:0.5")
    assert [o.lower() for o in out] == [t.lower() for t in TEXTS]
    assert _run("uppercase")[0] == TEXTS[0].upper()


def test_contract_and_expand_are_inverse_on_the_listed_phrases() -> None:
    text = "I do not know why it is not working, and we are tired."
    [c] = perturb_inputs([text], parse_recipe("contract"), ids=["1"], env=ENV)
    assert c == "I don't know why it isn't working, and we're tired."
    [e] = perturb_inputs([c], parse_recipe("expand"), ids=["1"], env=ENV)
    assert e == text


def test_negate_adds_or_removes_one_negation() -> None:
    out = perturb_inputs(
        ["The film is good.", "It is not bad.", "Great fun."],
        parse_recipe("negate"),
        ids=["a", "b", "c"],
        env=ENV,
    )
    assert out == ["The film is not good.", "It is bad.", "Great fun."]
    assert not get_perturbation("negate").preserves_label


def test_distractor_keeps_the_text_and_adds_a_listed_sentence() -> None:
    out = _run("distractor:0.2")
    pool = ENV.lists.get("distractors")
    for t, o in zip(TEXTS, out):
        assert t in o
        extra = o.replace(t, "").strip()
        assert extra in pool


def test_confusables_and_zero_width_look_the_same() -> None:
    [c] = _run("confusables:0.5")[:1]
    assert c != TEXTS[0] and len(c) == len(TEXTS[0])
    [z] = _run("zero_width:0.5")[:1]
    assert re.sub("[\u200b\u200c\u200d\u2060]", "", z) == TEXTS[0]


def test_names_unchanged_without_names_and_swapped_with_them() -> None:
    out = perturb_inputs(
        ["no names here", "Mary met John"], parse_recipe("names"), ids=["1", "2"], env=ENV
    )
    assert out[0] == "no names here"
    assert out[1] != "Mary met John" and len(out[1].split()) == 3


@pytest.mark.skipif(codespell_path() is None, reason="Debian package codespell is not installed")
def test_misspellings_come_from_the_codespell_dictionary() -> None:
    path = codespell_path()
    assert path is not None
    wrong_to_right: dict[str, set[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        w, _, r = line.partition("->")
        wrong_to_right.setdefault(w, set()).update(x.strip() for x in r.split(","))
    text = "I believe we should receive their answer tomorrow"
    [out] = perturb_inputs([text], parse_recipe("misspellings:1.0"), ids=["1"], env=ENV)
    changed = [(a, b) for a, b in zip(text.split(), out.split()) if a != b]
    assert changed
    for right, wrong in changed:
        assert right.lower() in wrong_to_right[wrong.lower()]


@pytest.mark.skipif(wordnet_dir() is None, reason="Debian package wordnet-base is not installed")
def test_synonyms_share_a_wordnet_synset() -> None:
    [out] = perturb_inputs(["movie"], parse_recipe("synonyms:1.0"), ids=["1"], env=ENV)
    assert out in {"film", "picture", "pic", "flick", "moving"}
    # the same word, read straight from the data file: "movie" shares synset 06613686 with film
    d = wordnet_dir()
    assert d is not None
    line = next(
        x
        for x in (d / "data.noun").read_text(errors="replace").splitlines()
        if x.startswith("06613686 ")
    )
    assert "film" in line and "movie" in line


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown perturbation 'typoz'.*text: .*typos.*image: .*blur"
    ):
        parse_recipe("typoz")


@pytest.mark.parametrize("bad", ["typos:0", "typos:1.5", "typos:abc"])
def test_bad_severity_is_an_error(bad: str) -> None:
    with pytest.raises(ConfigError, match="severity"):
        parse_recipe(bad)


def test_a_recipe_cannot_mix_kinds() -> None:
    with pytest.raises(ConfigError, match="mixes input kinds"):
        parse_recipe("typos,blur")


def test_an_unknown_option_is_an_error() -> None:
    v = parse_recipe("typos")
    from assay.perturb import PerturbationSpec, Variant

    bad = Variant("t", "typos", (PerturbationSpec("typos", 0.1, {"colour": 1}),))
    with pytest.raises(ConfigError, match="unknown option"):
        perturb_inputs(["some words"], bad, ids=["1"], env=ENV)
    assert v.preserves_label


def test_word_lists_extend_from_a_suite(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "n.txt").write_text("# comment\nZelda\n", encoding="utf-8")
    lists = ENV.lists.with_overrides(
        {"names": "n.txt", "fillers": ["erm"]}, base_dir=tmp_path, where="w"
    )
    assert "Zelda" in lists.get("names") and "erm" in lists.get("fillers")
    with pytest.raises(ConfigError, match="unknown word list; known lists"):
        ENV.lists.with_overrides({"nams": []}, where="w")
