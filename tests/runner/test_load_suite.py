"""The suite's ``checks: latency: {...}``: the runner runs the load plan the check declares on
a real in-process model (past the engine's cache), the check scores the table, gates decide."""

from __future__ import annotations

from pathlib import Path

import pytest

import assay
from assay.errors import ConfigError


def _suite(tmp_path: Path, latency: str, gates: str = "[]") -> Path:
    (tmp_path / "m.py").write_text(
        "import time\n"
        "calls = []\n"
        "def f(batch):\n"
        "    calls.append(len(batch))\n"
        "    time.sleep(0.005)\n"
        "    return ['pos' if 'good' in x else 'neg' for x in batch]\n"
    )
    (tmp_path / "d.csv").write_text(
        "id,text,label\n1,good film,pos\n2,bad film,neg\n3,good plot,pos\n4,dull,pos\n"
    )
    (tmp_path / "s.yaml").write_text(
        "data: {path: d.csv, id: id, input: text, label: label}\n"
        "models: {m: 'python:m.py:f'}\n"
        f"checks: {{performance: {{}}, latency: {latency}}}\n"
        f"gates: {gates}\n"
    )
    return tmp_path / "s.yaml"


def test_latency_check_runs_its_plan_and_gates(tmp_path: Path) -> None:
    latency = (
        "{rates: [100], concurrency: [1, 2], duration_s: 0.9, warmup_s: 0.1, "
        "slo: 'p95<300ms,errors<1%', deadline_s: 0.5, score: true}"
    )
    gates = (
        "['latency.rate_100.p95_ms.upper <= 800', 'latency.capacity.max_rps_at_slo >= 5', "
        "'latency.deadline_miss_rate.upper <= 0.2', 'performance.accuracy.value >= 0.5']"
    )
    report = assay.evaluate(_suite(tmp_path, latency, gates), progress=False, no_cache=True)
    result = report.result("latency")
    assert report.passed, [g.model_dump() for g in report.gates]
    steps = result.tables["latency"]["steps"]
    assert steps == ["rate_100", "concurrency_1", "concurrency_2"]
    assert result.n == sum(result.tables["latency"][s]["n"] for s in steps) > 30
    assert result.metrics["rate_100.p50_ms"].value >= 5.0  # the model sleeps 5 ms
    # accuracy under load: 3 of 4 rows are right ('dull' is labelled pos, answered neg)
    acc = result.metrics["concurrency_1.accuracy"]
    assert 0.5 < acc.value < 1.0


def test_latency_check_validates_its_plan(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="checks.latency: .*cannot read the SLO term"):
        assay.load_suite(_suite(tmp_path, "{rates: [5], slo: 'p95 = 1s'}"))
    with pytest.raises(ConfigError, match="checks.latency: load: no load levels"):
        assay.load_suite(_suite(tmp_path, "{}"))
    with pytest.raises(ConfigError, match="rate_5.p97_ms"):
        assay.load_suite(_suite(tmp_path, "{rates: [5]}", "['latency.rate_5.p97_ms.upper <= 1']"))
