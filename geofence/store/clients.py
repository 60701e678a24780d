"""redis-py clients for a parsed store URL: one server, TLS, Sentinel or Cluster, sync or async.

redis-py is imported here only (the ``redis`` extra); ``require_redis`` turns its absence into
a ``ConfigurationError`` at open time. Every client answers within ``timeout`` or fails: no
retries with back-off inside redis-py (its default retries a stalled server for seconds); the
store's own ``retry_after`` spaces out attempts during an outage instead.
"""

from __future__ import annotations

import importlib
from typing import Any

from geofence.errors import ConfigurationError
from geofence.store.uri import StoreURL

__all__ = ["aclose_client", "async_client", "close_client", "require_redis", "sync_client"]

INSTALL_HINT = "pip install 'geofence-policy[redis]'"


def require_redis(url: str) -> None:
    """Raise ``ConfigurationError`` with the install hint when redis-py is missing."""
    try:
        import redis  # noqa: F401
    except ImportError:
        raise ConfigurationError(
            f"store URL {url!r} needs redis-py, which is not installed: {INSTALL_HINT}"
        ) from None


def _connection_kwargs(parsed: StoreURL) -> dict[str, Any]:
    opts = parsed.options
    timeout = opts["timeout"]
    kwargs: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": opts.get("connect_timeout", timeout),
        "decode_responses": True,
        "username": parsed.username,
        "password": parsed.password,
    }
    for name in ("health_check_interval", "client_name", "max_connections"):
        if name in opts:
            kwargs[name] = opts[name]
    tls = {k: v for k, v in opts.items() if k.startswith("ssl")}
    if parsed.scheme == "rediss" or tls.pop("ssl", False) or tls:
        kwargs["ssl"] = True
        kwargs.update(tls)
    return kwargs


def sync_client(parsed: StoreURL) -> Any:
    """A blocking redis-py client (a cluster client connects while it is built)."""
    return _client(parsed, "redis")


def async_client(parsed: StoreURL) -> Any:
    """An asyncio redis-py client, bound to the running event loop."""
    return _client(parsed, "redis.asyncio")


def _client(parsed: StoreURL, package: str) -> Any:
    """The client for ``parsed`` from ``package`` (``redis`` or ``redis.asyncio``: same API)."""
    from redis.backoff import NoBackoff

    api: Any = importlib.import_module(package)
    cluster: Any = importlib.import_module(f"{package}.cluster")
    retry: Any = importlib.import_module(f"{package}.retry")
    kwargs = _connection_kwargs(parsed)
    kwargs["retry"] = retry.Retry(NoBackoff(), 0)
    if parsed.scheme == "redis+cluster":
        kwargs.pop("max_connections", None)
        nodes = [cluster.ClusterNode(host, port) for host, port in parsed.hosts]
        return api.RedisCluster(startup_nodes=nodes, **kwargs)
    if parsed.scheme == "redis+sentinel":
        sentinels = _sentinel_kwargs(parsed, kwargs)
        sentinel = api.Sentinel(list(parsed.hosts), sentinel_kwargs=sentinels)
        return sentinel.master_for(parsed.service_name or "", db=parsed.db, **kwargs)
    host, port = parsed.hosts[0]
    return api.Redis(host=host, port=port, db=parsed.db, **kwargs)


def _sentinel_kwargs(parsed: StoreURL, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Sentinels answer within the same timeouts; they may have a password of their own."""
    out = {k: kwargs[k] for k in ("socket_timeout", "socket_connect_timeout", "decode_responses")}
    if "sentinel_password" in parsed.options:
        out["password"] = parsed.options["sentinel_password"]
    if kwargs.get("ssl"):
        out.update({k: v for k, v in kwargs.items() if k.startswith("ssl")})
    return out


def _sentinels(client: Any) -> list[Any]:
    """A Sentinel-backed client's connections to the sentinels themselves (else none)."""
    manager = getattr(getattr(client, "connection_pool", None), "sentinel_manager", None)
    return list(getattr(manager, "sentinels", ()))


def close_client(client: Any) -> None:
    """Close a blocking client, and its sentinels' connections too."""
    client.close()
    for sentinel in _sentinels(client):
        sentinel.close()


async def aclose_client(client: Any) -> None:
    """Close an asyncio client, and its sentinels' connections too."""
    await client.aclose()
    for sentinel in _sentinels(client):
        await sentinel.aclose()
