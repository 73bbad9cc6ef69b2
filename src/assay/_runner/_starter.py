"""A starter suite written from a data file (``assay init``)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from assay._runner._presets import PRESETS, describe, infer_preset, preset_checks
from assay._types import canonical_label
from assay.config import SUITE_SCHEMA
from assay.data import infer_roles, load_dataset, read_table
from assay.errors import ConfigError, TrustRequiredError
from assay.models import load_model

__all__ = ["positive_class", "write_starter_suite"]

#: The placeholder model of a suite written without ``--model``.
PLACEHOLDER_MODEL = "sklearn:model.joblib"
#: Labels that read as the positive class of a binary problem, lower case.
_POSITIVE_WORDS = ("1", "true", "yes", "y", "pos", "positive", "fresh", "good", "spam", "fraud",
                   "malignant", "default", "churn", "abnormal", "toxic", "relevant", "accept")
#: Model prefixes whose target is a file (or, for ``python:``, ``file.py:object``).
_FILE_PREFIXES = ("sklearn", "predictions", "python", "hf")


def write_starter_suite(
    *,
    data: str | Path,
    label: str | None = None,
    model: str | None = None,
    out: str | Path = "suite.yaml",
    preset: str | None = None,
    positive: str | None = None,
    trust: bool = False,
) -> tuple[str, list[str]]:
    """Infer column roles from ``data`` and write a suite of the checks ``preset`` calls for.

    The suite declares the label set found in the data (``labels:``; a binary problem also
    names its ``positive_label``), so that a typo in later data or a prediction outside the
    classes is refused instead of becoming a class; and it gates on what could not be scored
    (``performance.unscored.* <= 0``). Every inferred choice is stated, on the console (the
    reasons returned) and in the suite's header comments.

    Args:
        data: the data file (a path against the working directory).
        label: the label column; inferred when omitted (:func:`assay.data.infer_roles`).
        model: the model spec; a file in it must exist (against the working directory) and is
            written relative to the suite's folder. Its ``classes_`` and ``feature_names_in_``
            help find the label and the inputs (a joblib file is read only with ``trust``).
        out: the suite file to write.
        preset: ``tabular``, ``text``, ``llm`` or ``image``; inferred from the data when omitted.
        positive: the positive class of a binary problem; by default :func:`positive_class`.
        trust: allow reading a joblib/pickle model (it runs code) for its classes and features.

    Returns:
        The YAML text written and the reasons for each inferred choice.

    Raises:
        ConfigError: an unknown preset, a model file that does not exist, or a ``positive``
            class that is not one of the labels.
        DataError: the data file cannot be read, ``label`` is not one of its columns, or its
            labels differ only in case or spacing ("Sports" next to "sports").
    """
    out_path = Path(out)
    if preset is not None and preset not in PRESETS:
        raise ConfigError(
            f"--preset: {preset!r} is not a preset; choose one of {', '.join(PRESETS)}"
        )
    model_spec, model_reasons, classes, features = _model(model, out_path, trust=trust)
    roles, reasons = infer_roles(
        data, label=label, model_classes=classes, model_features=features
    )
    rel = os.path.relpath(Path(data).resolve(), out_path.resolve().parent)
    spec: dict[str, Any] = {"path": rel}
    spec.update({k: v for k, v in roles.model_dump().items() if v not in (None, [], {})})
    labels = _label_set(data, spec) if spec.get("label") else None
    if labels is not None:
        spec["labels"] = list(labels)
    frame = read_table(data, limit=10_000)
    frame = frame.set_axis([str(c) for c in frame.columns], axis=1)
    notes = [*reasons, *model_reasons]
    chosen = None
    if labels is not None and len(labels) == 2:
        chosen, why = positive_class(labels, frame[spec["label"]], given=positive)
        notes.append(f"positive_label: {chosen!r}, {why}")
    elif positive is not None:
        raise ConfigError(
            f"--positive {positive!r}: a positive class applies to two labels; the data has "
            f"{'no set of labels' if labels is None else f'{len(labels)} labels'}. Fix: drop "
            "--positive"
        )
    if preset is None:
        name, why = infer_preset(spec, model_spec)
        notes.append(f"{why} (--preset to choose another)")
    else:
        name = next(p for p in PRESETS if p == preset)
        notes.append(f"preset: {preset}, as given")
    chosen_preset = preset_checks(name, spec=spec, frame=frame, positive=chosen)
    suite: dict[str, Any] = {
        "name": Path(data).stem.split(".")[0],
        "data": spec,
        "models": {"candidate": model_spec},
        "checks": chosen_preset.checks,
    }
    text = _header(out_path, model_spec, notes, name) + _yaml(suite, chosen_preset.gates)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(text, encoding="utf-8")
    return text, notes


def positive_class(
    labels: Sequence[str], values: pd.Series, *, given: str | None = None
) -> tuple[str, str]:
    """The positive class of a binary problem and the rule that chose it.

    The rule: ``given`` (``--positive``) when set; else the label that reads as positive (``1``,
    ``true``, ``yes``, ``positive``, ``fresh``, ``spam``, …); else the rarer class (what a
    classifier usually detects: the disease, the fraud, the ``>50K``); on a tie the last in
    sorted order.

    Raises:
        ConfigError: ``given`` is not one of ``labels``.
    """
    if given is not None:
        if canonical_label(given) not in labels:
            raise ConfigError(
                f"--positive {given!r} is not one of the labels {list(labels)}. Fix: pass one of them"
            )
        return canonical_label(given), "as given (--positive)"
    worded = [x for x in labels if x.strip().lower() in _POSITIVE_WORDS]
    if len(worded) == 1:
        return worded[0], "the label that reads as positive (--positive to choose the other)"
    counts = values.dropna().map(canonical_label).value_counts()
    a, b = labels
    if counts.get(a, 0) != counts.get(b, 0):
        rare = a if counts.get(a, 0) < counts.get(b, 0) else b
        return rare, (
            f"the rarer class ({int(counts.get(rare, 0))} of {int(counts.sum())} rows), as the "
            "class a model detects usually is (--positive to choose the other)"
        )
    return b, "the last in sorted order, the two being equally frequent (--positive to choose)"


def _model(
    model: str | None, out: Path, *, trust: bool
) -> tuple[str, list[str], list[str] | None, list[str] | None]:
    """The spec to write (file paths relative to the suite's folder), reasons, and the
    model's classes and features when it could be read."""
    if model is None:
        return PLACEHOLDER_MODEL, [
            f"model: none given; `{PLACEHOLDER_MODEL}` is a placeholder (init --model to name yours)"
        ], None, None
    prefix, sep, target = model.partition(":")
    prefix = prefix.strip().lower()
    spec = model
    if sep and prefix in _FILE_PREFIXES:
        file, rest = target, ""
        if prefix == "python" and ".py:" in target:
            file, rest = target.rsplit(":", 1)
            rest = f":{rest}"
        path = Path(file)
        looks_like_file = prefix != "python" or file.endswith(".py")
        if looks_like_file and not path.exists():
            if prefix == "hf" and not file.startswith((".", "/")):
                return spec, [f"model: {model!r} is not a local folder; written as given"], None, None
            raise ConfigError(
                f"--model {model!r}: no such file {str(path.resolve())!r} (paths on the command "
                f"line resolve against the working directory, {os.getcwd()}). Fix: give the "
                "path of your model file"
            )
        if looks_like_file:
            rel = os.path.relpath(path.resolve(), out.resolve().parent)
            spec = f"{prefix}:{rel}{rest}"
    reasons = [f"model: {spec!r} (checked; paths in the suite are relative to its folder)"]
    try:
        loaded = load_model(model, trust=trust)
    except TrustRequiredError:
        reasons.append(
            "model: not read (loading a joblib file runs code); init --trust lets it read the "
            "model's classes_ and feature_names_in_ to find the label and inputs"
        )
        return spec, reasons, None, None
    except Exception as exc:
        reasons.append(f"model: could not be read to guess roles ({type(exc).__name__}: {exc})")
        return spec, reasons, None, None
    info = loaded.info()
    estimator = getattr(loaded, "estimator", None)
    features = getattr(estimator, "feature_names_in_", None)
    close = getattr(loaded, "close", None)
    if callable(close):
        close()
    return (
        spec,
        reasons,
        list(info.labels) if info.labels else None,
        [str(f) for f in features] if features is not None else None,
    )


def _header(out: Path, model: str, notes: Sequence[str], preset: str) -> str:
    # Loading a pickle runs code: the starter never says `trust: true` for the user; the command
    # it suggests asks for --trust, which the user gives knowingly.
    trust = " --trust" if model.startswith("sklearn:") else ""
    lines = [
        "# Starter suite written by `assay init`. Check the column roles, then run: assay run "
        f"{out.name}{trust}",
        *(
            ["# --trust: loading a joblib/pickle file runs code; give it only for a file you trust."]
            if trust
            else []
        ),
        "# Gates speak about interval bounds: performance.f1_macro.lower >= 0.80",
        f"# yaml-language-server: $schema={SUITE_SCHEMA}",
        f"# What init inferred (preset {preset}); overrule any of it here:",
        *(f"#   {n}" for n in notes),
    ]
    if preset == "llm":
        lines.append(
            "# A generative model as a classifier: under models, give it "
            "options: {verbaliser: {<label>: <word it answers>}} (docs/models.md)."
        )
    return "\n".join(lines) + "\n"


def _yaml(suite: dict[str, Any], gates: Sequence[tuple[str, str]]) -> str:
    body = yaml.safe_dump(suite, sort_keys=False, allow_unicode=True)
    if not gates:
        return body
    return body + "gates:\n" + "\n".join(describe(gates)) + "\n"


def _label_set(data: str | Path, spec: dict[str, Any]) -> tuple[str, ...] | None:
    """The classes of the label column (``None`` for a numeric target); refuses labels that
    differ only in case or spacing, naming both spellings."""
    roles = {k: v for k, v in spec.items() if k != "path"}
    ds = load_dataset({**roles, "path": str(Path(data).resolve()), "on_invalid": "skip"})
    return ds.labels
