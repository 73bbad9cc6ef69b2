"""``evaluate``: the one pipeline — suite → datasets, models → Requests → Engine → checks → Report."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import pandas as pd

import assay.checks  # noqa: F401  (registers the built-in checks)
from assay._runner._gates import evaluate_gates
from assay._runner._inline import FRAME_PATH, inline_suite, model_entries
from assay._runner._load import run_declared_loads
from assay._runner._match import check_gates_against_labels, check_model_against_data
from assay._runner._models import LoadModel, SuiteModels
from assay._runner._stream import run_streamed, stream_plans
from assay._runner._suite import load_suite
from assay._types import Model, ModelInfo, Request, Response, Task
from assay._util._redact import redact_record
from assay._version import __version__
from assay.checks._base import MAX_ROUNDS, Check, RunContext, get_check, parse_check_config
from assay.config._suite import ModelEntry, Suite
from assay.data import Dataset, dataset_from_frame, load_dataset
from assay.engine import Engine, concurrency_notes, concurrency_records
from assay.errors import ConfigError, ModelError
from assay.report._html import render_html
from assay.report._schema import Report

__all__ = ["clear_report_files", "evaluate", "stop_on_failed_calls", "write_report_files"]

_PACKAGES = (
    "numpy",
    "scipy",
    "pandas",
    "pyarrow",
    "scikit-learn",
    "pydantic",
    "torch",
    "transformers",
)


def evaluate(
    suite: Suite | str | Path | None = None,
    *,
    model: Any = None,
    data: str | Path | pd.DataFrame | None = None,
    label: str | None = None,
    input: str | list[str] | None = None,
    id: str | None = None,
    checks: Sequence[str] | Mapping[str, Any] | None = None,
    gates: Sequence[str] | None = None,
    task: Task | None = None,
    out: str | Path | None = None,
    trust: bool | None = None,
    no_cache: bool = False,
    seed: int | None = None,
    progress: bool = True,
    write: bool | None = None,
    backend: Literal["local", "ray"] | None = None,
) -> Report:
    """Run a suite and return its Report; also write ``report.json`` and ``report.html`` to ``out``.

    With a suite file (the CLI's way), or with no file at all (a notebook's way)::

        report = evaluate("suite.yaml")
        report = evaluate(model=pipeline, data=frame, label="diagnosis",
                          checks=["performance", "slices"], gates=["performance.accuracy.lower >= 0.9"])

    Args:
        suite: a Suite, or the path of a suite YAML file; ``None`` to build one from ``model``,
            ``data`` and the column and check arguments.
        model: a model spec (``"sklearn:model.joblib"``), a fitted scikit-learn estimator or
            pipeline, a function taking a list of inputs, or an assay Model; a list or a mapping
            name → model for several (the first is the one gates speak about). With a suite, it
            replaces the suite's first model; its relative paths resolve against the current
            folder, like ``data``.
        data: a DataFrame or a dataset path. With a suite, it replaces the primary dataset (a path
            is relative to the current folder).
        label: the label column (without a suite; guessed from its name when omitted).
        input: the column(s) the model reads (without a suite; default: the estimator's
            ``feature_names_in_``, else the text column, else every other column).
        id: the id column (without a suite; default: an ``id`` column, else the row index).
        checks: check names, or a mapping name → options (without a suite; default: performance).
        gates: gate expressions such as ``"performance.f1_macro.lower >= 0.8"`` (without a suite).
        task: ``classification``, ``regression`` or ``generation`` (without a suite; default: auto).
        out: output folder (default: the suite's ``out``, relative to the suite's folder when
            the suite file sets it, else ``out`` in the current folder).
        trust: allow loading models whose files execute code (pickle/joblib).
        no_cache: ask the models again instead of reading the cache (answers are not stored).
        seed: overrides the suite's seed.
        progress: show progress bars.
        write: write the report files; default: yes with a suite or an ``out``, no otherwise.
        backend: overrides the suite's ``engine.backend``: ``"ray"`` calls the models on Ray
            actors (``engine.ray``: a cluster address, else ``RAY_ADDRESS``, else Ray on this
            machine); the cache, retries and scoring stay here.

    Returns:
        The Report. ``report.passed`` says whether every gate passed.

    Raises:
        ConfigError, DataError, ModelError: with a message naming what to fix.

    Example:
        >>> report = evaluate("examples/sentiment/suite.yaml")  # doctest: +SKIP
        >>> report.result("performance").metrics["accuracy"]  # doctest: +SKIP
    """
    started = time.perf_counter()
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    if write is None:
        write = suite is not None or out is not None
    if write and out is not None:
        clear_report_files(out)  # before anything can fail: no old pass survives a failed run
    overrides: dict[str, Any] = {"seed": seed}
    objects: dict[str, Model] = {}
    frames: dict[str, pd.DataFrame] = {}
    if suite is None:
        if model is None or data is None:
            raise ConfigError(
                "assay.evaluate: give a suite file, or model= and data= (with label=...) to "
                "evaluate without one"
            )
        inline = inline_suite(
            model=model,
            data=data,
            label=label,
            input=input,
            id=id,
            checks=checks,
            gates=gates,
            task=task,
        )
        s, objects, frames = inline.suite, inline.models, inline.frames
        if seed is not None:
            s.seed = seed
    else:
        suite_only = {"label": label, "input": input, "id": id, "checks": checks, "gates": gates}
        given = [k for k, v in {**suite_only, "task": task}.items() if v is not None]
        if given:
            raise ConfigError(
                f"assay.evaluate: {', '.join(given)} describe a suite, and a suite was given; set "
                "them in the suite, or leave the suite out"
            )
        if isinstance(suite, Suite):
            s = suite.model_copy(update={k: v for k, v in overrides.items() if v is not None})
        else:
            s = load_suite(suite, overrides=overrides)
        if isinstance(model, str):
            # The suite's options for the primary model still apply to a model of the same kind.
            old_spec, old_options = s.model_spec(s.primary_model)
            same_kind = old_spec.partition(":")[0] == model.partition(":")[0]
            # Given here, not in the suite: its relative paths resolve against the working directory.
            entry = ModelEntry.from_here(model, old_options if same_kind else None)
            s.models = {
                s.primary_model: entry,
                **{k: v for k, v in s.models.items() if k != s.primary_model},
            }
        elif model is not None:
            entries, objects = model_entries({s.primary_model: model})
            s.models = {**entries, **{k: v for k, v in s.models.items() if k != s.primary_model}}
        primary = s.primary_dataset
        if isinstance(data, pd.DataFrame):
            frames[primary] = data
            s.data[primary] = s.data[primary].model_copy(update={"path": FRAME_PATH})
        elif data is not None:
            # A path given on the command line is relative to the current folder, not the suite's.
            s.data[primary] = s.data[primary].model_copy(update={"path": str(Path(data).resolve())})
    if write and out is None:
        clear_report_files(s.out_dir())
    if trust is not None:
        s.trust = trust
    if backend is not None:
        s.engine = s.engine.model_copy(update={"backend": backend})

    report = _run(
        s,
        objects=objects,
        frames=frames,
        no_cache=no_cache,
        progress=progress,
        started=started,
        created=created,
    )
    if write:
        out_dir = Path(out) if out is not None else s.out_dir()
        write_report_files(report, out_dir)
    return report


def _run(
    s: Suite,
    *,
    objects: Mapping[str, Model],
    frames: Mapping[str, pd.DataFrame],
    no_cache: bool,
    progress: bool,
    started: float,
    created: str,
) -> Report:
    """Load ``s``'s data and models (``objects`` and ``frames`` stand for those held in memory),
    plan, ask, score, gate: the Report of a run that started at ``started``
    (``time.perf_counter()``), ``created`` (ISO time)."""
    checks: list[Check] = []
    for check_name, raw in s.checks.items():
        config = parse_check_config(check_name, raw)
        cls = get_check(check_name)
        checks.extend(cls(config, model_name) for model_name in s.models)
    plans, not_streamed = stream_plans(s, checks, in_memory=bool(frames))
    if plans:
        streamed = run_streamed(
            s,
            plans,
            checks,
            objects=objects,
            no_cache=no_cache,
            progress=progress,
            started=started,
            created=created,
            environment=_environment(),
        )
        if isinstance(streamed, Report):
            return streamed
        not_streamed = streamed
    datasets: dict[str, Dataset] = {
        name: (
            dataset_from_frame(frames[name], spec, name=name)
            if name in frames
            else load_dataset(spec, name=name, base_dir=s.base_dir)
        )
        for name, spec in s.data.items()
    }
    check_gates_against_labels(s, datasets)
    provider = SuiteModels(s)
    models: dict[str, Model] = {}
    infos: dict[str, ModelInfo] = {}
    notes: list[str] = []
    # On Ray, a model loaded from a spec is loaded again on each actor, from the same spec.
    builders: dict[str, LoadModel] = {}
    for name in s.models:
        m, builder = provider.suite_model(name, objects)
        if builder is not None:
            builders[name] = builder
        models[name] = m
        infos[name] = m.info()
        check_model_against_data(name, m, infos[name], datasets[s.primary_dataset], notes)

    ctx = RunContext(
        suite=s,
        datasets=datasets,
        models=models,
        model_infos=infos,
        notes=notes,
        progress=progress and s.engine.progress,
        # a judge or fold models: loaded and fitted for checks, added to `models` (the engine's)
        provider=provider,
    )
    if not_streamed is not None:
        notes.append(
            f"not streamed (the data file is big, and it was read whole): {not_streamed}"
        )

    requests: list[Request] = [r for c in checks for r in c.plan(ctx)]
    asked = list(requests)
    cache_path = None if (no_cache or s.engine.cache is None) else s.resolve(s.engine.cache)
    with Engine(s.engine, cache_path=cache_path, progress=progress, builders=builders) as engine:
        responses = engine.run(requests, models)
        stats: dict[str, Any] = engine.stats.to_dict()
        # Checks that ask in rounds (adversarial search) get more answers before scoring.
        for _ in range(MAX_ROUNDS):
            more = [r for c in checks for r in c.next_requests(ctx, responses)]
            if not more:
                break
            responses = {**responses, **engine.run(more, models)}
            asked += more
            for k, v in engine.stats.to_dict().items():
                stats[k] = stats[k] + v
        stats["backend"] = s.engine.backend
        if s.engine.backend == "ray":
            stats["ray_actors"] = engine.ray_actors
    # Checks that declare a load plan (latency): run on a schedule, past the engine's cache.
    run_declared_loads(checks, ctx)
    concurrency = concurrency_records(models)
    if concurrency:
        stats["concurrency"] = concurrency
        notes.extend(concurrency_notes(concurrency))
    stop_on_failed_calls(asked, responses, models=list(s.models), share=s.engine.stop_when_failed)
    # A check may have nothing to say for a model (the compare check for the baseline itself).
    scored = (c.score(ctx, responses) for c in checks)
    results = [r for r in scored if r is not None]
    gates = evaluate_gates(s.gates, results, model=s.primary_model)

    report = Report(
        assay_version=__version__,
        suite_name=s.name,
        suite=redact_record(s.model_dump(mode="json")),  # no URL password or key in outputs
        created_at=created,
        duration_s=round(time.perf_counter() - started, 3),
        seed=s.seed,
        level=s.level,
        datasets=[d.info() for d in datasets.values()],
        models=[i.to_dict() for i in infos.values()],
        environment=_environment(),
        engine=stats,
        results=results,
        gates=gates,
        notes=notes,
    )
    return report


def stop_on_failed_calls(
    requests: Sequence[Request],
    responses: Mapping[str, Response],
    *,
    models: Sequence[str],
    share: float,
) -> None:
    """Stop the run when at least ``share`` of a model's distinct calls failed after retries.

    Metrics over the few rows that answered (or over none) would read as a result; the cause —
    a wrong key, a server that is down, a feature the model lacks — is what the user needs.

    Raises:
        ModelError: naming the model, how many calls failed, and the most common cause.
    """
    for name in models:
        keys = {r.key for r in requests if r.model == name}
        failed = [responses[k].error for k in keys if k in responses and not responses[k].ok]
        if keys and failed and len(failed) >= share * len(keys):
            causes = Counter(str(e) for e in failed)
            first, count = causes.most_common(1)[0]
            every = len(failed) == len(keys)
            raise ModelError(
                f"models.{name}: {len(failed)} of {len(keys)} calls failed after retries"
                f"{', every one' if every else ''}; the most common cause ({count} calls): "
                f"{first}. Fix the model or its endpoint and run again (answers already given are "
                "cached)"
                + (
                    ""
                    if every
                    else f"; to score what did answer, raise engine.stop_when_failed (now {share:g})"
                )
            )


def clear_report_files(out_dir: str | Path) -> None:
    """Remove the ``report.json`` and ``report.html`` of an earlier run from ``out_dir``.

    Called when a run starts, so that a run that fails (exit 2) leaves no report behind for a CI
    step to read as this run's result: an old pass must never stand in for a failed run.
    """
    for name in ("report.json", "report.html"):
        (Path(out_dir) / name).unlink(missing_ok=True)


def write_report_files(report: Report, out_dir: str | Path) -> dict[str, Path]:
    """Write ``report.json`` and ``report.html`` into ``out_dir``: both, or neither.

    Both documents are rendered before either file is touched; each is written to a temporary file
    in ``out_dir`` and renamed over the old one (``os.replace``, atomic on one file system). When
    rendering or writing fails, the previous ``report.json`` and ``report.html`` are removed as well
    and the error is raised: a folder never shows an earlier run's report (an old pass) next to, or
    instead of, the run that failed to write its own.

    Returns:
        ``{"json": path, "html": path}``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "html": out / "report.html"}
    temps: list[Path] = []
    try:
        texts = {"json": report.to_json(), "html": render_html(report)}
        staged: dict[str, Path] = {}
        for kind, path in paths.items():
            # A fresh name opened with "x" (not mkstemp): the file gets the umask's permissions,
            # as a plain write would, rather than mkstemp's owner-only 0600.
            tmp = out / f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp"
            temps.append(tmp)
            with open(tmp, "x", encoding="utf-8") as f:
                f.write(texts[kind])
            staged[kind] = tmp
        for kind, path in paths.items():
            os.replace(staged[kind], path)
    except BaseException:
        for p in [*temps, *paths.values()]:
            p.unlink(missing_ok=True)
        raise
    return paths


def _environment() -> dict[str, Any]:
    versions = {}
    for pkg in _PACKAGES:
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            continue
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": versions,
    }
