"""Models given as a spec string or as ``{spec, options}``; options reach the adapter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assay import evaluate
from assay._runner import suite_from_dict
from assay.errors import ConfigError
from assay.models import ModelInfo, Output, register_model

SEEN: dict[str, dict[str, Any]] = {}


class _Echo:
    def __init__(self, name: str, options: dict[str, Any]) -> None:
        self.name, self.options = name, options

    def info(self) -> ModelInfo:
        return ModelInfo(self.name, "echo:x", "classification", f"echo-{self.name}")

    def predict(self, batch: Any, params: Any = None) -> list[Output]:
        return [Output(label=str(self.options.get("answer", "a"))) for _ in batch]


@register_model("echo-opts")
def _echo(target, *, name, spec, trust, base_dir, options):  # type: ignore[no-untyped-def]
    SEEN[name] = dict(options)
    return _Echo(name, options)


def test_mapping_entry_and_string_entry_both_load() -> None:
    suite = suite_from_dict(
        {
            "data": {"path": "t.csv", "input": "text", "label": "y"},
            "models": {
                "candidate": {"spec": "echo-opts:a", "options": {"answer": "b"}},
                "baseline": "echo-opts:b",
            },
        }
    )
    assert suite.model_spec("candidate") == ("echo-opts:a", {"answer": "b"})
    assert suite.model_spec("baseline") == ("echo-opts:b", {})


def test_unknown_key_in_entry_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="optons"):
        suite_from_dict(
            {
                "data": {"path": "t.csv", "input": "text", "label": "y"},
                "models": {"candidate": {"spec": "echo-opts:a", "optons": {}}},
            }
        )


def test_options_reach_the_adapter_and_survive_a_same_kind_override(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("text,y\nx,b\nz,b\n", encoding="utf-8")
    suite = suite_from_dict(
        {
            "data": {"path": str(tmp_path / "t.csv"), "input": "text", "label": "y"},
            "models": {"candidate": {"spec": "echo-opts:a", "options": {"answer": "b"}}},
            "engine": {"cache": None},
        }
    )
    SEEN.clear()
    report = evaluate(suite, model="echo-opts:other", write=False, progress=False)
    assert SEEN["candidate"] == {"answer": "b"}
    assert report.result("performance").metrics["accuracy"].value == 1.0
