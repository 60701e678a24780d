"""Compatibility name for ``geofence.vocab.tags`` (the tag vocabulary moved there)."""

from geofence.vocab.tags import *  # noqa: F403  (the same names, one list of them)
from geofence.vocab.tags import __all__ as __all__
