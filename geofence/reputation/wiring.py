"""How ``Geofence`` uses feeds: composed after the geo databases, and as trusted-proxy groups."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from geofence.geo import CompositeGeo, GeoSource
from geofence.reputation.feedset import FeedSet
from geofence.vocab.feeds import CATALOG

__all__ = ["feed_sets", "proxy_groups", "with_feeds"]

log = logging.getLogger("geofence")


def with_feeds(geo: GeoSource, feeds: FeedSet | None) -> GeoSource:
    """``geo`` with ``feeds`` composed after it (tags are unioned), or ``geo`` alone."""
    if feeds is None:
        return geo
    sources = geo.sources if isinstance(geo, CompositeGeo) else (geo,)
    return CompositeGeo([*sources, feeds])


def feed_sets(geo: GeoSource) -> tuple[FeedSet, ...]:
    """The ``FeedSet`` sources inside ``geo``."""
    sources = geo.sources if isinstance(geo, CompositeGeo) else (geo,)
    return tuple(s for s in sources if isinstance(s, FeedSet))


def proxy_groups(
    specs: Iterable[object], feeds: FeedSet | None
) -> dict[str, Callable[[bytes], bool]]:
    """Trusted-proxy groups for the feed or group names among ``specs`` (``"cloudflare"``).

    From the configured ``feeds`` when they hold the name (so a refresh updates the group),
    else from the catalog's shipped snapshot of it.
    """
    groups: dict[str, Callable[[bytes], bool]] = {}
    for spec in specs:
        if not isinstance(spec, str):
            continue
        name = spec.lower()
        check = None if feeds is None else feeds.group(name)
        if check is None:
            members = [s for s in CATALOG.values() if name in (s.name, s.group) and s.snapshot]
            if not members:
                continue
            check = FeedSet(members).group(name)
        if check is not None:
            groups[name] = check
    return groups
