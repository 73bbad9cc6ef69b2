"""Loading a suite for a run: its fields (config), then what needs the whole suite — each check's
options, the datasets they name, and the gates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import assay.checks  # noqa: F401  (registers the built-in checks)
from assay._runner._gates import validate_gates
from assay.checks._base import get_check, parse_check_config
from assay.config import Suite, read_suite, read_suite_dict
from assay.errors import ConfigError

__all__ = ["load_suite", "suite_from_dict", "validate_suite"]


def load_suite(path: str | Path, *, overrides: dict[str, Any] | None = None) -> Suite:
    """Read a suite file and validate it whole.

    Precedence, highest first: ``overrides`` (explicit arguments and CLI flags), ``ASSAY_*``
    environment variables (``ASSAY_SEED``, ``ASSAY_LEVEL``, ``ASSAY_OUT``), the file, defaults.

    Args:
        path: the YAML file.
        overrides: top-level fields to set after reading (``{"seed": 3}``).

    Returns:
        The validated Suite; relative paths in it resolve against the file's folder.

    Raises:
        ConfigError: the file is missing, not YAML, or invalid (a field, a check's option, a
            dataset a check names, a gate); the message names the YAML path, what was found and
            what is allowed.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "suite.yaml"
        >>> _ = p.write_text("data: {path: t.csv, input: text, label: y}\\nmodels: {m: 'python:mod:f'}\\n")
        >>> load_suite(p).primary_model
        'm'
    """
    suite = read_suite(path, overrides=overrides)
    return validate_suite(suite, source=str(path))


def suite_from_dict(
    raw: dict[str, Any],
    *,
    base_dir: Path = Path("."),
    source: str = "suite",
    overrides: dict[str, Any] | None = None,
) -> Suite:
    """Validate a suite given as a dict (what :func:`load_suite` does after parsing YAML)."""
    suite = read_suite_dict(raw, base_dir=base_dir, source=source, overrides=overrides)
    return validate_suite(suite, source=source)


def validate_suite(suite: Suite, *, source: str = "suite") -> Suite:
    """Check what a suite's fields alone cannot: each check's options, the datasets checks
    name, each check's own suite-wide rules, and the gates. Returns ``suite``.

    Raises:
        ConfigError: naming the YAML path and the fix.
    """
    configs = {name: parse_check_config(name, opts) for name, opts in suite.checks.items()}
    for ds_name in [c.dataset for c in configs.values() if c.dataset]:
        if ds_name not in suite.data:
            raise ConfigError(
                f"{source}: checks: dataset {ds_name!r} is not declared; declared: {', '.join(suite.data)}"
            )
    for name, cfg in configs.items():
        get_check(name).validate_suite(cfg, suite, source=source)
    validate_gates(suite.gates, suite, configs, source=source)
    return suite
