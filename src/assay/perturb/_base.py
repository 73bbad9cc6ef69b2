"""The perturbation registry, perturbation specs and the per-example random source.

A perturbation is a function ``fn(x, rng, severity, env) -> x'`` registered with what it needs to be
used safely: the input kind it applies to (``text``, ``image``, ``tabular``), whether it preserves
the label, and its default severity (a number in (0, 1]: the share of words, characters or pixels
touched, or the strength). It is deterministic: its randomness comes only from ``rng``, a
``random.Random``-compatible generator keyed by (seed, example id, perturbation, severity) — see
:func:`rng_for`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from assay.errors import ConfigError
from assay.perturb._rng import CounterRandom, example_key
from assay.perturb._wordlists import WordLists

__all__ = [
    "Kind",
    "PerturbationDef",
    "PerturbationSpec",
    "get_perturbation",
    "perturbation_names",
    "register_perturbation",
    "rng_for",
]

Kind = Literal["text", "image", "tabular"]


@dataclass(frozen=True)
class PerturbationDef:
    """A registered perturbation."""

    name: str
    kind: Kind
    preserves_label: bool
    default_severity: float
    description: str
    fn: Callable[..., Any]


_REGISTRY: dict[str, PerturbationDef] = {}


def register_perturbation(
    name: str,
    *,
    kind: Kind,
    preserves_label: bool = True,
    default_severity: float = 0.1,
    description: str = "",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator registering ``fn(x, rng, severity, env)`` under ``name``."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        _REGISTRY[name] = PerturbationDef(
            name, kind, preserves_label, default_severity, description or (fn.__doc__ or ""), fn
        )
        return fn

    return deco


def perturbation_names(kind: Kind | None = None) -> list[str]:
    """The registered perturbations (of one kind), sorted."""
    return sorted(n for n, d in _REGISTRY.items() if kind is None or d.kind == kind)


def get_perturbation(name: str, *, where: str = "perturbation") -> PerturbationDef:
    """The perturbation registered under ``name``.

    Raises:
        ConfigError: unknown name; the message lists the known ones by kind.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        by_kind = "; ".join(
            f"{k}: {', '.join(perturbation_names(k))}" for k in ("text", "image", "tabular")
        )
        raise ConfigError(
            f"{where}: unknown perturbation {name!r}; known ones — {by_kind}"
        ) from None


def rng_for(seed: int, example_id: str, name: str, severity: float) -> random.Random:
    """The random source of one perturbed example: the same arguments give the same draws, on any
    machine and Python process (a counter-based generator keyed by a BLAKE2 hash of the arguments;
    see :mod:`assay.perturb._rng`)."""

    return CounterRandom(example_key(seed, example_id, name, severity))


def severity_label(severity: float) -> str:
    """How a severity appears in metric keys: a percentage, since keys are dot-separated
    (``typos@10`` is typos at severity 0.1)."""
    pct = severity * 100
    return f"{pct:.0f}" if abs(pct - round(pct)) < 1e-9 else f"{pct:g}".replace(".", "_")


@dataclass(frozen=True)
class PerturbationSpec:
    """One perturbation at one severity, with its options: what a recipe step or a config entry
    resolves to."""

    name: str
    severity: float
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def definition(self) -> PerturbationDef:
        return get_perturbation(self.name)


def parse_specs(entry: Any, *, where: str) -> list[PerturbationSpec]:
    """One config entry → specs (several when it lists severities).

    Accepts ``"typos"``, ``"typos:0.2"``, ``{name: typos, severity: 0.2}``,
    ``{name: case, severity: [0.1, 0.3]}`` and extra options (``{name: distractor, where: start}``).

    Raises:
        ConfigError: unknown name, a severity outside (0, 1], or a malformed entry.
    """
    params: dict[str, Any] = {}
    if isinstance(entry, str):
        name, _, sev = entry.partition(":")
        name = name.strip()
        severities: list[Any] = [sev.strip()] if sev.strip() else []
    elif isinstance(entry, Mapping):
        if "name" not in entry:
            raise ConfigError(
                f"{where}: {dict(entry)!r} has no `name`; write e.g. {{name: typos, severity: 0.1}}"
            )
        name = str(entry["name"])
        raw = entry.get("severity")
        severities = [] if raw is None else list(raw) if isinstance(raw, list) else [raw]
        params = {k: v for k, v in entry.items() if k not in ("name", "severity")}
    else:
        raise ConfigError(
            f"{where}: {entry!r} is not a perturbation; give a name (`typos`, `typos:0.2`) or a "
            "mapping {name: typos, severity: [0.1, 0.2]}"
        )
    d = get_perturbation(name, where=where)
    out = []
    for s in severities or [d.default_severity]:
        try:
            v = float(s)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: severity {s!r} of {name!r} is not a number") from None
        if not 0 < v <= 1:
            raise ConfigError(
                f"{where}: severity {v} of {name!r} is outside (0, 1]; severity is the share of "
                "the input touched (or the strength), e.g. 0.1"
            )
        out.append(PerturbationSpec(name, v, dict(params)))
    return out


@dataclass
class PerturbEnv:
    """What perturbations may read besides the input: word lists, column statistics (tabular),
    and a folder for perturbed image files."""

    lists: Any = None  # WordLists; Any to keep this module free of the word-list import
    columns: Mapping[str, Any] = field(default_factory=dict)
    image_dir: Any = None
    base_dir: Any = None

    def __post_init__(self) -> None:
        if self.lists is None:
            self.lists = WordLists.default()
