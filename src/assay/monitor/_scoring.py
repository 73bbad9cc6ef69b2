"""Scoring one window of live traffic with the suite's own checks and gates, through the runner.

The window's events (:func:`assay.monitor._windows.events_frame`) become datasets of a suite
derived from the user's suite, and the runner (``assay._runner._evaluate._run``) runs it exactly as
``assay run`` would:

- ``window`` (the primary dataset): every event of the production model version, no label
  column: the drift check compares it with the reference (features, predictions, and CBPE's
  estimated performance, calibrated on the reference's labels and probabilities);
- ``labelled``: the window's events whose label has arrived: the performance check (realised
  metrics) and the fairness check (group metrics need labels) run on it, when there is one;
- ``reference``: the ``--reference`` file (inputs, groups, prediction, prob_<label>, label).

The model is :class:`EventAnswers`: it answers each input with the prediction and probabilities
the event (or reference row) carries, so nothing is recomputed and no model is loaded.

Beside the checks, the window's Report carries one result named ``monitor`` (it is not a check
of the suite and has no gate paths): the selection rate of each group from the predictions of
every event (labels not needed; Wilson intervals), the latency percentiles of ``latency_ms``
with distribution-free order-statistic intervals, and the gates that could not be decided yet
(``tables["pending_gates"]``). A gate is **pending** when its metric needs labels that have not
arrived (performance and fairness before any label, the drift check's ``realised.*``); it is
**not applicable** when its check never runs on live traffic (robustness, slices …). Neither is
in ``report.gates``, so neither fails the window nor raises an alert; both are listed with the
reason. ``report.passed`` is over the gates that were decided.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Hashable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sstats

from assay._runner._evaluate import _run as run_suite  # the runner itself, with frames and objects
from assay._runner._gates import evaluate_gates, parse_gate
from assay._runner._inline import FRAME_PATH
from assay._runner._suite import suite_from_dict
from assay._types import ModelInfo, Output, Payload, Task, canonical_label
from assay.config._suite import Suite
from assay.data import dataset_from_frame, read_table
from assay.errors import ConfigError, DataError
from assay.fairness._groups import group_metrics
from assay.monitor._windows import PROB_PREFIX, probability_labels
from assay.report._schema import CheckResult, Report
from assay.stats import stream
from assay.stats._estimate import Estimate

__all__ = [
    "LIVE_CHECKS",
    "MONITOR_RESULT",
    "EventAnswers",
    "latency_percentiles",
    "pending_gates",
    "score_window",
]

#: The checks that run on a live window; the others' gates are "not applicable".
LIVE_CHECKS = ("drift", "performance", "fairness")
#: Checks that need labels: their gates are pending until a label arrives.
_NEEDS_LABELS = ("performance", "fairness")
#: Drift-check paths that need the current rows' labels.
_DRIFT_LABEL_PATHS = ("realised.", "windows.worst_realised.", "performance.n_alerts")
#: Fairness metrics that need no label: decided from every event's prediction before labels.
LABEL_FREE_SUMMARIES = (
    "selection_rate_min",
    "selection_rate_max",
    "selection_rate_difference",
    "selection_rate_ratio",
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "four_fifths",
)
_LABEL_FREE = ("selection_rate", *LABEL_FREE_SUMMARIES)
#: The name of the Report result that holds what the monitor adds.
MONITOR_RESULT = "monitor"
_QUANTILES = {"p50_ms": 0.50, "p95_ms": 0.95, "p99_ms": 0.99}
_PENDING = "pending"
_NOT_APPLICABLE = "not_applicable"


class EventAnswers:
    """A model that answers each input with the prediction an event (or reference row) carries.

    Inputs are matched by their content (the JSON of the payload): the engine asks each distinct
    input once, so two events with the same inputs get the first one's answer — the same
    production model gives both the same answer anyway.

    Example:
        >>> m = EventAnswers({(("x", 1),): Output(label="1")}, labels=("0", "1"), key="w")
        >>> m.predict([{"x": 1}])[0].label
        '1'
    """

    def __init__(
        self,
        answers: Mapping[Hashable, Output],
        *,
        labels: Sequence[str] | None,
        key: str,
        task: Task = "classification",
        name: str = "production",
    ) -> None:
        self._answers = dict(answers)
        self._info = ModelInfo(
            name=name,
            spec="monitor:events",
            task=task,
            fingerprint=f"monitor:{key}",
            labels=tuple(labels) if labels else None,
            details={"answers": "the events' own predictions"},
        )

    def info(self) -> ModelInfo:
        return self._info

    def predict(
        self, batch: Sequence[Payload], params: dict[str, Any] | None = None
    ) -> list[Output]:
        out = []
        for payload in batch:
            answer = self._answers.get(payload_key(payload))
            if answer is None:
                raise DataError(f"no event carries the input {str(payload)[:200]}")
            out.append(answer)
        return out


def payload_key(payload: Payload) -> Hashable:
    """The content of one model input as a hashable key (the lookup key of
    :class:`EventAnswers`): a dict's sorted items, else its JSON text."""
    if isinstance(payload, dict):
        try:
            key = tuple(sorted(payload.items()))
            hash(key)
            return key
        except TypeError:  # a list or dict value: its JSON text
            pass
    return json.dumps(payload, sort_keys=True, default=str, ensure_ascii=False)


def _output(row: Mapping[str, Any], prob_labels: Sequence[str], task: Task) -> Output:
    pred = row["prediction"]
    if task == "regression":
        return Output(value=float(pred))
    probs = {lab: row.get(f"{PROB_PREFIX}{lab}") for lab in prob_labels}
    finite = prob_labels and all(
        isinstance(p, (int, float)) and math.isfinite(float(p)) for p in probs.values()
    )
    return Output(
        label=canonical_label(pred),
        probabilities={k: float(v) for k, v in probs.items()} if finite else None,  # type: ignore[arg-type]
    )


# ----------------------------------------------------------------------------- the window suite


def _roles(suite: Suite) -> tuple[Any, list[str]]:
    spec = suite.data[suite.primary_dataset]
    if spec.input is None:
        raise ConfigError(
            f"suite data.{suite.primary_dataset}: the monitor needs the input columns the model "
            "reads (input: [...] or input: text) to compare live inputs with the reference"
        )
    return spec.input, list(spec.groups)


def _dataset_spec(
    input: Any, groups: list[str], *, label: bool, labels: list[str] | None
) -> dict[str, Any]:
    spec: dict[str, Any] = {"path": FRAME_PATH, "id": "id", "input": input}
    if groups:
        spec["groups"] = groups
    if label:
        spec["label"] = "label"
        spec["outside_labels"] = "other"
        if labels:
            spec["labels"] = labels
    return spec


def _live_checks(suite: Suite, *, labelled: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """The window suite's checks, and why each other check of the suite does not run."""
    checks: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for name, raw in suite.checks.items():
        opts = dict(raw or {})
        if name not in LIVE_CHECKS:
            skipped[name] = f"check {name!r} does not run on live traffic (not applicable)"
            continue
        if name in _NEEDS_LABELS and not labelled:
            skipped[name] = f"no label has arrived for this window yet ({name} needs labels)"
            continue
        opts.pop("dataset", None)
        if name == "drift":
            # The window is the window: the drift check's own windows would cut it again.
            for k in ("window_size", "time_column", "every"):
                opts.pop(k, None)
            opts["reference"] = "reference"
            # The window has no label column (labels come late): label drift is not testable.
            opts["exclude"] = [*opts.get("exclude", []), "label"]
        else:
            opts["dataset"] = "labelled"
        if name == "fairness":
            # Counterfactual swaps need the model to answer rewritten inputs; events cannot.
            opts.pop("counterfactual", None)
            if not (opts.get("groups") or _roles(suite)[1]):
                skipped[name] = "no group column to compare (fairness groups)"
                continue
        checks[name] = opts
    return checks, skipped


def _label_paths(gate_text: str) -> bool:
    g = parse_gate(gate_text)
    return g.check == "drift" and g.metric.startswith(_DRIFT_LABEL_PATHS)


def pending_gates(
    gates: Sequence[str], skipped: Mapping[str, str], *, labelled: bool
) -> tuple[list[str], list[dict[str, str]], list[str]]:
    """Split the suite's gates into those the window decides and those it cannot yet.

    Returns:
        The gates the runner decides; the others as ``{"gate", "state", "reason"}`` with
        ``state`` ``pending`` (labels not in yet) or ``not_applicable`` (the check never runs
        live); and the fairness gates on selection rates, which need no label and are decided
        from every event's prediction while the fairness check waits for labels.
    """
    label_free: list[str] = []
    decide, undecided = [], []
    for text in gates:
        gate = parse_gate(text)
        check = gate.check
        if (
            check == "fairness"
            and check in skipped
            and not labelled
            and (gate.metric.rsplit(".", 1)[-1] in _LABEL_FREE)
        ):
            label_free.append(text)
        elif check in skipped:
            state = _PENDING if check in _NEEDS_LABELS else _NOT_APPLICABLE
            undecided.append({"gate": text, "state": state, "reason": skipped[check]})
        elif _label_paths(text) and not labelled:
            undecided.append(
                {"gate": text, "state": _PENDING, "reason": "no label has arrived for this window"}
            )
        elif _label_paths(text):
            undecided.append(
                {
                    "gate": text,
                    "state": _NOT_APPLICABLE,
                    "reason": "realised performance of a window is performance.* on its labelled "
                    "events; gate on that instead",
                }
            )
        else:
            decide.append(text)
    return decide, undecided, label_free


def _task(suite: Suite, frame: pd.DataFrame) -> Task:
    if suite.task in ("classification", "regression"):
        return suite.task
    if probability_labels(frame):
        return "classification"
    numeric = pd.to_numeric(frame["prediction"], errors="coerce")
    floats = numeric.notna().all() and (numeric % 1 != 0).any()
    return "regression" if floats else "classification"


def _reference_frame(reference: str | Path | pd.DataFrame) -> pd.DataFrame:
    ref = reference.copy() if isinstance(reference, pd.DataFrame) else read_table(reference)
    missing = [c for c in ("prediction", "label") if c not in ref.columns]
    if missing:
        raise DataError(
            f"reference {reference if not isinstance(reference, pd.DataFrame) else ''}: no "
            f"{', '.join(missing)} column; the reference needs the model's prediction, its "
            "prob_<label> columns and the true label of each row (CBPE calibrates on them)"
        )
    if "id" not in ref.columns:
        ref.insert(0, "id", [f"ref-{i}" for i in range(len(ref))])
    else:
        ref["id"] = "ref-" + ref["id"].astype(str)
    return ref.reset_index(drop=True)


def score_window(
    suite: Suite,
    reference: str | Path | pd.DataFrame,
    frame: pd.DataFrame,
    *,
    key: str = "window",
    model_version: str | None = None,
    min_labelled: int = 1,
) -> Report:
    """Score one window of events with the suite's live checks and gates (module docstring).

    Args:
        suite: the user's suite (its primary dataset names the input and group columns; its
            checks and gates are used; its models and data paths are not).
        reference: the reference file or table (inputs, groups, prediction, prob_<label>,
            label).
        frame: the window's :func:`events_frame`.
        key: the window's key (names the model's fingerprint).
        model_version: score only these events (the production version); default: every event.
            Candidate versions' events are for shadow comparison and export, not the window.
        min_labelled: labelled events needed before performance and fairness run.

    Returns:
        The window's Report (same schema as ``assay run``), with the ``monitor`` result.

    Raises:
        ConfigError, DataError: the suite cannot describe live traffic (no input columns), or
            the reference lacks its prediction or label column.
    """
    started = time.perf_counter()
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    events = frame if model_version is None else frame[frame["model_version"] == model_version]
    if events.empty:
        raise DataError(f"window {key}: no event of model version {model_version!r} to score")
    input, groups = _roles(suite)
    feature_cols = [input] if isinstance(input, str) else list(input)
    if isinstance(input, dict):
        feature_cols = [input["image"]]
    ref = _reference_frame(reference)
    task = _task(suite, events)
    prob_labels = probability_labels(events)
    keep = ["id", *dict.fromkeys([*feature_cols, *groups])]
    for name, table in (("the window's events", events), ("the reference", ref)):
        absent = [c for c in keep if c not in table.columns]
        if absent:
            raise DataError(
                f"{name} lack the column(s) {', '.join(absent)} that the suite's primary "
                "dataset names as input or groups; send them in the events' inputs or groups"
            )
    labelled_rows = events[events["label"].notna()]
    labelled = len(labelled_rows) >= min_labelled
    labels = (
        sorted(
            {canonical_label(v) for v in [*ref["label"].dropna(), *labelled_rows["label"]]}
            | {canonical_label(v) for v in events["prediction"].dropna()}
        )
        if task == "classification"
        else None
    )
    frames = {
        "window": events[keep].reset_index(drop=True),
        "reference": ref[[*keep, "label"]].reset_index(drop=True),
    }
    if labelled:
        frames["labelled"] = labelled_rows[[*keep, "label"]].reset_index(drop=True)
    checks, skipped = _live_checks(suite, labelled=labelled)
    decide, undecided, label_free = pending_gates(suite.gates, skipped, labelled=labelled)
    data = {
        "window": _dataset_spec(input, groups, label=False, labels=None),
        "reference": _dataset_spec(input, groups, label=True, labels=labels),
    }
    if labelled:
        data["labelled"] = _dataset_spec(input, groups, label=True, labels=labels)
    primary = suite.primary_model
    raw = {
        "name": suite.name,
        "description": suite.description,
        "seed": suite.seed,
        "level": suite.level,
        "task": task,
        "data": data,
        "models": {primary: "monitor:events"},
        "checks": checks,
        "engine": {"cache": None, "progress": False, "retries": 0},
        "gates": decide,
    }
    s = suite_from_dict(raw, base_dir=suite.base_dir, source=f"monitor window {key}")
    answers = _answers(s, frames, {"window": events, "reference": ref}, prob_labels, task)
    model = EventAnswers(answers, labels=labels, key=key, task=task, name=primary)
    report = run_suite(
        s,
        objects={primary: model},
        frames=frames,
        no_cache=True,
        progress=False,
        started=started,
        created=created,
    )
    extra = _monitor_result(suite, events, labels, groups, undecided, level=suite.level)
    gates = [*report.gates, *_label_free_gates(label_free, extra, model=primary)]
    return report.model_copy(update={"results": [*report.results, extra], "gates": gates})


def _label_free_gates(gates: Sequence[str], monitor: CheckResult, *, model: str) -> list[Any]:
    """The fairness gates on selection rates, decided on the monitor result's label-free
    metrics (``groups.<feature>...`` read as ``fairness.<feature>...``)."""
    if not gates:
        return []
    as_fairness = CheckResult(
        check="fairness",
        model=model,
        dataset="window",
        n=monitor.n,
        metrics={
            k.removeprefix("groups."): e for k, e in monitor.metrics.items()
            if k.startswith("groups.")
        },
        tables={"too_small_keys": [k.removeprefix("groups.") for k in
                                   monitor.tables.get("too_small_keys", [])]},
    )  # fmt: skip
    outcomes = evaluate_gates(gates, [as_fairness], model=model)
    note = " (from every event's prediction; no label has arrived yet)"
    return [o.model_copy(update={"detail": o.detail + note}) for o in outcomes]


def _answers(
    s: Suite,
    frames: Mapping[str, pd.DataFrame],
    sources: Mapping[str, pd.DataFrame],
    prob_labels: Sequence[str],
    task: Task,
) -> dict[Hashable, Output]:
    """Input content → the answer its event (or reference row) carries, built from the same
    Datasets the runner builds, so the payloads match exactly."""
    answers: dict[Hashable, Output] = {}
    ref_labels = [lab for lab in prob_labels]
    for name in ("window", "reference"):
        ds = dataset_from_frame(frames[name], s.data[name], name=name)
        by_id = sources[name].assign(id=sources[name]["id"].astype(str)).set_index("id")
        records = by_id.to_dict(orient="index")
        labels_here = ref_labels or [
            str(c)[len(PROB_PREFIX) :] for c in by_id.columns if str(c).startswith(PROB_PREFIX)
        ]
        for example_id, payload in zip(ds.ids, ds.payloads()):
            answers.setdefault(
                payload_key(payload),
                _output(records[str(example_id)], labels_here, task),  # type: ignore[arg-type]
            )
    return answers


# ----------------------------------------------------------------------------- what the monitor adds


def latency_percentiles(
    values: Sequence[float] | np.ndarray, *, level: float = 0.95
) -> dict[str, Estimate]:
    """p50, p95 and p99 of latencies with distribution-free intervals from order statistics.

    The interval of the q-quantile is ``[x_(l), x_(u)]`` with ranks from the binomial(n, q)
    distribution, so that ``P(x_(l) <= Q_q <= x_(u)) >= level`` for any continuous
    distribution; with too few values for that, the bounds are the sample's min or max and
    the method says ``order-statistic (truncated)``. (The full load statistics are
    ``assay.load``'s.)

    Example:
        >>> p = latency_percentiles(list(range(1, 101)))
        >>> p["p50_ms"].value, p["p50_ms"].lower <= 50.5 <= p["p50_ms"].upper
        (50.5, True)
    """
    x = np.sort(np.asarray(values, dtype=float))
    x = x[np.isfinite(x)]
    n = int(x.size)
    out = {}
    alpha = 1 - level
    for name, q in _QUANTILES.items():
        if n == 0:
            out[name] = Estimate(math.nan, math.nan, math.nan, level, "order-statistic", 0)
            continue
        lo_rank = int(sstats.binom.ppf(alpha / 2, n, q))  # x_(lo_rank), 1-based; 0: none
        hi_rank = int(sstats.binom.ppf(1 - alpha / 2, n, q)) + 1
        truncated = lo_rank < 1 or hi_rank > n
        lower = float(x[max(lo_rank, 1) - 1])
        upper = float(x[min(hi_rank, n) - 1])
        method = "order-statistic" + (" (truncated)" if truncated else "")
        out[name] = Estimate(float(np.quantile(x, q)), lower, upper, level, method, n)
    return out


def _positive(suite: Suite, labels: Sequence[str] | None) -> str | None:
    fairness = suite.checks.get("fairness") or {}
    pos = fairness.get("positive_label")
    if pos is not None:
        return canonical_label(pos)
    return labels[-1] if labels and len(labels) == 2 else None


def _monitor_result(
    suite: Suite,
    events: pd.DataFrame,
    labels: Sequence[str] | None,
    groups: Sequence[str],
    undecided: list[dict[str, str]],
    *,
    level: float,
) -> CheckResult:
    metrics: dict[str, Estimate] = {}
    tables: dict[str, Any] = {"pending_gates": undecided}
    flags: list[str] = []
    fairness = suite.checks.get("fairness") or {}
    features = list(fairness.get("groups") or groups)
    positive = _positive(suite, labels)
    too_small: list[str] = []
    if features and positive is not None:
        tables["positive_label"] = positive
        predicted = events["prediction"].map(canonical_label).to_numpy(dtype=object)
        for feature in features:
            if feature not in events.columns:
                flags.append(f"group column {feature!r} is in no event of this window")
                continue
            values = events[feature].astype("string").fillna("<missing>").astype(str)
            # Selection rates and their disparities depend on the predictions alone: the
            # fairness library is given the predictions as the "labels" and only the
            # label-free metrics are kept.
            gm = group_metrics(
                predicted,
                predicted,
                values.to_numpy(),
                positive_label=positive,
                level=level,
                n_bootstrap=int(fairness.get("n_bootstrap", 1000)),
                seed=stream(suite.seed, "monitor", "selection_rate", feature),
                min_n=int(fairness.get("min_n", 30)),
                summary_min_n=int(fairness.get("summaries_min_n", 0)),
            )
            for group, by_metric in gm.by_group.items():
                key = f"groups.{feature}.{str(group).replace('.', '_')}.selection_rate"
                metrics[key] = by_metric["selection_rate"]
                if group in gm.too_small:
                    too_small.append(key)
            for name in LABEL_FREE_SUMMARIES:
                if name in gm.summaries:
                    metrics[f"groups.{feature}.{name}"] = gm.summaries[name]
    elif features:
        flags.append(
            "no selection rate by group: the positive label is unknown (set "
            "checks.fairness.positive_label for more than two labels)"
        )
    latency = events["latency_ms"].dropna()
    if len(latency):
        for name, e in latency_percentiles(latency.to_numpy(), level=level).items():
            metrics[f"latency.{name}"] = e
    for u in undecided:
        flags.append(f"gate {u['gate']!r} {u['state'].replace('_', ' ')}: {u['reason']}")
    tables["too_small_keys"] = too_small
    return CheckResult(
        check=MONITOR_RESULT,
        model=suite.primary_model,
        dataset="window",
        n=len(events),
        metrics=metrics,
        tables=tables,
        flags=flags,
    )
