"""``check_leakage``: test rows that duplicate training rows, as a Report (``assay leakage``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from assay._runner._evaluate import clear_report_files
from assay._runner._single import (
    DEFAULT_LEVEL,
    Clock,
    single_result_report,
    validate_command_gates,
)
from assay.checks._leakage import (
    DUPLICATE_GATE_PATTERNS,
    EMBEDDING_GATE_PATTERNS,
    duplicate_findings,
    embedding_near_duplicates,
)
from assay.config._suite import DatasetSpec
from assay.data import Dataset, load_dataset
from assay.errors import ConfigError, DataError
from assay.leakage import find_duplicates
from assay.report._schema import CheckResult, Report

__all__ = ["check_leakage"]


def check_leakage(
    train: str | Path,
    test: str | Path,
    *,
    input: str = "text",
    threshold: float = 0.8,
    shingle: int = 5,
    embedding: bool = False,
    embedding_threshold: float = 0.9,
    embedding_model: str | Path | None = None,
    gates: Sequence[str] = (),
    out: str | Path | None = None,
    progress: bool = False,
) -> Report:
    """Find test rows that are exact or near duplicates of training rows; return a Report.

    The Report holds one ``leakage`` result shaped as the suite's leakage check writes it
    (without a model, so without the metrics recomputed on clean rows): ``exact.rate``,
    ``near.rate`` and ``contaminated.rate`` with Wilson intervals, ``exact.count``,
    ``near.count`` (and ``embedding.*``), the ``duplicates`` table and examples. Gates read
    ``leakage.<metric>[.lower|.upper|.value] <op> <number>``.

    Args:
        train: the training rows (CSV, JSONL, Parquet).
        test: the test rows.
        input: the text column compared.
        threshold: shingle Jaccard similarity from which rows are near duplicates.
        shingle: characters per shingle.
        embedding: also compare MiniLM sentence embeddings (needs sentence-transformers; without
            it the Report notes why they were skipped).
        embedding_threshold: cosine similarity from which rows are near duplicates by meaning.
        embedding_model: a sentence-transformers folder (default: MiniLM).
        gates: gates on the result, e.g. ``"leakage.contaminated.rate.upper <= 0.01"``.
        out: a folder to write ``report.json`` and ``report.html`` into.
        progress: show progress bars while embedding.

    Returns:
        The Report; ``report.passed`` says whether every gate passed.

    Raises:
        ConfigError: a gate naming a metric this cannot produce (the message lists the valid
            paths), or a threshold out of range.
        DataError: a file cannot be read or has no column ``input``.

    Example:
        >>> r = check_leakage("train.csv", "test.csv", input="review",
        ...                   gates=["leakage.contaminated.rate.upper <= 0.01"])  # doctest: +SKIP
        >>> r.passed, r.result("leakage").metrics["contaminated.rate"]  # doctest: +SKIP
    """
    clock = Clock()
    if out is not None:
        clear_report_files(out)  # a failed run leaves no earlier pass behind
    patterns = [*DUPLICATE_GATE_PATTERNS, *(EMBEDDING_GATE_PATTERNS if embedding else ())]
    validate_command_gates(gates, "leakage", patterns, command="assay leakage")
    for name, value in (("threshold", threshold), ("embedding_threshold", embedding_threshold)):
        if not 0 < value <= 1:
            raise ConfigError(f"{name} must be in (0, 1]; got {value!r}")
    if shingle < 1:
        raise ConfigError(f"shingle must be at least 1; got {shingle!r}")
    train_ds = _load(Path(train), "train", input)
    test_ds = _load(Path(test), "test", input)
    tr = train_ds.frame[input].astype(str).tolist()
    te = test_ds.frame[input].astype(str).tolist()
    dup = find_duplicates(tr, te, threshold=threshold, shingle=shingle)
    notes = [
        f"{ds.spec.path}: {sum(ds.dropped.values())} rows left out "
        f"({', '.join(f'{k}: {v}' for k, v in ds.dropped.items())}); row positions count the "
        "rows kept"
        for ds in (train_ds, test_ds)
        if ds.dropped
    ]
    emb = None
    if embedding:
        emb, why = embedding_near_duplicates(
            tr,
            te,
            dup,
            threshold=embedding_threshold,
            model=str(Path(embedding_model).resolve()) if embedding_model else None,
            option="embedding_model (--embedding-model)",
            cache_dir=Path(train).resolve().parent / ".assay" / "embeddings",
            progress=progress,
        )
        if why:
            notes.append(why)
    found = duplicate_findings(
        dup,
        emb,
        train_texts=tr,
        test_texts=te,
        train_ids=train_ds.ids,
        test_ids=test_ds.ids,
        level=DEFAULT_LEVEL,
        embedding_threshold=embedding_threshold,
    )
    result = CheckResult(
        check="leakage",
        model=f"{Path(train).name} vs {Path(test).name}",
        dataset=test_ds.name,
        n=len(te),
        metrics=found.metrics,
        tables={"train_dataset": train_ds.name, "notes": notes, "duplicates": found.table},
        flags=found.flags,
        examples=found.examples,
    )
    options = {
        "train": str(Path(train).resolve()),
        "test": str(Path(test).resolve()),
        "input": input,
        "threshold": threshold,
        "shingle": shingle,
        "embedding": embedding,
        "embedding_threshold": embedding_threshold,
        "embedding_model": str(embedding_model) if embedding_model else None,
    }
    return single_result_report(
        result,
        name=f"leakage {Path(train).name} vs {Path(test).name}",
        call={"command": "assay leakage", "options": options},
        gates=gates,
        clock=clock,
        datasets=[train_ds.info(), test_ds.info()],
        out=out,
    )


def _load(path: Path, name: str, column: str) -> Dataset:
    """The rows of ``path`` with ``column`` as their input; rows without a text are dropped (and
    counted in the dataset's ``dropped``); a missing column is named with the columns present and
    the option to pass."""
    head = load_dataset(DatasetSpec(path=str(path.resolve()), limit=1), name=name)
    if column not in head.frame.columns:
        raise DataError(
            f"{path}: no column {column!r}; columns: "
            f"{', '.join(map(str, head.frame.columns))}; pass input=COLUMN (--input COLUMN)"
        )
    spec = DatasetSpec(path=str(path.resolve()), input=column, on_invalid="skip")
    return load_dataset(spec, name=name)
