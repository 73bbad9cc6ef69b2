"""The monitor's store, the same tests on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from _monitor_parts import event
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from assay.monitor._schema import Event, Label
from assay.monitor._store import Store
from assay.monitor._tables import metadata

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)


def _events(ids: range | list[int], version: str = "v1", **over: object) -> list[Event]:
    return [
        Event.model_validate(
            event(
                i,
                model_version=version,
                timestamp=(T0 + timedelta(minutes=int(i))).isoformat(),
                **over,
            )
        )
        for i in ids
    ]


def test_migrations_make_the_tables_the_store_uses(store: Store) -> None:
    store.migrate()  # a second run is a no-op
    with store.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"version_table": "monitor_alembic_version"}),
            metadata,
        )
    assert diff == []
    assert "monitor_alembic_version" in inspect(store.engine).get_table_names()


def test_resent_events_are_counted_once(store: Store) -> None:
    first = store.add_events(_events(range(10)))
    again = store.add_events(_events(range(5, 15)))
    assert (first.n_new, first.n_duplicate) == (10, 0)
    assert (again.n_new, again.n_duplicate) == (5, 5)
    # a batch that repeats an event inside itself stores it once as well
    inside = store.add_events(_events([20, 20, 21]))
    assert (inside.n_new, inside.n_duplicate) == (2, 1)
    ids = [e.event_id for e in store.events()]
    assert len(ids) == len(set(ids)) == store.count_events() == 17


def test_a_shadow_version_is_stored_beside_production(store: Store) -> None:
    store.add_events(_events(range(3), "prod"))
    result = store.add_events(_events(range(3), "candidate", prediction="0"))
    assert (result.n_new, result.n_duplicate) == (3, 0)
    assert store.count_events(model_version="candidate") == 3
    labels = store.add_labels([Label(event_id="e-1", label="1")])
    assert (labels.n_applied, labels.n_pending) == (1, 0)
    labelled = {(e.model_version, e.label) for e in store.events() if e.event_id == "e-1"}
    assert labelled == {("prod", "1"), ("candidate", "1")}


def test_a_label_before_its_event_is_kept_until_the_event_arrives(store: Store) -> None:
    result = store.add_labels([Label(event_id="e-7", label=0), Label(event_id="e-8", label="1")])
    assert (result.n_applied, result.n_pending) == (0, 2)
    store.add_labels([Label(event_id="e-8", label="0")])  # a later label replaces the pending one
    assert {p.event_id: p.label for p in store.pending_labels()} == {"e-7": 0, "e-8": "0"}
    store.add_events(_events([8, 9]))
    assert [p.event_id for p in store.pending_labels()] == ["e-7"]
    assert {e.event_id: e.label for e in store.events()} == {"e-8": "0", "e-9": None}


def test_pending_labels_older_than_a_limit(store: Store) -> None:
    store.add_labels([Label(event_id="x", label=1)])
    now = datetime.now(timezone.utc)
    assert store.count_pending_labels(older_than=now - timedelta(hours=1)) == 0
    assert [p.event_id for p in store.pending_labels(older_than=now + timedelta(seconds=1))] == [
        "x"
    ]


def test_events_come_back_in_time_order_with_their_fields(store: Store) -> None:
    store.add_events(_events([5, 1, 3]))
    got = store.events()
    assert [e.event_id for e in got] == ["e-1", "e-3", "e-5"]
    e = got[0]
    assert e.timestamp == T0 + timedelta(minutes=1)
    assert e.inputs == {"AGEP": 35, "SCHL": 21, "text": "a secret-ish input"}
    assert (e.prediction, e.probabilities, e.groups, e.latency_ms) == (
        "1",
        {"0": 0.3, "1": 0.7},
        {"sex": "female"},
        12.5,
    )
    window = store.events(start=T0 + timedelta(minutes=2), end=T0 + timedelta(minutes=5))
    assert [x.event_id for x in window] == ["e-3"]
    assert [x.event_id for x in store.events(after_seq=got[0].seq)] != []
    assert len(store.events(limit=2)) == 2


def test_times_are_stored_in_utc_and_a_time_without_offset_is_utc(store: Store) -> None:
    store.add_events(
        [
            Event.model_validate(event(1, timestamp="2026-12-07T12:00:00+02:00")),
            Event.model_validate(event(2, timestamp="2026-12-07T10:30:00")),
        ]
    )
    got = {e.event_id: e.timestamp for e in store.events()}
    assert got == {"e-1": T0, "e-2": T0 + timedelta(minutes=30)}
    assert store.count_events(start=T0, end=T0 + timedelta(minutes=1)) == 1


def test_numbers_and_strings_keep_their_type(store: Store) -> None:
    store.add_events([Event.model_validate(event(1, prediction=2, label=2.5))])
    (e,) = store.events()
    assert (e.prediction, e.label) == (2, 2.5)


def test_nul_and_odd_characters_in_values_round_trip(store: Store) -> None:
    odd = {"t\x00k": "a\x00b", "emoji": "🙂", "ctl": "\x01\x1f"}
    store.add_events(_events([1], inputs=odd, groups={"g": "x\x00"}, prediction="p\x00"))
    (e,) = store.events()
    assert (e.inputs, e.groups, e.prediction) == (odd, {"g": "x\x00"}, "p\x00")


def test_inputs_can_be_kept_truncated(db_url: str) -> None:
    store = Store(db_url, store_inputs="truncate:4")
    store.migrate()
    store.add_events(_events([1], inputs={"AGEP": 35, "text": "a long text"}))
    assert store.events()[0].inputs == {"AGEP": 35, "text": "a lo"}
    store.close()


def test_inputs_can_be_kept_as_keyed_hashes(db_url: str) -> None:
    inputs = {"AGEP": 35, "text": "Jane Doe, 12 Main St"}
    store = Store(db_url, store_inputs="hash", input_hash_key="key-1")
    store.migrate()
    store.add_events(_events([1, 2], inputs=inputs))
    a, b = store.events()
    assert set(a.inputs) == {"AGEP", "text"}
    assert a.inputs == b.inputs  # equal values hash equal: categorical drift can still be measured
    assert all(v.startswith("hmac-sha256:") for v in a.inputs.values())
    assert "Jane" not in json.dumps(a.inputs)
    with store.engine.connect() as conn:
        raw = conn.exec_driver_sql("SELECT inputs FROM monitor_events").scalars().all()
    assert not any("Jane" in r for r in raw)
    other_key = Store("sqlite://", store_inputs="hash", input_hash_key="key-2")
    assert other_key._inputs.apply(inputs) != store._inputs.apply(inputs)
    store.close()


def test_a_window_is_claimed_once(store: Store) -> None:
    assert store.claim_window("2026-12-07T10") is True
    assert store.claim_window("2026-12-07T10") is False
    assert store.claim_window("2026-12-07T11") is True


def test_a_stale_claim_is_taken_over_once_unless_its_window_was_saved(store: Store) -> None:
    assert store.claim_window("a") and store.claim_window("b")
    time.sleep(0.05)
    stale = timedelta(seconds=0.01)
    assert store.claim_window("a", stale_after=timedelta(hours=1)) is False  # still fresh
    assert store.claim_window("a", stale_after=stale) is True  # its owner died: taken over
    assert store.claim_window("a", stale_after=timedelta(hours=1)) is False  # once
    store.save_window("b", T0, T0, 0, 0, None, {}, "{}")
    assert store.claim_window("b", stale_after=stale) is False  # scored: nothing to take over


def test_windows_and_alerts_round_trip(store: Store) -> None:
    summary = {"drift": {"share_drifted": 0.25}, "model_versions": ["v1"]}
    wid = store.save_window("k1", T0, T0 + timedelta(hours=1), 500, 0, False, summary, '{"r": 1}')
    again = store.save_window(
        "k1", T0, T0 + timedelta(hours=1), 500, 120, True, summary, '{"r": 2}'
    )
    assert again == wid  # labels arrived: the window is scored again, its id kept
    (row,) = store.windows()
    assert (row.n_labelled, row.passed, row.summary, row.report_json) == (120, True, summary, None)
    full = store.window(wid)
    assert full is not None and full.report_json == '{"r": 2}' and full.start == T0
    assert store.window(wid + 1) is None
    store.save_alert("drift.share_drifted <= 0.2", "firing", window_id=wid, value=0.25)
    store.save_alert("latency.p99_ms <= 100", "firing", window_id=wid, value=130.0)
    store.save_alert("latency.p99_ms <= 100", "resolved", window_id=wid, value=80.0)
    assert store.firing_gates() == ["drift.share_drifted <= 0.2"]
    assert [a.state for a in store.alerts()] == ["resolved", "firing", "firing"]
    assert len(store.alerts("firing")) == 2
    with pytest.raises(ValueError, match="firing"):
        store.save_alert("g", "on")


def test_prune_deletes_old_raw_events_and_keeps_windows(store: Store) -> None:
    store.add_events(_events(range(10)))
    store.save_window("k", T0, T0 + timedelta(hours=1), 10, 0, None, {}, "{}")
    store.save_alert("g", "firing")
    assert store.prune(T0 + timedelta(minutes=4)) == 4
    assert store.events()[0].event_id == "e-4"
    assert store.count_events() == 6
    assert len(store.windows()) == 1 and len(store.alerts()) == 1


def test_a_bad_url_says_what_to_write() -> None:
    from assay.errors import ConfigError

    with pytest.raises(ConfigError, match="sqlite:///monitor.db"):
        Store("not a url")
    with pytest.raises(ConfigError, match="mysql"):
        Store("mysql://x@y/z")
