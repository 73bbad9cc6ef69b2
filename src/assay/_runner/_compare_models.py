"""``compare_models``: two models on the same rows, in one run — the notebook's ``assay compare``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from assay._runner._evaluate import evaluate
from assay._types import Task
from assay.report._schema import Report

__all__ = ["compare_models"]


def compare_models(
    candidate: Any,
    baseline: Any,
    *,
    data: str | Path | pd.DataFrame,
    label: str | None = None,
    input: str | list[str] | None = None,
    id: str | None = None,
    gates: Sequence[str] | None = None,
    task: Task | None = None,
    seed: int | None = None,
    progress: bool = True,
    out: str | Path | None = None,
    **options: Any,
) -> Report:
    """Evaluate ``candidate`` and ``baseline`` on ``data`` and compare them example by example.

    The same run as a suite with ``models: [candidate, baseline]`` and the ``performance`` and
    ``compare`` checks; ``options`` are the compare check's (``default_margin=0.01``,
    ``margins={"accuracy": 0.02}``, ``metrics=[...]``, ``require_improvement=True``).

    Args:
        candidate, baseline: each a fitted estimator, a function, an assay Model or a spec string.
        data, label, input, id, gates, task, seed, progress, out: as for :func:`assay.evaluate`.

    Returns:
        The Report; ``report.result("compare").tables["comparison"]`` holds the verdict and its reasons, and
        ``report.result("compare").metrics`` the paired differences (``accuracy.diff``).

    Example:
        >>> r = compare_models(new_pipe, old_pipe, data=frame, label="y")  # doctest: +SKIP
        >>> r.result("compare").tables["comparison"]["verdict"]  # doctest: +SKIP
        'go'
    """
    return evaluate(
        model={"candidate": candidate, "baseline": baseline},
        data=data,
        label=label,
        input=input,
        id=id,
        checks={"performance": {}, "compare": dict(options)},
        gates=gates,
        task=task,
        seed=seed,
        progress=progress,
        out=out,
    )
