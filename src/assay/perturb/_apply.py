"""Variants (one perturbation at one severity, or a recipe of several) and applying them to inputs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from assay.errors import ConfigError
from assay.perturb._base import (
    Kind,
    PerturbationSpec,
    PerturbEnv,
    get_perturbation,
    parse_specs,
    perturbation_names,
    rng_for,
    severity_label,
)
from assay.perturb._image import perturb_image_payload
from assay.perturb._rng import CounterRandom, example_keys, stream_heads

__all__ = ["Variant", "apply_variant", "parse_recipe", "perturb_inputs", "variants_from_config"]


@dataclass(frozen=True)
class Variant:
    """What one input becomes: a perturbation at one severity, or a recipe (several in a row).

    Attributes:
        key: the metric key (``typos``, ``case@30``, ``mild_mix``).
        name: the perturbation or recipe name.
        steps: the perturbations applied in order.
        severity: the severity for a single perturbation, ``None`` for a recipe.
    """

    key: str
    name: str
    steps: tuple[PerturbationSpec, ...]
    severity: float | None = None

    @property
    def kind(self) -> Kind:
        return self.steps[0].definition.kind

    @property
    def preserves_label(self) -> bool:
        return all(s.definition.preserves_label for s in self.steps)


def apply_variant(variant: Variant, x: Any, *, seed: int, example_id: str, env: PerturbEnv) -> Any:
    """``x`` perturbed by ``variant``; deterministic for (seed, example id, variant).

    Raises:
        ConfigError: an option the perturbation does not take.
    """
    for i, step in enumerate(variant.steps):
        d = step.definition
        rng = rng_for(seed, example_id, f"{variant.name}/{i}/{step.name}", step.severity)
        try:
            if d.kind == "image":
                x = perturb_image_payload(
                    x,
                    lambda img, r, s, e, _fn=d.fn, _p=step.params: _fn(img, r, s, e, **_p),
                    rng,
                    step.severity,
                    env,
                )
            else:
                x = d.fn(x, rng, step.severity, env, **step.params)
        except TypeError as e:
            if "unexpected keyword" not in str(e):
                raise
            raise ConfigError(
                f"perturbation {step.name!r}: unknown option in {dict(step.params)!r} ({e})"
            ) from None
    return x


def perturb_inputs(
    inputs: Sequence[Any],
    variant: Variant,
    *,
    ids: Sequence[str],
    seed: int = 0,
    env: PerturbEnv | None = None,
) -> list[Any]:
    """Every input perturbed by ``variant``; the same as :func:`apply_variant` on each input, done
    in a batch: the per-example random streams are keyed and started for all inputs at once.

    Example:
        >>> v = parse_recipe("typos:0.5")
        >>> out = perturb_inputs(["a quiet evening"], v, ids=["1"], seed=0)
        >>> out[0] != "a quiet evening"
        True
    """
    env = env or PerturbEnv()
    if len(inputs) != len(ids):
        raise ValueError(f"perturb_inputs: {len(inputs)} inputs but {len(ids)} ids")
    if not inputs:
        return []
    if variant.kind == "image":  # file IO dominates; nothing to gain from batching the streams
        return [
            apply_variant(variant, x, seed=seed, example_id=i, env=env) for x, i in zip(inputs, ids)
        ]

    out = list(inputs)
    rng = CounterRandom()
    for k, step in enumerate(variant.steps):
        fn, params = step.definition.fn, step.params
        keys = example_keys(seed, ids, f"{variant.name}/{k}/{step.name}", step.severity)
        heads = stream_heads(keys)
        sev = step.severity
        try:
            for j, (x, key, head) in enumerate(zip(out, keys.tolist(), heads)):
                rng.reset(key, head)
                out[j] = fn(x, rng, sev, env, **params)
        except TypeError as e:
            if "unexpected keyword" not in str(e):
                raise
            raise ConfigError(
                f"perturbation {step.name!r}: unknown option in {dict(params)!r} ({e})"
            ) from None
    return out


def parse_recipe(text: str, *, name: str | None = None, where: str = "recipe") -> Variant:
    """``"typos:0.1,case,distractor"`` → a Variant applying them in order."""
    steps: list[PerturbationSpec] = []
    for part in [p.strip() for p in text.split(",") if p.strip()]:
        steps.extend(parse_specs(part, where=where))
    if not steps:
        raise ConfigError(f"{where}: {text!r} names no perturbation; e.g. typos:0.1,case")
    return _recipe(name or text, steps, where=where)


def _recipe(name: str, steps: list[PerturbationSpec], *, where: str) -> Variant:
    kinds = {s.definition.kind for s in steps}
    if len(kinds) > 1:
        raise ConfigError(
            f"{where}: recipe {name!r} mixes input kinds ({', '.join(sorted(kinds))}); "
            "a recipe applies to one kind of input"
        )
    if len(steps) == 1:
        return Variant(name, steps[0].name, (steps[0],), steps[0].severity)
    return Variant(name, name, tuple(steps))


def variants_from_config(
    perturbations: Sequence[Any], recipes: Mapping[str, Sequence[Any]], *, where: str
) -> list[Variant]:
    """The variants a check config declares. A perturbation listed at one severity is keyed by its
    name (``typos``); at several, by name and severity in percent (``case@10``, ``case@30``)."""
    out: list[Variant] = []
    for i, entry in enumerate(perturbations):
        specs = parse_specs(entry, where=f"{where}.perturbations[{i}]")
        for s in specs:
            key = s.name if len(specs) == 1 else f"{s.name}@{severity_label(s.severity)}"
            if "key" in s.params:
                key = str(s.params["key"])
                s = PerturbationSpec(
                    s.name, s.severity, {k: v for k, v in s.params.items() if k != "key"}
                )
            out.append(Variant(key, s.name, (s,), s.severity))
    for rname, steps_raw in recipes.items():
        w = f"{where}.recipes.{rname}"
        if not isinstance(steps_raw, (list, tuple)) or not steps_raw:
            raise ConfigError(
                f"{w}: a recipe is a non-empty list of perturbations, e.g. [typos, case]"
            )
        steps: list[PerturbationSpec] = []
        for j, e in enumerate(steps_raw):
            specs = parse_specs(e, where=f"{w}[{j}]")
            if len(specs) > 1:
                raise ConfigError(f"{w}[{j}]: a recipe step takes one severity, found {len(specs)}")
            steps.extend(specs)
        out.append(_recipe(rname, steps, where=w))
    keys = [v.key for v in out]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise ConfigError(f"{where}: {', '.join(dup)} declared twice; give each entry once")
    for v in out:
        if "." in v.key:
            raise ConfigError(f"{where}: name {v.key!r} has a dot; metric keys are dot-separated")
    return out


def known_kinds() -> dict[str, Kind]:
    return {n: get_perturbation(n).kind for n in perturbation_names()}
