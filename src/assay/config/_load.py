"""Reading a suite file, with error messages that point at the YAML path."""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from assay.config._suite import DatasetSpec, EngineSettings, Suite
from assay.errors import ConfigError

__all__ = ["ENV_OVERRIDES", "format_validation_errors", "read_suite", "read_suite_dict"]

#: Environment variables that override the suite file (explicit arguments override them).
ENV_OVERRIDES: dict[str, tuple[str, type]] = {
    "ASSAY_SEED": ("seed", int),
    "ASSAY_LEVEL": ("level", float),
    "ASSAY_OUT": ("out", str),
}


def read_suite(path: str | Path, *, overrides: dict[str, Any] | None = None) -> Suite:
    """Read a suite file and validate its own fields: what ``assay.load_suite`` does before it
    validates the checks' options and the gates (arguments, precedence and errors as there).

    Raises:
        ConfigError: the file is missing, not YAML, or a field is invalid; the message names the
            YAML path (``data.test.label``), what was found and what is allowed.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{p}: no such suite file; create one with `assay init --data FILE`"
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"{p}: is a folder; give the suite's YAML file") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(f"{p}:{where}: not valid YAML: {problem}") from None
    if raw is None:
        raise ConfigError(f"{p}: the suite file is empty; it needs at least `data:` and `models:`")
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: the suite must be a mapping of fields, found {type(raw).__name__}")
    return read_suite_dict(raw, base_dir=p.resolve().parent, source=str(p), overrides=overrides)


def read_suite_dict(
    raw: dict[str, Any],
    *,
    base_dir: Path = Path("."),
    source: str = "suite",
    overrides: dict[str, Any] | None = None,
) -> Suite:
    """Validate the fields of a suite given as a dict (what :func:`read_suite` does after parsing
    YAML)."""
    data = dict(raw)
    for var, (field, cast) in ENV_OVERRIDES.items():
        if var in os.environ:
            try:
                data[field] = cast(os.environ[var])
            except ValueError:
                raise ConfigError(
                    f"environment variable {var}={os.environ[var]!r} is not a valid {cast.__name__}"
                ) from None
    for k, v in (overrides or {}).items():
        if v is not None:
            data[k] = v
    if "out" in data and data["out"] is not raw.get("out"):
        # ASSAY_OUT or an explicit argument is not written in the suite: it is relative to the
        # working directory, like every path given on the command line
        data["out"] = str(Path(str(data["out"])).expanduser().resolve())
    try:
        suite = Suite.model_validate(data)
    except ValidationError as e:
        raise ConfigError(f"{source}: invalid suite:\n{format_validation_errors(e)}") from None
    suite.base_dir = base_dir
    return suite


def _known_fields() -> list[str]:
    return sorted({*Suite.model_fields, *DatasetSpec.model_fields, *EngineSettings.model_fields})


def _field_homes() -> dict[str, str]:
    """Where each suite field lives: ``{"labels": "data.labels", "concurrency": "engine.…"}``."""
    homes = {f: f"engine.{f}" for f in EngineSettings.model_fields}
    homes |= {f: f"data.{f}" for f in DatasetSpec.model_fields}
    return homes | {f: f for f in Suite.model_fields}


def _did_you_mean(field: str, parent: str, names: Sequence[str], homes: dict[str, str]) -> str:
    close = difflib.get_close_matches(field, names, n=1)
    if not close:
        return ""
    home = homes.get(close[0], close[0])
    if close[0] == field and home != f"{parent}{field}":
        return f"{field!r} belongs at {home!r}; "
    return f"did you mean {close[0]!r}? "


def _one_branch(errors: Sequence[Any]) -> list[Any]:
    """A model entry is a spec string or a mapping (``str | ModelEntry``): pydantic reports both
    branches; keep the one the user meant (the mapping's, when a mapping was written)."""
    entry_at = {
        tuple(err["loc"][: err["loc"].index("ModelEntry")])
        for err in errors
        if "ModelEntry" in err["loc"]
    }
    kept = []
    for err in errors:
        loc = tuple(err["loc"])
        if loc[-1:] == ("str",) and loc[:-1] in entry_at:
            continue
        if "ModelEntry" in loc:
            at = loc.index("ModelEntry")
            err = {**err, "loc": loc[:at] + loc[at + 1 :], "model_entry": True}
        kept.append(err)
    return kept


def format_validation_errors(
    e: ValidationError,
    *,
    known: Sequence[str] | None = None,
    prefix: str = "",
    see: str = "see docs/suite.md for the fields",
) -> str:
    """Pydantic's errors as one line each: ``  <prefix><yaml.path>: <what is wrong> (found ...)``.

    An unknown field gets a did-you-mean from ``known`` (default: the suite's own fields) instead
    of pydantic's text and URL.
    """
    names = list(known) if known is not None else _known_fields()
    homes = {} if known is not None else _field_homes()
    lines = []
    for err in _one_branch(e.errors()):
        loc = prefix + (".".join(str(x) for x in err["loc"]) or "(top level)")
        msg = err["msg"]
        if err["type"] == "extra_forbidden" and err.get("model_entry"):
            options = ".".join(str(x) for x in (*err["loc"][:-1], "options", err["loc"][-1]))
            msg = f"unknown field; a model's adapter options go under `options:` ({options})"
        elif err["type"] == "extra_forbidden":
            parent = "".join(f"{x}." for x in err["loc"][:-1])
            hint = _did_you_mean(str(err["loc"][-1]), parent, names, homes)
            msg = f"unknown field; {hint}{see}"
        got = err.get("input")
        shown = (
            ""
            if err["type"] in ("missing", "extra_forbidden") or isinstance(got, dict)
            else f" (found {got!r})"
        )
        lines.append(f"  {loc}: {msg}{shown}")
    return "\n".join(lines)
