"""geofence: geographic access policies for API servers."""

from __future__ import annotations
