"""geofence: geographic access policies for API servers.

One ``Geofence`` per process; one ``evaluate()`` per request::

    from geofence import Geofence

    gf = Geofence(policy="policy.yaml", trusted_proxies=["private"])
    decision = gf.evaluate(request)          # str address, Request, ASGI scope or WSGI environ
    if not decision.allowed:
        ...                                   # decision.status, decision.rule, decision.reasons
"""

from __future__ import annotations

from geofence.client_ip import ClientIP, TrustedProxies
from geofence.decision import Decision
from geofence.embedded import default_geo_paths, example_policy_path
from geofence.engine import Geofence
from geofence.errors import (
    AddressError,
    ConfigurationError,
    DataError,
    GeofenceError,
    PolicyError,
)
from geofence.facts import Facts, GeoRecord
from geofence.geo import GeoSource, MMDBSource
from geofence.net import Address, Via, normalize
from geofence.policy import Action, Mode, Policy, load_policy
from geofence.request import Request
from geofence.vocab.signals import Signal

__version__ = "0.1.0"

__all__ = [
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
