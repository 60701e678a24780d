"""Compatibility name for ``geofence.vocab.codes`` (the ISO code vocabulary moved there)."""

from geofence.vocab.codes import *  # noqa: F403  (the same names, one list of them)
from geofence.vocab.codes import __all__ as __all__
