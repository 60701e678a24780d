"""The feed-refresh life cycle of a ``Geofence``: background refresh started and stopped.

A mixin, so ``Geofence`` keeps one public face while this module owns the two ways a refresh
runs (a thread for WSGI workers, an asyncio task for the ASGI middleware's lifespan) and how
each is stopped. It reads only ``self._feeds``.
"""

from __future__ import annotations

from geofence.reputation.feedset import FeedSet
from geofence.reputation.fetch import AsyncRefresher, Refresher

__all__ = ["FeedRefresh"]


class FeedRefresh:
    """``start``/``stop`` (thread) and ``astart``/``astop`` (asyncio task) of the feed refresh."""

    _feeds: FeedSet | None

    def start(self, interval: float = 60.0) -> None:
        """Refresh the feeds in a background thread; a no-op without ``feeds=``.

        For WSGI servers: call it in each worker process, after the fork.
        """
        if self._feeds is not None and self._feeds.refresher is None:
            Refresher(self._feeds, interval).start()

    def stop(self) -> None:
        """Stop the background refresh (``close()`` does this too)."""
        feeds = self._feeds
        if feeds is not None and isinstance(feeds.refresher, Refresher):
            feeds.refresher.stop()
            feeds.refresher = None

    async def astart(self, interval: float = 60.0) -> None:
        """Refresh the feeds in an asyncio task on the running loop; a no-op without feeds."""
        if self._feeds is not None and self._feeds.refresher is None:
            self._feeds.refresher = AsyncRefresher(self._feeds, interval).start()

    async def astop(self) -> None:
        """Cancel and await the refresh task started by ``astart()``."""
        feeds = self._feeds
        if feeds is not None and isinstance(feeds.refresher, AsyncRefresher):
            await feeds.refresher.stop()
            feeds.refresher = None
