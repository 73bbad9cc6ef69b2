"""Shared by the adapters: turning what user code returns into ``Output``, hashing files."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, get_args

import numpy as np

from assay._types import Output, Task, canonical_label
from assay.errors import ConfigError, ModelError

__all__ = [
    "TASKS",
    "coerce_output",
    "config_labels",
    "file_sha256",
    "parse_task",
    "probabilities_from",
    "quantiles_from",
    "resolve_path",
    "spread_from",
    "task_of",
]

TASKS: tuple[str, ...] = get_args(Task)

_OUTPUT_FIELDS = (
    "label",
    "probabilities",
    "value",
    "spread",
    "quantiles",
    "text",
    "embedding",
    "usage",
    "timings",
)


def config_labels(config: Any) -> tuple[str, ...]:
    """A transformers classifier's labels, from its config's ``id2label`` in id order."""
    return tuple(canonical_label(config.id2label[i]) for i in range(config.num_labels))


def parse_task(value: Any, *, name: str) -> Task | None:
    """Validate ``options["task"]`` (``None`` or ``"auto"`` mean: find out)."""
    if value is None or value == "auto":
        return None
    if value not in TASKS:
        raise ConfigError(
            f"models.{name}: task {value!r} is not one of {', '.join(TASKS)} (or auto)"
        )
    return value  # type: ignore[no-any-return,unused-ignore]


def file_sha256(path: Path, *, extra: Mapping[str, Any] | None = None) -> str:
    """sha256 of a file's bytes; ``extra`` (adapter options that change the answers) is mixed in."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    if extra:
        h.update(repr(sorted(extra.items())).encode("utf-8"))
    return h.hexdigest()


def resolve_path(target: str, base_dir: Path) -> Path:
    p = Path(target).expanduser()
    return p if p.is_absolute() else base_dir / p


def probabilities_from(mapping: Mapping[Any, Any], *, where: str) -> dict[str, float]:
    """Class → probability with canonical labels and float values."""
    out: dict[str, float] = {}
    for k, v in mapping.items():
        try:
            p = float(v)
        except (TypeError, ValueError):
            raise ModelError(f"{where}: probability of {k!r} is {v!r}, not a number") from None
        if math.isnan(p):
            continue
        out[canonical_label(k)] = p
    return out


def spread_from(value: Any, *, where: str) -> float:
    """A predicted spread as a float: finite and non-negative.

    Raises:
        ModelError: not a number, NaN, infinite or negative.
    """
    try:
        s = float(value)
    except (TypeError, ValueError):
        raise ModelError(f"{where}: spread {value!r} is not a number") from None
    if not math.isfinite(s) or s < 0:
        raise ModelError(
            f"{where}: spread {s:g} must be a finite number ≥ 0 (a predicted standard "
            "deviation or another scale of the error); leave it out for a row without one"
        )
    return s


def quantiles_from(mapping: Mapping[Any, Any], *, where: str) -> dict[float, float]:
    """Predicted quantiles as level → value, levels in (0, 1), values finite and non-decreasing
    in the level (sorted by level).

    Raises:
        ModelError: a level outside (0, 1), a value that is not a finite number, or a higher
            level with a lower value (crossed quantiles).
    """
    out: dict[float, float] = {}
    for k, v in mapping.items():
        try:
            level = float(k)
        except (TypeError, ValueError):
            raise ModelError(f"{where}: quantile level {k!r} is not a number") from None
        if not 0.0 < level < 1.0:
            raise ModelError(f"{where}: quantile level {level:g} is outside (0, 1)")
        try:
            q = float(v)
        except (TypeError, ValueError):
            raise ModelError(f"{where}: quantile {level:g} is {v!r}, not a number") from None
        if not math.isfinite(q):
            raise ModelError(f"{where}: quantile {level:g} is {q:g}; give a finite number")
        out[level] = q
    ordered = dict(sorted(out.items()))
    levels, values = list(ordered), list(ordered.values())
    for (l0, v0), (l1, v1) in zip(zip(levels, values), zip(levels[1:], values[1:])):
        if v1 < v0:
            raise ModelError(
                f"{where}: quantiles cross: the {l1:g} quantile {v1:g} is below the {l0:g} "
                f"quantile {v0:g}; quantiles must not decrease with the level (sort them per "
                "row, as quantile regression's rearrangement does)"
            )
    return ordered


def _argmax(probabilities: Mapping[str, float]) -> str | None:
    return max(probabilities, key=probabilities.__getitem__) if probabilities else None


def coerce_output(value: Any, *, task: Task | None, where: str) -> Output:
    """One answer of user code as an ``Output``.

    The rules, in order:

    * an ``Output``, or a mapping with ``Output``'s fields
      (``{"label": ..., "probabilities": {...}}``), is taken as is;
    * a ``bool`` or an integer is a class label;
    * a float is a regression value — or a class label when the task is ``classification``;
    * a string is a class label — or generated text when the task is ``generation``;
    * a list/array of numbers is an embedding.

    Labels and probability keys go through :func:`canonical_label`. When probabilities come
    without a label, the label is the most probable class.

    Raises:
        ModelError: ``None``, an unknown mapping key, or a type none of the rules covers.
    """
    if isinstance(value, Output):
        out = value
    elif isinstance(value, Mapping):
        unknown = sorted(set(map(str, value)) - set(_OUTPUT_FIELDS))
        if unknown:
            raise ModelError(
                f"{where}: returned a mapping with key(s) {', '.join(map(repr, unknown))}; "
                f"allowed keys: {', '.join(_OUTPUT_FIELDS)}"
            )
        out = Output(**{str(k): v for k, v in value.items()})
    elif value is None:
        raise ModelError(f"{where}: returned None; return a label, a number, a text or an Output")
    elif isinstance(value, (bool, np.bool_, int, np.integer)):
        out = (
            Output(value=float(value))
            if task == "regression"
            else Output(label=canonical_label(value))
        )
    elif isinstance(value, (float, np.floating)):
        out = (
            Output(label=_float_label(value, where))
            if task == "classification"
            else Output(value=float(value))
        )
    elif isinstance(value, (str, bytes)):
        text = value.decode("utf-8") if isinstance(value, bytes) else value
        out = Output(text=text) if task == "generation" else Output(label=text)
    elif isinstance(value, (Sequence, np.ndarray)):
        try:
            out = Output(embedding=[float(x) for x in value])
        except (TypeError, ValueError):
            raise ModelError(
                f"{where}: returned a sequence that is not a vector of numbers"
            ) from None
    else:
        raise ModelError(
            f"{where}: returned {type(value).__name__}; return a label, a number, a text, "
            "a dict like {'label': ..., 'probabilities': {...}} or an Output"
        )
    return _normalised(out, where=where)


def _float_label(value: float | np.floating[Any], where: str) -> str:
    try:
        return canonical_label(value)
    except ValueError:  # NaN
        raise ModelError(f"{where}: returned a missing (NaN) label") from None


def _normalised(out: Output, *, where: str) -> Output:
    probabilities = (
        probabilities_from(out.probabilities, where=where)
        if out.probabilities is not None
        else None
    )
    label: Any = out.label
    if label is None and probabilities:
        label = _argmax(probabilities)
    try:
        label = canonical_label(label) if label is not None else None
    except ValueError:  # NaN label
        raise ModelError(f"{where}: returned a missing (NaN) label") from None
    value = float(out.value) if out.value is not None else None
    spread = spread_from(out.spread, where=where) if out.spread is not None else None
    quantiles = quantiles_from(out.quantiles, where=where) if out.quantiles else None
    if (spread is not None or quantiles is not None) and value is None:
        raise ModelError(
            f"{where}: a spread or quantiles come with a regression value; return "
            "{'value': v, 'spread': s} or {'value': v, 'quantiles': {0.05: lo, 0.95: hi}}"
        )
    return Output(
        label=label,
        probabilities=probabilities,
        value=value,
        spread=spread,
        quantiles=quantiles,
        text=out.text,
        embedding=[float(x) for x in out.embedding] if out.embedding is not None else None,
        usage=out.usage,
        timings=out.timings,
    )


def task_of(output: Output) -> Task:
    """The task an answer implies: label/probabilities → classification, value → regression,
    text → generation, embedding → embedding."""
    if output.label is not None or output.probabilities:
        return "classification"
    if output.value is not None:
        return "regression"
    if output.text is not None:
        return "generation"
    if output.embedding is not None:
        return "embedding"
    return "classification"
