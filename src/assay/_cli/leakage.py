"""``assay leakage``: duplicates between a training and a test file, as a Report with gates."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from assay._cli._common import EXIT_GATE_FAILED, EXIT_OK, report_paths, user_errors


def leakage(
    train: Annotated[Path, typer.Option(help="Training rows (CSV, JSONL, Parquet).")],
    test: Annotated[Path, typer.Option(help="Test rows.")],
    input: Annotated[str, typer.Option(help="The text column compared.")] = "text",
    threshold: Annotated[float, typer.Option(help="Jaccard similarity for near duplicates.")] = 0.8,
    shingle: Annotated[int, typer.Option(help="Characters per shingle.")] = 5,
    examples: Annotated[
        int, typer.Option(help="Pairs to print per kind (the report keeps up to 20).")
    ] = 10,
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
    gates: Annotated[
        list[str] | None,
        typer.Option(
            "--gate",
            help="A gate on the result (repeatable), e.g. "
            "'leakage.contaminated.rate.upper <= 0.01'.",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Output folder for report.json and report.html.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print counts, pairs and gates as JSON.")
    ] = False,
) -> None:
    """Find test rows that are exact or near duplicates of training rows; exit 1 if a gate fails."""
    from assay._runner import check_leakage
    from assay.report._console import print_summary

    with user_errors():
        report = check_leakage(
            train,
            test,
            input=input,
            threshold=threshold,
            shingle=shingle,
            embedding=embedding,
            embedding_threshold=embedding_threshold,
            embedding_model=embedding_model,
            gates=gates or [],
            out=out,
            progress=not as_json,
        )
    code = EXIT_OK if report.passed else EXIT_GATE_FAILED
    r = report.results[0]
    dup: Mapping[str, Any] = r.tables["duplicates"]
    notes = [str(n) for n in r.tables.get("notes", [])]
    if as_json:
        gate_rows = [g.model_dump(mode="json") for g in report.gates]
        print(json.dumps({**dup, "notes": notes, "passed": report.passed, "gates": gate_rows}))
        raise typer.Exit(code)
    console = Console()
    n, k = dup["n_test"], dup["n_contaminated"]
    console.print(
        f"{n:,} test rows against {dup['n_train']:,} training rows: {dup['n_exact']} exact "
        f"duplicates, {dup['n_near']} near duplicates (Jaccard ≥ {dup['threshold']} on "
        f"{dup['shingle']}-character shingles)"
        + (
            f", {dup['n_embedding']} by embedding (cosine ≥ {dup['embedding_threshold']})"
            if "n_embedding" in dup
            else ""
        )
        + f"; {k} test rows ({k / max(n, 1):.2%}) contaminated",
        highlight=False,
    )
    for kind in ("exact", "near", "embedding"):
        for ex in [e for e in r.examples if e.get("kind") == kind][:examples]:
            t, s = ex["row"] + 1, ex["train_row"] + 1
            if kind == "exact":
                line = f"  exact  test row {t} = train row {s}: {ex['input'][:100]!r}"
            else:
                sim = f"{ex['similarity']:.2f}" if kind == "near" else f"{ex['similarity']:.3f}"
                line = (
                    f"  {kind} {sim} test row {t}: {ex['input'][:80]!r} ~ train row {s}: "
                    f"{ex['train_input'][:80]!r}"
                )
            console.print(line, highlight=False, markup=False)
    for note in notes:
        console.print(f"note: {note}", highlight=False, markup=False)
    print_summary(report, console=console, paths=report_paths(out))
    raise typer.Exit(code)
