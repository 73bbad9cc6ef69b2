"""Write a Report as TensorBoard event files: a scalar per metric and bound, PR curves from the
kept per-example scores, and text summaries of failing examples and gates. Per-step series (a
checkpoint sweep) become scalars at their training steps.

Only the ``tensorboard`` package is needed (no TensorFlow): summaries are built as protocol buffers
with the plugins' own metadata, so TensorBoard's scalar, PR-curve and text dashboards read them.
Scalar tags are ``<model>/<check>.<metric>`` with ``.lower`` / ``.upper`` for the bounds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assay.errors import MissingDependencyError
from assay.report._schema import CheckResult, Report

__all__ = ["PR_THRESHOLDS", "pr_counts", "write_tensorboard"]

#: Thresholds of each PR curve (TensorBoard's default).
PR_THRESHOLDS = 201
_MAX_TEXT_ROWS = 20


def pr_counts(
    y_true: np.ndarray, score: np.ndarray, num_thresholds: int = PR_THRESHOLDS
) -> np.ndarray:
    """``[tp, fp, tn, fn, precision, recall]`` at thresholds ``i/(num_thresholds−1)``: an example
    counts as predicted positive when its score is ``≥`` the threshold (TensorBoard's layout)."""
    y = np.asarray(y_true, dtype=bool)
    s = np.clip(np.asarray(score, dtype=np.float64), 0.0, 1.0)
    bucket = np.floor(s * (num_thresholds - 1)).astype(np.int64)
    pos = np.bincount(bucket[y], minlength=num_thresholds)[::-1].cumsum()[::-1]
    neg = np.bincount(bucket[~y], minlength=num_thresholds)[::-1].cumsum()[::-1]
    tp, fp = pos.astype(np.float64), neg.astype(np.float64)
    fn, tn = y.sum() - tp, (~y).sum() - fp
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 1.0)
        recall = np.where(tp + fn > 0, tp / np.maximum(tp + fn, 1), 0.0)
    return np.stack([tp, fp, tn, fn, precision, recall]).astype(np.float32)


def _imports() -> Any:
    try:
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.plugins.pr_curve import metadata as pr_meta
        from tensorboard.plugins.text import metadata as text_meta
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
        from tensorboard.util import tensor_util
    except ImportError:
        raise MissingDependencyError(
            "writing TensorBoard logs needs the tensorboard package: pip install 'assay[tracking]'"
        ) from None
    return event_pb2, summary_pb2, pr_meta, text_meta, EventFileWriter, tensor_util


def _md(x: Any) -> str:
    return str(x).replace("|", "\\|").replace("\n", " ")[:300]


def _examples_text(r: CheckResult) -> str:
    rows = r.examples[:_MAX_TEXT_ROWS]
    cols: list[str] = []
    for ex in rows:
        cols += [str(c) for c in ex if str(c) not in cols]
    lines = [
        f"**{r.check}** · {r.model} · {r.dataset}: {len(r.examples)} examples",
        "",
        "| " + " | ".join(cols) + " |",
        "|" + "---|" * len(cols),
    ]
    lines += ["| " + " | ".join(_md(ex.get(c, "")) for c in cols) + " |" for ex in rows]
    return "\n".join(lines)


def write_tensorboard(
    report: Report,
    logdir: str | Path,
    *,
    step: int = 0,
    series: Mapping[str, Sequence[tuple[int, float]]] | None = None,
) -> Path:
    """Write ``report`` into one new event file under ``logdir``; return the folder.

    Args:
        report: the Report; nothing else is read.
        logdir: the TensorBoard log folder (``tensorboard --logdir DIR``).
        step: the step of the report's scalars (a checkpoint's training step).
        series: extra scalars per step (``tag → [(step, value), …]``), e.g. a checkpoint sweep.

    Raises:
        MissingDependencyError: tensorboard is not installed.

    Example:
        >>> write_tensorboard(report, "runs/eval")  # doctest: +SKIP
    """
    event_pb2, summary_pb2, pr_meta, text_meta, EventFileWriter, tensor_util = _imports()
    out = Path(logdir)
    out.mkdir(parents=True, exist_ok=True)
    writer = EventFileWriter(str(out), filename_suffix=".assay")
    now = time.time()

    def emit(values: list[Any], at: int) -> None:
        if values:
            writer.add_event(
                event_pb2.Event(wall_time=now, step=at, summary=summary_pb2.Summary(value=values))
            )

    scalars = []
    for r in report.results:
        if r.check == "checkpoints":  # its metrics are the series' last points, logged per step
            continue
        for name, e in r.metrics.items():
            base = f"{r.model}/{r.check}.{name}"
            for tag, v in ((base, e.value), (f"{base}.lower", e.lower), (f"{base}.upper", e.upper)):
                if math.isfinite(v):
                    scalars.append(summary_pb2.Summary.Value(tag=tag, simple_value=float(v)))
    emit(scalars, step)
    for tag, points in (series or {}).items():
        for s, v in points:
            if math.isfinite(v):
                emit([summary_pb2.Summary.Value(tag=tag, simple_value=float(v))], int(s))
    curves = []
    for r in report.results:
        t = r.tables.get("per_example") if r.check == "performance" else None
        if not isinstance(t, Mapping) or not isinstance(t.get("score"), list):
            continue
        y = np.asarray(t["y_true"], dtype=object) == t.get("positive_label")
        data = pr_counts(y, np.asarray(t["score"], dtype=np.float64))
        meta = pr_meta.create_summary_metadata(
            display_name=f"{r.model} PR curve",
            description=f"positive class "
            f"{t.get('positive_label')}, {len(y)} examples of {r.dataset}",
            num_thresholds=PR_THRESHOLDS,
        )
        curves.append(
            summary_pb2.Summary.Value(
                tag=f"{r.model}/pr_curve/{r.dataset}",
                metadata=meta,
                tensor=tensor_util.make_tensor_proto(data),
            )
        )
    emit(curves, step)
    texts = []
    meta = text_meta.create_summary_metadata(display_name="", description="")
    for r in report.results:
        if r.examples:
            texts.append(
                summary_pb2.Summary.Value(
                    tag=f"{r.model}/{r.check}/failing_examples",
                    metadata=meta,
                    tensor=tensor_util.make_tensor_proto(np.array(_examples_text(r), dtype=object)),
                )
            )
    if report.gates:
        gates = "\n".join(
            f"- {'PASS' if g.passed else '**FAIL**'} `{g.gate}` (observed {g.observed})"
            for g in report.gates
        )
        texts.append(
            summary_pb2.Summary.Value(
                tag="gates",
                metadata=meta,
                tensor=tensor_util.make_tensor_proto(np.array(gates, dtype=object)),
            )
        )
    emit(texts, step)
    writer.flush()
    writer.close()
    return out
