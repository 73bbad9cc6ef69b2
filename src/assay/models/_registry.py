"""The registry of model spec prefixes: ``sklearn:``, ``python:``, ``predictions:`` and plugins."""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol, TypeVar

from assay._types import Model
from assay._util._redact import redact_spec
from assay.errors import ConfigError, ModelError

__all__ = [
    "ENTRY_POINT_GROUP",
    "ModelFactory",
    "load_model",
    "model_prefixes",
    "redact_spec",
    "register_model",
]

#: Third-party adapters register a factory (or a module that calls ``register_model``) here.
ENTRY_POINT_GROUP = "assay.models"


class ModelFactory(Protocol):
    """Builds a Model from the part of a spec after ``prefix:``.

    Args:
        target: the spec without its prefix (``"model.joblib"`` for ``"sklearn:model.joblib"``).
        name: the model's name in the suite.
        spec: the whole spec, secrets removed, for ``ModelInfo.spec``.
        trust: whether the user allowed code execution on load (pickle/joblib).
        base_dir: the folder relative paths resolve against (the suite's).
        options: adapter options (``{"task": "regression"}``); unknown keys are an error.
    """

    def __call__(
        self,
        target: str,
        *,
        name: str,
        spec: str,
        trust: bool,
        base_dir: Path,
        options: dict[str, Any],
    ) -> Model: ...


_REGISTRY: dict[str, ModelFactory] = {}

F = TypeVar("F", bound=Callable[..., Model])

_PREFIX = re.compile(r"^[a-z][a-z0-9_.-]*$")


def register_model(prefix: str) -> Callable[[F], F]:
    """Decorator that registers a model factory under a spec prefix.

    The factory is called as ``factory(target, *, name, spec, trust, base_dir, options)`` (see
    :class:`ModelFactory`) and should import its heavy libraries inside, raising
    :class:`~assay.errors.MissingDependencyError` with the pip extra when one is missing.

    Example:
        >>> from assay.models import ModelInfo, Output
        >>> class Constant:
        ...     def __init__(self, label): self.label = label
        ...     def info(self): return ModelInfo("c", f"const:{self.label}", "classification", "c1")
        ...     def predict(self, batch, params=None):
        ...         return [Output(label=self.label)] * len(batch)
        >>> @register_model("const")
        ... def _const(target, *, name, spec, trust, base_dir, options):
        ...     return Constant(target)
        >>> load_model("const:yes").predict(["anything"])[0].label
        'yes'
    """
    if not _PREFIX.match(prefix):
        raise ValueError(f"invalid model prefix {prefix!r}: use lowercase letters, digits, _ . -")

    def deco(factory: F) -> F:
        _REGISTRY[prefix] = factory
        return factory

    return deco


def model_prefixes() -> list[str]:
    """The registered spec prefixes, and those offered by installed plugins, sorted."""
    return sorted(set(_REGISTRY) | set(_plugin_prefixes()))


def load_model(
    spec: str,
    *,
    name: str = "candidate",
    trust: bool = False,
    base_dir: Path = Path("."),
    options: dict[str, Any] | None = None,
) -> Model:
    """Load a model from a spec string such as ``"sklearn:model.joblib"``.

    Built-in prefixes: ``sklearn:`` (a joblib/pickle file; needs ``trust``), ``python:`` (a
    function or class in a module or ``.py`` file) and ``predictions:`` (a CSV/JSONL/Parquet file of
    predictions by id). More come from :func:`register_model` and from installed plugins (entry
    point group ``assay.models``, loaded only when their prefix is asked for).

    Args:
        spec: ``"<prefix>:<target>"``.
        name: the model's name in the suite; error messages point at ``models.<name>``.
        trust: allow loading formats that execute code (pickle, joblib).
        base_dir: folder that relative paths resolve against (the suite file's).
        options: adapter options, such as ``{"task": "regression"}``.

    Returns:
        A :class:`~assay.models.Model`.

    Raises:
        ConfigError: the spec has no prefix, or an unknown one (the message lists the known ones),
            or an option is unknown.
        TrustRequiredError: the format executes code and ``trust`` is false.
        MissingDependencyError: the adapter needs an extra that is not installed.
        ModelError: the model cannot be loaded (missing file, bad content).

    Example:
        >>> load_model("nope:x")
        Traceback (most recent call last):
        ...
        assay.errors.ConfigError: models.candidate: unknown model prefix 'nope' in 'nope:x'; ...
    """
    prefix, sep, target = spec.partition(":")
    prefix = prefix.strip().lower()
    if not sep or not prefix or not target.strip():
        raise ConfigError(
            f"models.{name}: {spec!r} is not a model spec; write <prefix>:<target>, "
            f"e.g. 'sklearn:model.joblib'; known prefixes: {', '.join(model_prefixes())}"
        )
    factory = _REGISTRY.get(prefix) or _load_plugin(prefix)
    if factory is None:
        raise ConfigError(
            f"models.{name}: unknown model prefix {prefix!r} in {redact_spec(spec)!r}; "
            f"known prefixes: {', '.join(model_prefixes())}"
        )
    model = factory(
        target.strip(),
        name=name,
        spec=redact_spec(spec),
        trust=trust,
        base_dir=Path(base_dir),
        options=dict(options or {}),
    )
    if not isinstance(model, Model):
        raise ModelError(
            f"models.{name}: the {prefix!r} adapter returned {type(model).__name__}, which lacks "
            "predict() and info()"
        )
    return model


def check_options(options: dict[str, Any], allowed: set[str], *, name: str, prefix: str) -> None:
    """Raise ConfigError for an option the adapter does not know."""
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ConfigError(
            f"models.{name}: unknown option(s) {', '.join(map(repr, unknown))} for {prefix}: "
            f"models; allowed: {', '.join(sorted(allowed)) or 'none'}"
        )


def _plugin_prefixes() -> list[str]:
    try:
        return [ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)]
    except Exception:  # a broken distribution's metadata must not break listing
        return []


def _load_plugin(prefix: str) -> ModelFactory | None:
    """Load the plugin registered for ``prefix``: a factory, or a module registering itself."""
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name != prefix:
            continue
        try:
            obj = ep.load()
        except ImportError as exc:
            raise ModelError(
                f"the plugin for model prefix {prefix!r} ({ep.value}) cannot be imported: {exc}"
            ) from exc
        if prefix not in _REGISTRY and callable(obj):
            _REGISTRY[prefix] = obj
        return _REGISTRY.get(prefix)
    return None
