"""The spec-prefix registry: built-ins, unknown prefixes, custom factories, plugins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assay.errors import ConfigError, ModelError
from assay.models import (
    Model,
    ModelInfo,
    Output,
    _registry,
    load_model,
    model_prefixes,
    register_model,
)
from assay.models._registry import redact_spec


class Fixed:
    def __init__(self, label: str, options: dict[str, Any]) -> None:
        self.label, self.options = label, options

    def info(self) -> ModelInfo:
        return ModelInfo("f", f"fixed:{self.label}", "classification", "fp-fixed")

    def predict(self, batch: Any, params: Any = None) -> list[Output]:
        return [Output(label=self.label) for _ in batch]


def test_builtin_prefixes_are_registered() -> None:
    assert {"sklearn", "python", "predictions"} <= set(model_prefixes())


def test_unknown_prefix_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as err:
        load_model("onnx:model.onnx", name="baseline")
    msg = str(err.value)
    assert msg.startswith("models.baseline: unknown model prefix 'onnx'")
    assert "predictions, python, sklearn" in msg


@pytest.mark.parametrize("spec", ["model.joblib", "sklearn:", ":x"])
def test_a_spec_without_prefix_or_target_is_a_config_error(spec: str) -> None:
    with pytest.raises(ConfigError, match="not a model spec; write <prefix>:<target>"):
        load_model(spec)


def test_register_model_adds_a_prefix(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    @register_model("fixed-test")
    def factory(target: str, **kw: Any) -> Fixed:
        seen.update(kw, target=target)
        return Fixed(target, kw["options"])

    try:
        model = load_model(
            "fixed-test:yes", name="cand", trust=True, base_dir=tmp_path, options={"a": 1}
        )
        assert isinstance(model, Model)
        assert model.predict(["x"]) == [Output(label="yes")]
        assert seen == {
            "target": "yes",
            "name": "cand",
            "spec": "fixed-test:yes",
            "trust": True,
            "base_dir": tmp_path,
            "options": {"a": 1},
        }
        assert "fixed-test" in model_prefixes()
    finally:
        _registry._REGISTRY.pop("fixed-test", None)


def test_a_factory_returning_a_non_model_is_an_error() -> None:
    register_model("broken-test")(lambda target, **kw: object())
    try:
        with pytest.raises(ModelError, match="lacks predict"):
            load_model("broken-test:x")
    finally:
        _registry._REGISTRY.pop("broken-test", None)


def test_invalid_prefix_is_refused() -> None:
    with pytest.raises(ValueError, match="invalid model prefix"):
        register_model("Has Space")


class FakeEntryPoint:
    """Stands in for importlib.metadata.EntryPoint: tests our lazy plugin lookup, not packaging."""

    def __init__(self, name: str, obj: Any) -> None:
        self.name, self.value, self._obj = name, f"plugin_pkg:{name}", obj
        self.loaded = 0

    def load(self) -> Any:
        self.loaded += 1
        return self._obj


def test_plugins_are_loaded_lazily_on_an_unknown_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    ep = FakeEntryPoint("plugin-test", lambda target, **kw: Fixed(target, kw["options"]))
    monkeypatch.setattr(
        _registry, "entry_points", lambda group: [ep] if group == "assay.models" else []
    )
    try:
        assert "plugin-test" in model_prefixes() and ep.loaded == 0
        assert ep.loaded == 0
        assert load_model("plugin-test:ok").predict([1]) == [Output(label="ok")]
        assert ep.loaded == 1
        load_model("plugin-test:again")
        assert ep.loaded == 1  # registered after the first load
    finally:
        _registry._REGISTRY.pop("plugin-test", None)


@pytest.mark.parametrize(
    ("spec", "safe"),
    [
        ("openai:https://api.example.com/v1?key=sk-123", "openai:https://api.example.com/v1"),
        ("openai:http://me:secret@host:8000/v1#frag", "openai:http://host:8000/v1"),
        ("sklearn:models/m.joblib", "sklearn:models/m.joblib"),
    ],
)
def test_redact_spec_removes_credentials(spec: str, safe: str) -> None:
    assert redact_spec(spec) == safe


def test_unknown_prefix_error_does_not_echo_secrets() -> None:
    with pytest.raises(ConfigError) as err:
        load_model("nosuch:https://host/v1?api_key=sk-secret")
    assert "sk-secret" not in str(err.value)
