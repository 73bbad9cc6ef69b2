"""The renderers' sample Report (tests/report/conftest.py), for the tracking sinks' tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from assay.report import Report

_spec = importlib.util.spec_from_file_location(
    "assay_test_report_sample", Path(__file__).resolve().parents[1] / "report" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
_sample = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_sample)


@pytest.fixture(scope="session")
def shared_report() -> Report:
    """The sample Report, built once per session; tests must not modify it."""
    return _sample.make_report()
