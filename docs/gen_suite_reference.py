"""Write docs/suite-reference.md and the suite's JSON Schema (src/assay/config/suite.schema.json,
shipped in the package for editors) from the pydantic models of the suite and of every check.

Run ``python docs/gen_suite_reference.py`` after changing a suite field or a check option;
``tests/test_suite_reference.py`` fails while either file is out of date.
"""

from __future__ import annotations

import inspect
import json
import re
import sys
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

OUT = Path(__file__).with_name("suite-reference.md")
SCHEMA_OUT = Path(__file__).resolve().parents[1] / "src" / "assay" / "config" / "suite.schema.json"


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



def _nested_models(cls: type[BaseModel], seen: dict[str, type[BaseModel]]) -> None:
    """``seen[name] = class`` for ``cls`` and every model its fields hold, recursively."""
    if cls.__name__ in seen:
        return
    seen[cls.__name__] = cls

    def walk(tp: Any) -> None:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            _nested_models(tp, seen)
        for arg in typing.get_args(tp):
            walk(arg)

    for field in cls.model_fields.values():
        walk(field.annotation)


def _describe(schema: dict[str, Any], cls: type[BaseModel]) -> dict[str, Any]:
    """Give ``schema`` (of ``cls``) the first paragraph of the class docstring and a description
    for every property, from the ``Attributes:`` docs or the field's own description."""
    docs = _attribute_docs(cls)
    summary = (inspect.getdoc(cls) or "").split("\n\n")[0].replace("\n", " ").strip()
    if summary:
        schema["description"] = summary
    for name, prop in schema.get("properties", {}).items():
        field = cls.model_fields.get(name)
        text = docs.get(name) or (field.description if field else None)
        if text:
            prop["description"] = text
    return schema


def render_schema() -> str:
    """The suite's JSON Schema (draft 2020-12) as text: the file shapes ``Suite`` accepts (one
    dataset or several, models as a string, a list or a mapping, checks as a list or a mapping)
    and each built-in check's options."""
    import assay.checks  # noqa: F401  (registers the built-in checks)
    from assay.checks._base import check_names, get_check
    from assay.config._suite import Suite

    template = "#/$defs/{model}"
    root = Suite.model_json_schema(ref_template=template)
    defs: dict[str, Any] = root.pop("$defs")
    classes: dict[str, type[BaseModel]] = {}
    _nested_models(Suite, classes)
    checks: dict[str, Any] = {}
    for name in check_names():
        config = get_check(name).Config
        _nested_models(config, classes)
        sub = config.model_json_schema(ref_template=template)
        for key, value in sub.pop("$defs", {}).items():
            if key in defs and defs[key] != value:
                raise SystemExit(f"two different models are called {key}")
            defs[key] = value
        key = f"check_{name}"
        defs[key] = _describe(sub, config)
        checks[name] = {"anyOf": [{"$ref": f"#/$defs/{key}"}, {"type": "null"}]}
    for key, value in defs.items():
        if key in classes:
            _describe(value, classes[key])
    _describe(root, Suite)
    props = root["properties"]
    props.pop("base_dir", None)  # not part of the file
    # labels may be written as numbers or booleans (`labels: [0, 1]`); they are read as text
    labels = defs["DatasetSpec"]["properties"]["labels"]
    labels["anyOf"][0]["items"] = {"type": ["string", "number", "boolean"]}
    props["data"] = {
        "description": props["data"].get("description", ""),
        "anyOf": [{"$ref": "#/$defs/DatasetSpec"}, props["data"]],
    }
    models = props["models"]
    entry = models["additionalProperties"]
    props["models"] = {
        "description": models.get("description", ""),
        "anyOf": [{"type": "string"}, {"type": "array", "items": entry}, models],
    }
    props["checks"] = {
        "description": props["checks"].get("description", ""),
        "anyOf": [
            {"type": "array", "items": {"enum": list(checks)}},
            {"type": "object", "properties": checks, "additionalProperties": False},
        ],
    }
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **root,
        "title": "assay suite",
        "$defs": dict(sorted(defs.items())),
    }
    return json.dumps(schema, indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    OUT.write_text(render(), encoding="utf-8")
    SCHEMA_OUT.write_text(render_schema(), encoding="utf-8")
    print(f"wrote {OUT} and {SCHEMA_OUT}")
