"""``identify=``: the application's callable that says who is asking, checked and called safely.

Every face (the ASGI and WSGI middleware, the Django, Flask and FastAPI integrations) takes the
same callable, so an application wires its authentication once::

    def identify(request: Request) -> dict[str, object] | None:
        key = dict(request.headers).get("x-api-key")
        user = users.by_key(key)
        return None if user is None else {"account": user.id,
                                          "declared_country": user.billing_country,
                                          "account_created": user.created_at}

It receives the ``Request`` built from the scope or environ; one that takes two arguments also
gets the native request (the ASGI scope, the WSGI environ, Django's ``HttpRequest`` with
``request.user``, ``flask.request``, Starlette's ``Request``). It returns ``None`` (nobody
known), a mapping with any of ``account``, ``declared_country``, ``fingerprint``,
``account_created`` and ``time`` (``Request.with_caller``), or the account id as a ``str`` (an
empty one is no account).
Under ASGI and FastAPI it may be ``async``; a plain one runs on the event loop there, so keep
it to an in-memory lookup (a cache of API keys) or make it ``async``.

It is the application's code, so at request time it may break: if it raises, or returns an
unknown key, a value of the wrong type or anything but a mapping, the request gets the policy's
``unknown`` action (as any evaluation that fails does), with a reason naming ``identify``, and
the cause is logged. Deciding on the address alone instead would let a broken login path
switch the account checks off without anyone noticing.
"""

from __future__ import annotations

import difflib
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from geofence.decision import Decision
from geofence.engine import Geofence
from geofence.errors import ConfigurationError
from geofence.request import CALLER_FIELDS, Request

__all__ = ["Identifier", "IdentifyCallable"]

log = logging.getLogger("geofence.middleware")

IdentifyCallable = Callable[..., object]
"""``identify(request)`` or ``identify(request, native)`` -> mapping, account id or ``None``
(or an awaitable of one, under ASGI)."""

_LOGGED_AT_MOST = 64  # distinct contract messages logged at ERROR; repeats go to DEBUG


class Identifier:
    """One application's ``identify=``, checked at construction, called per request."""

    def __init__(self, adapter: str, identify: object, asynchronous: bool) -> None:
        if not callable(identify):
            raise ConfigurationError(
                f"{adapter}: identify must be a callable taking the request, not {identify!r}"
            )
        self.is_async = _is_async(identify)
        if self.is_async and not asynchronous:
            raise ConfigurationError(
                f"{adapter}: identify is async, but {adapter} calls it synchronously: "
                "give a plain function (async identify works under ASGI and FastAPI)"
            )
        self._call = identify
        self._native = _takes_two(identify)
        self._logged: set[str] = set()
        self._lock = threading.Lock()

    def decide(self, gf: Geofence, request: Request, native: object) -> tuple[Decision, Request]:
        """Identify the caller of ``request`` and decide it with ``gf.evaluate``."""
        try:
            result = self._result(request, native)
            if inspect.isawaitable(result):
                _close(result)
                return self._failed(gf, request, "identify() returned an awaitable here")
        except Exception as exc:
            return self._raised(gf, request, exc)
        caller = self._caller(request, result)
        if isinstance(caller, str):
            return self._failed(gf, request, caller)
        return gf.evaluate(caller), caller

    async def adecide(
        self, gf: Geofence, request: Request, native: object
    ) -> tuple[Decision, Request]:
        """``decide``'s async twin: an async ``identify`` is awaited, then ``gf.aevaluate``."""
        try:
            result = self._result(request, native)
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:
            return self._raised(gf, request, exc)
        caller = self._caller(request, result)
        if isinstance(caller, str):
            return self._failed(gf, request, caller)
        return await gf.aevaluate(caller), caller

    def _result(self, request: Request, native: object) -> object:
        return self._call(request, native) if self._native else self._call(request)

    def _caller(self, request: Request, result: object) -> Request | str:
        """``request`` with the caller fields of ``result``, or what is wrong with ``result``."""
        if result is None:
            return request
        if isinstance(result, str):
            result = {"account": result}
        if not isinstance(result, Mapping):
            return (
                f"identify() must return a mapping such as {{'account': ...}}, an account id "
                f"or None, not {type(result).__name__}"
            )
        try:
            fields = dict(result)
            unknown = sorted(str(key) for key in fields if key not in CALLER_FIELDS)
            if unknown:
                return f"identify() returned {_unknown_keys(unknown)}"
            if fields.get("account") == "":
                # "No account" spelled as an empty id: as one account, every anonymous caller
                # would share its signals (and soon its flags).
                fields["account"] = None
            return request.with_caller(**fields)
        except Exception as exc:  # the Request checks: wrong types and malformed codes
            return f"identify() returned a bad value: {exc}"

    def _raised(self, gf: Geofence, request: Request, exc: Exception) -> tuple[Decision, Request]:
        log.error("geofence: identify() raised; applying the policy's unknown action", exc_info=exc)
        return gf.unknown_decision(f"identify() raised {type(exc).__name__}"), request

    def _failed(self, gf: Geofence, request: Request, why: str) -> tuple[Decision, Request]:
        with self._lock:
            first = why not in self._logged and len(self._logged) < _LOGGED_AT_MOST
            if first:
                self._logged.add(why)
        level = logging.ERROR if first else logging.DEBUG
        log.log(level, "geofence: %s; applying the policy's unknown action", why)
        return gf.unknown_decision(why), request


def _unknown_keys(unknown: list[str]) -> str:
    hints = []
    for key in unknown:
        close = difflib.get_close_matches(key, CALLER_FIELDS, n=1)
        hints.append(f"{key[:40]!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return f"unknown key(s) {', '.join(hints)}; it may return {', '.join(CALLER_FIELDS)}"


def _is_async(identify: object) -> bool:
    call = getattr(identify, "__call__", None)  # noqa: B004 (a callable object's method)
    return inspect.iscoroutinefunction(identify) or inspect.iscoroutinefunction(call)


def _takes_two(identify: Callable[..., object]) -> bool:
    """Whether ``identify`` accepts a second positional argument (the native request)."""
    try:
        signature = inspect.signature(identify)
    except (TypeError, ValueError):  # some builtins have none: call with the Request only
        return False
    try:
        signature.bind(None, None)
    except TypeError:
        return False
    return True


def _close(result: Awaitable[Any]) -> None:
    close = getattr(result, "close", None)  # a coroutine never awaited warns unless closed
    if callable(close):
        close()
