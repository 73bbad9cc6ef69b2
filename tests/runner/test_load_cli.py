"""``assay load`` end to end against the loopback latency server: console table, report.json and
report.html with the latency section, gates deciding the exit code, bad input exiting 2."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assay._cli.main import app
from assay.report import Report

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "load"))
from latency_server import serve

runner = CliRunner()


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with serve() as url:
        yield url


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    path = tmp_path / "prompts.jsonl"
    path.write_text("".join(json.dumps({"prompt": f"question {i}"}) + "\n" for i in range(5)))
    return path


def test_streamed_load_run_writes_report_and_gates(
    base: str, prompts: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    spec = f"openai:m@{base}/cli/stream/30/10/5/v1"
    args = ["load", spec, "--data", str(prompts), "--rate", "10,30", "--duration", "1.5s",
            "--warmup", "200ms", "--slo", "p95<300ms,ttft.p95<250ms,errors<1%", "--stream",
            "--deadline", "500ms", "--out", str(out),
            "--gate", "latency.rate_30.p50_ms.value <= 800",
            "--gate", "latency.capacity.max_rps_at_slo >= 5",
            "--gate", "latency.deadline_miss_rate.value <= 0.01"]  # fmt: skip
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "rate_30" in res.output and "highest rate meeting the SLO: 30" in res.output
    report = Report.model_validate_json((out / "report.json").read_text())
    (result,) = report.results
    assert result.check == "latency"
    assert result.metrics["rate_30.p95_ms"].method == "order-statistic (binomial)"
    assert result.metrics["rate_30.ttft.p50_ms"].value >= 30
    assert result.metrics["capacity.max_rps_at_slo"].value > 20
    html = (out / "report.html").read_text()
    assert "Latency under load" in html
    assert "time to first token" in html and "latency against rate" in html
    # a gate that cannot hold: exit 1
    res = runner.invoke(app, [*args[:-6], "--gate", "latency.rate_30.p50_ms.value <= 1"])
    assert res.exit_code == 1, res.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--rate", "5", "--slo", "p95 > 1s"], "cannot read the SLO term"),
        (["--rate", "5", "--duration", "soon"], "write a duration such as 30s"),
        (["--rate", "five"], "give numbers separated by commas"),
        (["--rate", "5", "--gate", "latency.rate_5.p97_ms.upper <= 1"], "latency."),
        (["--rate", "5", "--input", "nope"], "no column 'nope'"),
        ([], "no load levels"),
    ],
)
def test_bad_input_exits_2_with_the_fix(
    base: str, prompts: Path, extra: list[str], message: str
) -> None:
    res = runner.invoke(
        app, ["load", f"openai:m@{base}/bad/trivial/v1", "--data", str(prompts), *extra]
    )
    assert res.exit_code == 2, res.output
    assert message in res.output
