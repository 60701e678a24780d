"""Progress of ``geofence feeds update``: one live rich bar per feed on a terminal, one plain
line per finished feed otherwise (``replay`` has its own bar, in ``geofence.cli.replay``)."""

from __future__ import annotations

import logging
import threading
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn

__all__ = ["FeedProgress", "QuietFeedFailures"]


class FeedProgress:
    """``feeds update`` progress: ``downloading(name, done, total)``, then ``finished(line)``."""

    def __init__(self, stream: TextIO, names: list[str], live: bool) -> None:
        self.stream, self.live = stream, live
        self._lock = threading.Lock()
        self._tasks: dict[str, TaskID] = {}
        self._bars: Progress | None = None
        if live:
            self._bars = Progress(
                TextColumn("{task.description:<24}"),
                BarColumn(),
                DownloadColumn(),
                TextColumn("{task.fields[state]}"),
                console=Console(file=stream),
                transient=False,
            )
            for name in names:
                self._tasks[name] = self._bars.add_task(name, total=None, state="waiting")

    def __enter__(self) -> FeedProgress:
        if self._bars is not None:
            self._bars.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bars is not None:
            self._bars.stop()

    def downloading(self, name: str, done: int, total: int | None) -> None:
        """Called from the download threads as bytes arrive."""
        if self._bars is not None and name in self._tasks:
            self._bars.update(self._tasks[name], completed=done, total=total, state="")

    def finished(self, name: str, state: str, line: str) -> None:
        """One feed is done: its bar says ``state``; without bars, ``line`` is printed."""
        with self._lock:
            if self._bars is not None and name in self._tasks:
                task = self._tasks[name]
                self._bars.update(task, state=state, total=1, completed=1)
            else:
                self.stream.write(line + "\n")
                self.stream.flush()


class QuietFeedFailures(logging.Filter):
    """While installed, the per-feed "not refreshed" log lines are dropped: ``feeds update``
    prints each outcome itself, so a failure is said once."""

    def __init__(self) -> None:
        super().__init__()
        self._logger = logging.getLogger("geofence.feeds")

    def filter(self, record: logging.LogRecord) -> bool:
        return "not refreshed" not in record.getMessage()

    def __enter__(self) -> QuietFeedFailures:
        self._logger.addFilter(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self._logger.removeFilter(self)
