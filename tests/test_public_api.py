"""The top-level names users import are exactly these: adding or removing one is a decision."""

from __future__ import annotations

import geofence


def test_all_is_pinned_and_sorted() -> None:
    assert geofence.__all__ == [
        "Action",
        "Address",
        "AddressError",
        "ClientIP",
        "ConfigurationError",
        "DataError",
        "Decision",
        "Facts",
        "GeoRecord",
        "GeoSource",
        "Geofence",
        "GeofenceError",
        "MMDBSource",
        "Mode",
        "Policy",
        "PolicyError",
        "Request",
        "Signal",
        "TrustedProxies",
        "Via",
        "__version__",
        "default_geo_paths",
        "example_policy_path",
        "load_policy",
        "normalize",
    ]
    for name in geofence.__all__:
        assert hasattr(geofence, name), name


def test_error_tree() -> None:
    assert issubclass(geofence.PolicyError, geofence.ConfigurationError)
    assert issubclass(geofence.DataError, geofence.ConfigurationError)
    assert issubclass(geofence.ConfigurationError, geofence.GeofenceError)
    assert issubclass(geofence.AddressError, ValueError)
    assert issubclass(geofence.AddressError, geofence.GeofenceError)
