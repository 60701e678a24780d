"""GeofenceMiddleware: pure ASGI enforcement for any ASGI framework (Starlette, FastAPI, ...).

    from geofence.asgi import GeofenceMiddleware

    app.add_middleware(GeofenceMiddleware, policy="policy.yaml", exempt_paths=["/health"])

Every ``http`` and ``websocket`` scope is decided before the application runs. A stopped HTTP
request gets the decision's status (451 by default) with an RFC 9457 problem body. A stopped
WebSocket handshake gets the same response where the server offers the ASGI
``websocket.http.response`` extension (uvicorn, hypercorn); elsewhere it is closed before it is
accepted (code 1008), which servers send to the client as a bare HTTP 403. The decision is
published as ``scope["state"]["geofence"]`` (``request.state.geofence`` in Starlette).
``lifespan`` passes through, starting and stopping the Geofence's background work if it has any
(``astart()``/``astop()`` or ``start()``/``stop()``). Needs no framework: plain ASGI 3.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from geofence.enforcement import BlockResponse, Enforcement, EnforcementOptions, Outcome
from geofence.engine import Geofence
from geofence.errors import ConfigurationError
from geofence.request import Request

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["GeofenceMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Lifecycle = Callable[[], Awaitable[None]]

_from_asgi = Request.from_asgi
_POLICY_VIOLATION = 1008  # RFC 6455 section 7.4.1
_DENIAL_EXTENSION = "websocket.http.response"


class GeofenceMiddleware:
    """Decide every HTTP and WebSocket request before the ASGI application sees it.

    ``geofence``: a ``Geofence``; or pass its arguments (``policy=...``, ``geo=...``, ...).
    ``on_deny`` / ``on_challenge``: ``(decision, request) -> BlockResponse`` hooks (default:
    a problem+json response; 403 with a challenge type for ``challenge``). ``exempt_paths``:
    exact paths never blocked (decided and reported all the same). ``routes``: path prefix ->
    policy, decided by ``geofence.with_policy(policy)``. ``report_only``: decide and log, never
    block. ``blocked_by``: a URL sent as ``Link: <url>; rel="blocked-by"`` (RFC 7725).
    ``expose_facts``: put the client's facts in problem bodies. ``debug_header``: a response
    header naming the decision. ``websocket_denial_response`` (default True): where the server
    offers the ``websocket.http.response`` extension, answer a stopped WebSocket handshake with
    the HTTP block response (451 + problem body); False always closes with 1008 before accept,
    which reaches the client as an HTTP 403 without a body. ``identify``: the application's
    ``(request) -> {"account": ..., ...}`` (plain or async; see ``geofence.identify``); with it
    the request is decided by ``aevaluate``, so a network store never blocks the loop.
    """

    def __init__(
        self,
        app: ASGIApp,
        geofence: Geofence | None = None,
        *,
        websocket_denial_response: bool = True,
        **options: Unpack[EnforcementOptions],
    ) -> None:
        self.app = app
        denial: object = websocket_denial_response
        if not isinstance(denial, bool):
            raise ConfigurationError(
                f"GeofenceMiddleware: websocket_denial_response must be True or False, "
                f"not {denial!r}"
            )
        self._ws_denial = denial
        self.enforcement = Enforcement("GeofenceMiddleware", geofence, options, asynchronous=True)
        self._identifies = self.enforcement.identifier is not None
        self.geofence = self.enforcement.geofence
        self._headers = self.enforcement.needs_headers
        debug = self.enforcement.debug_header
        self._debug = None if debug is None else debug.encode("latin-1")
        self._start = _lifecycle(self.geofence, "astart", "start")
        self._stop = _lifecycle(self.geofence, "astop", "stop")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            if kind == "lifespan" and (self._start is not None or self._stop is not None):
                await self._lifespan(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        outcome = self.enforcement.check_form(scope, _from_asgi, scope.get("raw_path"))
        if outcome is not None:
            pass  # decided from the caches: the usual request of a known client
        elif self._identifies:  # an account may need the store: awaited, never blocking the loop
            request = _from_asgi(scope, headers=self._headers)
            outcome = await self.enforcement.acheck(request, scope.get("raw_path"), scope)
        else:
            request = _from_asgi(scope, headers=self._headers)
            outcome = self.enforcement.check(request, scope.get("raw_path"))
        state = scope.get("state")
        if state is None:
            state = scope["state"] = {}
        state["geofence"] = outcome.decision
        if outcome.exempt:
            state["geofence_exempt"] = True
        block = outcome.block
        if self._debug is not None:
            send = self._with_debug_header(send, outcome)
        if block is None:
            await self.app(scope, receive, send)
        elif kind == "http":
            await _send_response(send, "http.response", block)
        else:
            await self._refuse_websocket(scope, receive, send, block, outcome)

    async def _refuse_websocket(
        self, scope: Scope, receive: Receive, send: Send, block: BlockResponse, outcome: Outcome
    ) -> None:
        message = await receive()
        if message.get("type") != "websocket.connect":
            return  # the client left before the handshake was answered
        if self._ws_denial and _DENIAL_EXTENSION in (scope.get("extensions") or {}):
            await _send_response(send, "websocket.http.response", block)
            return
        rule = outcome.decision.rule
        reason = f"geofence: {outcome.decision.action.value}" + (f" ({rule})" if rule else "")
        # A close reason is at most 123 bytes (RFC 6455 section 5.5).
        reason = reason.encode()[:123].decode(errors="ignore")
        await send({"type": "websocket.close", "code": _POLICY_VIOLATION, "reason": reason})

    def _with_debug_header(self, send: Send, outcome: Outcome) -> Send:
        header = (self._debug, self.enforcement.debug_value(outcome).encode("latin-1"))

        async def send_with_header(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                message = dict(message)
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        return send_with_header

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        start, stop = self._start, self._stop
        started = False

        async def receive_and_start() -> Message:
            nonlocal started
            message = await receive()
            if message.get("type") == "lifespan.startup" and start is not None:
                await start()  # before the app's own startup, so it can rely on the data
                started = True
            return message

        async def stop_and_send(message: Message) -> None:
            nonlocal started
            ends = message.get("type") in (
                "lifespan.startup.failed",
                "lifespan.shutdown.complete",
                "lifespan.shutdown.failed",
            )
            if ends and started and stop is not None:
                started = False
                await stop()  # after the app's own shutdown
            await send(message)

        await self.app(scope, receive_and_start, stop_and_send)


async def _send_response(send: Send, prefix: str, block: BlockResponse) -> None:
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in block.headers]
    await send({"type": f"{prefix}.start", "status": block.status, "headers": headers})
    await send({"type": f"{prefix}.body", "body": block.body})


def _lifecycle(geofence: object, async_name: str, sync_name: str) -> Lifecycle | None:
    """The Geofence's ``astart``-like coroutine method, or its ``start``-like one made async."""
    method = getattr(geofence, async_name, None)
    if callable(method):
        return method  # type: ignore[no-any-return]
    sync = getattr(geofence, sync_name, None)
    if not callable(sync):
        return None

    async def call() -> None:
        sync()

    return call
