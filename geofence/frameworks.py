"""What the Django, Flask and FastAPI integrations share: the install hint for a missing
framework, the ``identify=`` call, and evaluation from async code.

``identify(framework_request)`` returns the caller's account id (``str``) or ``None``; it is
the application's code, so an exception or a wrong type is logged and counts as "no account",
never an error response and never an allow by accident (the policy still decides).
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
from collections.abc import Callable
from types import ModuleType
from typing import Any

from geofence.decision import Decision
from geofence.engine import Geofence
from geofence.errors import ConfigurationError
from geofence.request import Request

__all__ = ["Identify", "aevaluate", "check_identify", "identified", "require"]

log = logging.getLogger("geofence.middleware")

Identify = Callable[[Any], object]
"""``identify(framework_request) -> account id or None``."""


def require(module: str, extra: str) -> ModuleType:
    """Import ``module``, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"geofence.{extra} needs {module}: pip install 'geofence-policy[{extra}]'"
        ) from None


def check_identify(adapter: str, identify: object) -> Identify | None:
    """``identify`` checked at construction: ``None`` or a callable."""
    if identify is not None and not callable(identify):
        raise ConfigurationError(
            f"{adapter}: identify must be a callable taking the request, not {identify!r}"
        )
    return identify


def identified(request: Request, identify: Identify | None, framework_request: object) -> Request:
    """``request`` with the account ``identify`` names (unchanged without one)."""
    if identify is None:
        return request
    try:
        account = identify(framework_request)
    except Exception:  # the application's code: log it, decide without an account
        log.exception("geofence: identify() failed; deciding without an account")
        return request
    if account is None:
        return request
    if not isinstance(account, str):
        log.error("geofence: identify() returned %s, not a str or None", type(account).__name__)
        return request
    return dataclasses.replace(request, account=account)


async def aevaluate(geofence: Geofence, request: Request) -> Decision:
    """``geofence.aevaluate(request)`` where the engine has it, else ``evaluate`` (the request
    path is one lookup, done inline, as the ASGI middleware does)."""
    method = getattr(geofence, "aevaluate", None)
    if method is not None:
        decision: Decision = await method(request)
        return decision
    return geofence.evaluate(request)
