"""A starter suite written from a data file (``assay init``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from assay.config import SUITE_SCHEMA
from assay.data import infer_roles, load_dataset

__all__ = ["write_starter_suite"]


def write_starter_suite(
    *,
    data: str | Path,
    label: str | None = None,
    model: str = "sklearn:model.joblib",
    out: str | Path = "suite.yaml",
) -> tuple[str, list[str]]:
    """Infer column roles from ``data`` and write a suite that runs the core checks.

    The suite declares the label set found in the data (``labels:``; a binary problem also
    names its ``positive_label``), so that a typo in later data or a prediction outside the
    classes is refused instead of becoming a class; and it gates on what could not be scored
    (``performance.unscored.* <= 0``).

    Returns:
        The YAML text written and the reasons for each inferred role.

    Raises:
        DataError: the data file cannot be read, ``label`` is not one of its columns, or its
            labels differ only in case or spacing ("Sports" next to "sports").
    """
    out_path = Path(out)
    roles, reasons = infer_roles(data, label=label)
    rel = os.path.relpath(Path(data).resolve(), out_path.resolve().parent)
    spec: dict[str, Any] = {"path": rel}
    spec.update({k: v for k, v in roles.model_dump().items() if v not in (None, [], {})})
    labels = _label_set(data, spec) if spec.get("label") else None
    if labels is not None:
        spec["labels"] = list(labels)
    checks: dict[str, Any] = {"performance": {}}
    if labels is not None and len(labels) == 2:
        checks["performance"] = {"positive_label": labels[1]}
    slice_cols = [*spec.get("slices", []), *spec.get("groups", [])]
    if spec.get("domain"):
        slice_cols.append(spec["domain"])
    checks["slices"] = {"min_n": 30}
    suite: dict[str, Any] = {
        "name": Path(data).stem.split(".")[0],
        "data": spec,
        "models": {"candidate": model},
        "checks": checks,
        "gates": ["performance.accuracy.lower >= 0.5", "performance.unscored.* <= 0"],
    }
    # Loading a pickle runs code: the starter never says `trust: true` for the user; the command
    # it suggests asks for --trust, which the user gives knowingly.
    trust = " --trust" if model.startswith("sklearn:") else ""
    header = (
        "# Starter suite written by `assay init`. Check the column roles, then run: assay run "
        f"{out_path.name}{trust}\n"
        + (
            "# --trust: loading a joblib/pickle file runs code; give it only for a file you trust.\n"
            if trust
            else ""
        )
        + "# Gates speak about interval bounds: performance.f1_macro.lower >= 0.80\n"
        + f"# yaml-language-server: $schema={SUITE_SCHEMA}\n"
        + "# performance.unscored.* <= 0: every row is scored: none dropped, no id missing, no call\n"
        + "# failed, no prediction outside `labels`, none without probabilities (docs/suite.md).\n"
        + (
            f"# labels: the classes found in the data; positive_label: {labels[1]} (check both).\n"
            if labels is not None and len(labels) == 2
            else "# labels: the classes found in the data (check them).\n"
            if labels is not None
            else ""
        )
    )
    text = header + yaml.safe_dump(suite, sort_keys=False, allow_unicode=True)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(text, encoding="utf-8")
    return text, list(reasons)


def _label_set(data: str | Path, spec: dict[str, Any]) -> tuple[str, ...] | None:
    """The classes of the label column (``None`` for a numeric target); refuses labels that
    differ only in case or spacing, naming both spellings."""
    roles = {k: v for k, v in spec.items() if k != "path"}
    ds = load_dataset({**roles, "path": str(Path(data).resolve()), "on_invalid": "skip"})
    return ds.labels
