"""``assay leakage``: duplicates between a training and a test file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from assay._cli._common import EXIT_OK, user_errors


def leakage(
    train: Annotated[Path, typer.Option(help="Training rows (CSV, JSONL, Parquet).")],
    test: Annotated[Path, typer.Option(help="Test rows.")],
    input: Annotated[str, typer.Option(help="The text column compared.")] = "text",
    threshold: Annotated[float, typer.Option(help="Jaccard similarity for near duplicates.")] = 0.8,
    shingle: Annotated[int, typer.Option(help="Characters per shingle.")] = 5,
    examples: Annotated[int, typer.Option(help="Pairs to print.")] = 10,
    embedding: Annotated[
        bool,
        typer.Option(
            "--embedding", help="Also compare MiniLM sentence embeddings (sentence-transformers)."
        ),
    ] = False,
    embedding_threshold: Annotated[
        float, typer.Option(help="Cosine similarity for embedding near duplicates.")
    ] = 0.9,
    embedding_model: Annotated[
        Path | None, typer.Option(help="A sentence-transformers folder (default: MiniLM).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print counts and pairs as JSON.")
    ] = False,
) -> None:
    """Find test rows that are exact or near duplicates of training rows."""
    from assay.config._suite import DatasetSpec
    from assay.data import load_dataset
    from assay.errors import DataError
    from assay.leakage import find_duplicates

    console = Console()
    with user_errors():
        texts = {}
        for name, path in (("train", train), ("test", test)):
            ds = load_dataset(DatasetSpec(path=str(path.resolve())), name=name)
            if input not in ds.frame.columns:
                raise DataError(
                    f"{path}: no column {input!r}; columns: "
                    f"{', '.join(map(str, ds.frame.columns))}; pass --input COLUMN"
                )
            texts[name] = ds.frame[input].astype(str).tolist()
        rep = find_duplicates(texts["train"], texts["test"], threshold=threshold, shingle=shingle)
        emb: list[tuple[int, int, float]] | None = None
        note = ""
        if embedding:
            emb, note = _by_embedding(
                texts,
                rep,
                embedding_threshold,
                train.resolve().parent,
                embedding_model,
                progress=not as_json,
            )
    n = rep.n_test
    contaminated = set(rep.contaminated.tolist()) | {t for t, _, _ in emb or []}
    if as_json:
        print(
            json.dumps(
                {
                    **rep.to_dict(),
                    "exact": rep.exact,
                    "near": [[t, s, round(j, 4)] for t, s, j in rep.near],
                    **(
                        {"embedding": [[t, s, round(c, 4)] for t, s, c in emb]}
                        if emb is not None
                        else {}
                    ),
                    "n_contaminated": len(contaminated),
                    "notes": [note] if note else [],
                }
            )
        )
        raise typer.Exit(EXIT_OK)
    console.print(
        f"{n:,} test rows against {rep.n_train:,} training rows: {len(rep.exact)} exact "
        f"duplicates, {len(rep.near)} near duplicates (Jaccard ≥ {threshold} on "
        f"{shingle}-character shingles)"
        + (f", {len(emb)} by embedding (cosine ≥ {embedding_threshold})" if emb is not None else "")
        + f"; {len(contaminated)} test rows ({len(contaminated) / max(n, 1):.2%}) contaminated",
        highlight=False,
    )
    for t, s in rep.exact[:examples]:
        console.print(
            f"  exact  test row {t + 1} = train row {s + 1}: {texts['test'][t][:100]!r}",
            highlight=False,
            markup=False,
        )
    for t, s, j in rep.near[:examples]:
        console.print(
            f"  near {j:.2f} test row {t + 1}: {texts['test'][t][:80]!r} ~ train row "
            f"{s + 1}: {texts['train'][s][:80]!r}",
            highlight=False,
            markup=False,
        )
    for t, s, c in (emb or [])[:examples]:
        console.print(
            f"  embedding {c:.3f} test row {t + 1}: {texts['test'][t][:80]!r} ~ train row "
            f"{s + 1}: {texts['train'][s][:80]!r}",
            highlight=False,
            markup=False,
        )
    if note:
        console.print(f"note: {note}", highlight=False, markup=False)


def _by_embedding(
    texts: dict[str, list[str]],
    rep: Any,
    threshold: float,
    root: Path,
    model: Path | None,
    *,
    progress: bool,
) -> tuple[list[tuple[int, int, float]] | None, str]:
    """Embedding near duplicates (cached under ``root/.assay/embeddings``), or a note why not."""
    from assay._embeddings import embed_texts, embedding_model_folder
    from assay.leakage import embedding_duplicates

    folder, why = embedding_model_folder(
        str(model.resolve()) if model else None,
        what="embedding near duplicates",
        option="--embedding-model",
    )
    if folder is None:
        return None, why
    cache = root / ".assay" / "embeddings"
    skip = {t for t, _ in rep.exact} | {t for t, _, _ in rep.near}
    return (
        embedding_duplicates(
            embed_texts(texts["train"], folder=folder, cache_dir=cache, progress=progress),
            embed_texts(texts["test"], folder=folder, cache_dir=cache, progress=progress),
            threshold=threshold,
            skip=skip,
        ),
        "",
    )
