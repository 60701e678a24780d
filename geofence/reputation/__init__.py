"""Reputation feeds: labelled range sets built from published lists (Tor, VPN, hosting...)."""

from __future__ import annotations

from geofence.reputation.range_builder import parse_range
from geofence.reputation.ranges import RangeSet

__all__ = ["RangeSet", "parse_range"]
