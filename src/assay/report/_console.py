"""A compact Rich summary of a ``Report`` for the terminal: headline metrics, gates, verdict."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from assay.metrics import metrics_for
from assay.report._console_pillars import pillar_lines
from assay.report._html import _model_order, _task
from assay.report._schema import CheckResult, Report
from assay.stats._estimate import Estimate

__all__ = ["print_summary"]

#: The metrics the summary shows, per task, in order (those present are shown): the catalogue's
#: summary metrics.
PRIMARY = {
    task: tuple(m.name for m in metrics_for(task, shown=("summary",)))
    for task in ("classification", "regression")
}


def _fmt(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "undefined"
    a = abs(x)
    return format(x, ".3f" if a == 0 or 1e-3 <= a < 10 else ".2f" if a < 1000 else ".4g")


def _estimate(e: Estimate | None) -> Text:
    if e is None:
        return Text("—", style="dim")
    if not e.defined:
        return Text("undefined", style="yellow italic")
    t = Text(_fmt(e.value), style="bold")
    if math.isfinite(e.lower) and math.isfinite(e.upper):
        t.append(f" [{_fmt(e.lower)}, {_fmt(e.upper)}]", style="dim")
    return t


def _metrics_table(report: Report, task: str, results: list[CheckResult]) -> Table | None:
    if not results:
        return None
    multi_ds = len({r.dataset for r in results}) > 1
    names: list[str] = []
    for r in results:
        names += [k for k in PRIMARY[_task(r)] if k in r.metrics and k not in names]
    table = Table(title=f"Performance: {task} ({report.level:.0%} intervals)", box=box.SIMPLE_HEAD,
                  title_justify="left", pad_edge=False)
    table.add_column("metric")
    for r in results:
        head = Text(r.model, style="bold")
        if multi_ds:
            head.append(f"\n{r.dataset}", style="dim")
        head.append(f"\nn={r.n}", style="dim")
        table.add_column(head, justify="right")
    for name in names:
        table.add_row(name, *[_estimate(r.metrics.get(name)) for r in results])
    return table


def _gates_table(report: Report) -> Table | None:
    if not report.gates:
        return None
    table = Table(title="Gates", box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    table.add_column("")
    table.add_column("gate", overflow="fold")  # never cut a gate short
    table.add_column("observed", justify="right")
    table.add_column("threshold", justify="right")
    table.add_column("detail", style="dim", overflow="fold")
    for g in report.gates:
        mark = Text("✓", style="bold green") if g.passed else Text("✗", style="bold red")
        table.add_row(mark, Text(g.gate), _fmt(g.observed), _fmt(g.threshold), Text(g.detail))
    return table


def _verdict(report: Report) -> Text:
    if not report.gates:
        return Text.assemble(("NO GATES", "bold yellow"), " — nothing decides go / no-go")
    failed = sum(not g.passed for g in report.gates)
    if failed:
        return Text.assemble(("FAIL", "bold white on red"),
                             f" — {failed} of {len(report.gates)} gates failed")
    return Text.assemble(("PASS", "bold white on green"),
                         f" — all {len(report.gates)} gates passed")


def _calls_line(report: Report) -> list[Text]:
    """The engine's count of model calls (distinct inputs), the failed ones and every retry."""
    e = report.engine or {}
    called, cached = int(e.get("n_called", 0)), int(e.get("n_cached", 0))
    failed, retries = int(e.get("n_errors", 0)), int(e.get("n_retries", 0))
    if not (called or cached):
        return []
    return [Text.assemble(
        ("calls ", "yellow" if failed or retries else "dim"),
        f"{called} asked, {cached} from the cache · {failed} failed after retries · "
        f"{retries} retries",
    )]


def _error_lines(results: Iterable[CheckResult]) -> list[Text]:
    lines = []
    for r in results:
        e = r.errors
        if e.n_errors:
            how = "excluded from metrics" if e.treatment == "exclude" else "counted as wrong"
            first = str(e.examples[0].get("error", "")) if e.examples else ""
            if len(first) > 160:
                first = first[:159] + "…"
            lines.append(Text.assemble(
                ("errors ", "yellow"),
                f"{r.check} · {r.model} · {r.dataset}: {e.n_errors} of {e.n_requests} rows had a "
                f"failed model call ({how})" + (f"; first: {first}" if first else ""),
            ))
    return lines


#: How the console names each reason a row went unscored (``performance.unscored.<reason>``).
_UNSCORED = {
    "rows_dropped": "rows dropped",
    "ids_missing": "ids missing",
    "calls_failed": "calls failed",
    "outside_labels": "outside the labels",
    "no_probabilities": "without probabilities",
}


def _unscored_lines(results: Iterable[CheckResult]) -> list[Text]:
    """One line per performance result: what could not be scored, by reason, with the first
    places, or that every row was scored."""
    lines = []
    for r in results:
        table = r.tables.get("unscored")
        if r.check != "performance" or not isinstance(table, Mapping):
            continue
        counts = table.get("counts") or {}
        examples = table.get("examples") or {}
        head = f"{r.model} · {r.dataset}: "
        parts = []
        for reason, words in _UNSCORED.items():
            k = int(counts.get(reason) or 0)
            if not k:
                continue
            part = f"{k} {words}"
            if reason == "calls_failed" and table.get("causes"):
                part += " (" + ", ".join(f"{c}: {n}" for c, n in table["causes"].items()) + ")"
            first = examples.get(reason) or []
            if first:
                part += " — " + "; ".join(map(str, first[:3])) + ("; …" if k > 3 else "")
            parts.append(part)
        renormalised = int(table.get("renormalised") or 0)
        if renormalised:
            parts.append(f"{renormalised} with probabilities renormalised to sum to 1 (scored)")
        if any(int(counts.get(reason) or 0) for reason in _UNSCORED):
            lines.append(Text.assemble(("unscored ", "bold yellow"), head + " | ".join(parts)))
        elif parts:
            lines.append(Text.assemble(("unscored ", "dim"), head + "none; " + parts[0]))
        else:
            lines.append(Text.assemble(("unscored ", "dim"), (head + "none, every row scored",
                                                              "dim")))
    return lines


def _answer_lines(results: Iterable[CheckResult]) -> list[Text]:
    """A line per check whose language-model answers were not all clean: unparseable, empty or
    cut short, probability outside the labels, labels given the floor; and a hint if any."""
    lines = []
    for r in results:
        a = r.tables.get("answers")
        if not isinstance(a, Mapping) or r.check not in ("performance", "generation"):
            continue
        n = a.get("n", 0)
        parts = [
            f"{a[key]} of {n} {what}"
            for key, what in (
                ("unparseable", "named no label"),
                ("empty", "empty"),
                ("cut_short", "cut short"),
                ("label_floor", "with a label given the floor"),
            )
            if a.get(key)
        ]
        if a.get("outside_label_mass") is not None:
            parts.append(f"{a['outside_label_mass']:.1%} of the probability outside the labels")
        if parts:
            lines.append(Text.assemble(
                ("answers ", "yellow"), f"{r.check} · {r.model} · {r.dataset}: " + " · ".join(parts)
            ))
        if a.get("hint"):
            lines.append(Text.assemble(("hint ", "yellow"), f"{r.model}: {a['hint']}"))
    return lines


def print_summary(
    report: Report,
    *,
    console: Console | None = None,
    paths: Mapping[str, str | Path] | Iterable[str | Path] | None = None,
) -> None:
    """Print a compact summary of ``report``: headline metrics per model, gates and the verdict.

    Args:
        report: the Report to summarise; nothing else is read.
        console: where to print; a new ``rich.console.Console`` (stdout) when omitted.
        paths: files the run wrote (``{"html": path, ...}`` or a list of paths), listed last.

    Example:
        >>> from rich.console import Console
        >>> from assay.report import Report
        >>> r = Report(assay_version="0.1.0", suite_name="demo", suite={}, created_at="2024-01-01",
        ...            duration_s=1.0, seed=0, level=0.95, datasets=[], models=[], environment={})
        >>> c = Console(record=True, width=80)
        >>> print_summary(r, console=c)
        >>> "NO GATES" in c.export_text()
        True
    """
    console = console or Console()
    order = {name: i for i, name in enumerate(_model_order(report))}
    results = sorted(report.results, key=lambda r: order.get(r.model, len(order)))
    parts: list[Text | Table] = [Text.assemble(
        ("assay ", "dim"), (report.suite_name, "bold"),
        (f"  {report.created_at} · {report.duration_s:.1f} s · seed {report.seed}", "dim"),
    )]
    perf = [r for r in results if r.check == "performance"]
    for task in ("classification", "regression"):
        table = _metrics_table(report, task, [r for r in perf if _task(r) == task])
        if table is not None:
            parts.append(table)
    flagged = [(r, row) for r in results if r.check == "slices"
               for row in (r.tables.get("slices") or []) if isinstance(row, Mapping)
               and row.get("flagged")]
    if flagged:
        parts.append(Text.assemble(("slices ", "yellow"), f"{len(flagged)} flagged: " + ", ".join(
            f"{r.model}: {row.get('column')}={row.get('value')}" for r, row in flagged)))
    parts += pillar_lines(report, results)
    gates = _gates_table(report)
    if gates is not None:
        parts.append(gates)
    parts += _calls_line(report)
    parts += _error_lines(results)
    parts += _unscored_lines(results)
    parts += _answer_lines(results)
    parts.append(Text.assemble(("verdict ", "bold"), _verdict(report)))
    if paths:
        items = paths.items() if isinstance(paths, Mapping) else ((None, p) for p in paths)
        for kind, p in items:
            parts.append(Text.assemble(("wrote ", "dim"), (f"{kind}: " if kind else ""), str(p)))
    console.print(Group(*parts))
