"""``assay load``: latency under load (open- or closed-loop sweeps), as a Report with gates."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from assay._cli._common import EXIT_GATE_FAILED, EXIT_OK, report_paths, user_errors

_DURATION = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)(ms|s|m|min)?$")
_SCALE = {"ms": 1e-3, "s": 1.0, None: 1.0, "m": 60.0, "min": 60.0}


def _seconds(text: str, option: str) -> float:
    from assay.errors import ConfigError

    m = _DURATION.match(text.strip().lower())
    if m is None:
        raise ConfigError(f"{option} {text!r}: write a duration such as 30s, 500ms or 2m")
    return float(m[1]) * _SCALE[m[2]]


def _numbers(text: str | None, option: str, kind: type[float] | type[int]) -> list[Any]:
    from assay.errors import ConfigError

    if not text:
        return []
    try:
        return [kind(x) for x in text.split(",") if x.strip()]
    except ValueError:
        what = "whole numbers" if kind is int else "numbers"
        raise ConfigError(
            f"{option} {text!r}: give {what} separated by commas, e.g. 1,2,4"
        ) from None


def _options(items: list[str] | None) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; each value read as YAML (``32`` is a number, ``true`` a flag)."""
    from assay.errors import ConfigError

    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"--option {item!r}: write KEY=VALUE, e.g. --option max_new_tokens=64"
            )
        out[key.strip()] = yaml.safe_load(value) if value.strip() else ""
    return out


def _cell(est: dict[str, Any] | None, *, bounds: bool = True) -> str:
    if not est or est.get("value") is None:
        return "—"
    v, lo, hi = est["value"], est.get("lower"), est.get("upper")
    if not bounds:
        return f"{v:.0f}"
    interval = (
        f" [{lo:.0f}, {hi:.0f}]"
        if lo is not None and hi is not None
        else (f" [{lo:.0f}, —]" if lo is not None else "")
    )
    return f"{v:.0f}{interval}"


def load(
    model: Annotated[
        str, typer.Argument(help="Model spec, e.g. openai:my-ft@http://127.0.0.1:8000/v1")
    ],
    data: Annotated[Path, typer.Option(help="Inputs to send (CSV, JSONL, Parquet).")],
    rate: Annotated[
        str | None, typer.Option(help="Open-loop rates in requests/s, e.g. 5,10,20,40.")
    ] = None,
    concurrency: Annotated[
        str | None, typer.Option(help="Closed-loop concurrencies, e.g. 1,2,4.")
    ] = None,
    batch_size: Annotated[
        str | None, typer.Option(help="Batch sizes for an in-process model, e.g. 1,8,32.")
    ] = None,
    duration: Annotated[str, typer.Option(help="Measured time per level: 30s, 2m, 500ms.")] = "30s",
    warmup: Annotated[str, typer.Option(help="Time per level run first and left out.")] = "1s",
    max_requests: Annotated[
        int | None, typer.Option(help="At most this many measured requests per level.")
    ] = None,
    timeout: Annotated[str, typer.Option(help="A request longer than this is a timeout.")] = "60s",
    slo: Annotated[
        str | None, typer.Option(help='Service-level objective, e.g. "p95<800ms,errors<1%".')
    ] = None,
    deadline: Annotated[
        str | None, typer.Option(help="A deadline per request (deadline miss rate), e.g. 50ms.")
    ] = None,
    arrivals: Annotated[
        str, typer.Option(help="Open-loop arrivals: poisson or constant.")
    ] = "poisson",
    input: Annotated[
        str | None, typer.Option("--input", help="The input column (default: prompt, text, ...).")
    ] = None,
    label: Annotated[
        str | None, typer.Option(help="A column of right answers: accuracy under load.")
    ] = None,
    stream: Annotated[
        bool,
        typer.Option(help="Stream answers (openai:): time to first token, inter-token latency."),
    ] = False,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option",
            help="An adapter option KEY=VALUE, as under a suite model's options (repeatable), "
            "e.g. --option endpoint=completions --option max_new_tokens=64.",
        ),
    ] = None,
    trust: Annotated[bool, typer.Option(help="Allow model formats that run code on load.")] = False,
    out: Annotated[
        Path | None, typer.Option(help="Output folder for report.json and report.html.")
    ] = None,
    gates: Annotated[
        list[str] | None,
        typer.Option("--gate", help='A gate, e.g. "latency.rate_20.p95_ms.upper <= 800".'),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the inputs drawn and the arrivals.")] = 0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the latency result and gates as JSON.")
    ] = False,
) -> None:
    """Measure latency under load: percentiles with intervals, SLO, capacity; exit 1 if a gate fails."""
    from assay._runner import load_test
    from assay.errors import ConfigError
    from assay.report._console import print_summary

    console = Console(stderr=as_json)

    def progress(step: Any) -> None:
        p95 = step.latency_ms.get("p95")
        console.print(
            f"  {step.name}: {step.n} requests, {step.throughput_rps:.1f}/s, p95 "
            f"{'—' if p95 is None else f'{p95.value:.0f} ms'}",
            highlight=False,
        )

    with user_errors():
        if arrivals not in ("poisson", "constant"):
            raise ConfigError(f"--arrivals {arrivals!r}: use poisson or constant")
        report = load_test(
            model,
            data=data,
            input=input,
            label=label,
            rates=_numbers(rate, "--rate", float),
            concurrency=_numbers(concurrency, "--concurrency", int),
            batch_size=_numbers(batch_size, "--batch-size", int),
            arrivals=arrivals,  # type: ignore[arg-type]
            duration_s=_seconds(duration, "--duration"),
            warmup_s=_seconds(warmup, "--warmup"),
            max_requests=max_requests,
            timeout_s=_seconds(timeout, "--timeout"),
            slo=slo,
            deadline_s=_seconds(deadline, "--deadline") if deadline else None,
            stream=stream,
            options=_options(option),
            trust=trust,
            seed=seed,
            gates=gates or [],
            out=out,
            on_step=progress,
        )
    code = EXIT_OK if report.passed else EXIT_GATE_FAILED
    r = report.results[0]
    table = r.tables["latency"]
    if as_json:
        gate_rows = [g.model_dump(mode="json") for g in report.gates]
        print(json.dumps({**table, "passed": report.passed, "gates": gate_rows}))
        raise typer.Exit(code)
    streamed = any((table[s].get("ttft") or {}) for s in table["steps"])
    t = Table(title=f"latency (ms, {report.level:.0%} intervals) of {table['model']['spec']}")
    for col in ("level", "n", "err", "t/o", "req/s", "p50", "p95 [interval]", "p99", "max"):
        t.add_column(col, justify="right", no_wrap=True)
    if streamed:
        t.add_column("ttft p95", justify="right", no_wrap=True)
        t.add_column("itl p50", justify="right", no_wrap=True)
    if any(table[s].get("meets_slo") is not None for s in table["steps"]):
        t.add_column("SLO", justify="center")
    for name in table["steps"]:
        s = table[name]
        row = [
            name,
            str(s["n"]),
            str(s["n_error"]),
            str(s["n_timeout"]),
            f"{s['throughput_rps']:.1f}",
            _cell(s.get("p50_ms"), bounds=False),
            _cell(s.get("p95_ms")),
            _cell(s.get("p99_ms"), bounds=False),
            _cell(s.get("max_ms"), bounds=False),
        ]
        if streamed:
            row += [
                _cell((s.get("ttft") or {}).get("p95_ms"), bounds=False),
                _cell((s.get("itl") or {}).get("p50_ms"), bounds=False),
            ]
        if s.get("meets_slo") is not None:
            row.append("yes" if s["meets_slo"] else "NO")
        t.add_row(*row)
    console.print(t)
    _print_server(console, table)
    cap = table.get("capacity") or {}
    if cap.get("max_level_at_slo") is not None:
        p95 = cap.get("p95_ms_at_slo") or {}
        console.print(
            f"highest {cap['mode']} meeting the SLO: {cap['max_level_at_slo']:g} "
            f"({cap['max_rps_at_slo']:.1f} requests/s; p95 {_cell(p95)} ms)",
            highlight=False,
        )
    elif slo:
        console.print("no level met the SLO", highlight=False)
    miss = table.get("deadline_miss_rate")
    if miss and miss.get("value") is not None:
        console.print(
            f"deadline miss rate (worst level): {miss['value']:.2%} "
            f"[{miss['lower']:.2%}, {miss['upper']:.2%}]",
            highlight=False,
        )
    if table.get("cold_start_s") is not None:
        console.print(
            f"cold start (model load) {table['cold_start_s']:.2f} s · peak RSS "
            f"{table['peak_rss_mb']:.0f} MB",
            highlight=False,
        )
    if cap.get("knee") is not None:
        console.print(f"saturation knee: {cap['mode']} {cap['knee']:g}", highlight=False)
    for flag in r.flags:
        console.print(f"note: {flag}", highlight=False, markup=False)
    print_summary(report, console=console, paths=report_paths(out))
    raise typer.Exit(code)


def _print_server(console: Any, table: dict[str, Any]) -> None:
    """The server-side view of each level (the endpoint's ``/metrics``), when there is one."""
    rows = []
    for name in table["steps"]:
        server = table[name].get("server")
        if not server:
            continue
        if server.get("error"):
            rows.append([name, server["error"], "", "", "", "", ""])
            continue
        for metric, h in (server.get("histograms") or {}).items():
            rows.append(
                [
                    name,
                    f"{metric} (ms)",
                    f"{h['count']}/{server.get('client_requests', '?')}",
                    f"{h['p50_ms']:.1f}",
                    f"{h['p95_ms']:.1f}",
                    f"{h['mean_ms']:.1f}",
                    "",
                ]
            )
        for metric, g in (server.get("gauges") or {}).items():
            rows.append([name, metric, "", "", "", f"{g['mean']:.2f}", f"{g['max']:g}"])
    if not rows:
        return
    t = Table(title="server-side view (/metrics; p50/p95 from buckets, as histogram_quantile)")
    for col in ("level", "metric", "server/client n", "p50", "p95", "mean", "max"):
        if col in ("level", "metric"):
            t.add_column(col, overflow="fold")
        else:
            t.add_column(col, justify="right", no_wrap=True)
    for row in rows:
        t.add_row(*row)
    console.print(t)
