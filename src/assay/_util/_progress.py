"""The engine's progress display: a Rich bar with rate and ETA, or nothing at all."""

from __future__ import annotations

from types import TracebackType
from typing import Any

__all__ = ["ProgressDisplay"]


class ProgressDisplay:
    """A context manager over one Rich progress bar; a no-op when ``enabled`` is false.

    Rich is imported only when a bar is shown, so quiet runs (tests, the service) never touch the
    terminal.
    """

    def __init__(self, *, enabled: bool, total: int, description: str, console: Any = None) -> None:
        self._enabled = enabled and total > 0
        self._total = total
        self._description = description
        self._console = console
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> ProgressDisplay:
        if not self._enabled:
            return self
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        console = self._console if self._console is not None else Console(stderr=True)
        self._progress = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self._progress.start()
        self._task = self._progress.add_task(self._description, total=self._total, rate="")
        return self

    def advance(self, n: int) -> None:
        if self._progress is None:
            return
        self._progress.advance(self._task, n)
        speed = self._progress.tasks[0].speed
        rate = f"{speed:.1f} ex/s" if speed else ""
        self._progress.update(self._task, rate=rate)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
