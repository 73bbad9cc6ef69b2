"""ResponseCache: the SQLite file behind the engine."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from assay.engine import Response, ResponseCache
from assay.models import Output


def test_put_then_get_round_trips_outputs_and_latency(tmp_path: Path) -> None:
    out = Output(label="pos", probabilities={"pos": 0.75, "neg": 0.25}, usage={"tokens": 3.0})
    before = time.time()
    with ResponseCache(tmp_path / "sub" / "c.db") as cache:
        assert cache.put_many([Response("k", out, 0.125)], fingerprint="fp") == 1
        got = cache.get_many(["k", "absent"], fingerprint="fp")
        assert len(cache) == 1
    assert list(got) == ["k"]
    # when it was answered comes back too: a report says how old cached timings are
    measured = got["k"].measured_at
    assert measured is not None and before <= measured <= time.time()
    assert got["k"] == Response("k", out, 0.125, cached=True, measured_at=measured)


def test_errors_are_never_stored(tmp_path: Path) -> None:
    with ResponseCache(tmp_path / "c.db") as cache:
        n = cache.put_many(
            [
                Response("bad", None, 0.1, error="ValueError: no"),
                Response("ok", Output(value=1.5), 0.1),
            ],
            fingerprint="fp",
        )
        assert n == 1 and set(cache.get_many(["bad", "ok"])) == {"ok"}


def test_another_fingerprint_does_not_match(tmp_path: Path) -> None:
    with ResponseCache(tmp_path / "c.db") as cache:
        cache.put_many([Response("k", Output(label="a"), 0.1)], fingerprint="v1")
        assert cache.get_many(["k"], fingerprint="v2") == {}
        assert set(cache.get_many(["k"])) == {"k"}


def test_file_is_wal_and_holds_only_outputs(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    with ResponseCache(path) as cache:
        cache.put_many([Response("k", Output(text="hello"), 0.2)], fingerprint="fp")
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        cols = [r[1] for r in conn.execute("PRAGMA table_info(responses)")]
        assert cols == ["key", "output", "latency_s", "fingerprint", "created"]
        (row,) = conn.execute("SELECT key, output, fingerprint FROM responses").fetchall()
        assert row == ("k", '{"text":"hello"}', "fp")
    finally:
        conn.close()


def test_many_keys_are_looked_up_in_chunks(tmp_path: Path) -> None:
    keys = [f"k{i}" for i in range(2500)]  # more than SQLite's parameter limit in one query
    with ResponseCache(tmp_path / "c.db") as cache:
        cache.put_many([Response(k, Output(label="x"), 0.0) for k in keys], fingerprint="fp")
        assert len(cache.get_many(keys, fingerprint="fp")) == 2500
