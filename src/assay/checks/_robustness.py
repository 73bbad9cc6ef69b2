"""The robustness check: how much performance survives typos, case, distractors and other
perturbations; directional and minimum-functionality tests; a budgeted adversarial search.

Every perturbed input is a Request, so a re-run with a warm cache asks the model nothing. For each
perturbation (at each severity) on the examples it changed: accuracy on the perturbed inputs
(Wilson), the paired degradation against the originals (Newcombe's paired interval), the flip rate
(Wilson), the number of inputs it could not change (reported, left out of the rates) and the
perturbed inputs the model failed on (``n_errors``, ``error_rate`` with the first error message: a
finding, not a gap; left out of the other rates). Robust accuracy is the share of examples right on
the original and on every label-preserving variant.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from assay._types import Request, Response, canonical_label, content_key
from assay.checks._adversarial import AdversarialConfig, AdversarialSearch
from assay.checks._base import Check, CheckConfig, RunContext, register_check
from assay.checks._performance import gather
from assay.checks._robustness_tests import (
    DirectionalTest,
    failed_call_text,
    load_mft,
    score_directional,
    score_mft,
)
from assay.config._suite import DatasetSpec, Suite
from assay.errors import ConfigError
from assay.perturb._apply import Variant, perturb_inputs, variants_from_config
from assay.perturb._base import PerturbEnv
from assay.perturb._tabular import column_stats
from assay.perturb._wordlists import WordLists
from assay.report._schema import CheckResult
from assay.stats import paired_proportion_difference, wilson_interval
from assay.stats._estimate import Estimate

__all__ = ["RobustnessCheck", "RobustnessConfig", "input_kind"]

_DEFAULT_PERTURBATIONS: list[Any] = [
    "typos",
    "case",
    "char_swap",
    "punctuation_remove",
    "distractor",
]
#: failed calls beside a directional or MFT test's failure rate
_ERROR_METRICS = ("n_errors", "error_rate")
_PER_VARIANT = (
    "accuracy",
    "degradation",
    "flip_rate",
    "n_unchanged",
    "violation_rate",
    "n_errors",
    "error_rate",
)
_MAX_TEXT = 400


class InvarianceConfig(BaseModel):
    """``tolerance``: an invariance violation is a label flip or a change of more than this in the
    probability of the originally predicted class (``None``: label flips only)."""

    model_config = ConfigDict(extra="forbid")

    tolerance: float | None = Field(default=None, ge=0, le=1)


class RobustnessConfig(CheckConfig):
    """Options of the robustness check.

    Attributes:
        perturbations: names (``typos``), ``name:severity`` or mappings
            ``{name: case, severity: [0.1, 0.3]}`` (one metric key per severity: ``case@10``).
        recipes: named lists of perturbations applied in a row (``mild_mix: [typos, case]``).
        invariance: tolerance on probabilities for the invariance violation rate.
        directional: tests where the prediction must move a stated way.
        mft: a YAML file of minimum-functionality tests (templates with expected labels).
        adversarial: options of the greedy word-substitution attack; ``None`` turns it off.
        max_examples: perturb at most this many examples (a seeded sample); ``None``: all.
        word_lists: entries added to the shipped word lists (a list, or a file path).
        max_failing_examples: failing examples kept per perturbation.
    """

    perturbations: list[Any] = Field(default_factory=lambda: list(_DEFAULT_PERTURBATIONS))
    recipes: dict[str, list[Any]] = Field(default_factory=dict)
    invariance: InvarianceConfig = Field(default_factory=InvarianceConfig)
    directional: list[DirectionalTest] = Field(default_factory=list)
    mft: str | None = None
    adversarial: AdversarialConfig | None = None
    max_examples: int | None = Field(default=None, ge=1)
    word_lists: dict[str, list[str] | str] = Field(default_factory=dict)
    max_failing_examples: int = Field(default=10, ge=0)


def input_kind(spec: DatasetSpec) -> Literal["text", "image", "tabular"] | None:
    """The kind of input a dataset feeds a model."""
    if spec.input is None:
        return None
    if isinstance(spec.input, str):
        return "text"
    if isinstance(spec.input, dict):
        return "image"
    return "tabular"


def _variants(cfg: RobustnessConfig) -> list[Variant]:
    return variants_from_config(cfg.perturbations, cfg.recipes, where="checks.robustness")


@register_check("robustness")
class RobustnessCheck(Check):
    """Does the model hold up on noisy, perturbed and re-contextualised inputs?"""

    Config = RobustnessConfig

    def __init__(self, config: CheckConfig, model: str) -> None:
        super().__init__(config, model)
        self._adv: AdversarialSearch | None = None
        self._env: PerturbEnv | None = None
        self._plans: dict[str, dict[str, tuple[Any, Any, bool]]] = {}
        self._mft_cases: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ suite-time validation

    @classmethod
    def validate_suite(cls, config: CheckConfig, suite: Suite, *, source: str = "suite") -> None:
        assert isinstance(config, RobustnessConfig)
        spec = suite.data[config.dataset or suite.primary_dataset]
        kind = input_kind(spec)
        where = f"{source}: checks.robustness"
        entries = [(v.key, v) for v in _variants(config)]
        for t in config.directional:
            entries += [(f"directional.{t.name}", v) for v in t.variants(where=where)]
        for key, v in entries:
            if kind is not None and v.kind != kind:
                raise ConfigError(
                    f"{where}: {key!r} is a {v.kind} perturbation but dataset {spec.path!r} has "
                    f"{kind} input ({spec.input!r}); use {kind} perturbations "
                    f"(see `assay perturb --list`)"
                )
        if kind != "text" and (config.adversarial is not None or config.mft or config.directional):
            raise ConfigError(
                f"{where}: adversarial, directional and mft tests need text input; "
                f"dataset {spec.path!r} has {kind} input"
            )
        WordLists.default().with_overrides(
            config.word_lists, base_dir=suite.base_dir, where=f"{where}.word_lists"
        )
        if config.mft:
            load_mft(suite.resolve(config.mft), where=f"{where}.mft")

    @classmethod
    def gate_patterns(cls, config: CheckConfig, suite: Suite) -> list[str]:
        assert isinstance(config, RobustnessConfig)
        keys = [v.key for v in _variants(config)]
        out = [f"{k}.{m}" for k in keys for m in _PER_VARIANT] + ["robust_accuracy"]
        out += [f"directional.{t.name}.failure_rate" for t in config.directional]
        out += [f"directional.{t.name}.{m}" for t in config.directional for m in _ERROR_METRICS]
        out += ["directional.*.failure_rate", "mft.*.failure_rate", "mft.failure_rate"]
        out += [f"{k}.*.{m}" for k in ("directional", "mft") for m in _ERROR_METRICS]
        out += ["mft.n_errors"]
        if config.adversarial is not None:
            out += ["adversarial.success_rate", "adversarial.words_changed", "adversarial.queries"]
        return out

    # ------------------------------------------------------------------ planning

    def _cfg(self) -> RobustnessConfig:
        assert isinstance(self.config, RobustnessConfig)
        return self.config

    def _environment(self, ctx: RunContext) -> PerturbEnv:
        if self._env is None:
            cfg = self._cfg()
            ds = ctx.dataset(cfg.dataset)
            lists = WordLists.default().with_overrides(
                cfg.word_lists, base_dir=ctx.suite.base_dir, where="checks.robustness.word_lists"
            )
            columns = {}
            if input_kind(ds.spec) == "tabular":
                columns = column_stats(ds.frame, ds.spec.input_columns())
            self._env = PerturbEnv(
                lists=lists,
                columns=columns,
                image_dir=ctx.suite.resolve(".assay/perturbed"),
                base_dir=ctx.suite.base_dir,
            )
        return self._env

    def _sample(self, ctx: RunContext) -> list[int]:
        ds = ctx.dataset(self._cfg().dataset)
        n = len(ds)
        m = self._cfg().max_examples
        if m is None or m >= n:
            return list(range(n))
        # the same examples for every model: their robustness is compared on the same rows
        rng = self.rng(ctx, "examples", shared=True)
        return sorted(rng.choice(n, size=m, replace=False).tolist())

    def _variant_requests(
        self, ctx: RunContext, variants: list[Variant], tag: str
    ) -> list[Request]:
        ds = ctx.dataset(self._cfg().dataset)
        fp = ctx.model_infos[self.model].fingerprint
        env = self._environment(ctx)
        payloads = ds.payloads()
        ids = ds.ids
        rows = self._sample(ctx)
        out: list[Request] = []
        for v in variants:
            plan: dict[str, tuple[Any, Any, bool]] = {}
            originals = [payloads[r] for r in rows]
            # keyed by (run seed, example id, variant): the same perturbed input for every model
            # and check, so the engine asks it once
            perturbed = perturb_inputs(
                originals, v, ids=[ids[r] for r in rows], seed=ctx.seed, env=env
            )
            for r, x, y in zip(rows, originals, perturbed):
                changed = y != x
                key = content_key(fp, y)
                plan[ids[r]] = (key, y, changed)
                if changed:
                    out.append(
                        Request(
                            key=key,
                            model=self.model,
                            payload=y,
                            tags={"example_id": ids[r], "variant": f"{tag}{v.key}"},
                        )
                    )
            self._plans[f"{tag}{v.key}"] = plan
        return out

    def plan(self, ctx: RunContext) -> list[Request]:
        cfg = self._cfg()
        ds = ctx.dataset(cfg.dataset)
        out = ctx.original_requests(self.model, ds)
        if ctx.answers_by_id(self.model):
            return out
        out += self._variant_requests(ctx, _variants(cfg), "")
        for t in cfg.directional:
            out += self._variant_requests(
                ctx, t.variants(where="checks.robustness"), "directional:"
            )
        if cfg.mft:
            fp = ctx.model_infos[self.model].fingerprint
            self._mft_cases = load_mft(ctx.suite.resolve(cfg.mft), where="checks.robustness.mft")
            for c in self._mft_cases:
                c["key"] = content_key(fp, c["input"])
                out.append(
                    Request(
                        key=c["key"],
                        model=self.model,
                        payload=c["input"],
                        tags={"example_id": c["id"], "variant": "mft"},
                    )
                )
        return out

    def next_requests(self, ctx: RunContext, responses: Mapping[str, Response]) -> list[Request]:
        cfg = self._cfg()
        if (
            cfg.adversarial is None
            or ctx.answers_by_id(self.model)
            or input_kind(ctx.dataset(cfg.dataset).spec) != "text"
        ):
            return []
        if self._adv is None:
            self._adv = AdversarialSearch(
                cfg.adversarial,
                model=self.model,
                fingerprint=ctx.model_infos[self.model].fingerprint,
                seed=ctx.seed,
                env=self._environment(ctx),
            )
            pred = gather(ctx, self.model, cfg.dataset, responses)
            ds = ctx.dataset(cfg.dataset)
            texts = dict(zip(ds.ids, ds.payloads()))
            right = [i for i in range(pred.n) if pred.y_true[i] == pred.y_pred[i]]
            rng = self.rng(ctx, "adversarial")
            if len(right) > cfg.adversarial.max_examples:
                right = sorted(
                    rng.choice(right, size=cfg.adversarial.max_examples, replace=False).tolist()
                )
            targets = []
            for i in right:
                label = str(pred.y_true[i])
                p = 1.0
                if pred.proba is not None:
                    p = float(pred.proba[i, pred.labels.index(label)])
                targets.append((pred.ids[i], str(texts[pred.ids[i]]), label, p))
            return self._adv.start(targets)
        return self._adv.step(responses)

    # ------------------------------------------------------------------ scoring

    def score(self, ctx: RunContext, responses: Mapping[str, Response]) -> CheckResult:
        cfg = self._cfg()
        ds = ctx.dataset(cfg.dataset)
        pred = gather(ctx, self.model, cfg.dataset, responses)
        flags = list(pred.flags)
        base = CheckResult(
            check=self.name,
            model=self.model,
            dataset=ds.name,
            n=pred.n,
            errors=pred.errors,
            flags=flags,
        )
        if ctx.answers_by_id(self.model):
            flags.append(
                f"model {self.model!r} answers by example id (a predictions file) and cannot "
                "answer perturbed inputs; robustness was not measured for it"
            )
            base.flags = flags
            return base
        if pred.task != "classification":
            flags.append("robustness scores classification models only so far; nothing measured")
            base.flags = flags
            return base
        level = ctx.level
        texts = dict(zip(ds.ids, ds.payloads()))
        row = {i: k for k, i in enumerate(pred.ids)}
        label_col = {lbl: j for j, lbl in enumerate(pred.labels)}

        def orig(i: str) -> tuple[str, float | None]:
            k = row[i]
            p = None
            if pred.proba is not None:
                p = float(pred.proba[k, label_col[str(pred.y_pred[k])]])
            return str(pred.y_pred[k]), p

        metrics: dict[str, Estimate] = {}
        rows: list[dict[str, Any]] = []
        examples: list[dict[str, Any]] = []
        robust_ok = {i: pred.y_true[row[i]] == pred.y_pred[row[i]] for i in pred.ids}
        robust_seen: set[str] = set()
        tol = cfg.invariance.tolerance
        for v in _variants(cfg):
            plan = self._plans.get(v.key, {})
            n_unchanged = 0
            table = [0, 0, 0, 0]  # both right, only perturbed right, only original right, neither
            flips = violations = n_errors = 0
            first_error: str | None = None
            failing: list[dict[str, Any]] = []
            for i, (key, y, changed) in plan.items():
                if i not in row:
                    continue  # the original call failed and errors are excluded
                if not changed:
                    n_unchanged += 1
                    continue
                resp = responses.get(key)
                got = _label_and_proba(resp)
                if got is None:
                    n_errors += 1
                    if first_error is None:
                        first_error = failed_call_text(resp, limit=_MAX_TEXT)
                    continue
                plabel, pprobs = got
                truth = str(pred.y_true[row[i]])
                olabel, oconf = orig(i)
                o_ok, p_ok = olabel == truth, plabel == truth
                table[0 if o_ok and p_ok else 1 if p_ok else 2 if o_ok else 3] += 1
                flip = plabel != olabel
                flips += flip
                shift = None
                if pprobs is not None and oconf is not None:
                    shift = pprobs.get(olabel, 0.0) - oconf
                violations += flip or (tol is not None and shift is not None and abs(shift) > tol)
                if v.preserves_label:
                    robust_seen.add(i)
                    robust_ok[i] = robust_ok[i] and p_ok
                if (
                    flip
                    and len(failing) < cfg.max_failing_examples
                    and (o_ok or not v.preserves_label)
                ):
                    failing.append(
                        {
                            "perturbation": v.key,
                            "id": i,
                            "original": _short(texts.get(i)),
                            "perturbed": _short(y),
                            "label": truth,
                            "original_prediction": olabel,
                            "perturbed_prediction": plabel,
                            "original_confidence": oconf,
                            "perturbed_confidence": None if pprobs is None else pprobs.get(plabel),
                        }
                    )
            n = sum(table)
            n_changed = n + n_errors
            metrics[f"{v.key}.n_errors"] = Estimate.point(n_errors, n=n_changed, level=level)
            metrics[f"{v.key}.error_rate"] = wilson_interval(n_errors, n_changed, level=level)
            if n_errors:
                flags.append(
                    f"{v.key}: the model failed on {n_errors} of {n_changed} perturbed inputs "
                    f"(left out of its rates); first error: {first_error}"
                )
            acc = wilson_interval(table[0] + table[1], n, level=level)
            deg = paired_proportion_difference(table[0], table[1], table[2], table[3], level=level)
            flip_e = wilson_interval(flips, n, level=level)
            metrics[f"{v.key}.accuracy"] = acc
            metrics[f"{v.key}.degradation"] = deg
            metrics[f"{v.key}.flip_rate"] = flip_e
            metrics[f"{v.key}.n_unchanged"] = Estimate.point(n_unchanged, n=len(plan), level=level)
            if tol is not None:
                metrics[f"{v.key}.violation_rate"] = wilson_interval(violations, n, level=level)
            if n_unchanged:
                flags.append(
                    f"{v.key}: {n_unchanged} of {len(plan)} inputs could not be changed "
                    "(counted as unchanged, left out of its rates)"
                )
            if n_changed == 0 and plan:
                flags.append(f"{v.key}: changed no input; it has no rates")
            rows.append(
                {
                    "key": v.key,
                    "name": v.name,
                    "severity": v.severity,
                    "steps": [f"{s.name}:{s.severity:g}" for s in v.steps],
                    "preserves_label": v.preserves_label,
                    "n": n,
                    "n_unchanged": n_unchanged,
                    "n_errors": n_errors,
                    "first_error": first_error,
                    "original_accuracy": (table[0] + table[2]) / n if n else None,
                }
            )
            examples.extend(failing)
        seen = [i for i in pred.ids if i in robust_seen]
        metrics["robust_accuracy"] = wilson_interval(
            sum(bool(robust_ok[i]) for i in seen), len(seen), level=level
        )
        tables: dict[str, Any] = {"perturbations": rows, "robust_n": len(seen)}

        orig_probs = {}
        if pred.proba is not None:
            for i in pred.ids:
                orig_probs[i] = {lbl: float(pred.proba[row[i], j]) for lbl, j in label_col.items()}
        for t in cfg.directional:
            res = score_directional(
                t,
                self._plans,
                responses,
                orig_labels={i: orig(i)[0] for i in pred.ids},
                orig_probs=orig_probs,
                texts=texts,
                level=level,
                max_examples=cfg.max_failing_examples,
            )
            metrics.update(res["metrics"])
            tables.setdefault("directional", []).append(res["row"])
            examples.extend(res["examples"])
            flags.extend(res["flags"])
        if self._mft_cases:
            res = score_mft(
                self._mft_cases, responses, level=level, max_examples=cfg.max_failing_examples
            )
            metrics.update(res["metrics"])
            tables["mft"] = res["rows"]
            examples.extend(res["examples"])
            flags.extend(res["flags"])
        if self._adv is not None:
            s = self._adv.summary(level, lambda k, n: wilson_interval(k, n, level=level))
            metrics.update(s["metrics"])
            tables["adversarial"] = {
                "n": len(self._adv.attacks),
                "budget": self._adv.config.budget,
                "examples": s["examples"][: cfg.max_failing_examples],
            }
        elif cfg.adversarial is not None:
            flags.append("the adversarial search did not run (no text input)")
        base.flags = flags
        base.metrics = metrics
        base.tables = tables
        base.examples = examples
        return base


def _label_and_proba(resp: Response | None) -> tuple[str, dict[str, float] | None] | None:
    if resp is None or not resp.ok or resp.output is None or resp.output.label is None:
        return None
    probs = resp.output.probabilities
    p = {canonical_label(k): float(v) for k, v in probs.items()} if probs else None
    return canonical_label(resp.output.label), p


def _short(x: Any) -> Any:
    if isinstance(x, str):
        return x if len(x) <= _MAX_TEXT else x[:_MAX_TEXT] + "…"
    if isinstance(x, dict) and "image" in x:
        return str(Path(str(x["image"])).name)
    return x
