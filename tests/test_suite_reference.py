"""docs/suite-reference.md is generated from the pydantic models; it must not drift from the code."""

from __future__ import annotations

import importlib.util
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_suite_reference_is_up_to_date() -> None:
    spec = importlib.util.spec_from_file_location(
        "gen_suite_reference", DOCS / "gen_suite_reference.py"
    )
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    expected = gen.render()
    current = (DOCS / "suite-reference.md").read_text(encoding="utf-8")
    assert current == expected, (
        "docs/suite-reference.md is out of date: run `python docs/gen_suite_reference.py`"
    )
    assert "## `checks.compare`" in expected and "| `default_margin` |" in expected
    assert "| `keep_predictions` |" in expected


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "gen_suite_reference", DOCS / "gen_suite_reference.py"
    )
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    return gen


def test_every_key_has_a_meaning() -> None:
    rows = [line for line in _generator().render().splitlines() if line.startswith("| `")]
    empty = [row.split("|")[1].strip() for row in rows if row.rstrip().endswith("|  |")]
    assert len(rows) > 100 and empty == []


def test_the_shipped_json_schema_is_up_to_date_and_checks_suites() -> None:
    import json

    import jsonschema
    import yaml

    import assay

    gen = _generator()
    shipped = Path(assay.__file__).parent / "config" / "suite.schema.json"
    assert shipped.read_text(encoding="utf-8") == gen.render_schema(), (
        "src/assay/config/suite.schema.json is out of date: run `python docs/gen_suite_reference.py`"
    )
    validator = jsonschema.Draft202012Validator(json.loads(shipped.read_text(encoding="utf-8")))
    examples = [p for p in (DOCS.parent / "examples").glob("*/*.yaml")
                if "models" in (yaml.safe_load(p.read_text()) or {})]
    assert len(examples) >= 5
    for p in examples:
        assert not list(validator.iter_errors(yaml.safe_load(p.read_text()))), p
    ok = {"data": {"path": "t.csv", "labels": [0, 1]}, "models": "sklearn:m.joblib",
          "checks": {"performance": None, "slices": {"columns": ["genre"]}}}
    assert validator.is_valid(ok)
    assert not validator.is_valid({**ok, "checks": {"performence": {}}})
    assert not validator.is_valid({**ok, "checks": {"slices": {"colums": ["genre"]}}})
    assert not validator.is_valid({**ok, "engine": {"retries": -1}})
    described = validator.schema["$defs"]["check_slices"]["properties"]
    assert all(p.get("description") for p in described.values())


def test_the_starter_suite_points_editors_at_the_schema(tmp_path: Path) -> None:
    from assay._runner import write_starter_suite
    from assay.config import SUITE_SCHEMA

    (tmp_path / "t.csv").write_text("id,text,label\na,a fine film,pos\nb,a poor film,neg\n")
    text, _ = write_starter_suite(data=tmp_path / "t.csv", out=tmp_path / "suite.yaml")
    assert f"# yaml-language-server: $schema={SUITE_SCHEMA}" in text
    assert SUITE_SCHEMA.is_file()
