"""Scoring counterfactual pairs: an input and its swapped copy, answered by the same model.

Per swap type:

* ``flip_rate``: the share of pairs whose answer changed — a different label (classification), or
  a score change above the tolerance (regression value; for generated text, a different polarity
  of its lexicon sentiment with a change above the tolerance). Wilson interval.
* ``mean_score_change``: the mean absolute change of the score — the probability of the positive
  label (else of the label predicted for the original), the predicted value, or the lexicon
  sentiment of the generated text. Percentile bootstrap (vectorised over resamples).
* ``n_not_applicable``: inputs in which nothing could be swapped (no interval).

Pairs where either call failed are counted in ``n_errors`` and left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from assay._types import Output, Request, Response, canonical_label
from assay.fairness._lexicon import lexicon_score, polarity
from assay.stats._bootstrap import (
    block_codes,
    block_multiplicities,
    block_sums,
    percentile_bounds,
)
from assay.stats._estimate import Estimate
from assay.stats._random import Seed, as_generator, stream
from assay.stats._wilson import wilson_interval

__all__ = ["mean_abs_change", "score_swaps"]


def mean_abs_change(changes: np.ndarray, *, level: float, n_bootstrap: int, seed: Seed) -> Estimate:
    """Mean of ``|changes|`` with a percentile-bootstrap interval (NaN estimate when empty)."""
    d = np.abs(np.asarray(changes, dtype=np.float64))
    d = d[np.isfinite(d)]
    n = len(d)
    if n == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), level, "bootstrap", 0)
    rng = as_generator(seed)
    codes, g = block_codes(n, rng)
    sums = block_sums(codes, g, np.column_stack([np.ones(n), d]))
    boot = block_multiplicities(g, n_bootstrap, rng) @ sums
    lo, hi = percentile_bounds(boot[:, 1] / boot[:, 0], level)
    return Estimate(float(d.mean()), float(lo), float(hi), level, "bootstrap", n)


def _answer(
    out: Output, task: str, positive: str | None, reference: str | None
) -> tuple[str, float]:
    """(what the model decided, its score) for one answer."""
    if task == "generation":
        s = lexicon_score(out.text or "")
        return polarity(s), s
    if task == "regression" or out.label is None:
        v = float(out.value) if out.value is not None else float("nan")
        return f"{v:.6g}", v
    label = canonical_label(out.label)
    probs = {canonical_label(k): float(v) for k, v in (out.probabilities or {}).items()}
    target = positive if positive is not None else reference
    score = probs.get(target, float("nan")) if (probs and target is not None) else float("nan")
    return label, score


def _shown(payload: Any, other: Any, max_chars: int) -> str:
    if isinstance(payload, dict) and isinstance(other, dict):
        diff = {k: v for k, v in payload.items() if other.get(k) != v}
        text = "; ".join(f"{k}={v}" for k, v in diff.items()) or str(payload)
    else:
        text = str(payload)
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def score_swaps(
    *,
    variants: Mapping[str, Mapping[str, tuple[Request, Any]]],
    originals: Mapping[str, Request],
    responses: Mapping[str, Response],
    task: str,
    positive_label: str | None,
    tolerance: float,
    level: float,
    n_bootstrap: int,
    seed: Seed,
    n_inputs: int,
    max_examples: int = 5,
    max_chars: int = 400,
) -> dict[str, Any]:
    """Score every swap type; returns a JSON-ready summary (estimates as dicts), with examples.

    Args:
        variants: swap type → example id → (swapped request, swapped payload).
        originals: example id → the original request.
        responses: the engine's answers by key.
        task: ``classification``, ``regression`` or ``generation``.
        positive_label: whose probability is the score (classification).
        tolerance: score changes up to this are not flips (regression, generation).
        level: confidence level.
        n_bootstrap: bootstrap resamples.
        seed: the bootstraps' randomness, a :data:`assay.stats.Seed`; each swap type draws from
            its own stream (:func:`assay.stats.stream` of ``seed`` and the swap's name).
        n_inputs: inputs considered (applicable or not).
        max_examples: worst pairs kept per swap type.
        max_chars: inputs are cut to this length in examples.
    """
    swaps: dict[str, Any] = {}
    examples: list[dict[str, Any]] = []
    flags: list[str] = []
    for swap, by_id in variants.items():
        rows = []
        n_errors = 0
        for example_id, (req, new_payload) in by_id.items():
            orig = originals.get(example_id)
            r0 = responses.get(orig.key) if orig is not None else None
            r1 = responses.get(req.key)
            if orig is None or r0 is None or r1 is None or not r0.ok or not r1.ok:
                n_errors += 1
                continue
            assert r0.output is not None and r1.output is not None
            d0, s0 = _answer(r0.output, task, positive_label, None)
            d1, s1 = _answer(r1.output, task, positive_label, d0)
            if positive_label is None and task == "classification":
                s0 = _answer(r0.output, task, None, d0)[1]
            change = s1 - s0
            if task == "classification":
                flipped = d0 != d1
            elif task == "generation":
                flipped = d0 != d1 and abs(change) > tolerance
            else:
                flipped = abs(change) > tolerance
            rows.append((example_id, orig.payload, new_payload, d0, d1, s0, s1, change, flipped))
        n_pairs = len(rows)
        n_flip = sum(r[8] for r in rows)
        changes = np.array([r[7] for r in rows], dtype=np.float64)
        flip = wilson_interval(n_flip, n_pairs, level=level)
        msc = mean_abs_change(
            changes, level=level, n_bootstrap=n_bootstrap, seed=stream(seed, swap)
        )
        if n_pairs and not msc.defined:
            flags.append(
                f"counterfactual {swap}: the answers carry no score (no probabilities), "
                "so mean_score_change is undefined"
            )
        n_na = n_inputs - len(by_id)
        worst = sorted(rows, key=lambda r: (not r[8], -abs(r[7]) if np.isfinite(r[7]) else 0.0))
        shown = []
        for r in worst[:max_examples]:
            ex = {
                "swap": swap,
                "id": r[0],
                "input": _shown(r[1], r[2], max_chars),
                "swapped": _shown(r[2], r[1], max_chars),
                "prediction": r[3],
                "swapped_prediction": r[4],
                "score_change": None if not np.isfinite(r[7]) else float(r[7]),
                "flipped": bool(r[8]),
            }
            shown.append(ex)
        examples += [e for e in shown if e["flipped"] or (e["score_change"] or 0) != 0]
        swaps[swap] = {
            "n_inputs": n_inputs,
            "n_applicable": len(by_id),
            "n_pairs": n_pairs,
            "n_errors": n_errors,
            "n_flipped": int(n_flip),
            "flip_rate": flip.to_dict(),
            "mean_score_change": msc.to_dict(),
            "n_not_applicable": Estimate.point(n_na, n=n_inputs, level=level).to_dict(),
            "examples": shown,
        }
        if n_pairs and n_flip:
            flags.append(
                f"counterfactual {swap}: {n_flip} of {n_pairs} answers changed when "
                f"the {swap} terms were swapped ({flip:.3f})"
            )
    score_kind = {
        "classification": f"probability of {positive_label!r}"
        if positive_label is not None
        else "probability of the original's label",
        "regression": "predicted value",
        "generation": "lexicon sentiment of the generated text",
    }.get(task, task)
    return {
        "score": score_kind,
        "tolerance": tolerance,
        "swaps": swaps,
        "examples": examples,
        "flags": flags,
    }
