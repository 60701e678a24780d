"""Test helpers: real static sources, request builders, and assertions that explain themselves.

>>> from geofence import Geofence
>>> policy = {"name": "p", "default": "allow", "rules": [
...     {"name": "embargoed", "action": "deny", "countries": ["CU"]},
...     {"name": "vpn", "action": "challenge", "tags": ["vpn"]}]}
>>> gf = Geofence(policy, geo=StaticGeo({"152.206.0.0/16": {"country": "CU"}}))
>>> assert_denied(gf.evaluate("152.206.1.1"), rule="embargoed").status
451
>>> d = decide_facts(policy, {"country": "US", "tags": ["vpn"]})
>>> assert_decision(d, action="challenge").rule
'vpn'

The pytest plugin (``geofence.testing.plugin``, registered as a ``pytest11`` entry point) runs
``*.geofence.yaml`` / ``*.geofence.toml`` case files; ``geofence.testing.cases`` loads them.
"""

from __future__ import annotations

from geofence.testing.asserts import (
    ANY,
    STAND_IN_ADDRESS,
    assert_allowed,
    assert_decision,
    assert_denied,
    decide_facts,
    describe,
    make_request,
)
from geofence.testing.static import StaticGeo, StaticReputation, geo_record

__all__ = [
    "ANY",
    "STAND_IN_ADDRESS",
    "StaticGeo",
    "StaticReputation",
    "assert_allowed",
    "assert_decision",
    "assert_denied",
    "decide_facts",
    "describe",
    "geo_record",
    "make_request",
]
