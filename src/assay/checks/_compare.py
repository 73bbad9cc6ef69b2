"""The ``compare`` check: in a suite with two models, the candidate against the baseline, paired."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from assay._types import ERROR_LABEL, Request, Response
from assay.checks._base import Check, CheckConfig, RunContext, register_check
from assay.checks._generation import GenerationConfig, _embedder, _schema, _texts
from assay.checks._performance import gather
from assay.checks._uncertainty_inputs import OperatingPointConfig, UncertaintyConfig, split_rows
from assay.compare._compare import CompareOptions, Comparison, compare_paired
from assay.compare._metrics import GENERATION_COMPARABLE
from assay.compare._paired import PairedPredictions
from assay.config._suite import Label, Suite
from assay.errors import ConfigError
from assay.metrics import text_summary
from assay.report._schema import CheckResult
from assay.stats._estimate import Estimate
from assay.uncertainty import paired_operating_points

__all__ = ["CompareCheck", "CompareConfig", "to_check_result"]


class CompareConfig(CheckConfig, CompareOptions):
    """Options of the ``compare`` check (see :class:`~assay.compare.CompareOptions`), plus
    ``positive_label`` for the scores compared by ROC AUC (default: the performance check's).

    Attributes:
        positive_label: the positive class whose scores ROC AUC and average precision compare
            (default: the performance check's ``positive_label``, else the second label).
        operating_point: compare both models at this operating point (binary, both with
            probabilities): each model's threshold chosen on the uncertainty check's calibration
            rows, sensitivity and specificity compared pair by pair on its test rows (default:
            the uncertainty check's ``operating_points``; none without it).
    """

    positive_label: Label | None = None
    operating_point: OperatingPointConfig | None = None


def baseline_of(config: CompareConfig, suite: Suite) -> str:
    if config.baseline is not None:
        return config.baseline
    names = list(suite.models)
    return "baseline" if "baseline" in names else names[-1]


@register_check("compare")
class CompareCheck(Check):
    """Every model but the baseline against the baseline, on the same examples.

    Result (for each candidate): metrics ``<metric>.diff`` (candidate − baseline, paired interval)
    and table ``comparison`` (per-metric tests, Holm-adjusted p-values, margins, statuses, sample
    size advice, the verdict and its reasons). The baseline itself gets no result. No extra model
    calls: the answers are the performance check's (the engine dedupes them).
    """

    Config = CompareConfig

    @classmethod
    def validate_suite(cls, config: CheckConfig, suite: Suite, *, source: str = "suite") -> None:
        assert isinstance(config, CompareConfig)
        if len(suite.models) < 2:
            raise ConfigError(
                f"{source}: checks.compare needs two models, the candidate and the baseline "
                f"(`models: [candidate, baseline]`); found {len(suite.models)}"
            )
        if config.baseline is not None and config.baseline not in suite.models:
            raise ConfigError(
                f"{source}: checks.compare.baseline: {config.baseline!r} is not a model; "
                f"models: {', '.join(suite.models)}"
            )

    def _baseline(self, ctx: RunContext) -> str:
        assert isinstance(self.config, CompareConfig)
        return baseline_of(self.config, ctx.suite)

    def plan(self, ctx: RunContext) -> list[Request]:
        base = self._baseline(ctx)
        if self.model == base:
            return []
        ds = ctx.dataset(self.config.dataset)
        for name in (self.model, base):
            if ctx.answers_by_id(name) and ds.spec.id is None:
                raise ConfigError(
                    f"checks.compare: model {name!r} answers by example id, but dataset "
                    f"{ds.name!r} has no id column; set `id:` so the two models' answers pair up"
                )
        return ctx.original_requests(self.model, ds) + ctx.original_requests(base, ds)

    def score(self, ctx: RunContext, responses: Mapping[str, Response]) -> CheckResult | None:
        cfg = self.config
        assert isinstance(cfg, CompareConfig)
        base = self._baseline(ctx)
        if self.model == base:
            return None
        ds = ctx.dataset(cfg.dataset)
        if _is_generation(ctx, self.model):
            paired = _paired_generation(ctx, self.model, base, ds, responses)
        else:
            paired = self._paired_labels(ctx, base, ds, responses)
        c = compare_paired(
            paired,
            cfg,
            candidate=self.model,
            baseline=base,
            dataset=ds.name,
            level=ctx.level,
            seed=self.rng(ctx),
        )
        result = to_check_result(c)
        op = self._operating_point_config(ctx)
        if op is not None and paired.candidate_score is not None:
            _add_operating_point(ctx, op, paired, result, base)
        elif op is not None:
            result.flags.append(
                "no comparison at the operating point: it needs a binary task and probabilities "
                f"from both {self.model!r} and {base!r}"
            )
        return result

    def _operating_point_config(
        self, ctx: RunContext
    ) -> tuple[OperatingPointConfig, UncertaintyConfig] | None:
        """The operating point to compare at, with the uncertainty options that say how the
        rows are split (the compare check's own point, else the uncertainty check's)."""
        cfg = self.config
        assert isinstance(cfg, CompareConfig)
        raw = ctx.suite.checks.get("uncertainty")
        unc = UncertaintyConfig.model_validate(raw or {})
        point = cfg.operating_point or unc.operating_points
        return None if point is None else (point, unc)

    def _paired_labels(
        self, ctx: RunContext, base: str, ds: Any, responses: Mapping[str, Response]
    ) -> PairedPredictions:
        """Both models' labels (and scores, when both have them) on the examples both answered."""
        cfg = self.config
        assert isinstance(cfg, CompareConfig)
        pc = gather(ctx, self.model, cfg.dataset, responses)
        pb = gather(ctx, base, cfg.dataset, responses)
        # Examples whose call failed for either model are left out of both (pairs stay pairs).
        common = set(pc.ids) & set(pb.ids)
        pc = pc.subset(np.array([i in common for i in pc.ids], dtype=bool))
        pb = pb.subset(np.array([i in common for i in pb.ids], dtype=bool))
        notes = []
        dropped = len(ds) - len(common)
        if dropped:
            notes.append(f"{dropped} examples left out: a call failed for one of the models")
        positive = cfg.positive_label or ctx.suite.checks.get("performance", {}).get(
            "positive_label"
        )
        labels = [lbl for lbl in pc.labels if lbl in set(pc.labels) | set(pb.labels)]
        labels += [lbl for lbl in pb.labels if lbl not in labels]
        score_c = score_b = None
        real = [lbl for lbl in labels if lbl != ERROR_LABEL]
        if pc.proba is not None and pb.proba is not None and len(real) == 2:
            positive = positive if positive in real else real[1]
            score_c = pc.proba[:, pc.labels.index(positive)]
            score_b = pb.proba[:, pb.labels.index(positive)]
        proba_c = proba_b = None
        proba_labels: tuple[str, ...] = ()
        both = set(pc.labels) & set(pb.labels)
        if pc.proba is not None and pb.proba is not None and len(real) > 2 and set(real) <= both:
            proba_labels = tuple(real)
            proba_c = pc.proba[:, [pc.labels.index(lbl) for lbl in real]]
            proba_b = pb.proba[:, [pb.labels.index(lbl) for lbl in real]]
        return PairedPredictions(
            pc.task,
            list(pc.ids),
            pc.y_true,
            pc.y_pred,
            pb.y_pred,
            labels,
            score_c,
            score_b,
            positive if score_c is not None else None,
            tuple(notes),
            proba_c,
            proba_b,
            proba_labels,
        )

    @classmethod
    def gate_patterns(cls, config: CheckConfig, suite: Suite) -> list[str]:
        return ["*.diff", "operating_point.*.diff"]


def _add_operating_point(
    ctx: RunContext,
    config: tuple[OperatingPointConfig, UncertaintyConfig],
    paired: PairedPredictions,
    result: CheckResult,
    baseline: str,
) -> None:
    """Both models at the same operating point on the same rows: metrics
    ``operating_point.<sensitivity|specificity>.diff`` and table ``operating_point``."""
    point, unc = config
    assert paired.candidate_score is not None and paired.baseline_score is not None
    positive = point.positive_label or paired.positive_label
    if positive not in paired.labels:
        raise ConfigError(
            f"operating_points.positive_label: {positive!r} is not a label; labels: "
            f"{', '.join(paired.labels)}"
        )
    if positive != paired.positive_label:  # the scores are of the other class
        score_c, score_b = 1 - paired.candidate_score, 1 - paired.baseline_score
    else:
        score_c, score_b = paired.candidate_score, paired.baseline_score
    is_pos = np.asarray(paired.y_true == positive, dtype=bool)
    cal, test = split_rows(ctx, paired.n, unc.calibration_split)
    target, value = point.target
    costs = value if target == "costs" else {"fn": 1.0, "fp": 1.0}
    p = paired_operating_points(
        score_c[cal],
        score_b[cal],
        is_pos[cal],
        score_c[test],
        score_b[test],
        is_pos[test],
        target=target,
        value=None if target == "costs" else value,
        cost_fn=costs["fn"],
        cost_fp=costs["fp"],
        level=ctx.level,
    )
    for k, d in p.differences.items():
        result.metrics[f"operating_point.{k}.diff"] = d
    result.tables["operating_point"] = {
        "target": target,
        "value": value,
        "positive_label": positive,
        "n_calibration": int(cal.sum()),
        "n_test": int(test.sum()),
        "models": {
            name: {
                "threshold": op.threshold,
                **{k: e.to_dict() for k, e in op.test.items()},
            }
            for name, op in ((result.model, p.candidate), (baseline, p.baseline))
        },
        "differences": {k: d.to_dict() for k, d in p.differences.items()},
        "p_values": {k: t.p_value for k, t in p.tests.items()},
    }
    for k, d in p.differences.items():
        if d.upper < 0 and p.tests[k].p_value < (1 - ctx.level):
            result.flags.append(
                f"at {target} {value}, the candidate's {k} is lower than {baseline}'s by "
                f"{-d.value:.3f} [{-d.upper:.3f}, {-d.lower:.3f}] (McNemar p = "
                f"{p.tests[k].p_value:.3g})"
            )


def _is_generation(ctx: RunContext, model: str) -> bool:
    """Free text, not labels: the suite says ``task: generation``, or the model generates and has
    no label set (a verbalised LLM classifier is compared as a classifier)."""
    if ctx.suite.task != "auto":
        return ctx.suite.task == "generation"
    info = ctx.model_infos[model]
    return info.task == "generation" and not info.labels


def _paired_generation(
    ctx: RunContext, model: str, base: str, ds: Any, responses: Mapping[str, Response]
) -> PairedPredictions:
    """Both models' answers scored against the same references, per example, on the rows both
    answered; the metrics and normalisation are the generation check's (its defaults when the
    suite has none)."""
    gen = GenerationConfig.model_validate(ctx.suite.checks.get("generation") or {})
    ref_col = gen.reference or ds.spec.label
    if ref_col is None or ref_col not in ds.frame.columns:
        raise ConfigError(
            f"checks.compare: comparing generated text needs references; dataset {ds.name!r} "
            "has no label column (set `label:` or checks.generation.reference)"
        )
    outs_c, rows_c, _ = _texts(ctx, model, ds, responses)
    outs_b, rows_b, _ = _texts(ctx, base, ds, responses)
    rows = sorted(set(rows_c) & set(rows_b))
    notes = []
    if len(rows) < len(ds):
        notes.append(
            f"{len(ds) - len(rows)} examples left out: a call failed for one of the models"
        )
    refs_all = ds.frame[ref_col].astype(str).tolist()
    refs = [refs_all[i] for i in rows]
    metrics = [m for m in gen.metrics if m not in ("bleu", "chrf", "ter", "length")]
    embed = _embedder(gen.embedding_model, ctx) if "embedding_cosine" in metrics else None
    scored = []
    for outs in (outs_c, outs_b):
        summary = text_summary(
            [outs[i].text or "" for i in rows],
            refs,
            metrics=metrics,
            json_schema=_schema(gen.json_schema, ctx),
            embed=embed,
            normalise=gen.normalise.model_dump(),
            level=ctx.level,
            n_bootstrap=10,  # only the per-example scores are used here
            seed=ctx.rng("compare", model, "generation scores"),
        )
        scored.append(summary.per_example)
    names = [m for m in GENERATION_COMPARABLE if m in scored[0] and m in scored[1]]
    ids = [ds.ids[i] for i in rows]
    texts_c = np.asarray([outs_c[i].text or "" for i in rows], dtype=object)
    texts_b = np.asarray([outs_b[i].text or "" for i in rows], dtype=object)
    return PairedPredictions(
        "generation",
        ids,
        np.asarray(refs, dtype=object),
        texts_c,
        texts_b,
        [],
        notes=tuple(notes),
        scores={m: (scored[0][m], scored[1][m]) for m in names},
    )


def to_check_result(c: Comparison) -> CheckResult:
    """The Comparison as the ``compare`` check's result: metric ``<metric>.diff`` (candidate −
    baseline with its paired interval) and the whole comparison in table ``comparison``."""
    metrics: dict[str, Estimate] = {f"{m.metric}.diff": m.difference for m in c.metrics}
    word = {"go": "GO", "no-go": "NO-GO", "inconclusive": "INCONCLUSIVE"}[c.verdict]
    flags = [f"{word} against {c.baseline}: {reason}" for reason in c.reasons[:3]]
    return CheckResult(
        check="compare",
        model=c.candidate,
        dataset=c.dataset,
        n=c.n,
        metrics=metrics,
        tables={"comparison": c.to_dict()},
        flags=flags if c.verdict != "go" else [],
    )
