"""Checks: one module per pillar; each plans Requests and scores Responses."""

from assay.checks._base import (
    Check,
    CheckConfig,
    RunContext,
    check_names,
    get_check,
    register_check,
)

__all__ = ["Check", "CheckConfig", "RunContext", "check_names", "get_check", "register_check"]
