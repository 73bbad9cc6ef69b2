"""``assay cv``: cross-validate a training recipe on a suite's data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from assay._cli._common import EXIT_OK, user_errors


def cv(
    suite: Annotated[Path, typer.Argument(help="The suite YAML file.")],
    folds: Annotated[int, typer.Option(help="Number of folds.")] = 5,
    fit: Annotated[
        str | None,
        typer.Option(
            help="Fit recipe: module:function, python:path/file.py:function, sklearn "
            "(refit the model's estimator) or sklearn:file.joblib (a relative path is "
            "relative to the current folder)."
        ),
    ] = None,
    scheme: Annotated[str | None, typer.Option(help="stratified, kfold, group or time.")] = None,
    repeats: Annotated[int | None, typer.Option(help="Repetitions with reshuffled folds.")] = None,
    data: Annotated[
        str | None, typer.Option(help="Dataset of the suite to cross-validate.")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder for the report.")] = None,
    trust: Annotated[
        bool, typer.Option("--trust", help="Allow loading joblib/pickle files.")
    ] = False,
) -> None:
    """Run only the suite's cross-validation (options here override checks.cv)."""
    import assay
    from assay._runner import load_suite
    from assay.report._console import print_summary

    with user_errors():
        s = load_suite(suite)
        opts = dict(s.checks.get("cv") or {})
        opts["folds"] = folds
        for key, value in (("fit", fit), ("scheme", scheme), ("repeats", repeats), ("data", data)):
            if value is not None:
                opts[key] = _from_here(str(value)) if key == "fit" else value
        s.checks = {"cv": opts}
        s.gates = [g for g in s.gates if g.strip().startswith("cv.")]
        if trust:
            s.trust = True
        report = assay.evaluate(s, out=out or s.out_dir() / "cv")
    print_summary(report, console=Console(), paths=[])
    raise typer.Exit(EXIT_OK if report.passed else 1)


def _from_here(recipe: str) -> str:
    """A fit recipe given on the command line with its file path made absolute (against the
    current folder; a recipe inside the suite resolves against the suite's folder)."""
    if recipe.startswith("sklearn:"):
        return f"sklearn:{Path(recipe[len('sklearn:') :]).expanduser().resolve()}"
    module_ref, sep, attr = recipe.removeprefix("python:").rpartition(":")
    if sep and (module_ref.endswith(".py") or "/" in module_ref or "\\" in module_ref):
        return f"python:{Path(module_ref).expanduser().resolve()}:{attr}"
    return recipe
