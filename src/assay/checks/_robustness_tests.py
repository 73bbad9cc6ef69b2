"""Directional and minimum-functionality tests of the robustness check."""

from __future__ import annotations

import itertools
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from assay._types import Response, canonical_label
from assay.errors import ConfigError
from assay.perturb._apply import Variant, variants_from_config
from assay.stats import wilson_interval
from assay.stats._estimate import Estimate

__all__ = [
    "DirectionalTest",
    "failed_call_text",
    "load_mft",
    "score_directional",
    "score_mft",
]

_MAX_CASES = 200


class DirectionalTest(BaseModel):
    """The probability of ``label`` must move the ``expect``ed way under ``perturbation``.

    A case fails when the probability moves the other way by more than ``tolerance`` (without
    probabilities: when the prediction moves onto ``label`` for ``decrease``, or off it for
    ``increase``). Example: ``{name: negation, perturbation: negate, label: fresh, expect: decrease}``.
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    perturbation: Any
    label: str
    expect: Literal["increase", "decrease"]
    tolerance: float = Field(default=0.0, ge=0, le=1)

    def variants(self, *, where: str) -> list[Variant]:
        vs = variants_from_config([self.perturbation], {}, where=f"{where}.directional.{self.name}")
        if len(vs) != 1:
            raise ConfigError(f"{where}.directional.{self.name}: give one severity")
        v = vs[0]
        return [Variant(self.name, v.name, v.steps, v.severity)]


def score_directional(
    t: DirectionalTest,
    plans: Mapping[str, Mapping[str, tuple[Any, Any, bool]]],
    responses: Mapping[str, Response],
    *,
    orig_labels: Mapping[str, str],
    orig_probs: Mapping[str, Mapping[str, float]],
    texts: Mapping[str, Any],
    level: float,
    max_examples: int,
) -> dict[str, Any]:
    label = canonical_label(t.label)
    plan = plans.get(f"directional:{t.name}", {})
    fails = n = unchanged = 0
    failed = _Failed()
    moves: list[float] = []
    examples: list[dict[str, Any]] = []
    for i, (key, y, changed) in plan.items():
        if i not in orig_labels:
            continue
        if not changed:
            unchanged += 1
            continue
        resp = responses.get(key)
        if resp is None or not resp.ok or resp.output is None or resp.output.label is None:
            failed.add(resp)
            continue
        plabel = canonical_label(resp.output.label)
        probs = resp.output.probabilities
        n += 1
        p_old: float | None = None
        p_new: float | None = None
        if probs and i in orig_probs:
            p_new = sum(float(v) for k, v in probs.items() if canonical_label(k) == label)
            p_old = orig_probs[i].get(label, 0.0)
            move = p_new - p_old
            moves.append(move)
            fail = move > t.tolerance if t.expect == "decrease" else move < -t.tolerance
        else:
            was, now = orig_labels[i] == label, plabel == label
            fail = (not was and now) if t.expect == "decrease" else (was and not now)
        fails += fail
        if fail and len(examples) < max_examples:
            examples.append(
                {
                    "perturbation": f"directional:{t.name}",
                    "id": i,
                    "original": texts.get(i),
                    "perturbed": y,
                    "original_prediction": orig_labels[i],
                    "perturbed_prediction": plabel,
                    "expected": f"P({label}) should {t.expect}",
                    "original_confidence": p_old,
                    "perturbed_confidence": p_new,
                }
            )
    key = f"directional.{t.name}"
    metrics = {
        f"{key}.failure_rate": wilson_interval(fails, n, level=level),
        f"{key}.n_unchanged": Estimate.point(unchanged, n=len(plan), level=level),
        **failed.metrics(key, n, level=level),
    }
    row = {
        "name": t.name,
        "label": label,
        "expect": t.expect,
        "n": n,
        "n_unchanged": unchanged,
        "failures": fails,
        "n_errors": failed.n,
        "mean_move": sum(moves) / len(moves) if moves else None,
    }
    return {"metrics": metrics, "row": row, "examples": examples, "flags": failed.flags(key, n)}


def load_mft(path: Path, *, where: str) -> list[dict[str, Any]]:
    """Cases of a minimum-functionality test file.

    The file reads::

        tests:
          - name: negated_positive
            templates: ["The film was not {adj}.", "Not {adj} at all."]
            fill: {adj: [good, great, enjoyable]}
            label: rotten
            max_cases: 100        # optional: a seeded sample of the combinations

    Raises:
        ConfigError: the file is missing or malformed; names the test and the field.
    """
    try:
        raw = yaml.safe_load(Path(path).read_text("utf-8"))
    except OSError as e:
        raise ConfigError(
            f"{where}: cannot read {str(path)!r} ({e.strerror}); give the path of a YAML file of tests"
        ) from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{where}: {str(path)!r} is not valid YAML ({e})") from None
    tests = raw.get("tests") if isinstance(raw, dict) else None
    if not isinstance(tests, list) or not tests:
        raise ConfigError(f"{where}: {str(path)!r} needs a non-empty `tests:` list")
    cases: list[dict[str, Any]] = []
    for j, t in enumerate(tests):
        w = f"{where}: {path}: tests[{j}]"
        if not isinstance(t, dict) or not {"name", "templates", "label"} <= set(t):
            raise ConfigError(f"{w}: each test needs name, templates and label (fill is optional)")
        templates = t["templates"] if isinstance(t["templates"], list) else [t["templates"]]
        fill = t.get("fill") or {}
        if not isinstance(fill, dict) or not all(isinstance(v, list) and v for v in fill.values()):
            raise ConfigError(f"{w}.fill: a mapping of placeholder → non-empty list of words")
        keys = sorted(fill)
        combos = [dict(zip(keys, vals)) for vals in itertools.product(*(fill[k] for k in keys))]
        texts = []
        for tpl in templates:
            for c in combos:
                try:
                    texts.append(str(tpl).format(**c))
                except (KeyError, IndexError) as e:
                    raise ConfigError(
                        f"{w}: template {tpl!r} uses placeholder {e} that fill does not give"
                    ) from None
        texts = list(dict.fromkeys(texts))
        cap = int(t.get("max_cases", _MAX_CASES))
        if len(texts) > cap:
            texts = sorted(random.Random(f"mft\x1f{t['name']}").sample(texts, cap), key=texts.index)
        for k, text in enumerate(texts):
            cases.append(
                {
                    "test": str(t["name"]),
                    "id": f"{t['name']}:{k}",
                    "input": text,
                    "label": canonical_label(t["label"]),
                }
            )
    return cases


def score_mft(
    cases: list[dict[str, Any]],
    responses: Mapping[str, Response],
    *,
    level: float,
    max_examples: int,
) -> dict[str, Any]:
    by_test: dict[str, list[int]] = {}
    failed: dict[str, _Failed] = {}
    examples: list[dict[str, Any]] = []
    for c in cases:
        by_test.setdefault(c["test"], [0, 0])
        resp = responses.get(c["key"])
        if resp is None or not resp.ok or resp.output is None or resp.output.label is None:
            failed.setdefault(c["test"], _Failed()).add(resp)
            continue
        pred = canonical_label(resp.output.label)
        fail = pred != c["label"]
        counts = by_test.setdefault(c["test"], [0, 0])
        counts[0] += fail
        counts[1] += 1
        if (
            fail
            and sum(1 for e in examples if e["perturbation"] == f"mft:{c['test']}") < max_examples
        ):
            examples.append(
                {
                    "perturbation": f"mft:{c['test']}",
                    "id": c["id"],
                    "original": c["input"],
                    "label": c["label"],
                    "perturbed_prediction": pred,
                }
            )
    metrics = {
        f"mft.{k}.failure_rate": wilson_interval(f, n, level=level) for k, (f, n) in by_test.items()
    }
    flags: list[str] = []
    for k, (_, n) in by_test.items():
        fk = failed.get(k, _Failed())
        metrics.update(fk.metrics(f"mft.{k}", n, level=level))
        flags += fk.flags(f"mft.{k}", n)
    total_f = sum(f for f, _ in by_test.values())
    total_n = sum(n for _, n in by_test.values())
    metrics["mft.failure_rate"] = wilson_interval(total_f, total_n, level=level)
    total_e = sum(fk.n for fk in failed.values())
    metrics["mft.n_errors"] = Estimate.point(total_e, n=total_n + total_e, level=level)
    rows = [
        {"name": k, "n": n, "failures": f, "n_errors": failed.get(k, _Failed()).n}
        for k, (f, n) in by_test.items()
    ]
    return {"metrics": metrics, "rows": rows, "examples": examples, "flags": flags}


def failed_call_text(resp: Response | None, *, limit: int = 400) -> str:
    """Why a case has no label: the call's error (cut at ``limit`` characters), no answer at
    all, or an answer without a label."""
    if resp is None:
        return "no answer"
    if resp.error is not None:
        error = str(resp.error)
        return error if len(error) <= limit else error[:limit] + "…"
    return "the answer has no label"


class _Failed:
    """Cases whose call failed (or answered with no label): counted, never skipped silently.
    They are left out of the failure rate, which speaks about the model's answers; the count
    and rate of failed calls sit beside it (``<test>.n_errors``, ``<test>.error_rate``)."""

    def __init__(self) -> None:
        self.n = 0
        self.first: str | None = None

    def add(self, resp: Response | None) -> None:
        self.n += 1
        if self.first is None:
            self.first = failed_call_text(resp)

    def metrics(self, key: str, n_answered: int, *, level: float) -> dict[str, Estimate]:
        asked = n_answered + self.n
        return {
            f"{key}.n_errors": Estimate.point(self.n, n=asked, level=level),
            f"{key}.error_rate": wilson_interval(self.n, asked, level=level),
        }

    def flags(self, key: str, n_answered: int) -> list[str]:
        if not self.n:
            return []
        return [
            f"{key}: the model failed on {self.n} of {n_answered + self.n} cases (left out of "
            f"its failure rate); first error: {self.first}"
        ]
