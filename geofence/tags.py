"""Compatibility name for ``geofence.vocab.tags`` (the tag vocabulary moved there)."""

from geofence.vocab.tags import (
    FEED_PREFIX,
    GEOFEED_PREFIX,
    KNOWN_TAGS,
    TAG_MEANINGS,
    check_tag,
    is_known_tag,
)

__all__ = [
    "FEED_PREFIX",
    "GEOFEED_PREFIX",
    "KNOWN_TAGS",
    "TAG_MEANINGS",
    "check_tag",
    "is_known_tag",
]
