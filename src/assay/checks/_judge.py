"""LLM-as-judge for the generation check: pointwise scores and pairwise preferences.

The judge is any model spec (an ``openai:`` server in practice). The check asks the run context for
it (:meth:`RunContext.require_model`), which loads it into the run's models under
``judge:<hash>``, so the engine caches and retries its calls like any other.
Judge requests depend on the candidate's answers, so they go out in a later round
(``Check.next_requests``); a verdict that cannot be parsed is asked again (``retries`` times, with
``temperature`` 0.7 and a new seed, since a greedy judge would repeat itself), and what still fails
is counted in ``judge.parse_failure_rate``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from assay._types import Request, Response, content_key
from assay.errors import ConfigError
from assay.metrics._text import bootstrap_mean
from assay.stats import Estimate, Seed, as_generator, wilson_interval

if TYPE_CHECKING:
    from assay.checks._base import Check, RunContext

__all__ = ["PAIRWISE_RUBRIC", "POINTWISE_RUBRIC", "JudgeConfig", "parse_pairwise", "parse_score"]

POINTWISE_RUBRIC = (
    "You are grading an answer to a question. Rate it from 1 (useless) to {scale} (perfect) for "
    "correctness and helpfulness, using the reference answer as a guide. Give a one-sentence "
    "rationale, then a last line of the form 'Score: <n>'.\n"
    "QUESTION: {input}\nREFERENCE: {reference}\nANSWER: {answer}"
)
PAIRWISE_RUBRIC = (
    "Two assistants answered the same question. Which answer is better for correctness and "
    "helpfulness? Give a one-sentence rationale, then [[A]], [[B]] or [[tie]].\n"
    "QUESTION: {input}\nANSWER A: {a}\nANSWER B: {b}"
)
_SCORE = re.compile(r"score\s*[:=]\s*(\d+)", re.IGNORECASE)
_VERDICT = re.compile(r"\[\[\s*(a|b|tie)\s*\]\]", re.IGNORECASE)


class JudgeConfig(BaseModel):
    """Options of the judge.

    Attributes:
        spec: the judge's model spec (``openai:judge@http://127.0.0.1:8000/v1``).
        options: the judge adapter's options.
        mode: ``pointwise`` (a score 1..scale with a rationale) or ``pairwise`` (this model
            against ``against``, in both orders to cancel position bias).
        rubric: the prompt template; fields ``{input}``, ``{reference}``, ``{answer}``
            (pointwise) or ``{input}``, ``{a}``, ``{b}`` (pairwise), and ``{scale}``.
        scale: the top score of the pointwise scale.
        against: pairwise: the other model's name in the suite.
        human: a column of human scores (pointwise) for the judge's agreement (Cohen's kappa).
        kappa_weights: ``null`` (exact agreement), ``linear`` or ``quadratic``.
        retries: how often an unparseable verdict is asked again.
    """

    model_config = ConfigDict(extra="forbid")

    spec: str
    options: dict[str, Any] = Field(default_factory=dict)
    mode: Literal["pointwise", "pairwise"] = "pointwise"
    rubric: str | None = None
    scale: int = Field(default=5, ge=2, le=100)
    against: str | None = None
    human: str | None = None
    kappa_weights: Literal["linear", "quadratic"] | None = None
    retries: int = Field(default=1, ge=0, le=5)


def parse_score(text: str, scale: int) -> int | None:
    """The last ``Score: n`` in ``text`` when 1 ≤ n ≤ scale, else ``None``.

    Example:
        >>> parse_score("Clear and right. Score: 4", 5), parse_score("Score: 9", 5)
        (4, None)
    """
    found = _SCORE.findall(text)
    if not found:
        return None
    n = int(found[-1])
    return n if 1 <= n <= scale else None


def parse_pairwise(text: str) -> str | None:
    """``"a"``, ``"b"`` or ``"tie"`` from the last ``[[...]]`` verdict, else ``None``."""
    found = _VERDICT.findall(text)
    return found[-1].lower() if found else None


def _judge_name(cfg: JudgeConfig) -> str:
    digest = hashlib.sha256(
        json.dumps([cfg.spec, cfg.options], sort_keys=True, default=str).encode()
    ).hexdigest()
    return f"judge:{digest[:12]}"


def _ensure_judge(ctx: RunContext, cfg: JudgeConfig) -> str:
    return ctx.require_model(cfg.spec, name=_judge_name(cfg), options=cfg.options)


def _answers(
    ctx: RunContext, model: str, ds: Any, responses: Mapping[str, Response]
) -> list[str | None]:
    out: list[str | None] = []
    for r in ctx.original_requests(model, ds):
        resp = responses.get(r.key)
        out.append(resp.output.text if resp is not None and resp.ok and resp.output else None)
    return out


def _prompts(
    check: Check, ctx: RunContext, cfg: JudgeConfig, responses: Mapping[str, Response]
) -> list[tuple[int, str, str]]:
    """(row, order, prompt) for every row whose answers exist; order is "ab", "ba" or "-"."""
    ds = ctx.dataset(check.config.dataset)
    mine = _answers(ctx, check.model, ds, responses)
    inputs = [str(p) if not isinstance(p, Mapping) else json.dumps(p) for p in ds.payloads()]
    ref_col = getattr(check.config, "reference", None) or ds.spec.label
    refs = ds.frame[ref_col].astype(str).tolist() if ref_col in ds.frame.columns else [""] * len(ds)
    out: list[tuple[int, str, str]] = []
    if cfg.mode == "pointwise":
        rubric = cfg.rubric or POINTWISE_RUBRIC
        for i, a in enumerate(mine):
            if a is not None:
                fields = {"input": inputs[i], "reference": refs[i], "answer": a, "scale": cfg.scale}
                out.append((i, "-", rubric.format_map(fields)))
        return out
    if cfg.against is None or cfg.against not in ctx.models:
        raise ConfigError(
            "checks.generation.judge.against: pairwise judging needs the name of another model "
            f"in the suite; models: {', '.join(m for m in ctx.models if not m.startswith('judge:'))}"
        )
    theirs = _answers(ctx, cfg.against, ds, responses)
    rubric = cfg.rubric or PAIRWISE_RUBRIC
    for i, (a, b) in enumerate(zip(mine, theirs)):
        if a is None or b is None:
            continue
        out.append(
            (i, "ab", rubric.format_map({"input": inputs[i], "a": a, "b": b, "scale": cfg.scale}))
        )
        out.append(
            (i, "ba", rubric.format_map({"input": inputs[i], "a": b, "b": a, "scale": cfg.scale}))
        )
    return out


def _request(
    ctx: RunContext, judge: str, prompt: str, attempt: int, row: int, order: str
) -> Request:
    params = {} if attempt == 0 else {"temperature": 0.7, "seed": attempt, "attempt": attempt}
    fp = ctx.model_infos[judge].fingerprint
    return Request(
        key=content_key(fp, prompt, params),
        model=judge,
        payload=prompt,
        params=params,
        tags={"row": str(row), "order": order, "attempt": str(attempt)},
    )


def _parse(cfg: JudgeConfig, resp: Response | None) -> Any:
    if resp is None or not resp.ok or resp.output is None:
        return None
    text = resp.output.text or ""
    return parse_score(text, cfg.scale) if cfg.mode == "pointwise" else parse_pairwise(text)


def _verdicts(
    check: Check, ctx: RunContext, cfg: JudgeConfig, responses: Mapping[str, Response]
) -> tuple[list[Request], list[tuple[int, str, Any, str]]]:
    """Requests still to ask, and (row, order, verdict or None, text) for settled prompts."""
    judge = _ensure_judge(ctx, cfg)
    todo: list[Request] = []
    settled: list[tuple[int, str, Any, str]] = []
    for row, order, prompt in _prompts(check, ctx, cfg, responses):
        for attempt in range(cfg.retries + 1):
            req = _request(ctx, judge, prompt, attempt, row, order)
            resp = responses.get(req.key)
            if resp is None:
                todo.append(req)
                break
            verdict = _parse(cfg, resp)
            if verdict is not None or attempt == cfg.retries:
                text = resp.output.text if resp.ok and resp.output else f"error: {resp.error}"
                settled.append((row, order, verdict, text or ""))
                break
    return todo, settled


def judge_next_requests(
    check: Check, ctx: RunContext, cfg: JudgeConfig, responses: Mapping[str, Response]
) -> list[Request]:
    todo, _ = _verdicts(check, ctx, cfg, responses)
    return todo


def _bootstrap(values: np.ndarray, level: float, seed: Seed, n_boot: int = 1000) -> Estimate:
    return bootstrap_mean(values, level=level, n_bootstrap=n_boot, seed=seed)


def _kappa(
    a: np.ndarray, b: np.ndarray, weights: str | None, level: float, seed: Seed
) -> Estimate:
    from sklearn.metrics import cohen_kappa_score

    def k(x: np.ndarray, y: np.ndarray) -> float:
        if len(set(x.tolist()) | set(y.tolist())) < 2:
            return float("nan")
        return float(cohen_kappa_score(x, y, weights=weights))

    value = k(a, b)
    rng = as_generator(seed)
    n = len(a)
    boots = []
    for _ in range(500):
        idx = rng.integers(0, n, n)
        boots.append(k(a[idx], b[idx]))
    arr = np.array([x for x in boots if np.isfinite(x)])
    alpha = (1 - level) / 2
    lo, hi = np.quantile(arr, [alpha, 1 - alpha]) if len(arr) else (np.nan, np.nan)
    return Estimate(value, float(lo), float(hi), level, "bootstrap", n)


def judge_score(
    check: Check,
    ctx: RunContext,
    cfg: JudgeConfig,
    responses: Mapping[str, Response],
    rows: list[int],
) -> tuple[dict[str, Estimate], dict[str, Any], list[str]]:
    """The judge's metrics, a table of verdicts and flags."""
    todo, settled = _verdicts(check, ctx, cfg, responses)
    flags: list[str] = []
    if todo:
        flags.append(f"{len(todo)} judge prompts were never answered (round limit reached)")
    metrics: dict[str, Estimate] = {}
    failures = sum(1 for s in settled if s[2] is None)
    if settled:
        metrics["judge.parse_failure_rate"] = wilson_interval(
            failures, len(settled), level=ctx.level
        )
    if failures:
        flags.append(
            f"{failures} of {len(settled)} judge verdicts could not be parsed after {cfg.retries} retries; left out"
        )
    table_rows = [
        {"row": r, "order": o, "verdict": v, "rationale": t[:300]} for r, o, v, t in settled[:50]
    ]
    ds = ctx.dataset(check.config.dataset)
    if cfg.mode == "pointwise":
        by_row = {r: v for r, _, v, _ in settled if v is not None}
        if by_row:
            scores = np.array([by_row[r] for r in sorted(by_row)], dtype=float)
            metrics["judge.score"] = _bootstrap(scores, ctx.level, check.rng(ctx, "judge.score"))
            if cfg.human is not None:
                if cfg.human not in ds.frame.columns:
                    raise ConfigError(
                        f"checks.generation.judge.human: column {cfg.human!r} is not in dataset "
                        f"{ds.name!r}"
                    )
                human = ds.frame[cfg.human].tolist()
                keep = [r for r in sorted(by_row) if human[r] == human[r]]  # drop NaN
                if len(keep) >= 2:
                    metrics["judge.kappa"] = _kappa(
                        np.array([int(by_row[r]) for r in keep]),
                        np.array([int(human[r]) for r in keep]),
                        cfg.kappa_weights,
                        ctx.level,
                        check.rng(ctx, "judge.kappa"),
                    )
    else:
        per_row: dict[int, list[float]] = {}
        disagree = 0
        pairs: dict[int, dict[str, str]] = {}
        for r, o, v, _ in settled:
            if v is None:
                continue
            mine_wins = {"ab": {"a": 1.0, "b": 0.0}, "ba": {"a": 0.0, "b": 1.0}}[o].get(v, 0.5)
            per_row.setdefault(r, []).append(mine_wins)
            pairs.setdefault(r, {})[o] = v
        swap = {"a": "b", "b": "a", "tie": "tie"}
        for p in pairs.values():
            # "ab" verdict names this model as "a"; in "ba" this model is "b"
            if len(p) == 2 and p["ab"] != swap[p["ba"]]:
                disagree += 1
        if per_row:
            wins = np.array([np.mean(v) for _, v in sorted(per_row.items())])
            rng = check.rng(ctx, "judge.win_rate")
            metrics["judge.win_rate"] = _bootstrap(wins, ctx.level, rng)
            if disagree:
                flags.append(
                    f"the judge changed its verdict with the order of the answers on {disagree} of "
                    f"{len(pairs)} examples (position bias); both orders are averaged"
                )
    table: dict[str, Any] = {
        "mode": cfg.mode,
        "verdicts": table_rows,
        "judge": cfg.spec.split("@")[0],
        "n_verdicts": len(settled),
        "n_parse_failures": failures,
    }
    if cfg.mode == "pointwise":
        counts: dict[str, int] = {}
        for _, _, v, _ in settled:
            if v is not None:
                counts[str(int(v))] = counts.get(str(int(v)), 0) + 1
        table["score_counts"] = {str(k): counts.get(str(k), 0) for k in range(1, cfg.scale + 1)}
    else:
        table["order_flips"] = disagree
        table["n_pairs"] = len(pairs)
    return metrics, table, flags
