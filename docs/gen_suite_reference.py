"""Write docs/suite-reference.md from the pydantic models of the suite and of every check.

Run ``python docs/gen_suite_reference.py`` after changing a suite field or a check option;
``tests/test_suite_reference.py`` fails while the file is out of date.
"""

from __future__ import annotations

import inspect
import re
import sys
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

OUT = Path(__file__).with_name("suite-reference.md")


def _attribute_docs(cls: type) -> dict[str, str]:
    """``name → text`` from the Google-style ``Attributes:`` sections of ``cls`` and its bases."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        doc = inspect.getdoc(klass) or ""
        if "Attributes:" not in doc:
            continue
        current = None
        for line in doc.split("Attributes:", 1)[1].splitlines():
            m = re.match(r"^    (\w+(?:, \w+)*): (.*)$", line)
            if m:
                current = m.group(1).split(", ")
                for name in current:
                    docs[name] = m.group(2).strip()
            elif line.startswith("        ") and current:
                for name in current:
                    docs[name] += " " + line.strip()
            elif line.strip() and not line.startswith(" "):
                break
    return docs


def _type(annotation: Any) -> str:
    text = repr(annotation) if not isinstance(annotation, type) else annotation.__name__
    text = re.sub(r"typing\.|pathlib\.|assay\.[\w.]+\.", "", text)
    text = re.sub(r"^Optional\[(.*)\]$", r"\1 | None", text)
    return text.replace("NoneType", "None").replace("|", "\\|")


def _default(field: Any) -> str:
    if field.default is not PydanticUndefined:
        return f"`{field.default!r}`" if field.default is not None else "`null`"
    if field.default_factory is not None:
        return f"`{field.default_factory()!r}`"
    return "required"


def _table(cls: type[BaseModel], skip: frozenset[str] = frozenset()) -> list[str]:
    docs = _attribute_docs(cls)
    hints = typing.get_type_hints(cls)
    lines = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    for name, field in cls.model_fields.items():
        if name in skip or field.exclude:
            continue
        text = (docs.get(name) or field.description or "").replace("|", "\\|")
        lines.append(
            f"| `{name}` | `{_type(hints.get(name, field.annotation))}` | "
            f"{_default(field)} | {text} |"
        )
    return lines


def render() -> str:
    import assay.checks  # noqa: F401  (registers the built-in checks)
    from assay.checks._base import check_names, get_check
    from assay.config._suite import ColumnRoles, DatasetSpec, EngineSettings, Suite

    out = [
        "# Suite reference",
        "",
        "Generated from the pydantic models by `python docs/gen_suite_reference.py`; do not edit.",
        "[suite.md](suite.md) explains the file with examples; "
        "gate paths are listed there and per pillar page.",
        "",
        "## Top level",
        "",
        *_table(Suite),
        "",
        "## `data` (each dataset)",
        "",
        *_table(DatasetSpec),
        "",
        f"Column roles ({', '.join(ColumnRoles.model_fields)}) are described in "
        "[suite.md](suite.md).",
        "",
        "## `engine`",
        "",
        *_table(EngineSettings),
        "",
    ]
    for name in check_names():
        cls = get_check(name)
        summary = (inspect.getdoc(cls) or "").split("\n\n")[0].replace("\n", " ")
        out += [f"## `checks.{name}`", "", summary, "", *_table(cls.Config), ""]
    return "\n".join(out)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT}")
