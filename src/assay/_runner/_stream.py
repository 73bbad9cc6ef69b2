"""A classification suite scored chunk by chunk: memory that does not grow with the rows.

When every check can stream (:class:`~assay.checks._stream.StreamsChunks`), every model is a
file of predictions lined up with the data or a model asked through the engine, and the data
file is big (``engine.stream: auto``, at least
:data:`~assay._runner._stream_source.STREAM_MIN_ROWS` rows) or the suite says ``engine.stream:
true``, :func:`evaluate` hands the run to :func:`run_streamed` instead of loading the data: no
``Dataset`` frame, and Requests and Responses for one chunk at a time only. The data (and a
file of predictions) are read twice, a chunk at a time (:mod:`assay._runner._stream_source`);
a model answers each chunk through the engine (:mod:`assay._runner._stream_models`); each
chunk is reduced by every check's state; the states of the chunks are merged in chunk order and
the checks score the merged state.

On ``engine.backend: ray`` the chunks of Parquet files are read and reduced by Ray tasks (a few
chunks each) on the cluster's workers, and the driver merges their states in the same chunk
order: the Report is the same, number for number, as the local backend's.
"""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pandas as pd

from assay._runner._gates import evaluate_gates
from assay._runner._match import check_model_against_data
from assay._runner._models import LoadModel, SuiteModels
from assay._runner._stream_models import model_chunks
from assay._runner._stream_source import (
    STREAM_MIN_ROWS,
    CheckPassResult,
    ChunkTally,
    NotStreamable,
    StreamPlan,
    check_pass,
    encoded_chunks,
    estimate_rows,
    plan_stream,
    row_group_rows,
)
from assay._types import OTHER_LABEL, Model, ModelInfo
from assay._util._progress import ProgressDisplay
from assay._util._redact import redact_record
from assay._version import __version__
from assay.checks._base import Check, RunContext
from assay.checks._predictions import (
    MAX_UNSCORED_EXAMPLES,
    Unscored,
    failed_calls_flag,
    no_probabilities_flag,
    outside_labels_flag,
    renormalised_flag,
)
from assay.checks._stream import Chunk, StreamFacts, StreamsChunks
from assay.config._suite import Suite
from assay.data._dataset import Dataset
from assay.data._formats import resolve_source
from assay.engine import Engine
from assay.engine._ray import map_on_ray
from assay.errors import ConfigError, DataError, ModelError
from assay.models._convert import file_sha256
from assay.report._schema import ErrorSummary, Report

__all__ = ["run_streamed", "stream_plans"]

#: Chunks one Ray task reads and reduces, at the least (more when a Parquet row group, the
#: smallest piece of the file a reader can decode, holds more chunks).
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
    except (DataError, OSError, ValueError):  # pyarrow's ArrowInvalid is a ValueError
        return False


def _refusal(s: Suite, checks: Sequence[Check], *, in_memory: bool) -> str | None:
    if in_memory:
        return "the data is a table held in memory"
    if s.task not in ("auto", "classification"):
        return f"the task is {s.task} (streaming scores classification)"
    for check in checks:
        if not isinstance(check, StreamsChunks):
            return f"the {check.name} check needs every row at once"
        if check.config.dataset not in (None, s.primary_dataset):
            return f"the {check.name} check reads dataset {check.config.dataset!r}"
        why = check.stream_refusal(s)
        if why is not None:
            return f"{check.name}: {why}"
    return None


def _columns(check: Check, s: Suite) -> list[str]:
    assert isinstance(check, StreamsChunks)
    return check.stream_columns(s)


def run_streamed(
    s: Suite,
    plans: Sequence[StreamPlan],
    checks: Sequence[Check],
    *,
    objects: Mapping[str, Model],
    no_cache: bool,
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
    models, builders, infos = _models(s, passed, objects)
    for name, info in infos.items():
        if info.task != "classification":
            why = f"model {name!r} does {info.task} (streaming scores classification)"
            if s.engine.stream is True:
                raise ConfigError(f"engine.stream: true, but this suite cannot stream: {why}")
            return why
    ctx = RunContext(
        suite=s, datasets={}, models={}, model_infos=infos, progress=progress and s.engine.progress
    )
    results = []
    streamed: dict[str, Any] = {"chunk_rows": s.engine.chunk_rows, "models": {}}
    engine_stats: dict[str, Any] = {}
    cache_path = None if (no_cache or s.engine.cache is None) else s.resolve(s.engine.cache)
    asks = any(p.plan.preds is None for p in passed)
    with Engine(
        s.engine, cache_path=cache_path if asks else None, progress=False, builders=builders
    ) as engine:
        for check_pass_result in passed:
            plan = check_pass_result.plan
            mine = [c for c in checks if c.model == plan.model]
            facts = _facts(plan, check_pass_result)
            t1 = time.perf_counter()
            if plan.preds is None:
                chunks = model_chunks(
                    plan,
                    engine=engine,
                    models=models,
                    fingerprint=infos[plan.model].fingerprint,
                    input_spec=_input_spec(s),
                    stats=engine_stats,
                )
                states, tally = _reduce_model(ctx, mine, facts, plan, chunks)
            else:
                templates = [c.stream_state(ctx, facts) for c in mine]  # type: ignore[attr-defined]
                states, tally = _reduce(s, plan, templates, progress=ctx.progress)
            _finish_facts(facts, tally)
            _stop_on_failed_calls(plan.model, tally, share=s.engine.stop_when_failed)
            for check, state in zip(mine, states, strict=True):
                results.append(check.score_stream(ctx, state, facts))  # type: ignore[attr-defined]
            streamed["models"][plan.model] = {
                "rows": plan.n_rows,
                "chunks": plan.n_chunks,
                "reduce_s": round(time.perf_counter() - t1, 3),
            }
        if s.engine.backend == "ray" and asks:
            engine_stats["ray_actors"] = engine.ray_actors
    gates = evaluate_gates(s.gates, results, model=s.primary_model)
    first = passed[0]
    dataset_info = {
        "name": first.plan.dataset,
        "path": s.data[first.plan.dataset].path,
        "resolved_path": str(first.plan.data.path.resolve()),
        "fingerprint": first.plan.data.fingerprint(),
        "n_read": first.n_read,
        "n_valid": first.n_read - sum(first.dropped.values()),
        "dropped": dict(first.dropped),
        "dropped_examples": list(first.dropped_examples),
        "labels": list(first.plan.labels),
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
            **engine_stats,
            "backend": s.engine.backend,
            "streamed": streamed,
            "wall_s": round(time.perf_counter() - t0, 3),
        },
        results=results,
        gates=gates,
        notes=[
            f"streamed: the data was read in chunks of {s.engine.chunk_rows} rows and never "
            "held whole (engine.stream)"
        ],
    )


def _input_spec(s: Suite) -> str | list[str]:
    spec = s.data[s.primary_dataset].input
    assert spec is not None and not isinstance(spec, dict)
    return spec


def _models(
    s: Suite, passed: Sequence[CheckPassResult], objects: Mapping[str, Model]
) -> tuple[dict[str, Model], dict[str, LoadModel], dict[str, ModelInfo]]:
    """The models that answer through the engine (loaded as in memory), their Ray builders, and
    every model's info (a file of predictions is not loaded: its info is read off the file)."""
    provider = SuiteModels(s)
    models: dict[str, Model] = {}
    builders: dict[str, LoadModel] = {}
    infos: dict[str, ModelInfo] = {}
    for p in passed:
        name = p.plan.model
        if p.plan.preds is not None:
            infos[name] = _model_info(s, p.plan)
            continue
        m, builder = provider.suite_model(name, objects)
        if builder is not None:
            builders[name] = builder
        models[name] = m
        infos[name] = m.info()
        labels_only = Dataset(
            name=p.plan.dataset,
            spec=s.data[p.plan.dataset],
            frame=pd.DataFrame(),
            fingerprint="",
            labels=tuple(lab for lab in p.plan.labels if lab != OTHER_LABEL),
            n_read=p.n_read,
        )
        check_model_against_data(name, m, infos[name], labels_only, [])
    return models, builders, infos


def _reduce_model(
    ctx: RunContext,
    checks: Sequence[Check],
    facts: StreamFacts,
    plan: StreamPlan,
    chunks: Iterator[tuple[Chunk, ChunkTally]],
) -> tuple[list[Any], ChunkTally]:
    """The merged states of a model that answers through the engine. Whether it gives
    probabilities is read off its first chunk's answers (the states need to know)."""
    first = next(chunks, None)
    facts.has_proba = first is not None and first[0].proba is not None
    templates = [c.stream_state(ctx, facts) for c in checks]  # type: ignore[attr-defined]
    rest = chunks if first is None else itertools.chain([first], chunks)
    return _merge_in_order(
        plan, templates, ((_reduce_one(templates, c), t) for c, t in rest), progress=ctx.progress
    )


def _stop_on_failed_calls(model: str, tally: ChunkTally, *, share: float) -> None:
    """As the in-memory run: stop when at least ``share`` of the model's calls failed.

    Raises:
        ModelError: naming the model, how many calls failed and the most common cause.
    """
    if not tally.calls or not tally.failed or tally.failed < share * tally.calls:
        return
    cause, count = tally.causes.most_common(1)[0]
    every = tally.failed == tally.calls
    raise ModelError(
        f"models.{model}: {tally.failed} of {tally.calls} calls failed after retries"
        f"{', every one' if every else ''}; the most common cause ({count} calls): {cause}. Fix "
        "the model or its endpoint and run again (answers already given are cached)"
        + (
            ""
            if every
            else f"; to score what did answer, raise engine.stop_when_failed (now {share:g})"
        )
    )


def _model_info(s: Suite, plan: StreamPlan) -> ModelInfo:
    spec, options = s.model_spec(plan.model)
    return ModelInfo(
        name=plan.model,
        spec=spec,
        task="classification",
        fingerprint=file_sha256(plan.preds_source.path, extra=options),
        labels=plan.prob_labels or None,
        details={
            "adapter": "predictions",
            "file": plan.preds_source.path.name,
            "format": plan.preds_source.format,
            "rows": plan.n_rows,
            "id_column": plan.pred_id_col,
            "column": plan.pred_col,
            "probability_columns": list(plan.prob_cols),
            "streamed": True,
        },
    )


def _facts(plan: StreamPlan, passed: CheckPassResult) -> StreamFacts:
    """What the check pass learned, before any chunk is reduced."""
    unscored = Unscored()
    unscored.counts["rows_dropped"] = sum(passed.dropped.values())
    if passed.dropped_examples:
        unscored.examples["rows_dropped"] = [
            f"row {e['row']} of {plan.data.path.name} ({e['reason']})"
            for e in passed.dropped_examples[:MAX_UNSCORED_EXAMPLES]
        ]
    flags: list[str] = []
    if passed.outside:
        unscored.counts["outside_labels"] = passed.outside
        unscored.examples["outside_labels"] = list(passed.outside_examples)
        flags.append(outside_labels_flag(passed.outside))
    n_valid = passed.n_read - unscored.counts["rows_dropped"]
    return StreamFacts(
        dataset=plan.dataset,
        labels=list(plan.labels),
        n_read=passed.n_read,
        n=n_valid,
        unscored=unscored,
        errors=ErrorSummary(n_requests=n_valid),
        flags=flags,
        has_proba=bool(plan.prob_cols),
        chunk_rows=plan.chunk_rows,
        n_chunks=plan.n_chunks,
    )


def _finish_facts(facts: StreamFacts, tally: ChunkTally) -> None:
    """What the chunks counted: failed calls, answers without probabilities, renormalised
    probabilities (said and counted as the in-memory path says and counts them)."""
    facts.n = tally.n
    if tally.failed:
        facts.unscored.counts["calls_failed"] = tally.failed
        facts.unscored.examples["calls_failed"] = list(tally.failed_examples)
        facts.unscored.causes.update(dict(tally.causes.most_common()))
        facts.errors = ErrorSummary(
            n_requests=tally.calls,
            n_errors=tally.failed,
            treatment="exclude",
            examples=list(tally.error_examples),
        )
        facts.flags.append(failed_calls_flag(tally.failed, tally.calls, "exclude"))
    if tally.no_probabilities:
        facts.has_proba = False
    # Counted (and said) when some answers had probabilities and others not; a model that gives
    # none has no probability metrics, and nothing is missing from its answers.
    if 0 < tally.no_probabilities < tally.n:
        facts.unscored.counts["no_probabilities"] = tally.no_probabilities
        facts.unscored.examples["no_probabilities"] = list(tally.no_probabilities_examples)
        facts.flags.append(
            no_probabilities_flag(
                tally.no_probabilities, tally.n, tally.no_probabilities_examples[0]
            )
        )
    if tally.renormalised:
        facts.unscored.renormalised = tally.renormalised
        facts.flags.append(
            renormalised_flag(tally.renormalised, tally.renormalised_min, tally.renormalised_max)
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
    """The merged states of every chunk of a file of predictions, and the merged tally, in
    chunk order on both backends (on Ray, Parquet chunks are read and reduced by tasks)."""
    ray_ready = plan.data.format == "parquet" and plan.preds_source.format == "parquet"
    if s.engine.backend == "ray" and ray_ready:
        per_task = max(_CHUNKS_PER_TASK, row_group_rows(plan) // plan.chunk_rows)
        ranges = [(a, min(a + per_task, plan.n_chunks)) for a in range(0, plan.n_chunks, per_task)]
        per_chunk = _flatten(
            map_on_ray(s.engine.ray, _ray_task, ranges, shared=(plan, list(templates)))
        )
    else:
        per_chunk = ((_reduce_one(templates, chunk), t) for chunk, t in encoded_chunks(plan))
    return _merge_in_order(plan, templates, per_chunk, progress=progress)


def _merge_in_order(
    plan: StreamPlan,
    templates: Sequence[Any],
    per_chunk: Iterator[tuple[list[Any], ChunkTally]],
    *,
    progress: bool,
) -> tuple[list[Any], ChunkTally]:
    totals = [copy.deepcopy(t) for t in templates]
    tally = ChunkTally()
    with ProgressDisplay(
        enabled=progress, total=plan.n_rows, description=f"streaming {plan.model}"
    ) as bar:
        for states, t in per_chunk:
            for total, state in zip(totals, states, strict=True):
                total.merge(state)
            tally.merge(t)
            bar.advance(plan.chunk_rows)
    return totals, tally


def _flatten(
    batches: Iterator[list[tuple[list[Any], ChunkTally]]],
) -> Iterator[tuple[list[Any], ChunkTally]]:
    for batch in batches:
        yield from batch
