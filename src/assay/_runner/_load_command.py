"""``load_test``: a load run of one model on one data file, as a Report (``assay load``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from assay._runner._evaluate import clear_report_files
from assay._runner._load import run_load
from assay._runner._single import Clock, single_result_report, validate_command_gates
from assay.checks._latency import LATENCY_GATE_PATTERNS, latency_flags, latency_metrics
from assay.config._suite import DatasetSpec
from assay.data import load_dataset
from assay.errors import DataError
from assay.load import LoadPlan, StepSummary
from assay.models import load_model
from assay.report._schema import CheckResult, Report

__all__ = ["load_test"]

#: Columns tried, in order, as the input when ``input`` is not given.
_INPUT_GUESSES = ("prompt", "text", "input", "question", "sentence")


def load_test(
    model: str,
    *,
    data: str | Path,
    input: str | None = None,
    label: str | None = None,
    rates: Sequence[float] = (),
    concurrency: Sequence[int] = (),
    batch_size: Sequence[int] = (),
    arrivals: Literal["poisson", "constant"] = "poisson",
    duration_s: float = 30.0,
    warmup_s: float = 1.0,
    max_requests: int | None = None,
    timeout_s: float = 60.0,
    slo: str | None = None,
    deadline_s: float | None = None,
    stream: bool = False,
    options: Mapping[str, Any] | None = None,
    trust: bool = False,
    seed: int = 0,
    gates: Sequence[str] = (),
    out: str | Path | None = None,
    on_step: Callable[[StepSummary], None] | None = None,
) -> Report:
    """Load-test ``model`` with inputs drawn from ``data``; a Report holding one ``latency``
    result (see :mod:`assay._runner._load` for how requests are sent and timed).

    Args:
        model: a model spec (``openai:my-ft@http://127.0.0.1:8000/v1``, ``hf:./ckpt``, ...).
        data: a CSV, JSONL or Parquet file of inputs.
        input: the input column (default: the first of prompt, text, input, question, sentence).
        label: a column of right answers: answers are scored (accuracy under load).
        rates / concurrency / batch_size: the sweeps (open loop, closed loop, batch sizes).
        arrivals, duration_s, warmup_s, max_requests, timeout_s, slo, deadline_s, seed: as in
            :class:`assay.load.LoadPlan`.
        stream: ask an ``openai:`` endpoint to stream (time to first token, inter-token latency).
        options: the model's adapter options, as in a suite (``{"endpoint": "completions",
            "max_new_tokens": 64}``).
        trust: allow formats that execute code on load (joblib).
        gates: gates on the result, e.g. ``"latency.rate_20.p95_ms.upper <= 800"``.
        out: a folder to write ``report.json`` and ``report.html`` into.
        on_step: called with each level's summary as it ends.

    Raises:
        ConfigError: a bad option, SLO or gate (the message gives the grammar or valid paths).
        DataError: the data file or its input column cannot be read.
        ModelError: the model cannot be loaded or fails model-wide (an endpoint that is down).
    """
    clock = Clock()
    if out is not None:
        clear_report_files(out)
    validate_command_gates(gates, "latency", LATENCY_GATE_PATTERNS, command="assay load")
    plan = LoadPlan(
        rates=tuple(float(r) for r in rates),
        concurrency=tuple(int(c) for c in concurrency),
        batch_size=tuple(int(b) for b in batch_size),
        arrivals=arrivals,
        duration_s=duration_s,
        warmup_s=warmup_s,
        max_requests=max_requests,
        timeout_s=timeout_s,
        slo=slo,
        deadline_s=deadline_s,
        seed=seed,
    )
    plan.check()  # before loading anything: a bad SLO is reported at once
    path = Path(data)
    ds = load_dataset(DatasetSpec(path=str(path.resolve())), name=path.stem)
    column = input or next((c for c in _INPUT_GUESSES if c in ds.frame.columns), None)
    if column is None or column not in ds.frame.columns:
        columns = ", ".join(str(c) for c in ds.frame.columns)
        raise DataError(
            f"--data {path}: "
            + (f"no column {input!r}" if input else "no input column found")
            + f"; give --input with one of its columns: {columns}"
        )
    if label is not None and label not in ds.frame.columns:
        columns = ", ".join(str(c) for c in ds.frame.columns)
        raise DataError(f"--label {label!r}: {path} has no such column; its columns: {columns}")
    payloads = [str(v) for v in ds.frame[column].tolist()]
    references = ds.frame[label].tolist() if label is not None else None
    adapter_options: dict[str, Any] = {**(options or {}), **({"stream": True} if stream else {})}
    t0 = time.perf_counter()
    loaded = load_model(model, name="candidate", trust=trust, options=adapter_options or None)
    cold_start_s = time.perf_counter() - t0
    result = run_load(
        loaded,
        payloads,
        plan,
        references=references,
        cold_start_s=cold_start_s,
        on_step=on_step,
    )
    table = result.to_dict()
    check = CheckResult(
        check="latency",
        model=loaded.info().name,
        dataset=ds.name,
        n=sum(s.n for s in result.steps),
        metrics=latency_metrics(table),
        tables={"latency": table},
        flags=latency_flags(table),
    )
    call = {
        "command": "assay load",
        "options": {
            "model": loaded.info().spec,
            "data": str(path.resolve()),
            "input": column,
            "label": label,
            "stream": stream,
            "model_options": adapter_options,
            **table["plan"],
        },
    }
    return single_result_report(
        check,
        name=f"load {loaded.info().name} on {path.name}",
        call=call,
        gates=gates,
        clock=clock,
        datasets=[ds.info()],
        out=out,
    )
