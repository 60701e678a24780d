"""``redis://``, ``rediss://``, ``redis+sentinel://``, ``redis+cluster://``: shared counters.

``apply`` is one pipelined round trip: an ``EVALSHA`` of ``apply.lua`` per group (falling back
to ``EVAL`` once when the server has not cached the script, e.g. after a restart). On a
cluster the pipeline fans out per node. A connection error or a timeout raises
``StoreUnavailable``; for ``retry_after`` seconds afterwards ``apply`` raises at once instead
of waiting on a server that just failed, then tries again by itself: no manual reset.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncGenerator, Sequence
from dataclasses import replace
from typing import Any

from geofence.errors import StoreUnavailable
from geofence.store.clients import aclose_client, async_client, close_client, sync_client
from geofence.store.protocol import Op, Result, StoreHealth
from geofence.store.script import SCRIPT, SCRIPT_SHA, GroupCall, decode, plan
from geofence.store.uri import StoreURL

__all__ = ["RedisStore"]


def _failures() -> tuple[type[BaseException], ...]:
    from redis.exceptions import RedisClusterException, RedisError

    return (RedisError, RedisClusterException, OSError, TimeoutError, ValueError)


def _noscript_error() -> type[Exception]:
    from redis.exceptions import NoScriptError

    return NoScriptError


def _noscript(calls: Sequence[GroupCall], replies: Sequence[object]) -> list[GroupCall]:
    """The calls a server refused for not having the script cached (after a restart)."""
    from redis.exceptions import NoScriptError

    return [c for c, r in zip(calls, replies, strict=True) if isinstance(r, NoScriptError)]


def _merge(replies: list[object], calls: Sequence[GroupCall], again: Sequence[object]) -> None:
    """Put the replies of ``calls``, run again, where their refusals were."""
    from redis.exceptions import NoScriptError

    retried = iter(again)
    for i, reply in enumerate(replies):
        if isinstance(reply, NoScriptError):
            replies[i] = next(retried)


def _raise_errors(replies: Sequence[object]) -> None:
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply


async def _closed_with_loop(client: Any) -> AsyncGenerator[None, None]:
    """Closes ``client`` when its event loop shuts down: a loop finalises the async generators
    it has seen (``asyncio.run`` calls ``loop.shutdown_asyncgens()``, so do uvicorn and
    pytest's loops) while it still runs, so the connections close cleanly, not at GC with a
    ResourceWarning."""
    try:
        yield
    finally:
        await aclose_client(client)


class RedisStore:
    """Counters in Redis, shared by every process that opens the same URL and prefix."""

    def __init__(self, parsed: StoreURL, *, prefix: str) -> None:
        self.url = parsed.redacted
        self.prefix = prefix
        self.retry_after = float(parsed.options.get("retry_after", 1.0))  # type: ignore[arg-type]
        self._parsed = parsed
        # a single server runs the whole batch in one script call; a cluster one call per group
        self._per_group = parsed.scheme == "redis+cluster"
        self._failure_types = _failures()
        self._noscript_type = _noscript_error()
        self._lock = threading.Lock()
        self._sync: Any = None  # built on first use: a cluster client connects when built
        # an asyncio client per event loop, with the guard that closes it when the loop ends
        self._async: dict[asyncio.AbstractEventLoop, tuple[Any, AsyncGenerator[None, None]]] = {}
        self._health = StoreHealth(url=self.url, available=True)

    # -- the twins: the same plan and decoding, a blocking or an awaited pipeline --------------

    def apply(self, ops: Sequence[Op], now: float) -> list[Result]:
        """Apply ``ops`` at request time ``now`` in one round trip; results align with ``ops``."""
        if not ops:
            return []
        calls = self._admit(ops, now)
        try:
            client = self._sync_client()
            replies = self._run(client, calls, "EVALSHA")
            missing = _noscript(calls, replies)
            if missing:  # only those: on a cluster the other nodes ran theirs already
                _merge(replies, missing, self._run(client, missing, "EVAL"))
            _raise_errors(replies)
            results = decode(ops, calls, replies)
        except self._failure_types as exc:
            raise self._failed(exc) from exc
        self._succeeded()
        return results

    async def aapply(self, ops: Sequence[Op], now: float) -> list[Result]:
        """Async twin of ``apply``: awaits the round trip, never blocks the event loop."""
        if not ops:
            return []
        calls = self._admit(ops, now)
        try:
            client = await self._async_client()
            replies = await self._arun(client, calls, "EVALSHA")
            missing = _noscript(calls, replies)
            if missing:
                _merge(replies, missing, await self._arun(client, missing, "EVAL"))
            _raise_errors(replies)
            results = decode(ops, calls, replies)
        except self._failure_types as exc:
            raise self._failed(exc) from exc
        self._succeeded()
        return results

    def _run(self, client: Any, calls: Sequence[GroupCall], command: str) -> list[object]:
        if len(calls) == 1:  # one server, or one group: a plain call costs less than a pipeline
            try:
                return [client.execute_command(command, *self._script_args(calls[0], command))]
            except self._noscript_type as exc:
                return [exc]
        pipe = client.pipeline(transaction=False)
        for call in calls:
            # On a cluster, name each call's node: redis-py's blocking cluster pipeline would
            # otherwise ask a server (COMMAND GETKEYS) where every script call goes.
            route = (
                {"target_nodes": client.get_node_from_key(call.keys[0])} if self._per_group else {}
            )
            pipe.execute_command(command, *self._script_args(call, command), **route)
        replies: list[object] = pipe.execute(raise_on_error=False)
        return replies

    async def _arun(self, client: Any, calls: Sequence[GroupCall], command: str) -> list[object]:
        if len(calls) == 1:
            try:
                args = self._script_args(calls[0], command)
                return [await client.execute_command(command, *args)]
            except self._noscript_type as exc:
                return [exc]
        pipe = client.pipeline(transaction=False)
        for call in calls:
            pipe.execute_command(command, *self._script_args(call, command))
        replies: list[object] = await pipe.execute(raise_on_error=False)
        return replies

    @staticmethod
    def _script_args(call: GroupCall, command: str) -> tuple[object, ...]:
        script = SCRIPT_SHA if command == "EVALSHA" else SCRIPT
        return (script, len(call.keys), *call.keys, *call.args)

    def _sync_client(self) -> Any:
        client = self._sync
        if client is None:
            with self._lock:  # one client (and pool) however many threads arrive at once
                if self._sync is None:
                    self._sync = sync_client(self._parsed)
                client = self._sync
        return client

    async def _async_client(self) -> Any:
        loop = asyncio.get_running_loop()
        with self._lock:
            held = self._async.get(loop)
            if held is None:
                # A client's connections belong to one loop; forget those of loops now closed
                # (their guards closed the clients when the loops shut down).
                self._async = {lp: h for lp, h in self._async.items() if not lp.is_closed()}
                client = async_client(self._parsed)
                held = self._async[loop] = (client, _closed_with_loop(client))
                created = True
            else:
                created = False
        if created:
            await held[1].__anext__()  # the loop now tracks the guard (see _closed_with_loop)
        return held[0]

    # -- health: an outage is remembered, attempts are spaced, recovery is automatic ----------

    def _admit(self, ops: Sequence[Op], now: float) -> list[GroupCall]:
        calls = plan(ops, now, self.prefix, per_group=self._per_group)
        health = self._health
        if health.retry_at is not None and time.time() < health.retry_at:
            raise StoreUnavailable(
                f"unavailable since its last error ({health.last_error}); "
                f"next attempt in {health.retry_at - time.time():.2f} s",
                url=self.url,
            )
        return calls

    def _failed(self, exc: BaseException) -> StoreUnavailable:
        message = f"{type(exc).__name__}: {exc}"
        wall = time.time()
        with self._lock:
            self._health = replace(
                self._health,
                available=False,
                last_error=message,
                failures=self._health.failures + 1,
                last_failure=wall,
                retry_at=wall + self.retry_after if self.retry_after else None,
            )
        return StoreUnavailable(message, url=self.url)

    def _succeeded(self) -> None:
        if not self._health.available:
            with self._lock:
                self._health = replace(self._health, available=True, retry_at=None)

    def health(self) -> StoreHealth:
        """Available or not as of the last ``apply``, the last error, the failure count."""
        return self._health

    def close(self) -> None:
        """Close the blocking client's connections (async clients: ``aclose``)."""
        client, self._sync = self._sync, None
        if client is not None:
            close_client(client)

    async def aclose(self) -> None:
        """Close the clients of the running loop (and the blocking one)."""
        self.close()
        loop = asyncio.get_running_loop()
        with self._lock:
            held = self._async.pop(loop, None)
        if held is not None:
            await held[1].aclose()  # runs the guard's finally: closes the client
