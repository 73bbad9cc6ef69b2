"""Checks: one thin module per pillar; each plans Requests and scores Responses.

Importing this package registers the built-in checks (each module's ``@register_check``).
"""

from assay.checks import (  # noqa: F401  (importing registers the built-in checks)
    _compare,
    _cv,
    _domain_shift,
    _drift,
    _fairness,
    _finetune_cost,
    _generalization,
    _generation,
    _latency,
    _leakage,
    _performance,
    _robustness,
    _slices,
    _uncertainty,
    _weak_slices,
)
from assay.checks._base import (
    Check,
    CheckConfig,
    RunContext,
    check_names,
    get_check,
    register_check,
)

__all__ = ["Check", "CheckConfig", "RunContext", "check_names", "get_check", "register_check"]
