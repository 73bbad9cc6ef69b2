"""Windows of live traffic: the events table, boundaries, due windows, scoring through the runner
on real data (ACS employment 2015 -> 2018), the summary, pending gates, and the worker."""

from __future__ import annotations

import json
import math
import threading
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from monitor_fixtures import (
    ListStore,
    acs_fixture,  # noqa: F401  (the fixture `acs`)
    acs_suite,
    as_events,
    reference_table,
)

from assay.errors import ConfigError
from assay.monitor._scoring import latency_percentiles, score_window
from assay.monitor._summary import window_summary
from assay.monitor._windows import (
    due_windows,
    events_frame,
    parse_window_rule,
    window_of,
)
from assay.monitor._worker import WindowWorker, rescore_window

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)


def _event(i: int, t: str, **kw):
    return {"event_id": f"e-{i}", "timestamp": t, "inputs": {"x": i}, "prediction": "1", **kw}


# ----------------------------------------------------------------------------- events_frame


def test_events_frame_has_the_spec_columns() -> None:
    f = events_frame(
        [
            _event(1, "2026-12-07T10:00:00Z", probabilities={"0": 0.3, "1": 0.7},
                   groups={"sex": "female"}, latency_ms=12.5, label="1", model_version="v2"),
            _event(2, "2026-12-07T11:00:00", inputs={"x": 2, "y": "a"}),  # naive = UTC
        ]
    )  # fmt: skip
    assert list(f.columns) == [
        "id", "timestamp", "model_version", "x", "y", "sex", "prediction", "prob_0", "prob_1",
        "label", "latency_ms",
    ]  # fmt: skip
    assert f["timestamp"].tolist() == [
        pd.Timestamp("2026-12-07T10:00:00Z"), pd.Timestamp("2026-12-07T11:00:00Z")
    ]  # fmt: skip
    assert f["model_version"].tolist() == ["v2", "unknown"]
    assert f["label"].tolist()[0] == "1" and f["label"].tolist()[1] is None
    assert math.isnan(f["prob_1"].iloc[1]) and math.isnan(f["latency_ms"].iloc[1])
    assert pd.isna(f["sex"].iloc[1]) and pd.isna(f["y"].iloc[0])


# ----------------------------------------------------------------------------- boundaries


def test_time_windows_are_epoch_aligned_in_utc() -> None:
    rule = parse_window_rule(every="1h")
    w = window_of(rule, "2026-12-07T12:30:00+02:00")  # 10:30 UTC
    assert (w.start, w.end) == (T0, T0 + timedelta(hours=1))
    assert w.key == "time:1h:2026-12-07T10:00:00Z"
    week = window_of(parse_window_rule(every="7d"), "2026-12-07T10:00:00Z")
    assert (week.start - datetime(1970, 1, 1, tzinfo=timezone.utc)).days % 7 == 0
    assert week.start <= T0 < week.end and week.start.weekday() == 3  # epoch was a Thursday


@pytest.mark.parametrize("bad", [{"every": "soon"}, {"every": "-1h"}, {"events": 0}, {}])
def test_bad_window_rules_are_refused(bad) -> None:
    with pytest.raises(ConfigError, match="monitor window"):
        parse_window_rule(**bad)


def test_a_time_window_closes_when_a_later_event_arrives_or_after_the_grace() -> None:
    rule = parse_window_rule(every="1h", grace="5min")
    events = [_event(1, "2026-12-07T10:10:00Z"), _event(2, "2026-12-07T10:50:00Z")]
    assert due_windows(rule, events, now=T0 + timedelta(minutes=62)) == []  # in the grace
    late = due_windows(rule, events, now=T0 + timedelta(minutes=66))
    assert [w.key for w in late] == ["time:1h:2026-12-07T10:00:00Z"]
    events.append(_event(3, "2026-12-07T11:00:00Z"))  # traffic moved on: closes at once
    moved = due_windows(rule, events, now=T0 + timedelta(minutes=61))
    assert [w.key for w in moved] == ["time:1h:2026-12-07T10:00:00Z"]
    assert due_windows(rule, events, now=T0, closed=[moved[0].key]) == []


def test_count_windows_follow_arrival_order_and_wait_for_the_last_event() -> None:
    rule = parse_window_rule(events=3)
    # timestamps out of order: arrival order (seq) decides; seq gaps do not matter
    events = [
        {**_event(i, f"2026-12-07T10:{59 - i:02d}:00Z"), "seq": s}
        for i, s in enumerate([1, 2, 4, 7, 8, 9, 10])
    ]
    due = due_windows(rule, events, now=T0)
    assert [(w.key, w.first_seq, w.last_seq) for w in due] == [
        ("count:3:0", 1, 4), ("count:3:1", 7, 9)
    ]  # fmt: skip
    rest = [e for e in events if e["seq"] > 9]
    assert due_windows(rule, rest, now=T0, last_index=1) == []


# ----------------------------------------------------------------------------- latency


def test_latency_percentiles_against_a_literal_order_statistic_interval() -> None:
    x = np.random.default_rng(0).lognormal(3, 0.5, 400)
    p = latency_percentiles(x)
    s = np.sort(x)
    from scipy.stats import binom

    lo, hi = binom.ppf(0.025, 400, 0.95), binom.ppf(0.975, 400, 0.95) + 1
    assert p["p95_ms"].lower == s[int(lo) - 1] and p["p95_ms"].upper == s[int(hi) - 1]
    assert p["p50_ms"].value == pytest.approx(np.median(x))
    assert p["p99_ms"].n == 400


@pytest.mark.simulation
def test_latency_interval_covers_the_true_p95() -> None:
    rng = np.random.default_rng(1)
    true = np.exp(3 + 0.5 * 1.6448536269514722)  # lognormal(3, 0.5) 95th percentile
    hits = [
        (e := latency_percentiles(rng.lognormal(3, 0.5, 300))["p95_ms"]).lower <= true <= e.upper
        for _ in range(400)
    ]
    assert np.mean(hits) >= 0.93  # order-statistic intervals are conservative


# ----------------------------------------------------------------------------- scoring (ACS)


GATES = [
    "drift.n_drifted <= 0",
    "drift.estimated.accuracy.lower >= 0.7",
    "performance.accuracy.lower >= 0.7",
    "fairness.sex.*.selection_rate >= 0",
    "fairness.sex.demographic_parity_difference.upper <= 0.05",
]


@pytest.fixture(scope="module")
def windows(acs):
    """The reference (3000 rows of 2015), a 2015 window of other 2015 rows, a 2018 window."""
    ref_all = acs["reference"].sample(frac=1, random_state=0)
    ref = reference_table(ref_all.iloc[:3000])
    w2015 = events_frame(as_events(ref_all.iloc[3000:4500], start=T0, labelled_every=3))
    cur = acs["current"]
    rows2018 = cur[cur["year"] == 2018].sample(1500, random_state=0)
    w2018 = events_frame(as_events(rows2018, start=T0))
    # the labels the 2018 window has not received yet, to check the estimate against
    w2018.attrs["true_labels"] = rows2018["employed"].to_numpy()
    return ref, w2015, w2018


def test_a_2018_window_drifts_from_2015_and_a_2015_window_does_not(windows) -> None:
    ref, w2015, w2018 = windows
    suite = acs_suite(GATES)
    r2015 = score_window(suite, ref, w2015, key="w2015")
    r2018 = score_window(suite, ref, w2018, key="w2018")
    assert r2015.result("drift").metrics["n_drifted"].value == 0
    drifted = [c for c, e in r2018.result("drift").metrics.items()
               if c.endswith(".drifted") and c.startswith("columns.") and e.value == 1]  # fmt: skip
    assert drifted == ["columns.ANC.drifted"]  # ancestry codes: the known 2015 -> 2018 shift
    gate = {g.gate: g.passed for g in r2018.gates}
    assert gate["drift.n_drifted <= 0"] is False
    assert {g.gate: g.passed for g in r2015.gates}["drift.n_drifted <= 0"] is True
    # CBPE estimates accuracy without labels, calibrated on the reference's answers
    est = r2018.result("drift").metrics["estimated.accuracy"]
    realised = np.mean(w2018["prediction"].to_numpy() == w2018.attrs["true_labels"])
    assert est.lower - 0.03 <= realised <= est.upper + 0.03


def test_unlabelled_window_has_pending_gates_not_failures(windows) -> None:
    ref, _, w2018 = windows
    report = score_window(acs_suite(GATES), ref, w2018, key="w2018")
    decided = [g.gate for g in report.gates]
    assert "performance.accuracy.lower >= 0.7" not in decided
    summary = window_summary(report, {"id": 1, "start": T0, "end": T0, "n_events": 1500,
                                      "n_labelled": 0, "model_versions": ["v1"]})  # fmt: skip
    pending = {g["expression"]: g for g in summary["gates"] if g["passed"] is None}
    assert set(pending) == {"performance.accuracy.lower >= 0.7"}
    # selection-rate gates need no label: decided from every event's prediction
    label_free = {g.gate: g for g in report.gates if g.gate.startswith("fairness.")}
    assert label_free["fairness.sex.*.selection_rate >= 0"].passed is True
    assert "no label has arrived yet" in label_free["fairness.sex.*.selection_rate >= 0"].detail
    dpd = label_free["fairness.sex.demographic_parity_difference.upper <= 0.05"]
    female, male = (w2018[w2018["SEX"] == k]["prediction"].eq(1).mean() for k in (2, 1))
    assert dpd.passed is False and dpd.observed > abs(male - female)  # the upper bound
    assert all("no label has arrived" in g["pending"] for g in pending.values())
    assert summary["passed"] is False  # the drift gate decided it
    assert "realised" not in summary and "estimated" in summary
    assert summary["drift"]["top_columns"][0]["column"] == "ANC"
    assert summary["drift"]["top_columns"][0]["drifted"] is True
    assert len(summary["drift"]["top_columns"]) == 5
    assert summary["latency"]["n"] == 1500
    # selection rate by group from predictions alone (no labels), checked literally
    sel = summary["groups"]["sex"]["female"]["selection_rate"]
    female = w2018[w2018["SEX"] == 2]
    assert sel["value"] == pytest.approx((female["prediction"] == 1).mean())
    json.dumps(summary)


def test_labelled_rows_give_realised_performance_beside_the_estimate(windows) -> None:
    ref, w2015, _ = windows
    report = score_window(acs_suite(GATES), ref, w2015, key="w2015")
    assert {g.gate for g in report.gates} == set(GATES)
    summary = window_summary(report, {"n_events": len(w2015), "n_labelled": 500})
    labelled = w2015[w2015["label"].notna()]
    acc = summary["realised"]["accuracy"]
    assert acc["n"] == len(labelled) == 500
    assert acc["value"] == pytest.approx(
        (labelled["prediction"].astype(int) == labelled["label"].astype(int)).mean()
    )
    assert set(summary["estimated"]) >= {"accuracy", "roc_auc"}
    assert summary["groups"]["sex"]["male"]["accuracy"]["n"] > 0
    failed = [g["expression"] for g in summary["gates"] if g["passed"] is False]
    assert failed == ["fairness.sex.demographic_parity_difference.upper <= 0.05"]  # ACS: a gap
    assert summary["passed"] is False


# ----------------------------------------------------------------------------- the worker


def test_worker_closes_each_window_once_alerts_and_rescores_with_labels(acs) -> None:
    ref_all = acs["reference"].sample(frac=1, random_state=0)
    ref = reference_table(ref_all.iloc[:3000])
    cur = acs["current"]
    store = ListStore()
    # hour 10: 2015 traffic; hour 11: 2018 traffic, closed by the grace (no traffic after it)
    store.add_events(as_events(ref_all.iloc[3000:3800], start=T0, step_s=4, prefix="a"))
    y2018 = cur[cur["year"] == 2018].sample(1500, random_state=0)
    store.add_events(as_events(y2018, start=T0 + timedelta(hours=1), step_s=2.4, prefix="b"))
    sent: list[dict] = []
    from assay.monitor._alerts import AlertBook

    suite = acs_suite(["drift.n_drifted <= 0", "performance.accuracy.lower >= 0.6"])
    worker = WindowWorker(store, {"window": {"every": "1h"}}, suite, ref,
                          alerts=AlertBook(store, send=sent.append))  # fmt: skip
    other = WindowWorker(store, {"window": {"every": "1h"}}, suite, ref)
    ids = worker.run_once(now=T0 + timedelta(hours=1, minutes=30))
    assert len(ids) == 1  # hour 10 is closed by the 11:00 traffic; hour 11 is still open
    ids += worker.run_once(now=T0 + timedelta(hours=3))
    assert len(ids) == 2
    assert other.run_once(now=T0 + timedelta(hours=3)) == []  # already computed
    w10, w11 = store.windows()[:2]
    assert w10["passed"] is True and w11["passed"] is False
    assert [(a["state"], a["gate"]) for a in store.alert_rows] == [
        ("firing", "drift.n_drifted <= 0")
    ]
    assert sent[0]["window"]["id"] == w11["id"]
    assert w11["summary"]["alerts"] == [{"gate": "drift.n_drifted <= 0", "state": "firing"}]
    assert any("pending" in g for g in w11["summary"]["gates"])
    # labels arrive for hour 11: the next pass scores it again, realised beside the estimate
    store.add_labels({f"b-{i}": int(y) for i, y in zip(y2018["id"], y2018["employed"])})
    worker.run_once(now=T0 + timedelta(hours=4))
    w11 = store.window(w11["id"])
    assert w11["n_labelled"] == 1500
    assert w11["summary"]["realised"]["accuracy"]["n"] == 1500
    assert "accuracy" in w11["summary"]["estimated"]
    assert len(store.alert_rows) == 1  # still firing: no second alert
    report = rescore_window(worker, w11["id"])
    assert report is not None and report.result("performance").n == 1500


def test_a_window_that_cannot_be_scored_is_saved_once_with_why(acs) -> None:
    """Events without the suite's input columns: the window is saved with the error (visible
    in /v1/windows), not retried on every pass; the background thread does the same work."""
    ref = reference_table(acs["reference"].iloc[:200])
    store = ListStore()
    store.add_events([_event(i, f"2020-01-01T10:{i:02d}:00Z") for i in range(5)])  # long past
    worker = WindowWorker(store, {"window": {"every": "1h"}}, acs_suite([]), ref, interval_s=60)
    worker.start()
    try:
        worker.poke()
        deadline = datetime.now() + timedelta(seconds=20)
        while not store.windows() and datetime.now() < deadline:
            threading.Event().wait(0.05)
    finally:
        worker.stop()
    (row,) = store.windows()
    assert row["passed"] is None and "AGEP" in row["summary"]["error"]
    assert worker.n_failed == 1
    assert worker.run_once(now=T0 + timedelta(days=1)) == []  # not computed again


def test_worker_count_windows_continue_where_the_last_one_ended(acs, tmp_path) -> None:
    ref_all = acs["reference"].sample(frac=1, random_state=2)
    ref = tmp_path / "reference.parquet"  # the reference as the server gets it: a file
    reference_table(ref_all.iloc[:1000]).to_parquet(ref)
    store = ListStore()
    store.add_events(as_events(ref_all.iloc[1000:2300], start=T0, prefix="a"))
    worker = WindowWorker(store, {"window": {"events": 600}}, acs_suite([]), ref)
    worker.run_once(now=T0)
    assert [(w["key"], w["summary"]["seq"]) for w in store.windows()] == [
        ("count:600:0", {"first": 1, "last": 600}),
        ("count:600:1", {"first": 601, "last": 1200}),
    ]  # the last 100 events wait for the next 500
    store.add_events(as_events(ref_all.iloc[2300:2800], start=T0, prefix="b"))
    worker.run_once(now=T0)
    third = store.windows()[-1]
    assert (third["key"], third["summary"]["seq"], third["n_events"]) == (
        "count:600:2",
        {"first": 1201, "last": 1800},
        600,
    )


def test_worker_on_the_real_sqlite_store(acs, tmp_path) -> None:
    """The same flow on the monitor's own Store (SQLite): claim, save, alert, labels later,
    re-score, a restarted AlertBook that knows what is firing."""
    store_mod = pytest.importorskip("assay.monitor._store", reason="the store comes with h1's part")
    from assay.monitor._alerts import AlertBook
    from assay.monitor._schema import Event, Label

    ref_all = acs["reference"].sample(frac=1, random_state=0)
    ref = reference_table(ref_all.iloc[:3000])
    y2018 = acs["current"][acs["current"]["year"] == 2018].sample(1500, random_state=0)
    events = as_events(ref_all.iloc[3000:3800], start=T0, step_s=4, prefix="a")
    events += as_events(y2018, start=T0 + timedelta(hours=1), step_s=2.4, prefix="b")
    store = store_mod.Store(f"sqlite:///{tmp_path / 'monitor.db'}")
    store.migrate()
    store.add_events([Event.model_validate(e) for e in events])
    suite = acs_suite(["drift.n_drifted <= 0", "performance.accuracy.lower >= 0.6"])
    sent: list[dict] = []
    settings = {"window": {"every": "1h"}}
    worker = WindowWorker(store, settings, suite, ref, alerts=AlertBook(store, send=sent.append))
    assert len(worker.run_once(now=T0 + timedelta(hours=3))) == 2
    assert WindowWorker(store, settings, suite, ref).run_once(now=T0 + timedelta(hours=3)) == []
    w10, w11 = store.windows()
    assert (w10.passed, w11.passed) == (True, False)
    assert [(a.gate, a.state, a.window_id) for a in store.alerts()] == [
        ("drift.n_drifted <= 0", "firing", w11.id)
    ]
    store.add_labels(
        [Label(event_id=f"b-{i}", label=int(y)) for i, y in zip(y2018["id"], y2018["employed"])]
    )
    worker.run_once(now=T0 + timedelta(hours=4))
    w11 = store.window(w11.id)
    assert w11 is not None and w11.n_labelled == 1500
    assert w11.summary["realised"]["accuracy"]["n"] == 1500
    assert list(AlertBook(store).firing) == ["drift.n_drifted <= 0"] and len(sent) == 1
