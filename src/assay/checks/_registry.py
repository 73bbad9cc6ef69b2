"""Importing the built-in checks registers them."""

from __future__ import annotations

__all__ = ["ensure_builtin_checks"]


def ensure_builtin_checks() -> None:
    """Import the modules of the built-in checks (their decorators register them)."""
    from assay.checks import (  # noqa: F401
        _cv,
        _domain_shift,
        _fairness,
        _generalization,
        _generation,
        _leakage,
        _performance,
        _robustness,
        _slices,
        _weak_slices,
    )
    from assay.compare import _check, _finetune_cost  # noqa: F401
