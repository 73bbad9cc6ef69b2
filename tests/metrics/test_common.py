"""Common tests over every catalogued metric (after scikit-learn's ``metrics/tests/test_common.py``).

Each test is parametrised by catalogue entry, so a newly catalogued metric is tested without being
named here: perfect predictions reach its best value; permuting the examples or renaming the class
labels does not change it; a worse model scores worse in its catalogued direction; it equals its
reference implementation (scikit-learn, sacrebleu, rouge-score, or a literal definition) within an
explicit tolerance; and its own function, where it has one, agrees with the summary that reports
it. A property that does not apply to a metric is tagged in ``NOT_APPLICABLE`` (or by a rule in
``_not_applicable``) with the reason, and the test is skipped with that reason.

A metric is computed the way the library reports it: through the summary of its task (which
calls the metric's own function where it has one). Metrics computed outside ``assay.metrics``
(per group by the fairness check, from answers, timings or a judge by the checks) are tested there.
"""

from __future__ import annotations

import json
import string
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from functools import cache
from typing import Any

import numpy as np
import pytest
from metric_cases import CASES, REFUSAL, SCHEMA, Case, _embed, case_names
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize

from assay.metrics import (
    CATALOG,
    SUMMARY_SOURCES,
    MetricInfo,
    classification_summary,
    multilabel_summary,
    regression_summary,
    text_summary,
)

TOL = 1e-9
#: Tolerances that differ from ``TOL``, with the reason.
TOLERANCE: dict[str, float] = {
    "embedding_cosine": 1e-12,  # a dot product of unit vectors, summed in a different order
}


# ----------------------------------------------------------------------------- computing


def _summary(case: Case) -> dict[str, float]:
    if case.task == "classification":
        s = classification_summary(case.truth, case.pred, labels=list(case.labels),
                                   proba=case.proba, n_bootstrap=0, zero_division="nan")
        return {k: e.value for k, e in s.metrics.items()}
    if case.task == "regression":
        r = regression_summary(case.truth, case.pred, n_bootstrap=0, zero_division="nan")
        return {k: e.value for k, e in r.metrics.items()}
    if case.task == "multilabel":
        m = multilabel_summary(case.truth, case.pred, labels=list(case.labels), n_bootstrap=0,
                               zero_division="nan")
        return {k: e.value for k, e in m.metrics.items()}
    options = sorted({m.option for m in CATALOG if m.task == "generation" and m.option})
    t = text_summary(list(case.pred), list(case.truth), metrics=options, json_schema=SCHEMA,
                     embed=_embed, n_bootstrap=10, seed=0)
    return {k: e.value for k, e in t.metrics.items()}


@cache
def _cached(name: str, quality: str) -> dict[str, float]:
    return _summary(CASES[name](quality))


def _key(info: MetricInfo, case: Case) -> str:
    if info.per_class and info.classes == "any":  # reported per class only: the last class's
        return f"per_class.{case.labels[-1]}.{info.name}"
    return info.name


def value(info: MetricInfo, case: Case) -> float:
    return _summary(case)[_key(info, case)]


def cached_value(info: MetricInfo, name: str, quality: str = "good") -> float:
    return _cached(name, quality)[_key(info, CASES[name](quality))]


# ----------------------------------------------------------------------------- references


def sk(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> float:
    """A scikit-learn metric with its own warnings silenced (ours are errors in this run)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(fn(*args, **kwargs))


def _prf(which: int, average: str) -> Callable[[Case], float]:
    def ref(c: Case) -> float:
        kw: dict[str, Any] = {"labels": list(c.labels)} if c.task == "classification" else {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = skm.precision_recall_fscore_support(c.truth, c.pred, average=average,
                                                      zero_division=np.nan, **kw)
        return float(out[which])
    return ref


def _binary(fn: Callable[..., Any], pos: int = 1) -> Callable[[Case], float]:
    return lambda c: sk(fn, c.truth, c.pred, pos_label=c.labels[pos], zero_division=np.nan)


def _specificity_macro(c: Case) -> float:
    return float(np.mean([sk(skm.recall_score, c.truth != lab, c.pred != lab) for lab in c.labels]))


def _auc(multi_class: str, average: str) -> Callable[[Case], float]:
    return lambda c: sk(skm.roc_auc_score, c.truth, c.proba, multi_class=multi_class,
                        average=average, labels=list(c.labels))


def _brier(c: Case) -> float:
    if len(c.labels) == 2:
        return sk(skm.brier_score_loss, c.truth == c.labels[1], c.proba[:, 1])
    onehot = label_binarize(c.truth, classes=list(c.labels))
    return float(np.mean(((c.proba - onehot) ** 2).sum(axis=1)))


def _ece(c: Case, n_bins: int = 10) -> float:
    """Literal ECE: equal-width bins of the top-class confidence, right-closed."""
    conf = c.proba.max(axis=1)
    correct = np.array(c.labels)[c.proba.argmax(axis=1)] == c.truth
    total = 0.0
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        sel = (conf > lo) & (conf <= hi) if b else conf <= hi
        if sel.any():
            total += sel.mean() * abs(conf[sel].mean() - correct[sel].mean())
    return total


def _norm(t: str) -> str:
    return " ".join(t.lower().translate(str.maketrans("", "", string.punctuation)).split())


def _token_f1(p: str, r: str) -> float:
    """SQuAD's token F1, literally."""
    pt, rt = _norm(p).split(), _norm(r).split()
    common = sum((Counter(pt) & Counter(rt)).values())
    if not pt or not rt:
        return float(pt == rt)
    if common == 0:
        return 0.0
    prec, rec = common / len(pt), common / len(rt)
    return 2 * prec * rec / (prec + rec)


def _rouge(kind: str) -> Callable[[Case], float]:
    def ref(c: Case) -> float:
        from rouge_score import rouge_scorer

        scorer = rouge_scorer.RougeScorer([kind], use_stemmer=True)
        return float(np.mean([scorer.score(r, p)[kind].fmeasure
                              for p, r in zip(c.pred, c.truth, strict=True)]))
    return ref


def _sacrebleu(name: str) -> Callable[[Case], float]:
    def ref(c: Case) -> float:
        import sacrebleu

        fn = {"bleu": sacrebleu.corpus_bleu, "chrf": sacrebleu.corpus_chrf,
              "ter": sacrebleu.corpus_ter}[name]
        return float(fn(list(c.pred), [list(c.truth)]).score)
    return ref


def _json(schema: bool) -> Callable[[Case], float]:
    def one(text: str) -> float:
        try:
            obj = json.loads(text)
        except ValueError:
            return 0.0
        return float(not schema or (isinstance(obj, dict) and "city" in obj))
    return lambda c: float(np.mean([one(p) for p in c.pred]))


def _mean(fn: Callable[[str, str], float]) -> Callable[[Case], float]:
    return lambda c: float(np.mean([fn(p, r) for p, r in zip(c.pred, c.truth, strict=True)]))


REFERENCES: dict[str, Callable[[Case], float]] = {
    # classification
    "accuracy": lambda c: sk(skm.accuracy_score, c.truth, c.pred),
    **{f"{m}_{avg}": _prf(i, avg) for i, m in enumerate(("precision", "recall", "f1"))
       for avg in ("micro", "macro", "weighted", "samples")},
    "balanced_accuracy": lambda c: sk(skm.balanced_accuracy_score, c.truth, c.pred),
    "specificity_macro": _specificity_macro,
    "mcc": lambda c: sk(skm.matthews_corrcoef, c.truth, c.pred),
    "cohen_kappa": lambda c: sk(skm.cohen_kappa_score, c.truth, c.pred),
    "roc_auc": lambda c: sk(skm.roc_auc_score, c.truth == c.labels[1], c.proba[:, 1]),
    **{f"roc_auc_{mc}_{avg}": _auc(mc, avg) for mc in ("ovr", "ovo")
       for avg in ("macro", "weighted")},
    "average_precision": lambda c: sk(skm.average_precision_score, c.truth == c.labels[1],
                                      c.proba[:, 1]),
    "average_precision_macro": lambda c: sk(skm.average_precision_score,
                                            label_binarize(c.truth, classes=list(c.labels)),
                                            c.proba, average="macro"),
    "top_k_accuracy": lambda c: sk(skm.top_k_accuracy_score, c.truth, c.proba, k=2,
                                   labels=list(c.labels)),
    "precision": _binary(skm.precision_score),
    "recall": _binary(skm.recall_score),
    "f1": _binary(skm.f1_score),
    "specificity": _binary(skm.recall_score, pos=0),
    "support": lambda c: float(np.sum(c.truth == c.labels[-1])),
    "log_loss": lambda c: sk(skm.log_loss, c.truth, c.proba, labels=list(c.labels)),
    "brier": _brier,
    "ece": _ece,
    # regression
    "rmse": lambda c: sk(skm.root_mean_squared_error, c.truth, c.pred),
    "mae": lambda c: sk(skm.mean_absolute_error, c.truth, c.pred),
    "r2": lambda c: sk(skm.r2_score, c.truth, c.pred),
    "mse": lambda c: sk(skm.mean_squared_error, c.truth, c.pred),
    "median_absolute_error": lambda c: sk(skm.median_absolute_error, c.truth, c.pred),
    "mape": lambda c: sk(skm.mean_absolute_percentage_error, c.truth, c.pred),
    "mean_residual": lambda c: float(np.mean(c.truth - c.pred)),
    # multilabel
    "subset_accuracy": lambda c: sk(skm.accuracy_score, c.truth, c.pred),
    "hamming_loss": lambda c: sk(skm.hamming_loss, c.truth, c.pred),
    # generation
    "exact_match": _mean(lambda p, r: float(_norm(p) == _norm(r))),
    "token_f1": _mean(_token_f1),
    "bleu": _sacrebleu("bleu"),
    "chrf": _sacrebleu("chrf"),
    "ter": _sacrebleu("ter"),
    "rouge1": _rouge("rouge1"),
    "rouge2": _rouge("rouge2"),
    "rougeL": _rouge("rougeL"),
    "embedding_cosine": lambda c: float(np.mean(np.sum(_embed(list(c.pred))
                                                       * _embed(list(c.truth)), axis=1))),
    "json_valid": _json(schema=False),
    "json_schema_valid": _json(schema=True),
    "refusal_rate": lambda c: float(np.mean([p == REFUSAL for p in c.pred])),
    "length_words": lambda c: float(np.mean([len(p.split()) for p in c.pred])),
    "length_chars": lambda c: float(np.mean([len(p) for p in c.pred])),
    "length_ratio": _mean(lambda p, r: len(p.split()) / max(len(r.split()), 1)),
}

#: (property, metric) → why the property does not hold or cannot be tested for the metric.
NOT_APPLICABLE: dict[tuple[str, str], str] = {
    ("perfect", "json_valid"): "an answer equal to a reference that is not JSON is not valid JSON",
    ("perfect", "json_schema_valid"): "an answer equal to a reference that is not JSON does not "
    "conform",
}


def _not_applicable(prop: str, info: MetricInfo) -> str | None:
    if info.source not in SUMMARY_SOURCES:
        return (f"{info.name} is computed outside assay.metrics ({info.source}); "
                "tested with the check that computes it")
    if prop in ("perfect", "worse") and info.direction == "none":
        return f"{info.name} is a description with no better value"
    if prop == "rename" and info.task in ("regression", "generation"):
        return f"{info.task} has no class labels"
    return NOT_APPLICABLE.get((prop, info.name))


def _skip_unless(prop: str, info: MetricInfo) -> None:
    reason = _not_applicable(prop, info)
    if reason is not None:
        pytest.skip(reason)


PARAMS = [pytest.param(info, c, id=f"{info.task}:{info.name}:{c}")
          for info in CATALOG for c in case_names(info)]


# ----------------------------------------------------------------------------- properties


@pytest.mark.parametrize(("info", "case"), PARAMS)
def test_perfect_predictions_reach_the_best_value(info: MetricInfo, case: str) -> None:
    _skip_unless("perfect", info)
    assert info.best is not None, f"{info.name}: catalogue its best value"
    got = cached_value(info, case, "perfect")
    assert got == pytest.approx(info.best, abs=TOLERANCE.get(info.name, TOL))


@pytest.mark.parametrize(("info", "case"), PARAMS)
def test_invariant_to_the_order_of_the_examples(info: MetricInfo, case: str) -> None:
    _skip_unless("permute", info)
    c = CASES[case]("good")
    order = np.random.default_rng(3).permutation(len(c.pred))

    def take(x: Any) -> Any:
        return None if x is None else tuple(x[i] for i in order) if isinstance(x, tuple) \
            else np.asarray(x)[order]

    shuffled = replace(c, truth=take(c.truth), pred=take(c.pred), proba=take(c.proba))
    assert value(info, shuffled) == pytest.approx(cached_value(info, case), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize(("info", "case"), PARAMS)
def test_invariant_to_renaming_the_labels(info: MetricInfo, case: str) -> None:
    _skip_unless("rename", info)
    c = CASES[case]("good")
    new = {lab: f"renamed-{len(c.labels) - i}" for i, lab in enumerate(c.labels)}
    labels = tuple(new[lab] for lab in c.labels)
    if c.task == "classification":
        renamed = replace(c, labels=labels, truth=np.array([new[v] for v in c.truth]),
                          pred=np.array([new[v] for v in c.pred]))
    else:
        renamed = replace(c, labels=labels)
    assert value(info, renamed) == pytest.approx(cached_value(info, case), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize(("info", "case"), PARAMS)
def test_a_worse_model_scores_worse_in_the_catalogued_direction(
    info: MetricInfo, case: str
) -> None:
    _skip_unless("worse", info)
    good, worse = cached_value(info, case, "good"), cached_value(info, case, "worse")
    if info.direction == "higher":
        assert worse < good
    elif info.direction == "lower":
        assert worse > good
    else:
        assert abs(worse) > abs(good)


@pytest.mark.parametrize(("info", "case"), PARAMS)
def test_equals_its_reference_implementation(info: MetricInfo, case: str) -> None:
    _skip_unless("reference", info)
    assert info.name in REFERENCES, f"{info.name}: add a reference implementation, or tag why none"
    tol = TOLERANCE.get(info.name, TOL)
    for quality in ("good", "worse"):
        want = REFERENCES[info.name](CASES[case](quality))
        assert cached_value(info, case, quality) == pytest.approx(want, abs=tol), quality


@pytest.mark.parametrize(("info", "case"), [p for p in PARAMS if p.values[0].function])
def test_its_function_agrees_with_the_summary(info: MetricInfo, case: str) -> None:
    assert info.function is not None
    c = CASES[case]("good")
    if c.task == "generation":
        args: tuple[Any, ...] = (list(c.pred), list(c.truth))
        kwargs: dict[str, Any] = {}
    else:
        args = (c.truth, c.proba if info.needs_proba else c.pred)
        kwargs = {"labels": list(c.labels)} if c.task == "classification" else {}
    out = np.asarray(info.function(*args, **kwargs, **info.options), dtype=float)
    if info.per_example:
        assert out.shape == (len(c.pred),)
    got = float(out.mean()) if info.per_example else float(out)
    assert got == pytest.approx(cached_value(info, case), abs=TOL)


def test_every_reference_names_a_catalogued_metric() -> None:
    assert set(REFERENCES) <= {m.name for m in CATALOG}
