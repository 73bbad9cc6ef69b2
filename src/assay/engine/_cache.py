"""``ResponseCache``: answered model calls in one SQLite file, keyed by content key."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from assay._types import Output, Response

__all__ = ["ResponseCache"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    output TEXT NOT NULL,
    latency_s REAL NOT NULL,
    fingerprint TEXT NOT NULL,
    created REAL NOT NULL
)
"""

# SQLite limits the number of ``?`` parameters in one statement (999 in old builds).
_CHUNK = 900


def _json_default(value: Any) -> Any:
    # numpy scalars and arrays that slipped through an adapter
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


class ResponseCache:
    """Successful model answers, stored by content key in a SQLite file (WAL mode).

    One table, ``responses(key, output, latency_s, fingerprint, created)``: ``output`` is the
    ``Output`` as JSON, ``fingerprint`` the model's fingerprint when it answered and ``created`` a
    Unix time. Only outputs are stored — never payloads, parameters or error messages — so nothing
    a user sent to a model (or a secret in an adapter's error) lands in the file.

    Every :meth:`put_many` commits, so answers written before a crash (even ``SIGKILL``) are
    there for the next run. The connection may be used from any thread, one at a time: the
    engine commits each answer as it settles, from whichever thread settled it, under a lock.

    Args:
        path: the database file; its folder is created when missing.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> with ResponseCache(d / "cache.db") as cache:
        ...     n = cache.put_many([Response("k1", Output(label="a"), 0.01)], fingerprint="fp")
        ...     hit = cache.get_many(["k1", "k2"], fingerprint="fp")
        >>> sorted(hit), hit["k1"].output.label, hit["k1"].cached
        (['k1'], 'a', True)
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # The engine commits answers from its worker threads (under its own lock, one writer at a
        # time), so the connection may be used from a thread other than the one that opened it.
        self._conn = sqlite3.connect(str(self.path), timeout=30.0, check_same_thread=False)
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL is durable against a killed process in WAL mode (only an OS crash may lose
            # the last commits), and much faster than FULL.
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(_SCHEMA)
            self._conn.commit()
        except sqlite3.DatabaseError:
            self._conn.close()
            raise

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._conn.close()

    def __len__(self) -> int:
        (n,) = self._conn.execute("SELECT COUNT(*) FROM responses").fetchone()
        return int(n)

    def get_many(
        self, keys: Iterable[str], *, fingerprint: str | None = None
    ) -> dict[str, Response]:
        """The cached answers among ``keys`` (absent keys are left out).

        Args:
            keys: content keys.
            fingerprint: when given, only answers recorded for this model fingerprint count.
                Keys already include the fingerprint; this guards against requests built with a
                stale one.

        Returns:
            key → ``Response`` with ``cached=True``, the latency measured when first asked and
            when that was (``measured_at``).
        """
        out: dict[str, Response] = {}
        for chunk in _chunks(list(dict.fromkeys(keys)), _CHUNK):
            marks = ",".join("?" * len(chunk))
            sql = (
                "SELECT key, output, latency_s, fingerprint, created FROM responses"
                f" WHERE key IN ({marks})"
            )
            for key, output, latency, fp, created in self._conn.execute(sql, chunk):
                if fingerprint is not None and fp != fingerprint:
                    continue
                out[key] = Response(
                    key=key,
                    output=Output.from_dict(json.loads(output)),
                    latency_s=float(latency),
                    cached=True,
                    measured_at=float(created),
                )
        return out

    def put_many(self, responses: Iterable[Response], *, fingerprint: str) -> int:
        """Store the successful ones among ``responses`` and commit; errors are skipped.

        Returns:
            how many were stored.
        """
        now = time.time()
        rows = [
            (
                r.key,
                json.dumps(r.output.to_dict(), default=_json_default, separators=(",", ":")),
                float(r.latency_s),
                fingerprint,
                now,
            )
            for r in responses
            if r.ok and r.output is not None
        ]
        if rows:
            with self._conn:  # commits, or rolls back on error
                self._conn.executemany(
                    "INSERT OR REPLACE INTO responses"
                    " (key, output, latency_s, fingerprint, created) VALUES (?, ?, ?, ?, ?)",
                    rows,
                )
        return len(rows)


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
