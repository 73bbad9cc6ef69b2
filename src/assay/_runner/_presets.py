"""The checks and gates ``assay init --preset`` writes: what makes sense for each kind of data.

Each preset gives check options and gates, every gate with a one-line comment a reader can
understand. The thresholds are starting points for a usable model, meant to be tightened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd
import yaml

__all__ = ["PRESETS", "Preset", "describe", "infer_preset", "preset_checks"]

PresetName = Literal["tabular", "text", "llm", "image"]
PRESETS: tuple[PresetName, ...] = ("tabular", "text", "llm", "image")

#: Numeric columns sliced into quantile buckets, at most.
_MAX_BUCKETED = 3
#: Quantile buckets per numeric column.
_BUCKETS = 4
#: Robustness perturbs a seeded sample of this many rows, so a first run stays quick.
_ROBUSTNESS_ROWS = 300
#: Group columns whose accuracy gap is gated (others are measured and reported, not gated).
_GATED_GROUPS = ("sex", "gender", "race", "ethnicity", "religion", "disability", "age_group")
#: Names that read as sensitive attributes when the column is numeric (``age``).
_SENSITIVE_NUMERIC = ("age", "age_years", "income", "salary")


@dataclass
class Preset:
    """What a preset turns on: check options, gates (``(gate, comment)``) and why."""

    name: PresetName
    reason: str
    checks: dict[str, Any] = field(default_factory=dict)
    gates: list[tuple[str, str]] = field(default_factory=list)


def infer_preset(spec: dict[str, Any], model: str | None) -> tuple[PresetName, str]:
    """The preset the data calls for, and why: image paths → image, a text column → text (or
    llm for an ``hf:``/``openai:`` model without a set of labels), else tabular."""
    inp = spec.get("input")
    if isinstance(inp, dict):
        return "image", f"preset: image, because {inp['image']!r} holds image file paths"
    if isinstance(inp, str):
        generative = (model or "").split(":", 1)[0] in ("hf", "openai")
        if generative and not spec.get("labels"):
            return "llm", f"preset: llm, because {inp!r} holds text and the answers are free text"
        return "text", f"preset: text, because {inp!r} holds text"
    return "tabular", "preset: tabular, because the input is feature columns"


def preset_checks(
    name: PresetName,
    *,
    spec: dict[str, Any],
    frame: pd.DataFrame,
    positive: str | None,
) -> Preset:
    """The checks and gates of preset ``name`` for a dataset with roles ``spec``.

    Args:
        name: the preset.
        spec: the suite's ``data:`` entry (roles, ``labels``).
        frame: a sample of the data (to find numeric columns).
        positive: the positive class of a binary problem, else ``None``.
    """
    labels = spec.get("labels")
    preset = Preset(name=name, reason="")
    perf: dict[str, Any] = {"positive_label": positive} if positive is not None else {}
    preset.checks["performance"] = perf
    if labels:
        preset.gates.append(
            (
                "performance.accuracy.lower >= 0.5",
                "the accuracy's lower bound beats a coin toss; raise it to what you need",
            )
        )
    if name == "tabular":
        _tabular(preset, spec, frame, positive)
    elif name == "text":
        _text(preset, spec, positive)
    elif name == "image":
        _image(preset)
    else:
        _llm(preset, spec)
    if "performance" not in preset.checks:
        return preset
    preset.gates.append(
        (
            "performance.unscored.* <= 0",
            "every row is scored: none dropped, no id missing, no call failed, no prediction "
            "outside `labels`, none without probabilities (docs/suite.md)",
        )
    )
    return preset


def _inputs(spec: dict[str, Any]) -> list[str]:
    """The feature columns of a tabular dataset (none for text or images)."""
    inp = spec.get("input")
    return [str(c) for c in inp] if isinstance(inp, list) else []


def _numeric_columns(spec: dict[str, Any], frame: pd.DataFrame) -> list[str]:
    inputs = _inputs(spec)
    candidates = [*spec.get("groups", []), *inputs]
    numeric = [
        c
        for c in dict.fromkeys(candidates)
        if c in frame.columns
        and pd.api.types.is_numeric_dtype(frame[c])
        and not pd.api.types.is_bool_dtype(frame[c])
        and frame[c].nunique() > _BUCKETS * 2
    ]
    sensitive = [c for c in numeric if c.strip().lower() in _SENSITIVE_NUMERIC]
    return [*sensitive, *(c for c in numeric if c not in sensitive)][:_MAX_BUCKETED]


def _tabular(
    preset: Preset, spec: dict[str, Any], frame: pd.DataFrame, positive: str | None
) -> None:
    numeric = _numeric_columns(spec, frame)
    slices: dict[str, Any] = {"min_n": 30}
    if numeric:
        slices["buckets"] = {c: _BUCKETS for c in numeric}
    preset.checks["slices"] = slices
    if not spec.get("labels"):
        return
    inputs = _inputs(spec)
    has_numeric = any(
        c in frame.columns and pd.api.types.is_numeric_dtype(frame[c]) for c in inputs
    )
    has_categorical = any(
        c in frame.columns and not pd.api.types.is_numeric_dtype(frame[c]) for c in inputs
    )
    perturbations = (["numeric_noise"] if has_numeric else []) + (
        ["category_flip"] if has_categorical else []
    )
    if perturbations:
        preset.checks["robustness"] = {
            "max_examples": _ROBUSTNESS_ROWS,
            "perturbations": perturbations,
            "invariance": {"tolerance": 0.1},
        }
        first = perturbations[0]
        what = (
            "10% noise on the numeric features"
            if first == "numeric_noise"
            else "a changed category in 10% of the categorical features"
        )
        preset.gates.append(
            (
                f"robustness.{first}.flip_rate.upper <= 0.15",
                f"{what} changes at most 15% of the answers (upper bound)",
            )
        )
    groups = list(spec.get("groups", []))
    if groups:
        fairness: dict[str, Any] = {"min_n": 30, "summaries_min_n": 30, "intersections": False}
        if positive is not None:
            fairness["positive_label"] = positive
        preset.checks["fairness"] = fairness
        for g in [g for g in groups if g.strip().lower() in _GATED_GROUPS]:
            preset.gates.append(
                (
                    f"{_segment(g)}.accuracy_difference.upper <= 0.15",
                    f"the accuracy differs by at most 15 points between the {g} groups",
                )
            )


def _segment(group: str) -> str:
    plain = all(ch.isalnum() or ch in "_-" for ch in group)
    return f"fairness.{group}" if plain else f'fairness."{group}"'


def _text(preset: Preset, spec: dict[str, Any], positive: str | None) -> None:
    preset.checks["slices"] = {"min_n": 30, "length_buckets": 4}
    if not spec.get("labels"):
        return
    preset.checks["robustness"] = {
        "max_examples": _ROBUSTNESS_ROWS,
        "perturbations": ["typos", "case", "punctuation_remove"],
        "invariance": {"tolerance": 0.1},
    }
    fairness: dict[str, Any] = {"counterfactual": {"swaps": ["gender", "names"]}}
    if positive is not None:
        fairness["positive_label"] = positive
    preset.checks["fairness"] = fairness
    preset.gates += [
        (
            "robustness.typos.flip_rate.upper <= 0.15",
            "a few typos change at most 15% of the answers (upper bound)",
        ),
        (
            "fairness.counterfactual.gender.flip_rate.upper <= 0.20",
            "swapping he/she, his/her… changes at most 20% of the answers (upper bound; tighten it)",
        ),
    ]


def _image(preset: Preset) -> None:
    preset.checks["robustness"] = {
        "max_examples": _ROBUSTNESS_ROWS,
        "perturbations": ["gaussian_noise", "blur", "rotation", "jpeg"],
        "invariance": {"tolerance": 0.1},
    }
    preset.gates += [
        (
            "robustness.gaussian_noise.flip_rate.upper <= 0.20",
            "mild pixel noise changes at most 20% of the answers (upper bound)",
        ),
        (
            "robustness.jpeg.degradation.lower >= -0.10",
            "JPEG compression costs at most 10 points of accuracy",
        ),
    ]


def _llm(preset: Preset, spec: dict[str, Any]) -> None:
    if spec.get("labels"):
        # A generative model as a classifier: the verbaliser (a comment in the suite) maps each
        # label to the words it answers; performance and text robustness then apply.
        _text(preset, spec, preset.checks["performance"].get("positive_label"))
        return
    preset.checks.pop("performance")
    preset.checks["generation"] = {"metrics": ["exact_match", "token_f1", "refusal", "length"]}
    preset.gates += [
        (
            "generation.token_f1.lower >= 0.3",
            "answers share at least 30% of their words with the references (F1, lower bound)",
        ),
        (
            "generation.empty_rate.upper <= 0.05",
            "at most 5% of the answers are empty",
        ),
    ]


def describe(gates: Sequence[tuple[str, str]]) -> list[str]:
    """The gates as YAML list lines, each with its comment."""
    return [f"  {yaml.safe_dump([gate]).strip()}   # {comment}" for gate, comment in gates]
