"""A ``predictions:`` suite scored chunk by chunk: memory that does not grow with the rows.

When every model of a suite is a file of predictions, every check can stream
(:class:`~assay.checks._stream.StreamsChunks`), and the data file is big (``engine.stream:
auto``, at least :data:`~assay._runner._stream_source.STREAM_MIN_ROWS` rows) or the suite says
``engine.stream: true``, :func:`evaluate` hands the run to :func:`run_streamed` instead of
loading the data and asking the engine: no ``Dataset`` frame, no Request, Response or Output
per row. Each model's data and predictions are read twice, a chunk at a time
(:mod:`assay._runner._stream_source`); each chunk is reduced by every check's state; the states
of the chunks are merged in chunk order and the checks score the merged state.

On ``engine.backend: ray`` the chunks of Parquet files are read and reduced by Ray tasks (a few
chunks each) on the cluster's workers, and the driver merges their states in the same chunk
order: the Report is the same, number for number, as the local backend's.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from assay._runner._gates import evaluate_gates
from assay._runner._stream_source import (
    STREAM_MIN_ROWS,
    ChunkTally,
    NotStreamable,
    StreamPlan,
    check_pass,
    encoded_chunks,
    estimate_rows,
    plan_stream,
)
from assay._types import ModelInfo
from assay._util._progress import ProgressDisplay
from assay._util._redact import redact_record
from assay._version import __version__
from assay.checks._base import Check, RunContext
from assay.checks._predictions import Unscored
from assay.checks._stream import Chunk, StreamFacts, StreamsChunks
from assay.config._suite import Suite
from assay.data._formats import resolve_source
from assay.engine._ray import map_on_ray
from assay.errors import ConfigError, DataError
from assay.models._convert import file_sha256
from assay.report._schema import ErrorSummary, Report

__all__ = ["run_streamed", "stream_plans"]

#: Chunks one Ray task reads and reduces.
_CHUNKS_PER_TASK = 4


def stream_plans(
    s: Suite, checks: Sequence[Check], *, in_memory: bool
) -> tuple[list[StreamPlan], str | None]:
    """The plans to stream the suite (one per model), or ``([], why not)``; ``why`` is ``None``
    when streaming was not considered (``engine.stream: false``, or auto and a small file).

    Raises:
        ConfigError: ``engine.stream: true`` and the suite cannot stream (names why).
    """
    mode = s.engine.stream
    if mode is False or (mode == "auto" and (in_memory or not _big(s))):
        return [], None
    reason = _refusal(s, checks, in_memory=in_memory)
    plans: list[StreamPlan] = []
    if reason is None:
        for name in s.models:
            columns = [c for ch in checks if ch.model == name for c in _columns(ch, s)]
            plan = plan_stream(s, model=name, columns=columns, chunk_rows=s.engine.chunk_rows)
            if isinstance(plan, str):
                reason = plan
                break
            plans.append(plan)
    if reason is not None:
        if mode is True:
            raise ConfigError(f"engine.stream: true, but this suite cannot stream: {reason}")
        return [], reason
    return plans, None


def _big(s: Suite) -> bool:
    """Whether the primary data file has at least :data:`STREAM_MIN_ROWS` rows (a file that
    cannot be read is left to the in-memory path, which says what is wrong with it)."""
    spec = s.data[s.primary_dataset]
    try:
        source = resolve_source(spec.path, format=spec.format, base_dir=s.base_dir)
        return source.format != "hf" and estimate_rows(source) >= STREAM_MIN_ROWS
    except (DataError, OSError):
        return False


def _refusal(s: Suite, checks: Sequence[Check], *, in_memory: bool) -> str | None:
    if in_memory:
        return "the data or a model is held in memory"
    if s.task not in ("auto", "classification"):
        return f"the task is {s.task} (streaming scores classification)"
    for check in checks:
        if not isinstance(check, StreamsChunks):
            return f"the {check.name} check needs every row at once"
        if check.config.dataset not in (None, s.primary_dataset):
            return f"the {check.name} check reads dataset {check.config.dataset!r}"
        why = check.stream_refusal(_SuiteOnly(s))
        if why is not None:
            return f"{check.name}: {why}"
    return None


@dataclass
class _SuiteOnly:
    """What a check may look at before anything is read: the suite."""

    suite: Suite


def _columns(check: Check, s: Suite) -> list[str]:
    assert isinstance(check, StreamsChunks)
    return check.stream_columns(_SuiteOnly(s))


def run_streamed(
    s: Suite,
    plans: Sequence[StreamPlan],
    checks: Sequence[Check],
    *,
    progress: bool,
    started: float,
    created: str,
    environment: dict[str, Any],
) -> Report | str:
    """The Report of the suite, streamed; or why the files cannot stream (the caller then runs
    the suite in memory). See the module docstring."""
    t0 = time.perf_counter()
    passed = []
    try:
        for plan in plans:
            passed.append(check_pass(plan))
    except NotStreamable as exc:
        if s.engine.stream is True:
            raise ConfigError(f"engine.stream: true, but the files cannot stream: {exc}") from None
        return str(exc)
    infos = {p.plan.model: _model_info(s, p.plan) for p in passed}
    ctx = RunContext(
        suite=s, datasets={}, models={}, model_infos=infos, progress=progress and s.engine.progress
    )
    results = []
    streamed: dict[str, Any] = {"chunk_rows": s.engine.chunk_rows, "models": {}}
    for check_pass_result in passed:
        plan = check_pass_result.plan
        mine = [c for c in checks if c.model == plan.model]
        facts = _facts(plan, check_pass_result)
        templates = [c.stream_state(ctx, facts) for c in mine]  # type: ignore[attr-defined]
        t1 = time.perf_counter()
        states, tally = _reduce(s, plan, templates, progress=ctx.progress)
        _finish_facts(facts, tally, plan)
        for check, state in zip(mine, states, strict=True):
            results.append(check.score_stream(ctx, state, facts))  # type: ignore[attr-defined]
        streamed["models"][plan.model] = {
            "rows": plan.n_rows,
            "chunks": plan.n_chunks,
            "reduce_s": round(time.perf_counter() - t1, 3),
        }
    gates = evaluate_gates(s.gates, results, model=s.primary_model)
    first = passed[0]
    dataset_info = {
        "name": first.plan.dataset,
        "path": s.data[first.plan.dataset].path,
        "resolved_path": str(first.plan.data.path.resolve()),
        "fingerprint": None,
        "n_read": first.n_read,
        "n_valid": first.n_read - sum(first.dropped.values()),
        "dropped": dict(first.dropped),
        "dropped_examples": list(first.dropped_examples),
        "labels": [lab for lab in first.plan.labels],
        "roles": s.data[first.plan.dataset].model_dump(
            exclude={"path", "format", "on_invalid", "limit", "labels", "outside_labels"}
        ),
        "streamed": True,
    }
    return Report(
        assay_version=__version__,
        suite_name=s.name,
        suite=redact_record(s.model_dump(mode="json")),
        created_at=created,
        duration_s=round(time.perf_counter() - started, 3),
        seed=s.seed,
        level=s.level,
        datasets=[dataset_info],
        models=[i.to_dict() for i in infos.values()],
        environment=environment,
        engine={
            "backend": s.engine.backend,
            "streamed": streamed,
            "wall_s": round(time.perf_counter() - t0, 3),
        },
        results=results,
        gates=gates,
        notes=[
            f"streamed: the data and predictions were read in chunks of {s.engine.chunk_rows} "
            "rows and never held whole (engine.stream)"
        ],
    )


def _model_info(s: Suite, plan: StreamPlan) -> ModelInfo:
    spec, options = s.model_spec(plan.model)
    return ModelInfo(
        name=plan.model,
        spec=spec,
        task="classification",
        fingerprint=file_sha256(plan.preds.path, extra=options),
        labels=plan.prob_labels or None,
        details={
            "adapter": "predictions",
            "file": plan.preds.path.name,
            "format": plan.preds.format,
            "rows": plan.n_rows,
            "id_column": plan.pred_id_col,
            "column": plan.pred_col,
            "probability_columns": list(plan.prob_cols),
            "streamed": True,
        },
    )


def _facts(plan: StreamPlan, passed: Any) -> StreamFacts:
    unscored = Unscored()
    unscored.counts["rows_dropped"] = sum(passed.dropped.values())
    if passed.dropped_examples:
        unscored.examples["rows_dropped"] = [
            f"row {e['row']} of {plan.data.path.name} ({e['reason']})"
            for e in passed.dropped_examples[:5]
        ]
    flags: list[str] = []
    if passed.outside:
        unscored.counts["outside_labels"] = passed.outside
        unscored.examples["outside_labels"] = list(passed.outside_examples)
        flags.append(
            f"{passed.outside} predictions were outside the labels; counted as wrong answers of "
            "the class (other) (outside_labels: other)"
        )
    return StreamFacts(
        dataset=plan.dataset,
        labels=list(plan.labels),
        n_read=passed.n_read,
        n=passed.n_read - unscored.counts["rows_dropped"],
        unscored=unscored,
        errors=ErrorSummary(n_requests=passed.n_read - unscored.counts["rows_dropped"]),
        flags=flags,
        has_proba=bool(plan.prob_cols),
        chunk_rows=plan.chunk_rows,
        n_chunks=plan.n_chunks,
    )


def _finish_facts(facts: StreamFacts, tally: ChunkTally, plan: StreamPlan) -> None:
    facts.n = tally.n
    if tally.no_probabilities:
        facts.has_proba = False
        facts.unscored.counts["no_probabilities"] = tally.no_probabilities
        facts.unscored.examples["no_probabilities"] = list(tally.no_probabilities_examples)
        facts.flags.append(
            f"{tally.no_probabilities} of {tally.n} answers had no probabilities (first: "
            f"{tally.no_probabilities_examples[0]}), so AUC, log loss, Brier and calibration are "
            "left out"
        )
    if tally.renormalised:
        facts.unscored.renormalised = tally.renormalised
        facts.flags.append(
            f"the probabilities of {tally.renormalised} answers summed to between "
            f"{tally.renormalised_min:.4g} and {tally.renormalised_max:.4g}, not exactly 1 "
            "(rounded values?), and were renormalised (tolerance 0.01)"
        )


# -- reducing ---------------------------------------------------------------------------------


def reduce_chunks(
    plan: StreamPlan, templates: Sequence[Any], first_chunk: int, stop_chunk: int | None
) -> list[tuple[list[Any], ChunkTally]]:
    """Each chunk of ``[first_chunk, stop_chunk)`` reduced by a fresh copy of every template:
    one (states, tally) per chunk (what a Ray task returns)."""
    out = []
    for chunk, tally in encoded_chunks(plan, first_chunk=first_chunk, stop_chunk=stop_chunk):
        out.append((_reduce_one(templates, chunk), tally))
    return out


def _reduce_one(templates: Sequence[Any], chunk: Chunk) -> list[Any]:
    states = [copy.deepcopy(t) for t in templates]
    for state in states:
        state.add(chunk)
    return states


def _ray_task(shared: tuple[StreamPlan, Sequence[Any]], first: int, stop: int) -> Any:
    plan, templates = shared
    return reduce_chunks(plan, templates, first, stop)


def _reduce(
    s: Suite, plan: StreamPlan, templates: Sequence[Any], *, progress: bool
) -> tuple[list[Any], ChunkTally]:
    """The merged states of every chunk, and the merged tally; chunk order on both backends."""
    totals = [copy.deepcopy(t) for t in templates]
    tally = ChunkTally()

    def merge(per_chunk: Iterator[tuple[list[Any], ChunkTally]]) -> None:
        with ProgressDisplay(
            enabled=progress, total=plan.n_rows, description=f"streaming {plan.model}"
        ) as bar:
            for states, t in per_chunk:
                for total, state in zip(totals, states, strict=True):
                    total.merge(state)
                tally.merge(t)
                bar.advance(plan.chunk_rows)

    ray_ready = plan.data.format == "parquet" and plan.preds.format == "parquet"
    if s.engine.backend == "ray" and ray_ready:
        ranges = [
            (a, min(a + _CHUNKS_PER_TASK, plan.n_chunks))
            for a in range(0, plan.n_chunks, _CHUNKS_PER_TASK)
        ]
        merge(_flatten(map_on_ray(s.engine.ray, _ray_task, ranges, shared=(plan, list(templates)))))
    else:
        merge((_reduce_one(templates, chunk), t) for chunk, t in encoded_chunks(plan))
    return totals, tally


def _flatten(
    batches: Iterator[list[tuple[list[Any], ChunkTally]]],
) -> Iterator[tuple[list[Any], ChunkTally]]:
    for batch in batches:
        yield from batch
