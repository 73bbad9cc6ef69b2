"""Latency under load: percentiles with intervals, SLOs, capacity (pure functions over samples)."""
