"""Importing the built-in checks registers them."""

from __future__ import annotations

__all__ = ["ensure_builtin_checks"]


def ensure_builtin_checks() -> None:
    """Import the modules of the built-in checks (their decorators register them)."""
    from assay.checks import _fairness, _performance, _slices  # noqa: F401
    from assay.checks import _generalization  # noqa: F401
    from assay.checks import _leakage  # noqa: F401
    from assay.checks import _cv  # noqa: F401
    from assay.checks import _domain_shift, _robustness  # noqa: F401
    from assay.checks import _weak_slices  # noqa: F401
    from assay.checks import _generation  # noqa: F401
    from assay.compare import _check  # noqa: F401
    from assay.compare import _finetune_cost  # noqa: F401
