"""Readers for training logs: TensorBoard event files, ``trainer_state.json``, MLflow, CSV/JSONL.

Every reader returns a :class:`~assay.tracking.TrainingLog`. ``read_log`` picks the reader from
the path: a folder with ``events.out.tfevents.*`` files (searched recursively; each sub-folder's
tags are prefixed with the sub-folder, as TensorBoard shows them), a ``trainer_state.json`` (or a
folder or checkpoint folder holding one), an ``mlflow:`` URI, or a ``.csv``/``.jsonl`` file.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pandas as pd

from assay.errors import ConfigError, DataError, MissingDependencyError
from assay.generalization._log import Series, TrainingLog

__all__ = [
    "read_csv_log",
    "read_log",
    "read_mlflow",
    "read_tensorboard",
    "read_trainer_state",
]

_TB_GLOB = "events.out.tfevents.*"
#: ``log_history`` keys that are bookkeeping, not metrics.
_HF_SKIP = {
    "step",
    "epoch",
    "total_flos",
    "train_runtime",
    "train_samples_per_second",
    "train_steps_per_second",
    "eval_runtime",
    "eval_samples_per_second",
    "eval_steps_per_second",
    "learning_rate",
    "grad_norm",
    "num_input_tokens_seen",
}


def read_log(source: str | Path, *, format: str = "auto", run_id: str | None = None) -> TrainingLog:
    """Read a training log, choosing the reader from ``source`` unless ``format`` says.

    Args:
        source: a TensorBoard log folder, a ``trainer_state.json`` (or its folder), a CSV/JSONL
            file, or ``mlflow:<tracking URI>`` (``mlflow:sqlite:///mlflow.db``,
            ``mlflow:http://host:5000``, ``mlflow:./mlruns``) together with ``run_id``.
        format: ``auto``, ``tensorboard``, ``trainer_state``, ``mlflow``, ``csv`` or ``jsonl``.
        run_id: the MLflow run; also accepted as ``mlflow:<uri>#<run_id>``.

    Returns:
        The TrainingLog.

    Raises:
        ConfigError: the source cannot be recognised or does not exist.
        DataError: the file is malformed (the message names file and line).
        MissingDependencyError: TensorBoard or MLflow logs without the ``tracking`` extra.

    Example:
        >>> import json, tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "trainer_state.json"
        >>> _ = p.write_text(json.dumps({"log_history": [{"step": 10, "loss": 0.5},
        ...                                              {"step": 10, "eval_loss": 0.6}]}))
        >>> read_log(p).names()
        ['eval_loss', 'loss']
    """
    text = str(source)
    if format == "mlflow" or (format == "auto" and text.startswith("mlflow:")):
        uri = text[len("mlflow:") :] if text.startswith("mlflow:") else text
        if "#" in uri:
            uri, _, rid = uri.rpartition("#")
            run_id = run_id or rid
        if not run_id:
            raise ConfigError(
                f"{source}: an MLflow log needs a run id; write mlflow:<tracking uri>#<run id> "
                "or pass run_id"
            )
        return read_mlflow(uri, run_id)
    path = Path(source)
    if not path.exists():
        raise ConfigError(
            f"{path}: no such training log; give a TensorBoard folder, a trainer_state.json, "
            "a CSV/JSONL log or mlflow:<tracking uri>#<run id>"
        )
    if format == "auto":
        format = _sniff(path)
    readers = {
        "tensorboard": read_tensorboard,
        "trainer_state": read_trainer_state,
        "csv": read_csv_log,
        "jsonl": read_csv_log,
    }
    if format not in readers:
        raise ConfigError(
            f"format {format!r} is not a training-log format; allowed: auto, "
            f"{', '.join([*readers, 'mlflow'])}"
        )
    return readers[format](path)


def _sniff(path: Path) -> str:
    if path.is_dir():
        if (path / "trainer_state.json").is_file():
            return "trainer_state"
        if next(path.rglob(_TB_GLOB), None) is not None:
            return "tensorboard"
        states = sorted(path.glob("checkpoint-*/trainer_state.json"))
        if states:
            return "trainer_state"
        raise ConfigError(
            f"{path}: the folder holds no TensorBoard event files ({_TB_GLOB}) and no "
            "trainer_state.json; point at the run's log folder or file"
        )
    name = path.name.lower()
    if name.startswith("events.out.tfevents."):
        return "tensorboard"
    if name.endswith(".json"):
        return "trainer_state"
    if name.endswith((".csv", ".tsv")):
        return "csv"
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    raise ConfigError(
        f"{path}: cannot tell the log format from the name; set format: tensorboard, "
        "trainer_state, csv or jsonl"
    )


def read_trainer_state(path: str | Path) -> TrainingLog:
    """The Hugging Face Trainer's ``trainer_state.json``: every number in ``log_history``.

    Training entries hold ``loss``; evaluation entries hold ``eval_<metric>``. A folder is
    searched for ``trainer_state.json``, then for the latest ``checkpoint-*/trainer_state.json``.
    """
    p = Path(path)
    if p.is_dir():
        direct = p / "trainer_state.json"
        if direct.is_file():
            p = direct
        else:
            states = sorted(
                p.glob("checkpoint-*/trainer_state.json"),
                key=lambda q: (
                    int(q.parent.name.rpartition("-")[2] or 0)
                    if q.parent.name.rpartition("-")[2].isdigit()
                    else -1
                ),
            )
            if not states:
                raise ConfigError(f"{p}: no trainer_state.json in the folder or its checkpoints")
            p = states[-1]
    try:
        state = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(f"{p}: line {e.lineno}: not valid JSON: {e.msg}") from None
    history = state.get("log_history") if isinstance(state, dict) else None
    if not isinstance(history, list):
        raise DataError(
            f"{p}: no `log_history` list; is this a Hugging Face Trainer trainer_state.json?"
        )
    points: dict[str, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    for i, entry in enumerate(history):
        if not isinstance(entry, dict):
            raise DataError(f"{p}: log_history[{i}] is a {type(entry).__name__}, not an object")
        step = entry.get("step", entry.get("epoch"))
        if not isinstance(step, (int, float)):
            continue
        for key, value in entry.items():
            if key in _HF_SKIP or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if key.startswith("train_") and "eval" not in key:
                continue  # end-of-training summary (train_loss over the whole run)
            xs, ys = points[key]
            xs.append(float(step))
            ys.append(float(value))
    return TrainingLog(
        str(p), "trainer_state", {k: Series.build(k, xs, ys) for k, (xs, ys) in points.items()}
    )


def read_tensorboard(path: str | Path) -> TrainingLog:
    """Scalars from TensorBoard event files under ``path`` (needs the ``tracking`` extra).

    Event files in sub-folders (``runs/train``, ``runs/validation``, as Keras and PyTorch
    Lightning write them) get their folder as a tag prefix: ``train/epoch_loss``.
    Scalars written as tensors (TF2 summaries) are read too.
    """
    try:
        from tensorboard.backend.event_processing.event_accumulator import (
            SCALARS,
            TENSORS,
            EventAccumulator,
        )
        from tensorboard.util import tensor_util
    except ImportError as e:
        raise MissingDependencyError(
            f"reading TensorBoard logs needs tensorboard ({e}); pip install 'assay[tracking]'"
        ) from None
    root = Path(path)
    files = [root] if root.is_file() else sorted(root.rglob(_TB_GLOB))
    if not files:
        raise ConfigError(f"{root}: no TensorBoard event files ({_TB_GLOB}) here")
    points: dict[str, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    for folder in sorted({f.parent for f in files}):
        prefix = (
            "" if root.is_file() or folder == root else folder.relative_to(root).as_posix() + "/"
        )
        acc = EventAccumulator(str(folder), size_guidance={SCALARS: 0, TENSORS: 0})
        try:
            acc.Reload()
        except Exception as e:
            raise DataError(
                f"{folder}: cannot read the event files: {type(e).__name__}: {e}"
            ) from e
        tags = acc.Tags()
        for tag in tags.get("scalars", []):
            xs, ys = points[prefix + tag]
            for ev in acc.Scalars(tag):
                xs.append(float(ev.step))
                ys.append(float(ev.value))
        for tag in tags.get("tensors", []):
            xs, ys = points[prefix + tag]
            for tev in acc.Tensors(tag):
                arr = tensor_util.make_ndarray(tev.tensor_proto)
                if arr.size == 1 and arr.dtype.kind in "fiu":
                    xs.append(float(tev.step))
                    ys.append(float(arr.reshape(-1)[0]))
    series = {k: Series.build(k, xs, ys) for k, (xs, ys) in points.items() if xs}
    return TrainingLog(str(root), "tensorboard", series)


def read_mlflow(tracking_uri: str, run_id: str) -> TrainingLog:
    """Every metric's full history of one MLflow run (needs the ``tracking`` extra)."""
    try:
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient
    except ImportError as e:
        raise MissingDependencyError(
            f"reading MLflow runs needs mlflow ({e}); pip install 'assay[tracking]'"
        ) from None
    client = MlflowClient(tracking_uri=tracking_uri)
    try:
        run = client.get_run(run_id)
        series = {}
        for key in sorted(run.data.metrics):
            hist = client.get_metric_history(run_id, key)
            series[key] = Series.build(key, [m.step for m in hist], [m.value for m in hist])
    except MlflowException as e:
        raise ConfigError(
            f"mlflow:{tracking_uri}: cannot read run {run_id!r}: {e.message}"
        ) from None
    return TrainingLog(f"mlflow:{tracking_uri}#{run_id}", "mlflow", series)


def read_csv_log(path: str | Path) -> TrainingLog:
    """A CSV or JSONL log, long or wide.

    Long: columns ``step``, ``metric``, ``value`` and optionally ``split`` (``train``,
    ``validation``…); the series is named ``<split>/<metric>``. Wide: a ``step`` (or ``epoch``)
    column and one column per metric (``train_loss``, ``val_loss``).
    """
    p = Path(path)
    try:
        if p.suffix.lower() in (".jsonl", ".ndjson"):
            frame = pd.read_json(p, lines=True)
        else:
            frame = pd.read_csv(p, sep="\t" if p.suffix.lower() == ".tsv" else ",")
    except ValueError as e:
        raise DataError(f"{p}: cannot read the log: {e}") from None
    cols = {str(c).lower(): c for c in frame.columns}
    step_col = cols.get("step", cols.get("global_step", cols.get("epoch")))
    if step_col is None:
        raise DataError(
            f"{p}: no step column; found columns {', '.join(map(str, frame.columns))}; add "
            "`step` (or `epoch`)"
        )
    series: dict[str, Series] = {}
    if "metric" in cols and "value" in cols:
        names = frame[cols["metric"]].astype(str)
        if "split" in cols:
            names = frame[cols["split"]].astype(str) + "/" + names
        for name, part in frame.groupby(names, sort=True):
            values = pd.to_numeric(part[cols["value"]], errors="coerce")
            series[str(name)] = Series.build(str(name), part[step_col], values)
        return TrainingLog(str(p), "jsonl" if p.suffix.lower() != ".csv" else "csv", series)
    for c in frame.columns:
        if c == step_col or str(c).lower() in ("epoch", "step", "global_step", "time", "timestamp"):
            continue
        values = pd.to_numeric(frame[c], errors="coerce")
        if values.notna().any():
            series[str(c)] = Series.build(str(c), frame[step_col], values)
    return TrainingLog(str(p), "csv" if p.suffix.lower() == ".csv" else "jsonl", series)
