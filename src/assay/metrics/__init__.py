"""Metrics: pure functions of arrays."""

__all__: list[str] = []
