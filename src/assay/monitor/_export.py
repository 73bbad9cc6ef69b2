"""The feedback loop: the live examples worth labelling and fine-tuning on next.

:func:`select_examples` picks events for each reason asked:

- ``drifted``: events of windows whose drift gate failed, or whose share of drifted columns is
  above ``drift_share``;
- ``low-confidence``: the highest class probability below ``low_confidence``;
- ``misclassified``: labelled, and the prediction is not the label;
- ``disagreement``: another model version (a candidate sending its predictions for the same
  events) predicted something else for the same event id;
- ``slice``: events of a group the window's fairness check flagged (accuracy significantly
  below the rest, or a selection rate that differs), with the group in ``slice``.

Each reason keeps at most ``cap_per_reason`` events (a seeded sample when there are more); an
event picked for several reasons is one row with every reason. Rows carry their provenance
(window id, reasons, model version, timestamp) and what a fine-tune needs: the inputs and, when
known, the label. :func:`write_examples` writes JSONL (one object per line: ``id``, ``inputs``,
``label``, ``prediction``, ``confidence``, ``provenance``) or Parquet (flat columns), atomically.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assay._types import canonical_label
from assay.errors import ConfigError
from assay.monitor._windows import (
    META_COLUMNS,
    PROB_PREFIX,
    events_frame,
    parse_period,
    probability_labels,
)
from assay.stats import stream

__all__ = [
    "REASONS",
    "ExportResult",
    "export_examples",
    "parse_since",
    "select_examples",
    "write_examples",
]

REASONS = ("drifted", "low-confidence", "misclassified", "disagreement", "slice")
_PROVENANCE = ("window", "reasons", "model_version", "timestamp", "slice")


def _as_dict(x: Any) -> dict[str, Any]:
    if isinstance(x, str):
        return dict(json.loads(x))
    if isinstance(x, Mapping):
        return dict(x)
    return {k: getattr(x, k) for k in ("id", "key", "start", "end", "summary") if hasattr(x, k)}


def _check_select(select: Iterable[str]) -> list[str]:
    chosen = [s.strip() for s in select if s.strip()]
    unknown = [s for s in chosen if s not in REASONS]
    if unknown or not chosen:
        raise ConfigError(
            f"monitor export --select: {', '.join(unknown) or '(nothing)'} is not a reason; "
            f"choose from {', '.join(REASONS)} (comma-separated)"
        )
    return list(dict.fromkeys(chosen))


def _ts(x: Any) -> pd.Timestamp:
    t = pd.Timestamp(x)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def _window_ids(frame: pd.DataFrame, summaries: Sequence[Mapping[str, Any]]) -> pd.Series:
    """Each event's window id: by the store's arrival range (count windows) or by time."""
    out = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    for s in summaries:
        if s.get("id") is None or s.get("start") is None:
            continue
        seq = s.get("seq")
        if seq and "seq" in frame.columns:
            mask = (frame["seq"] >= seq["first"]) & (frame["seq"] <= seq["last"])
        else:
            mask = (frame["timestamp"] >= _ts(s["start"])) & (frame["timestamp"] < _ts(s["end"]))
        out[mask & out.isna()] = s["id"]
    return out


def _drifted_windows(summaries: Sequence[Mapping[str, Any]], drift_share: float | None) -> set[Any]:
    ids = set()
    for s in summaries:
        failed = any(
            str(g.get("expression", "")).startswith("drift.") and g.get("passed") is False
            for g in s.get("gates", [])
        )
        share = (s.get("drift") or {}).get("share_drifted")
        above = drift_share is not None and share is not None and share > drift_share
        if failed or above:
            ids.add(s.get("id"))
    return ids


def _flagged_slices(reports: Mapping[Any, Any]) -> dict[Any, list[tuple[str, str]]]:
    """Window id → the (feature, group) pairs its fairness check flagged."""
    out: dict[Any, list[tuple[str, str]]] = {}
    for window_id, report in reports.items():
        data = json.loads(report) if isinstance(report, str) else report
        if hasattr(data, "model_dump"):
            data = data.model_dump(mode="json")
        for result in (data or {}).get("results", []):
            if result.get("check") != "fairness":
                continue
            for feature in result.get("tables", {}).get("features", []):
                if feature.get("intersection"):
                    continue
                for g in feature.get("groups", []):
                    if g.get("flagged"):
                        out.setdefault(window_id, []).append((feature["name"], str(g["name"])))
    return out


def _sample(index: pd.Index, cap: int, rng: np.random.Generator) -> pd.Index:
    if len(index) <= cap:
        return index
    return pd.Index(sorted(rng.choice(np.asarray(index), size=cap, replace=False)))


def _confidence(frame: pd.DataFrame) -> pd.Series:
    cols = [f"{PROB_PREFIX}{lab}" for lab in probability_labels(frame)]
    if not cols:
        return pd.Series(np.nan, index=frame.index)
    return frame[cols].max(axis=1, skipna=False)


def _same(a: Any, b: Any) -> bool:
    return canonical_label(a) == canonical_label(b)


def select_examples(
    frame: pd.DataFrame,
    summaries: Sequence[Mapping[str, Any]],
    select: Sequence[str] = ("drifted", "low-confidence", "misclassified"),
    *,
    cap_per_reason: int = 1000,
    low_confidence: float = 0.6,
    drift_share: float | None = None,
    production: str | None = None,
    reports: Mapping[Any, Any] | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """The events to export, one row per event id (module docstring).

    Args:
        frame: the events (:func:`events_frame`) of the period, every model version.
        summaries: the period's window summaries (with ``id``, ``start``, ``end``, ``gates``,
            ``drift``).
        select: the reasons, among :data:`REASONS`.
        cap_per_reason: the most events one reason contributes (a seeded sample beyond it).
        low_confidence: the highest class probability below which an event is low-confidence.
        drift_share: a window whose ``share_drifted`` is above it counts as drifted even when no
            drift gate failed (``None``: only failed drift gates).
        production: the model version whose events are exported (default: the version with the
            most events); the others are compared with it for ``disagreement``.
        reports: window id → its Report (JSON or dict), for ``slice``.
        seed: the seed of the sampling.

    Returns:
        Columns ``id``, the input columns, ``label`` (None when unknown), ``prediction``,
        ``confidence``, ``window``, ``reasons`` (comma-separated, in :data:`REASONS` order),
        ``model_version``, ``timestamp``, ``slice`` (``feature=group`` or None) and, with
        ``disagreement``, ``other_predictions`` (version → prediction).

    Raises:
        ConfigError: an unknown reason or a cap below 1.
    """
    reasons = _check_select(select)
    if cap_per_reason < 1:
        raise ConfigError(f"monitor export: cap_per_reason must be >= 1, got {cap_per_reason}")
    inputs = list(frame.attrs.get("inputs") or _input_columns(frame))
    if frame.empty:
        return pd.DataFrame(columns=["id", *inputs, "label", "prediction", "confidence",
                                     *_PROVENANCE])  # fmt: skip
    if production is None:
        production = str(frame["model_version"].value_counts().idxmax())
    prod = frame[frame["model_version"] == production].drop_duplicates("id").copy()
    prod["window"] = _window_ids(prod, summaries)
    prod["confidence"] = _confidence(prod)
    prod["slice"] = None
    picked: dict[str, pd.Index] = {}
    if "drifted" in reasons:
        ids = _drifted_windows(summaries, drift_share)
        picked["drifted"] = prod.index[prod["window"].isin(ids)]
    if "low-confidence" in reasons:
        picked["low-confidence"] = prod.index[prod["confidence"] < low_confidence]
    if "misclassified" in reasons:
        known = prod["label"].notna()
        wrong = [k and not _same(p, y) for k, p, y in zip(known, prod["prediction"], prod["label"])]
        picked["misclassified"] = prod.index[np.asarray(wrong, dtype=bool)]
    if "disagreement" in reasons:
        others = frame[frame["model_version"] != production]
        by_id: dict[str, dict[str, Any]] = {}
        for i, v, p in zip(others["id"], others["model_version"], others["prediction"]):
            by_id.setdefault(str(i), {})[str(v)] = p
        prod["other_predictions"] = pd.Series(
            [by_id.get(str(i)) for i in prod["id"]], index=prod.index, dtype=object
        )
        differs = [
            bool(o) and any(not _same(p, q) for q in o.values())
            for p, o in zip(prod["prediction"], prod["other_predictions"])
        ]
        picked["disagreement"] = prod.index[np.asarray(differs, dtype=bool)]
    if "slice" in reasons:
        flagged = _flagged_slices(reports or {})
        mask = pd.Series(False, index=prod.index)
        for window_id, pairs in flagged.items():
            in_window = prod["window"] == window_id
            for feature, group in pairs:
                if feature not in prod.columns:
                    continue
                hit = in_window & (prod[feature].astype(str) == group)
                prod.loc[hit & prod["slice"].isna(), "slice"] = f"{feature}={group}"
                mask |= hit
        picked["slice"] = prod.index[mask.to_numpy()]
    rows: dict[Any, list[str]] = {}
    for reason in REASONS:
        if reason not in picked:
            continue
        rng = stream(seed, "monitor-export", reason)
        for i in _sample(picked[reason], cap_per_reason, rng):
            rows.setdefault(i, []).append(reason)
    chosen = prod.loc[sorted(rows, key=lambda i: (prod.at[i, "timestamp"], str(prod.at[i, "id"])))]
    chosen = chosen.assign(reasons=[",".join(rows[i]) for i in chosen.index])
    extra = ["other_predictions"] if "disagreement" in reasons else []
    columns = ["id", *inputs, "label", "prediction", "confidence", *_PROVENANCE, *extra]
    result = chosen[columns].reset_index(drop=True)
    result.attrs["inputs"] = inputs
    return result


def _input_columns(frame: pd.DataFrame) -> list[str]:
    meta = {*META_COLUMNS, "seq", "window", "confidence", "slice", "reasons"}
    return [c for c in frame.columns if c not in meta and not str(c).startswith(PROB_PREFIX)]


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, pd.Timestamp):
        return v.isoformat().replace("+00:00", "Z")
    return v


def write_examples(examples: pd.DataFrame, out: str | Path, *, format: str | None = None) -> Path:
    """Write the examples as JSONL or Parquet (from ``format`` or the extension), atomically:
    to a temporary file beside ``out``, then renamed over it.

    JSONL lines: ``{"id", "inputs": {...}, "label", "prediction", "confidence",
    "provenance": {"window", "reasons": [...], "model_version", "timestamp", "slice"}}``
    (``other_predictions`` too when present). Parquet: the flat columns.

    Raises:
        ConfigError: a format other than jsonl or parquet.
    """
    path = Path(out)
    kind = (format or path.suffix.lstrip(".") or "jsonl").lower()
    if kind not in ("jsonl", "parquet"):
        raise ConfigError(
            f"monitor export --out {path}: {kind!r} is not a format; write .jsonl or .parquet "
            "(or give --format jsonl|parquet)"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp"
    inputs = list(examples.attrs.get("inputs") or _input_columns(examples))
    inputs = [c for c in inputs if c not in ("label", "prediction", "other_predictions")]
    try:
        if kind == "parquet":
            flat = examples.copy()
            if "other_predictions" in flat.columns:
                flat["other_predictions"] = [
                    json.dumps(o, default=str) if o else None for o in flat["other_predictions"]
                ]
            for c in ("label", "prediction"):
                flat[c] = [None if v is None else str(_plain(v)) for v in flat[c]]
            flat.to_parquet(tmp, index=False)
        else:
            with open(tmp, "x", encoding="utf-8") as f:
                for rec in examples.to_dict(orient="records"):
                    line = {
                        "id": rec["id"],
                        "inputs": {c: _plain(rec[c]) for c in inputs},
                        "label": _plain(rec["label"]),
                        "prediction": _plain(rec["prediction"]),
                        "confidence": _plain(rec["confidence"]),
                        "provenance": {
                            "window": _plain(rec["window"]),
                            "reasons": rec["reasons"].split(","),
                            "model_version": rec["model_version"],
                            "timestamp": _plain(rec["timestamp"]),
                            "slice": rec.get("slice"),
                        },
                    }
                    if rec.get("other_predictions"):
                        line["other_predictions"] = rec["other_predictions"]
                    f.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def parse_since(since: str | datetime, *, now: datetime | None = None) -> datetime:
    """``"7d"``, ``"12h"``, ``"30min"`` before ``now``, or an ISO time, as a UTC datetime.

    Raises:
        ConfigError: neither a period nor a time.
    """
    now = now or datetime.now(timezone.utc)
    if isinstance(since, datetime):
        return _ts(since).to_pydatetime()
    try:
        return now - parse_period(since, "since")
    except ConfigError:
        pass
    try:
        return _ts(since).to_pydatetime()
    except (ValueError, TypeError):
        raise ConfigError(
            f"monitor export --since: {since!r} is neither a period (7d, 12h, 30min) nor a "
            "time (2026-12-01 or 2026-12-01T10:00:00Z)"
        ) from None


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote.

    Attributes:
        path: the file.
        n_rows: examples written (one per event).
        by_reason: examples per reason (an example with two reasons counts in both).
        n_events: events of the period looked at.
        n_windows: windows of the period.
    """

    path: Path
    n_rows: int
    by_reason: dict[str, int] = field(default_factory=dict)
    n_events: int = 0
    n_windows: int = 0


def export_examples(
    store: Any,
    since: str | datetime,
    select: Sequence[str],
    out: str | Path,
    *,
    now: datetime | None = None,
    cap_per_reason: int = 1000,
    low_confidence: float = 0.6,
    drift_share: float | None = None,
    production: str | None = None,
    format: str | None = None,
    seed: int = 0,
) -> ExportResult:
    """Select the examples of the events since ``since`` from the monitor's store and write them
    (:func:`select_examples`, :func:`write_examples`).

    Inputs are exported as the store keeps them: raw, or hashed or truncated when the monitor
    is configured so (then they are provenance, not fine-tuning inputs).
    """
    reasons = _check_select(select)
    start = parse_since(since, now=now)
    events = store.events(start=start)
    frame = events_frame(events)
    rows = [_as_dict(w) for w in store.windows()]
    summaries = []
    for w in rows:
        summary = _as_dict(w.get("summary") or {})
        summary.setdefault("id", w.get("id"))
        summary.setdefault("start", w.get("start"))
        summary.setdefault("end", w.get("end"))
        if summary.get("end") is not None and _ts(summary["end"]) >= _ts(start):
            summaries.append(summary)
    reports: dict[Any, Any] = {}
    if "slice" in reasons:
        for s in summaries:
            row = store.window(s["id"])
            text = (
                _as_dict(row).get("report_json")
                if isinstance(row, Mapping)
                else getattr(row, "report_json", None)
            )
            if text:
                reports[s["id"]] = text
    examples = select_examples(
        frame,
        summaries,
        reasons,
        cap_per_reason=cap_per_reason,
        low_confidence=low_confidence,
        drift_share=drift_share,
        production=production,
        reports=reports,
        seed=seed,
    )
    path = write_examples(examples, out, format=format)
    counts = {r: int(examples["reasons"].str.split(",").map(lambda x, r=r: r in x).sum())
              for r in reasons} if len(examples) else {r: 0 for r in reasons}  # fmt: skip
    return ExportResult(path, len(examples), counts, len(frame), len(summaries))
