"""Compatibility name for ``geofence.vocab.feeds`` (the feed catalog and ``FeedSpec``)."""

from geofence.vocab.feeds import CATALOG, DAY, EMBEDDED, FeedSpec, named_feeds, unknown_feed

__all__ = ["CATALOG", "DAY", "EMBEDDED", "FeedSpec", "named_feeds", "unknown_feed"]
