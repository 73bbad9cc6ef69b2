"""``evaluate_checkpoints``: the suite's first model replaced by each ``checkpoint-*`` folder in turn;
every metric against the training step, with its interval.

A checkpoint folder becomes a model spec by what it holds: ``model.joblib`` → ``sklearn:``,
``model.py`` (a ``predict`` function) → ``python:``, anything else (a transformers
``config.json`` with weights) → ``hf:``. Answers are cached by model fingerprint, so a re-run only
evaluates new checkpoints.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assay._runner._evaluate import clear_report_files, evaluate, write_report_files
from assay.config._load import read_suite
from assay.config._suite import Suite
from assay.errors import ConfigError
from assay.report._schema import CheckResult, Report
from assay.stats._estimate import Estimate

__all__ = ["checkpoint_series", "evaluate_checkpoints", "find_checkpoints"]

_STEP = re.compile(r"^checkpoint-(\d+)$")


def find_checkpoints(folder: str | Path) -> list[tuple[int, str]]:
    """``(step, model spec)`` of every ``checkpoint-<step>`` folder, by step.

    Raises:
        ConfigError: the folder is missing or holds no checkpoint.
    """
    root = Path(folder)
    if not root.is_dir():
        raise ConfigError(f"--checkpoints {root}: no such folder")
    found = []
    for d in root.iterdir():
        m = _STEP.match(d.name)
        if not (m and d.is_dir()):
            continue
        if (d / "model.joblib").exists():
            spec = f"sklearn:{(d / 'model.joblib').resolve()}"
        elif (d / "model.py").exists():
            spec = f"python:{(d / 'model.py').resolve()}:predict"
        else:
            spec = f"hf:{d.resolve()}"
        found.append((int(m.group(1)), spec))
    if not found:
        raise ConfigError(
            f"--checkpoints {root}: no checkpoint-<step> folder inside; expected the transformers "
            "Trainer layout (checkpoint-500/, checkpoint-1000/, …)"
        )
    return sorted(found)


def checkpoint_series(result: CheckResult) -> dict[str, list[tuple[int, float]]]:
    """``metric[.lower|.upper] → [(step, value)]`` from a ``checkpoints`` result (for the sinks)."""
    out: dict[str, list[tuple[int, float]]] = {}
    for metric, s in (result.tables.get("series") or {}).items():
        for part in ("value", "lower", "upper"):
            key = f"{result.model}/checkpoints.{metric}" + ("" if part == "value" else f".{part}")
            out[key] = [(int(st), float(v)) for st, v in zip(s["step"], s[part]) if v is not None]
    return out


def evaluate_checkpoints(
    suite: Suite | str | Path,
    checkpoints: str | Path | Sequence[tuple[int, str]],
    *,
    out: str | Path | None = None,
    metrics: Sequence[str] | None = None,
    progress: bool = True,
    write: bool = True,
    **evaluate_args: Any,
) -> Report:
    """Evaluate the suite once per checkpoint; return the last checkpoint's Report with a
    ``checkpoints`` result: table ``series`` (``metric → {step, value, lower, upper}``) and
    metrics ``<metric>`` of the last checkpoint.

    Args:
        suite: the suite (its first model is replaced by each checkpoint).
        checkpoints: a folder of ``checkpoint-*`` folders, or ``[(step, spec), …]``.
        out: output folder of the final report files.
        metrics: the performance metrics to follow (default: every one).
        progress: show progress bars.
        write: write ``report.json`` and ``report.html``.
        evaluate_args: passed to :func:`assay.evaluate` (``trust``, ``seed``, ``no_cache``…).

    Example:
        >>> r = evaluate_checkpoints("suite.yaml", "runs/checkpoints")  # doctest: +SKIP
        >>> r.result("checkpoints").tables["series"]["accuracy"]["step"]  # doctest: +SKIP
    """
    if write and out is not None:
        clear_report_files(out)  # a failed sweep leaves no earlier pass behind
    points = (
        find_checkpoints(checkpoints) if isinstance(checkpoints, (str, Path)) else list(checkpoints)
    )
    series: dict[str, dict[str, list[Any]]] = {}
    steps: list[dict[str, Any]] = []
    report: Report | None = None
    for step, spec in points:
        report = evaluate(suite, model=spec, progress=progress, write=False, **evaluate_args)
        primary = report.models[0].get("name") if report.models else None
        perf = report.find("performance", str(primary) if primary else None)
        steps.append(
            {"step": step, "spec": spec, "passed": report.passed, "n": perf.n if perf else 0}
        )
        if perf is None:
            continue
        for name, e in perf.metrics.items():
            if name.startswith("per_class.") or (metrics and name not in metrics):
                continue
            s = series.setdefault(name, {"step": [], "value": [], "lower": [], "upper": []})
            s["step"].append(step)
            for part in ("value", "lower", "upper"):
                v = getattr(e, part)
                s[part].append(v if v == v else None)  # NaN → None (JSON)
    assert report is not None
    perf = report.find("performance", str(report.models[0].get("name")))
    last = {
        k: Estimate.from_dict(
            {
                "value": s["value"][-1],
                "lower": s["lower"][-1],
                "upper": s["upper"][-1],
                "level": report.level,
                "method": perf.metrics[k].method if perf else "none",
                "n": perf.n if perf else 0,
            }
        )
        for k, s in series.items()
    }
    result = CheckResult(
        check="checkpoints",
        model=str(report.models[0].get("name")),
        dataset=perf.dataset if perf else "",
        n=perf.n if perf else 0,
        metrics=last,
        tables={"series": series, "steps": steps},
    )
    report = report.model_copy(update={"results": [*report.results, result]})
    if write:
        out_dir = Path(out) if out is not None else _suite(suite).out_dir()
        write_report_files(report, out_dir)
    return report


def _suite(suite: Suite | str | Path) -> Suite:
    return suite if isinstance(suite, Suite) else read_suite(suite)
