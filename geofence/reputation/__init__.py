"""Reputation feeds: labelled range sets built from published lists (Tor, VPN, hosting...)."""

from __future__ import annotations

from geofence.reputation.ranges import RangeSet, parse_range

__all__ = ["RangeSet", "parse_range"]
