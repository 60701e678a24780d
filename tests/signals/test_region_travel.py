"""The travel signal reads the region layer's coordinates, not the country centroid.

Real DB-IP networks from ``tests/data/regions``: Utah and Texas are one country (one centroid,
so a centroid-only locator sees no travel at all), and ~1,500 km apart.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from geofence import Geofence, Request
from geofence.signals.geometry import haversine_km
from tests.geo.regions_sample import Network, networks

T0 = datetime(2026, 6, 1, tzinfo=timezone.utc)
JET = {"name": "jet", "action": "deny", "signals": {"travel_kmh": "> 800"}}


def _first(code: str) -> Network:
    return next(net for net in networks() if net.code == code)


def test_travel_within_one_country_uses_the_region_layers_coordinates() -> None:
    utah, texas = _first("US-UT"), _first("US-TX")
    gf = Geofence({"name": "p", "default": "allow", "rules": [JET]}, store="memory://")
    try:
        first = gf.evaluate(Request(ip=utah.addresses()[0], account="t", time=T0))
        second = gf.evaluate(
            Request(ip=texas.addresses()[0], account="t", time=T0 + timedelta(hours=1))
        )
    finally:
        gf.close()
    assert (first.country, second.country) == ("US", "US")
    assert (first.regions, second.regions) == (("US-UT",), ("US-TX",))
    assert first.location is not None
    assert second.location is not None
    # The shipped coordinate stays near DB-IP's own (the layer's error bound is well under this).
    assert haversine_km(*first.location, utah.latitude, utah.longitude) < 400
    assert haversine_km(*second.location, texas.latitude, texas.longitude) < 400
    travelled = haversine_km(*first.location, *second.location)
    assert travelled > 800
    signal = second.signals["travel_kmh"]
    assert signal.value == round(travelled, 1)
    assert f"{travelled:.0f} km in 1.00 h" in signal.evidence
    assert second.rule == "jet"


def test_a_crimean_network_filed_under_ru_travels_from_its_own_coordinates() -> None:
    crimea = next(net for net in networks() if net.country_code == "RU" and net.code == "UA-43")
    moscow = _first("RU-MOW")
    gf = Geofence({"name": "p", "default": "allow", "rules": [JET]}, store="memory://")
    try:
        gf.evaluate(Request(ip=moscow.addresses()[0], account="c", time=T0))
        there = gf.evaluate(
            Request(ip=crimea.addresses()[0], account="c", time=T0 + timedelta(hours=1))
        )
    finally:
        gf.close()
    assert there.country == "UA"
    assert there.facts.attributed_country == "RU"
    assert there.location is not None
    assert haversine_km(*there.location, crimea.latitude, crimea.longitude) < 400
    assert there.signals["travel_kmh"].value > 800
