"""The "feeds are stale" warning at start: said once per process per feed, with the fix.

Every ``Geofence()``, every worker of a fleet and every CLI command opens feeds; repeating the
same warning each time buries it. A feed is named the first time it is found stale in this
process, with the age of the data in service and the command that refreshes it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Protocol

__all__ = ["REFRESH_COMMAND", "forget_stale_warnings", "log_staleness", "warn_stale_at_start"]

log = logging.getLogger("geofence.feeds")

REFRESH_COMMAND = "geofence feeds update"
"""What refreshes the feeds (the README makes it a step of deployment)."""

_SHOWN = 4  # feeds named before "and N more"
_warned: set[str] = set()
_lock = threading.Lock()


class _Status(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def updated(self) -> float | None: ...


def warn_stale_at_start(stale: Iterable[_Status], now: float, on_stale: str) -> None:
    """Log one warning naming the stale feeds not named before in this process, oldest first."""
    with _lock:
        new = [s for s in stale if s.name not in _warned]
        _warned.update(s.name for s in new)
    if not new:
        return
    new.sort(key=lambda s: -1.0 if s.updated is None else s.updated)
    listed = ", ".join(f"{s.name} ({_age(s.updated, now)})" for s in new[:_SHOWN])
    if len(new) > _SHOWN:
        listed += f" and {len(new) - _SHOWN} more"
    log.warning(
        "geofence: feeds stale at start (older than their max_age): %s; on_stale=%s. "
        "Refresh them with `%s` (at deployment, then daily); `geofence feeds status` shows all",
        listed,
        on_stale,
        REFRESH_COMMAND,
    )


def forget_stale_warnings() -> None:
    """Warn again about every feed (tests, or a process that reconfigures its feeds)."""
    with _lock:
        _warned.clear()


def _age(updated: float | None, now: float) -> str:
    return "no data" if updated is None else f"{max(now - updated, 0) / 86400:.0f} days old"


def log_staleness(now_stale: frozenset[str], fresh: frozenset[str], on_stale: str) -> None:
    """Say when feeds pass their ``max_age`` (and what that does) or come back."""
    effect = {
        "keep": "still serving its last data",
        "open": "its ranges no longer match (on_stale=open)",
        "closed": "every address now gets its tag (on_stale=closed)",
    }[on_stale]
    for name in sorted(now_stale):
        log.warning("geofence: feed %s is stale (older than its max_age): %s", name, effect)
    for name in sorted(fresh):
        log.info("geofence: feed %s is current again", name)
