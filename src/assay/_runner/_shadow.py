"""``shadow``: replay logged production events through a candidate model (``assay shadow``).

The events file is the monitor's event format, one JSON object a line. Their ``inputs`` become a
dataset; the candidate is loaded and asked through the engine like any suite model (cached,
deduplicated, retried); its answers and latencies are set beside production's and compared with
:func:`assay.compare.shadow_compare`. The Report holds one ``shadow`` result, so gates such as
``shadow.agreement.lower >= 0.9`` decide; ``disagreements.jsonl`` lists the events where the two
models answered differently, with both answers and the inputs, for review.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr
from pydantic import ValidationError as PydanticValidationError

from assay._runner._evaluate import (
    clear_report_files,
    stop_on_failed_calls,
    write_report_files,
)
from assay._runner._inline import FRAME_PATH, model_entries
from assay._runner._models import SuiteModels
from assay._runner._single import Clock, single_result_report, validate_command_gates
from assay._runner._suite import suite_from_dict
from assay._types import Model, Output, Request, Response
from assay.checks._base import RunContext
from assay.compare import CompareOptions, ShadowComparison, shadow_compare
from assay.data import dataset_from_frame
from assay.engine import Engine
from assay.errors import ConfigError, DataError
from assay.report._schema import CheckResult, Report

__all__ = [
    "SHADOW_GATE_PATTERNS",
    "events_table",
    "read_events",
    "shadow",
    "shadow_report",
    "shadow_result",
]

#: The metric paths a shadow Report has (gates are checked against them).
SHADOW_GATE_PATTERNS = ["agreement", "candidate_failed", "*.diff", "latency.*.*"]
_SHOWN_DISAGREEMENTS = 10


class Event(BaseModel):
    """One logged production prediction (the monitor's event format)."""

    model_config = ConfigDict(extra="ignore")

    event_id: StrictStr = Field(min_length=1, max_length=200)
    timestamp: datetime
    model_version: StrictStr = "unknown"
    inputs: dict[str, Any] = Field(min_length=1)
    prediction: StrictStr | StrictInt | StrictFloat
    probabilities: dict[str, float] | None = None
    groups: dict[str, StrictStr] | None = None
    latency_ms: float | None = Field(default=None, ge=0)
    label: StrictStr | StrictInt | StrictFloat | None = None


def _validate(raw: Any, where: str) -> Event:
    if not isinstance(raw, Mapping):
        raise DataError(f"{where} is a JSON {type(raw).__name__}, not an event object")
    try:
        return Event.model_validate(raw)
    except PydanticValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(x) for x in err["loc"]) or "(event)"
        got = "" if err["type"] == "missing" else f" (got {err.get('input')!r:.80})"
        raise DataError(
            f"{where}, field {field}: {err['msg']}{got}. Fix the event: event_id (text), "
            "timestamp (ISO 8601), inputs (an object) and prediction (text or number) are "
            "required; see docs/shadow.md"
        ) from None


def read_events(events: str | Path | Sequence[Mapping[str, Any]]) -> list[Event]:
    """Validated events from a JSONL file, or from event objects (the monitor's stored events);
    a repeated ``event_id`` keeps its first occurrence, as the monitor's idempotent ingest does.

    Raises:
        DataError: a line that is not JSON or not a valid event, naming the file, the line
            (1-based) and the field (``events[i]`` for objects).
    """
    out: dict[str, Event] = {}
    if not isinstance(events, (str, Path)):
        for i, raw in enumerate(events):
            e = _validate(raw, f"events[{i}]")
            out.setdefault(e.event_id, e)
        if not out:
            raise DataError("events: no events; give at least one event object")
        return list(out.values())
    p = Path(events)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{p}: cannot read the events file ({e}); give a JSONL file") from None
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(
                f"{p}: line {n} is not JSON ({e.msg} at column {e.colno}); write one event "
                "object per line"
            ) from None
        event = _validate(raw, f"{p}: line {n}")
        out.setdefault(event.event_id, event)
    if not out:
        raise DataError(f"{p}: no events; give one JSON event object per line")
    return list(out.values())


def events_table(events: Sequence[Event]) -> pd.DataFrame:
    """Events as a table, one row each: ``id``, ``timestamp``, ``model_version``, each input and
    group as a column, ``prediction``, ``prob_<label>``, ``label``, ``latency_ms``."""
    rows = []
    for e in events:
        row: dict[str, Any] = {
            "id": e.event_id,
            "timestamp": e.timestamp,
            "model_version": e.model_version,
        }
        row.update(e.inputs)
        row.update(e.groups or {})
        row["prediction"] = e.prediction
        row.update({f"prob_{k}": v for k, v in (e.probabilities or {}).items()})
        row["label"] = e.label
        row["latency_ms"] = e.latency_ms
        rows.append(row)
    return pd.DataFrame(rows)


def _input_columns(events: Sequence[Event], where: str) -> str | list[str]:
    keys = list(events[0].inputs)
    for e in events:
        if list(e.inputs) != keys and set(e.inputs) != set(keys):
            raise DataError(
                f"{where}: event {e.event_id!r} has inputs {sorted(e.inputs)} and the first event "
                f"{sorted(keys)}; every event the candidate answers needs the same input fields"
            )
    return "text" if keys == ["text"] else keys


def _answer(o: Output | None) -> Any:
    if o is None:
        return None
    if o.label is not None:
        return o.label
    if o.value is not None:
        return o.value
    return o.text


def _candidate_frame(
    ids: Sequence[str], requests: Sequence[Request], responses: Mapping[str, Response]
) -> pd.DataFrame:
    rows = []
    for i, r in zip(ids, requests):
        resp = responses.get(r.key)
        out = resp.output if resp is not None and resp.ok else None
        row: dict[str, Any] = {
            "id": i,
            "prediction": _answer(out),
            "latency_ms": resp.latency_s * 1000 if resp is not None and resp.ok else math.nan,
        }
        row.update(
            {f"prob_{k}": v for k, v in ((out.probabilities if out else None) or {}).items()}
        )
        rows.append(row)
    return pd.DataFrame(rows)


def shadow_result(c: ShadowComparison, *, candidate: str, dataset: str) -> CheckResult:
    """The comparison as the ``shadow`` check result: metrics ``agreement``,
    ``candidate_failed``, ``<metric>.diff`` and ``latency.<quantile>.<side>``; tables
    ``comparison`` (the paired comparison) and ``disagreements`` (the first few)."""
    flags = []
    if c.comparison is not None:
        word = {"go": "GO", "no-go": "NO-GO", "inconclusive": "INCONCLUSIVE"}
        flags += [
            f"{word[c.comparison.verdict]} against production: {r}"
            for r in c.comparison.reasons[:3]
        ]
    if c.n_candidate_failed:
        flags.append(f"the candidate failed on {c.n_candidate_failed} events (left out)")
    disagree = c.disagreements
    return CheckResult(
        check="shadow",
        model=candidate,
        dataset=dataset,
        n=c.n_compared,
        metrics=c.metrics(),
        tables={
            "counts": {
                "production": c.n_production,
                "candidate": c.n_candidate,
                "compared": c.n_compared,
                "labelled": c.n_labelled,
                "candidate_failed": c.n_candidate_failed,
                "disagreements": len(disagree),
            },
            **({"comparison": c.comparison.to_dict()} if c.comparison is not None else {}),
            "disagreements": disagree.head(_SHOWN_DISAGREEMENTS)
            .astype(object)
            .where(disagree.head(_SHOWN_DISAGREEMENTS).notna(), None)
            .to_dict(orient="list"),
        },
        flags=flags + list(c.notes),
    )


def _write_disagreements(path: Path, c: ShadowComparison, events: Mapping[str, Event]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for row in c.disagreements.itertuples(index=False):
            e = events[str(row.id)]
            f.write(
                json.dumps(
                    {
                        "event_id": row.id,
                        "timestamp": e.timestamp.isoformat(),
                        "model_version": e.model_version,
                        "inputs": e.inputs,
                        "production": row.production,
                        "candidate": row.candidate,
                        "label": row.label,
                        "production_probabilities": e.probabilities,
                    },
                    ensure_ascii=False,
                    default=str,
                )
                + "\n"
            )


def shadow(
    events: str | Path | Sequence[Mapping[str, Any]],
    candidate: Any,
    *,
    options: Mapping[str, Any] | None = None,
    out: str | Path | None = None,
    batch_size: int = 1,
    gates: Sequence[str] = (),
    metrics: Sequence[str] | None = None,
    margins: Mapping[str, float] | None = None,
    positive_label: str | None = None,
    cache: str | Path | None = ".assay/cache.db",
    trust: bool = False,
    level: float = 0.95,
    seed: int = 0,
    progress: bool = True,
) -> Report:
    """Replay logged production events through ``candidate`` and compare the answers.

    Args:
        events: a JSONL file of events (the monitor's format: ``event_id``, ``timestamp``,
            ``inputs``, ``prediction``; optional ``probabilities``, ``latency_ms``, ``label``),
            or those event objects (the monitor's stored events).
        candidate: a model spec (``sklearn:model.joblib``, ``python:module:fn``, ``hf:./ckpt``,
            ``openai:...``), a fitted estimator, a function or an assay Model.
        options: the candidate's model options, as under ``models:`` in a suite (an
            ``openai:`` model's ``verbaliser``, ``prompt``, ...); with a spec string only.
        out: a folder for ``report.json``, ``report.html`` and ``disagreements.jsonl``.
        batch_size: inputs per candidate call. 1 (the default) makes the candidate's latency a
            per-request latency, comparable with production's ``latency_ms``; a larger batch is
            faster but its latency is a batch's time shared among its inputs.
        gates: gates on the result, e.g. ``"shadow.agreement.lower >= 0.9"``.
        metrics, margins: the paired comparison's metrics and non-inferiority margins
            (default: the compare check's).
        positive_label: the positive class for ROC AUC on a binary problem.
        cache: the engine's answer cache (``None``: ask again every time).
        trust: allow loading model files that execute code (pickle/joblib).
        level: confidence level of every interval.
        seed: the bootstraps' seed.
        progress: show the engine's progress bar.

    Returns:
        The Report with one ``shadow`` result; ``report.passed`` says whether every gate passed.

    Raises:
        DataError: a bad events file (naming the file, line and field).
        ConfigError: a gate naming a path shadow does not produce; a bad model spec.
        ModelError: the candidate failed on most events.

    Example:
        >>> r = shadow("prod_events.jsonl", "sklearn:new.joblib", trust=True,
        ...            gates=["shadow.agreement.lower >= 0.9"], out="shadow")  # doctest: +SKIP
        >>> r.result("shadow").metrics["agreement"]  # doctest: +SKIP
    """
    clock = Clock()
    if out is not None:
        clear_report_files(out)
        (Path(out) / "disagreements.jsonl").unlink(missing_ok=True)
    validate_command_gates(gates, "shadow", SHADOW_GATE_PATTERNS, command="assay shadow")
    evs = read_events(events)
    source = Path(events).name if isinstance(events, (str, Path)) else "events"
    frame = events_table(evs)
    inputs = _input_columns(evs, source)
    entries, objects = model_entries({"candidate": candidate})
    if options:
        if not isinstance(candidate, str):
            raise ConfigError(
                "assay.shadow: options= go with a model spec string; an object is already built"
            )
        entries["candidate"] = {"spec": candidate, "options": dict(options)}
    suite = suite_from_dict(
        {
            "name": f"shadow {source}",
            "data": {"events": {"path": FRAME_PATH, "input": inputs, "id": "id"}},
            "models": entries,
            "engine": {"cache": None if cache is None else str(cache), "batch_size": batch_size},
            "trust": trust,
            "seed": seed,
            "level": level,
        },
        base_dir=Path.cwd(),
        source="assay shadow",
    )
    columns = ["id", *([inputs] if isinstance(inputs, str) else inputs)]
    ds = dataset_from_frame(frame[columns], suite.data["events"], name="events")
    provider = SuiteModels(suite)
    model: Model
    if "candidate" in objects:
        model = objects["candidate"]
    else:
        spec, options = suite.model_spec("candidate")
        model = provider.load(
            spec, name="candidate", options=options, base_dir=suite.model_base_dir("candidate")
        )
    info = model.info()
    ctx = RunContext(
        suite=suite,
        datasets={"events": ds},
        models={"candidate": model},
        model_infos={"candidate": info},
        provider=provider,
    )
    requests = ctx.original_requests("candidate", ds)
    cache_path = None if suite.engine.cache is None else suite.resolve(suite.engine.cache)
    engine = Engine(suite.engine, cache_path=cache_path, progress=progress)
    responses = engine.run(requests, {"candidate": model})
    stop_on_failed_calls(
        requests, responses, models=["candidate"], share=suite.engine.stop_when_failed
    )
    cand = _candidate_frame(ds.ids, requests, responses)
    report, comparison = _compared(
        frame,
        cand,
        gates=gates,
        metrics=metrics,
        margins=margins,
        positive_label=positive_label,
        level=level,
        seed=seed,
        name=f"shadow {source}",
        dataset=source,
        clock=clock,
        call={
            "command": "assay shadow",
            "options": {
                "events": str(Path(events).resolve())
                if isinstance(events, (str, Path))
                else f"{len(evs)} event objects",
                "candidate": info.spec,
                "batch_size": batch_size,
            },
        },
        datasets=[ds.info()],
    )
    report.models = [info.to_dict()]
    report.engine = engine.stats.to_dict()
    if out is not None:
        write_report_files(report, Path(out))
        _write_disagreements(
            Path(out) / "disagreements.jsonl", comparison, {e.event_id: e for e in evs}
        )
    return report


def _compared(
    production: pd.DataFrame,
    candidate: pd.DataFrame,
    *,
    gates: Sequence[str],
    metrics: Sequence[str] | None,
    margins: Mapping[str, float] | None,
    positive_label: str | None,
    level: float,
    seed: int,
    name: str,
    dataset: str,
    clock: Clock,
    call: Mapping[str, Any],
    datasets: Sequence[Mapping[str, Any]] = (),
) -> tuple[Report, ShadowComparison]:
    options = CompareOptions(
        metrics=list(metrics) if metrics else None, margins=dict(margins or {})
    )
    comparison = shadow_compare(
        production,
        candidate,
        options=options,
        positive_label=positive_label,
        level=level,
        seed=seed,
    )
    options_used = {
        **call.get("options", {}),
        "gates": list(gates),
        "metrics": list(metrics) if metrics else None,
        "margins": dict(margins or {}),
        "positive_label": positive_label,
        "level": level,
        "seed": seed,
    }
    report = single_result_report(
        shadow_result(comparison, candidate="candidate", dataset=dataset),
        name=name,
        call={**call, "options": options_used},
        gates=gates,
        clock=clock,
        datasets=datasets,
    )
    report.level = level
    report.seed = seed
    return report, comparison


def shadow_report(
    production: pd.DataFrame,
    candidate: pd.DataFrame,
    *,
    gates: Sequence[str] = (),
    metrics: Sequence[str] | None = None,
    margins: Mapping[str, float] | None = None,
    positive_label: str | None = None,
    level: float = 0.95,
    seed: int = 0,
    name: str = "shadow",
    out: str | Path | None = None,
) -> Report:
    """The Report of :func:`assay.shadow_compare` on predictions already stored for the same
    events (the monitor comparing a candidate it receives live with production).

    Args:
        production, candidate: the two tables of :func:`assay.shadow_compare`.
        gates: gates on the ``shadow`` result, e.g. ``"shadow.agreement.lower >= 0.9"``.
        metrics, margins, positive_label, level, seed: as for :func:`shadow`.
        name: the Report's title.
        out: a folder for ``report.json`` and ``report.html``.

    Returns:
        The Report with one ``shadow`` result, gated.

    Raises:
        ConfigError: a gate naming a path shadow does not produce.
        DataError: a table without ``id`` or ``prediction``.
    """
    clock = Clock()
    if out is not None:
        clear_report_files(out)
    validate_command_gates(gates, "shadow", SHADOW_GATE_PATTERNS, command="shadow_report")
    report, _ = _compared(
        production,
        candidate,
        gates=gates,
        metrics=metrics,
        margins=margins,
        positive_label=positive_label,
        level=level,
        seed=seed,
        name=name,
        dataset="events",
        clock=clock,
        call={"command": "shadow_report", "options": {}},
    )
    if out is not None:
        write_report_files(report, Path(out))
    return report
