"""Fixtures of the monitor tests (the helpers are in monitor_fixtures.py)."""

from __future__ import annotations

from monitor_fixtures import acs  # noqa: F401  (the session fixture)
