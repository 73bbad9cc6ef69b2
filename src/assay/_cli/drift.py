"""``assay drift``: a current data file against a reference file, as a Report with gates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console

from assay._cli._common import EXIT_GATE_FAILED, EXIT_OK, report_paths, user_errors


def _pairs(items: list[str] | None, what: str) -> dict[str, str]:
    from assay.errors import ConfigError

    out: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.rpartition("=")
        if not sep or not name:
            raise ConfigError(f"--{what} {item!r}: write COLUMN=VALUE, e.g. --{what} income=psi")
        out[name] = value
    return out


def drift(
    reference: Annotated[Path, typer.Option(help="Reference rows (CSV, JSONL, Parquet).")],
    current: Annotated[Path, typer.Option(help="Current rows.")],
    out: Annotated[
        Path | None, typer.Option(help="Output folder for report.json and report.html.")
    ] = None,
    columns: Annotated[
        list[str] | None, typer.Option("--column", help="A column to compare (repeatable).")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", help="A column to leave out (repeatable).")
    ] = None,
    prediction: Annotated[str | None, typer.Option(help="The predicted-label column.")] = None,
    probabilities: Annotated[
        list[str] | None,
        typer.Option("--probability", help="A predicted-probability column (repeatable)."),
    ] = None,
    label: Annotated[str | None, typer.Option(help="The true-label column.")] = None,
    text: Annotated[
        list[str] | None, typer.Option("--text", help="A column compared as text (repeatable).")
    ] = None,
    method: Annotated[
        list[str] | None,
        typer.Option(
            "--method",
            help="A test for every column (ks, chi2, wasserstein, jensenshannon, psi, anderson, "
            "cramervonmises, energy, mmd, classifier) or COLUMN=TEST (repeatable).",
        ),
    ] = None,
    threshold: Annotated[
        list[str] | None,
        typer.Option(
            "--threshold",
            help="COLUMN=VALUE (repeatable), or 'reference' to learn every threshold from "
            "chunks of the reference.",
        ),
    ] = None,
    alpha: Annotated[float, typer.Option(help="Level of the tests after correction.")] = 0.05,
    correction: Annotated[str, typer.Option(help="Across columns: bh, bonferroni or none.")] = "bh",
    drift_share: Annotated[
        float, typer.Option(help="Share of drifting feature columns that makes dataset drift.")
    ] = 0.5,
    max_categories: Annotated[int, typer.Option(help="Levels kept before pooling.")] = 1000,
    window_size: Annotated[
        int | None, typer.Option(help="Tumbling windows of this many current rows.")
    ] = None,
    time_column: Annotated[
        str | None, typer.Option(help="Tumbling windows by this time column (with --every).")
    ] = None,
    every: Annotated[
        str | None, typer.Option(help="Window length with --time-column: 1D, 7D, MS, ...")
    ] = None,
    gates: Annotated[
        list[str] | None,
        typer.Option(
            "--gate",
            help="A gate on the result (repeatable), e.g. 'drift.share_drifted.upper <= 0.2'.",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of permutation tests (text drift).")] = 0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the drift result and gates as JSON.")
    ] = False,
) -> None:
    """Compare current data with reference data column by column; exit 1 if a gate fails."""
    from assay._runner import check_drift
    from assay.errors import ConfigError
    from assay.report._console import print_summary

    with user_errors():
        methods: str | dict[str, str] = "auto"
        plain = [m for m in method or [] if "=" not in m]
        if len(plain) > 1 or (plain and len(method or []) > 1):
            raise ConfigError(
                "--method: give one test for every column, or COLUMN=TEST pairs, not both"
            )
        methods = plain[0] if plain else _pairs(method, "method")
        thresholds: dict[str, float] | Literal["reference"] | None = None
        if threshold == ["reference"]:
            thresholds = "reference"
        elif threshold:
            raw = _pairs(threshold, "threshold")
            try:
                thresholds = {k: float(v) for k, v in raw.items()}
            except ValueError:
                raise ConfigError(
                    "--threshold: each value must be a number (COLUMN=0.2), or the single word "
                    "'reference'"
                ) from None
        if correction not in ("bh", "bonferroni", "none"):
            raise ConfigError(f"--correction: {correction!r}; use bh, bonferroni or none")
        report = check_drift(
            reference,
            current,
            columns=columns,
            exclude=exclude or (),
            prediction=prediction,
            probabilities=probabilities,
            label=label,
            text=text,
            methods=methods,
            thresholds=thresholds,
            alpha=alpha,
            correction=correction,  # type: ignore[arg-type]
            drift_share=drift_share,
            max_categories=max_categories,
            window_size=window_size,
            time_column=time_column,
            every=every,
            gates=gates or [],
            out=out,
            seed=seed,
        )
    code = EXIT_OK if report.passed else EXIT_GATE_FAILED
    r = report.results[0]
    drift = r.tables["drift"]
    if as_json:
        gate_rows = [g.model_dump(mode="json") for g in report.gates]
        print(json.dumps({**drift, "passed": report.passed, "gates": gate_rows}))
        raise typer.Exit(code)
    console = Console()
    share = drift["share_drifted"]
    console.print(
        f"{drift['n_current']:,} current rows against {drift['n_reference']:,} reference rows: "
        + (
            f"{drift['n_drifted']} of {share['n']} feature columns drift"
            if share["n"]
            else "no feature column could be tested"
        )
        + (" — dataset drift" if drift["drifted"] else " — no dataset drift"),
        highlight=False,
    )
    console.print(f"rule: {drift['rule']}", highlight=False, markup=False)
    for c in drift["columns"]:
        if not c["tested"]:
            line = f"  {c['column']:<24} not tested: {c['reason']}"
        else:
            p = f" p_adj={c['p_adjusted']:.3g}" if c["p_adjusted"] is not None else ""
            thr = f" threshold={c['threshold']:.3g}" if c["threshold"] is not None else ""
            line = (
                f"  {c['column']:<24} {c['role']:<11} {c['method']:<14} "
                f"{c['statistic']:.4g}{p}{thr}  {c['effect_size_name']}={c['effect_size']:.3g}"
                + ("  DRIFT" if c["drifted"] else "")
            )
        console.print(line, highlight=False, markup=False)
    for flag in r.flags:
        console.print(f"note: {flag}", highlight=False, markup=False)
    print_summary(report, console=console, paths=report_paths(out))
    raise typer.Exit(code)
