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
