"""Log a Report to MLflow: params, metrics (interval bounds as their own metrics), tags, and the
report files as artifacts, to any tracking URI (a local folder, ``sqlite:///…``, ``http://…``).

Metric keys nest by check, model and slice, so that MLflow's UI (which groups charts by the part
of a key before its first ``/``) shows one section per check::

    <check>/<model>[_at_<dataset>]/<metric>[.lower|.upper][/<slice>]

``performance/candidate/accuracy``, ``performance/candidate/accuracy.lower``,
``fairness/candidate/accuracy/age.lt40``, ``robustness/baseline/flip_rate.upper/typos_at_10``,
``finetune_cost/candidate_at_general/accuracy``. The metric is the last segment of the report's
metric name; the slice is what comes before it (a slice value, a group, a perturbation, a
class), kept dot-separated. Every model is named, the first too; ``_at_<dataset>`` only for
datasets other than the primary one. Run-wide values: ``gates/passed``, ``gates/failed``,
``run/duration_s``.

Characters MLflow does not allow in keys become readable words (``<40`` → ``lt40``, ``>=`` →
``ge``, ``=`` → ``eq``, ``&`` → ``and``, ``+`` → ``plus``, ``%`` → ``pct``, ``@`` → ``_at_``; a
``/`` inside a name and others ``_``); when two metrics would still share a key, the later one gets a short hash.
:func:`log_report` records every key and the report path it stands for
(``<model>/<check>.<metric name>[@dataset][.lower|.upper]``, the gate path behind the model) in
the run's artifact ``assay_metric_keys.json``.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from assay.errors import MissingDependencyError
from assay.report._schema import Report

__all__ = [
    "log_report",
    "mlflow_key_map",
    "mlflow_metrics",
    "mlflow_params",
    "mlflow_run_url",
    "mlflow_tags",
]

_BAD = re.compile(r"[^\w\-. /:]")
_BATCH = 500


#: Readable stand-ins for characters MLflow keys may not hold, longest first.
_WORDS = (("<=", "le"), (">=", "ge"), ("!=", "ne"), ("<", "lt"), (">", "gt"), ("=", "eq"),
          ("&", "and"), ("|", "or"), ("+", "plus"), ("%", "pct"), ("@", "_at_"))


def _key(s: str) -> str:
    for char, word in _WORDS:
        s = s.replace(char, word)
    return _BAD.sub("_", s)[:250]


def _unique_keys(raw: Mapping[str, str]) -> dict[str, str]:
    """``path → MLflow key`` from ``path → wanted key``: readable, and distinct for distinct
    paths."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for path, wanted in raw.items():
        key = wanted
        if key in taken:
            key = f"{key[:240]}_{hashlib.sha1(path.encode()).hexdigest()[:6]}"
        taken.add(key)
        out[path] = key
    return out


def _piece(s: str) -> str:
    """One level of a nested key: MLflow-safe, with no ``/`` of its own."""
    return _key(s.replace("/", "_"))


def mlflow_key_map(report: Report) -> dict[str, str]:
    """``MLflow key → metric path`` for every metric logged (the record :func:`log_report`
    writes as ``assay_metric_keys.json``); the path is ``<model>/<check>.<metric name>``, with
    ``@dataset`` and ``.lower``/``.upper`` as in the report."""
    raw = _raw_metrics(report)
    return {k: p for p, k in _unique_keys({p: w for p, (w, _) in raw.items()}).items()}


def _client(tracking_uri: str | None):
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise MissingDependencyError(
            "logging to MLflow needs the mlflow package: pip install 'assay[tracking]' "
            "(or mlflow-skinny)"
        ) from None
    return MlflowClient(tracking_uri=tracking_uri)


def _primary(report: Report) -> tuple[str | None, str | None]:
    model = str(report.models[0].get("name")) if report.models else None
    data = report.suite.get("data") if isinstance(report.suite, Mapping) else None
    names = list(data) if isinstance(data, Mapping) else [d.get("name") for d in report.datasets]
    dataset = "test" if "test" in names else (str(names[0]) if names else None)
    return model, dataset


def mlflow_metrics(report: Report) -> dict[str, float]:
    """The metrics :func:`log_report` logs: ``key → value`` (undefined values are left out)."""
    raw = _raw_metrics(report)
    keys = _unique_keys({p: w for p, (w, _) in raw.items()})
    return {keys[p]: v for p, (_, v) in raw.items()}


def _raw_metrics(report: Report) -> dict[str, tuple[str, float]]:
    """``metric path → (nested key, value)``, the key MLflow-safe but not yet de-duplicated."""
    _, dataset = _primary(report)
    out: dict[str, tuple[str, float]] = {}
    for r in report.results:
        if r.check == "checkpoints":  # its metrics are the series' last points, logged per step
            continue
        suffix = "" if r.dataset == dataset or dataset is None else f"@{r.dataset}"
        head = f"{_piece(r.check)}/{_piece(r.model)}{_piece(suffix)}"
        for name, e in r.metrics.items():
            *where, metric = name.split(".")
            tail = f"/{_piece('.'.join(where))}" if where else ""
            path = f"{r.model}/{r.check}.{name}{suffix}"
            for bound, v in (("", e.value), (".lower", e.lower), (".upper", e.upper)):
                if math.isfinite(v):
                    out[f"{path}{bound}"] = (f"{head}/{_piece(metric)}{bound}{tail}", float(v))
    if report.gates:
        out["gates.failed"] = ("gates/failed", float(sum(not g.passed for g in report.gates)))
        out["gates.passed"] = ("gates/passed", float(sum(g.passed for g in report.gates)))
    out["duration_s"] = ("run/duration_s", float(report.duration_s))
    return out


def mlflow_params(report: Report) -> dict[str, str]:
    """Run parameters: the suite's settings, models, datasets and check options."""
    params: dict[str, Any] = {
        "suite": report.suite_name,
        "seed": report.seed,
        "level": report.level,
        "assay_version": report.assay_version,
        "schema_version": report.schema_version,
    }
    for m in report.models:
        params[f"model.{m.get('name')}.spec"] = m.get("spec", "")
        params[f"model.{m.get('name')}.fingerprint"] = m.get("fingerprint", "")
    for d in report.datasets:
        params[f"data.{d.get('name')}.path"] = d.get("path", "")
        params[f"data.{d.get('name')}.fingerprint"] = d.get("fingerprint", "")
        params[f"data.{d.get('name')}.n"] = d.get("n_valid", "")
    checks = report.suite.get("checks") if isinstance(report.suite, Mapping) else None
    if isinstance(checks, Mapping):
        for name, opts in checks.items():
            for k, v in (opts or {}).items() if isinstance(opts, Mapping) else []:
                params[f"checks.{name}.{k}"] = v
            params.setdefault(f"checks.{name}", "on")
    return {_key(k): str(v)[:6000] for k, v in params.items()}


def mlflow_tags(report: Report) -> dict[str, str]:
    """Run tags: the verdict, each gate's outcome and each comparison's verdict."""
    verdict = "NO GATES" if not report.gates else ("PASS" if report.passed else "FAIL")
    tags = {
        "assay.verdict": verdict,
        "assay.suite": report.suite_name,
        "assay.created_at": report.created_at,
    }
    for i, g in enumerate(report.gates):
        tags[f"assay.gate.{i}"] = f"{'PASS' if g.passed else 'FAIL'} {g.gate}"
    for r in report.results:
        c = r.tables.get("comparison") if r.check == "compare" else None
        if isinstance(c, Mapping):
            tags[_key(f"assay.compare.{r.model}")] = f"{c.get('verdict')} vs {c.get('baseline')}"
    return tags


def mlflow_run_url(tracking_uri: str | None, run_id: str) -> str:
    """Where to see the run: its page on an ``http(s)://`` tracking server, else the command that
    serves a local store (``mlflow ui --backend-store-uri …``) and the run's path in it."""
    client = _client(tracking_uri)
    exp = client.get_run(run_id).info.experiment_id
    uri = tracking_uri or client.tracking_uri
    path = f"#/experiments/{exp}/runs/{run_id}"
    if str(uri).startswith(("http://", "https://")):
        return f"{str(uri).rstrip('/')}/{path}"
    return f"mlflow ui --backend-store-uri {uri}, then http://127.0.0.1:5000/{path}"


def log_report(
    report: Report,
    tracking_uri: str | None = None,
    *,
    experiment: str | None = None,
    run_name: str | None = None,
    artifacts: Sequence[str | Path] = (),
    run_id: str | None = None,
    series: Mapping[str, Sequence[tuple[int, float]]] | None = None,
) -> str:
    """Log ``report`` to an MLflow run and return the run id.

    Args:
        report: the Report; nothing else is read.
        tracking_uri: ``sqlite:///mlflow.db``, ``http://127.0.0.1:5000``, a folder, or None for
            MLflow's default (``MLFLOW_TRACKING_URI``).
        experiment: experiment name (default: the suite's name); created when missing.
        run_name: the run's name (default: the suite's name and the report's time).
        artifacts: files to attach (``report.json``, ``report.html``, summaries).
        run_id: log into this existing run instead of a new one (left running: it is the
            caller's to end).
        series: per-step metrics (``key → [(step, value), …]``), e.g. a checkpoint sweep.

    Raises:
        MissingDependencyError: mlflow is not installed.

    Example:
        >>> run = log_report(report, "sqlite:///mlflow.db", artifacts=["out/report.json"])  # doctest: +SKIP
    """
    from mlflow.entities import Metric, Param, RunTag

    client = _client(tracking_uri)
    own_run = run_id is None
    if run_id is None:
        name = experiment or report.suite_name
        exp = client.get_experiment_by_name(name)
        exp_id = exp.experiment_id if exp is not None else client.create_experiment(name)
        run = client.create_run(
            exp_id,
            run_name=run_name or f"{report.suite_name} {report.created_at}",
            tags={"mlflow.source.name": "assay"},
        )
        run_id = run.info.run_id
    now = int(time.time() * 1000)
    metrics = [Metric(k, v, now, 0) for k, v in mlflow_metrics(report).items()]
    for key, points in (series or {}).items():
        metrics += [Metric(_key(key), float(v), now, int(s)) for s, v in points if math.isfinite(v)]
    params = [Param(k, v) for k, v in mlflow_params(report).items()]
    tags = [RunTag(k, v[:5000]) for k, v in mlflow_tags(report).items()]
    for i in range(0, len(params), 100):  # MLflow's batch limits: 100 params, 1000 metrics
        client.log_batch(run_id, params=params[i : i + 100])
    for i in range(0, max(len(metrics), len(tags)), _BATCH):
        client.log_batch(run_id, metrics=metrics[i : i + _BATCH], tags=tags[i : i + _BATCH])
    for path in artifacts:
        client.log_artifact(run_id, str(path))
    renamed = mlflow_key_map(report)
    if renamed:
        client.log_dict(run_id, renamed, "assay_metric_keys.json")
    # The run itself finished; whether the gates passed is the tag assay.verdict. A run passed in
    # by the caller (an active run, mlflow.models.evaluate's) is the caller's to end.
    if own_run:
        client.set_terminated(run_id, "FINISHED")
    return str(run_id)
