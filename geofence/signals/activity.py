"""The ``activity_hours`` signal: how many hours of the day an account was active.

A person works an API in a few sessions a day; a farm's scheduler spreads each account's
quota over the operator's whole working day (research/accounts.md section 0: synchronised
bursts, each account under its per-account limits), so one account shows up in most hours of
one time zone's day. The signal is the number of distinct UTC hours of the day (0-23) in
which the account made a request within the window: one ``distinct`` counter in the
account's own group (the same Redis Cluster hash slot as its other counters), at most 24
members, so its memory is bounded whatever the client sends.

It is weak alone (a customer's backend on a server calls all day too), so its default weight
keeps it below a challenge by itself: it corroborates a shared fingerprint or network.
"""

from __future__ import annotations

from geofence.store import Op

__all__ = ["NAME", "activity_evidence", "activity_op", "hour_of_day"]

NAME = "activity_hours"
_COUNTER = "hrs"


def hour_of_day(t: float) -> int:
    """The UTC hour of day (0-23) of epoch seconds ``t``."""
    return int(t // 3600) % 24


def activity_op(group: str, t: float, window_s: float) -> Op:
    """The update that records the hour of ``t`` for the account ``group``."""
    return Op("distinct", group, _COUNTER, str(hour_of_day(t)), window_s=window_s)


def activity_evidence(hours: int) -> tuple[str, ...]:
    """The evidence line of ``hours`` active hours."""
    return (f"active in {hours} of 24 hours of the day (UTC)",)
