"""Tumbling windows over the current data: by a count of rows, or by a time column and a period.

A window is a set of row positions into the current table, so every consumer (drift per window,
label-free performance per window, the monitor) slices the same rows the same way. Nothing is
dropped silently: a row whose time is missing or unreadable is counted in
``Windows.n_without_time``; a period with no rows is kept as an empty window (``n == 0``) so a gap
in the traffic shows in the result instead of vanishing; the last count window may be short and
says so through its ``n``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from assay.errors import ConfigError, DataError

__all__ = ["MAX_WINDOWS", "Window", "Windows", "tumbling_windows"]

#: More windows than this is a period chosen by mistake (seconds over years), not a plan.
MAX_WINDOWS = 100_000


@dataclass(frozen=True)
class Window:
    """One tumbling window of the current data.

    Attributes:
        index: 0-based position of the window in time (or row) order.
        label: how the window is shown: ``"2016-01-01 .. 2016-02-01"`` or ``"rows 1-1000"``
            (1-based and inclusive, as a user counts rows).
        start: the first timestamp the window covers (inclusive), or the first row (0-based).
        end: the first timestamp after the window (exclusive), or one past the last row.
        rows: positions (0-based, ``int64``) of the window's rows in the current table, in table
            order.
    """

    index: int
    label: str
    start: pd.Timestamp | int
    end: pd.Timestamp | int
    rows: np.ndarray = field(repr=False, compare=False)

    @property
    def n(self) -> int:
        """Number of rows in the window (0 for a period without traffic)."""
        return int(self.rows.size)


@dataclass(frozen=True)
class Windows:
    """The windows of one table and how they were cut.

    Attributes:
        windows: the windows, in order.
        by: ``"count"`` or ``"time"``.
        rule: the rule in words (``"tumbling windows of 1000 rows"``,
            ``"tumbling windows of 7D on column 'date'"``), for the result and the report.
        n_rows: rows in the table.
        n_without_time: rows left out of every window because their time is missing or
            unreadable (always 0 for count windows).
    """

    windows: tuple[Window, ...]
    by: str
    rule: str
    n_rows: int
    n_without_time: int = 0

    def __iter__(self) -> Iterator[Window]:
        return iter(self.windows)

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> Window:
        return self.windows[index]

    @property
    def n_empty(self) -> int:
        """Windows without a row (periods without traffic)."""
        return sum(1 for w in self.windows if w.n == 0)


def tumbling_windows(
    data: pd.DataFrame | int,
    *,
    size: int | None = None,
    time_column: str | None = None,
    every: str | None = None,
) -> Windows:
    """Cut the rows of ``data`` into consecutive, non-overlapping windows.

    Give either ``size`` (rows per window, in table order) or ``time_column`` and ``every`` (a
    pandas period such as ``"1D"``, ``"7D"``, ``"1h"``, ``"MS"`` for calendar months or ``"YS"``
    for years). Time windows start at the period boundary at or before the earliest time
    (midnight for days, the 1st for months) and run to the latest; empty periods between are kept.

    Args:
        data: the current table, or just its number of rows for count windows.
        size: rows per window (> 0); the last window holds the remainder.
        time_column: the column holding each row's time (datetimes, or text/numbers pandas can
            read as datetimes).
        every: the window length for time windows.

    Returns:
        The windows, with the rule in words and the count of rows without a time.

    Raises:
        ConfigError: neither or both ways are given, ``size`` is not positive, ``every`` is
            not a pandas period.
        DataError: ``time_column`` is not a column of ``data`` or holds no readable time.

    Example:
        >>> import pandas as pd
        >>> w = tumbling_windows(pd.DataFrame({"x": range(5)}), size=2)
        >>> [x.n for x in w], w[2].label
        ([2, 2, 1], 'rows 5-5')
    """
    if (size is None) == (time_column is None):
        raise ConfigError(
            "windows: give either size (rows per window) or time_column and every "
            "(e.g. time_column='date', every='7D'), not both and not neither"
        )
    if size is not None:
        n_rows = data if isinstance(data, int) else len(data)
        return _count_windows(n_rows, size)
    if isinstance(data, int):
        raise ConfigError("windows: time windows need the table, not only its number of rows")
    if every is None:
        raise ConfigError(
            f"windows: time_column={time_column!r} needs every= (a pandas period such as "
            "'1D', '7D', '1h' or 'MS' for calendar months)"
        )
    return _time_windows(data, str(time_column), every)


def _count_windows(n_rows: int, size: int) -> Windows:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size <= 0:
        raise ConfigError(f"windows: size must be a positive whole number of rows, got {size!r}")
    size = int(size)
    windows = tuple(
        Window(
            index=i,
            label=f"rows {start + 1}-{min(start + size, n_rows)}",
            start=start,
            end=min(start + size, n_rows),
            rows=np.arange(start, min(start + size, n_rows), dtype=np.int64),
        )
        for i, start in enumerate(range(0, n_rows, size))
    )
    return Windows(windows, by="count", rule=f"tumbling windows of {size} rows", n_rows=n_rows)


def _offset(every: str) -> pd.DateOffset:
    try:
        return pd.tseries.frequencies.to_offset(every)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"windows: every={every!r} is not a pandas period; use e.g. '1D', '7D', '1h', "
            "'W-MON', 'MS' (calendar months) or 'YS' (years)"
        ) from exc


def _as_times(data: pd.DataFrame, time_column: str) -> pd.Series:
    if time_column not in data.columns:
        raise DataError(
            f"windows: time_column {time_column!r} is not a column of the current data; "
            f"its columns are {_names(data.columns)}"
        )
    column = data[time_column]
    if pd.api.types.is_datetime64_any_dtype(column):
        return column.reset_index(drop=True)
    times = pd.to_datetime(column, errors="coerce", format="mixed")
    return times.reset_index(drop=True)


def _time_windows(data: pd.DataFrame, time_column: str, every: str) -> Windows:
    offset = _offset(every)
    times = _as_times(data, time_column)
    known = times.notna().to_numpy()
    n_without_time = int((~known).sum())
    rule = f"tumbling windows of {every} on column {time_column!r}"
    if not known.any():
        raise DataError(
            f"windows: column {time_column!r} holds no readable time in {len(data)} rows; "
            "give it datetimes or ISO dates such as 2024-05-01"
        )
    first, last = times[known].min(), times[known].max()
    if isinstance(offset, pd.offsets.Tick):
        start = first.floor(offset)
    else:
        start = offset.rollback(first.normalize())
    # Edges up to the first one past the latest time: each row falls in [edge_i, edge_i+1).
    edges = [start]
    while edges[-1] <= last:
        edges.append(edges[-1] + offset)
        if len(edges) > MAX_WINDOWS + 1:
            raise ConfigError(
                f"windows: every={every!r} cuts {first} .. {last} into more than "
                f"{MAX_WINDOWS} windows; choose a longer period"
            )
    edges_ns = pd.DatetimeIndex(edges).as_unit("ns").asi8
    times_ns = np.asarray(times.dt.as_unit("ns").astype("int64"))
    slot = np.full(len(times), -1, dtype=np.int64)
    slot[known] = np.searchsorted(edges_ns, times_ns[known], side="right") - 1
    order = np.argsort(slot, kind="stable")
    bounds = np.searchsorted(slot[order], np.arange(len(edges)), side="left")
    windows = tuple(
        Window(
            index=i,
            label=f"{_stamp(edges[i])} .. {_stamp(edges[i + 1])}",
            start=edges[i],
            end=edges[i + 1],
            rows=np.sort(order[bounds[i] : bounds[i + 1]]).astype(np.int64),
        )
        for i in range(len(edges) - 1)
    )
    return Windows(windows, by="time", rule=rule, n_rows=len(data), n_without_time=n_without_time)


def _stamp(t: pd.Timestamp) -> str:
    return str(t.date()) if t == t.normalize() else t.isoformat()


def _names(columns: Sequence[object] | pd.Index) -> str:
    names = [str(c) for c in columns]
    shown = ", ".join(names[:20])
    return shown + (f", ... ({len(names)} in all)" if len(names) > 20 else "")
