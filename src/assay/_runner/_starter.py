"""A starter suite written from a data file (``assay init``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from assay.config import SUITE_SCHEMA
from assay.data import infer_roles

__all__ = ["write_starter_suite"]


def write_starter_suite(
    *,
    data: str | Path,
    label: str | None = None,
    model: str = "sklearn:model.joblib",
    out: str | Path = "suite.yaml",
) -> tuple[str, list[str]]:
    """Infer column roles from ``data`` and write a suite that runs the core checks.

    Returns:
        The YAML text written and the reasons for each inferred role.

    Raises:
        DataError: the data file cannot be read, or ``label`` is not one of its columns.
    """
    out_path = Path(out)
    roles, reasons = infer_roles(data, label=label)
    rel = os.path.relpath(Path(data).resolve(), out_path.resolve().parent)
    spec: dict[str, Any] = {"path": rel}
    spec.update({k: v for k, v in roles.model_dump().items() if v not in (None, [], {})})
    checks: dict[str, Any] = {"performance": {}}
    slice_cols = [*spec.get("slices", []), *spec.get("groups", [])]
    if spec.get("domain"):
        slice_cols.append(spec["domain"])
    checks["slices"] = {"min_n": 30}
    suite: dict[str, Any] = {
        "name": Path(data).stem.split(".")[0],
        "data": spec,
        "models": {"candidate": model},
        "checks": checks,
        "gates": ["performance.accuracy.lower >= 0.5"],
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
    )
    text = header + yaml.safe_dump(suite, sort_keys=False, allow_unicode=True)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(text, encoding="utf-8")
    return text, list(reasons)
