"""Geofence: construction and the life cycle of the sources (load, reload, refresh, close).

The per-request path is ``RequestPath`` (pipeline.py); this half builds what it reads: the
policy, the resolver, the composed geo + feed source and a ``Generation`` (compiled policy,
cache, data versions) swapped as one reference when data changes.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Union

from geofence.cache import CLIENT_CACHE_SIZE, LookupCache
from geofence.client_ip import ClientIP, ClientIPResolver, TrustedProxies
from geofence.composition import (
    account_stage,
    check_needs,
    check_policy_feeds,
    check_signal_store,
    generation_counter,
    with_policy_feeds,
)
from geofence.decision import Decision, PolicyStamp
from geofence.facts import ROW_SIZE, Facts, facts_of_row
from geofence.geo import GeoSource, open_geo
from geofence.lifecycle import FeedRefresh
from geofence.net import Normalizer
from geofence.pipeline import Generation, RequestPath
from geofence.policy import CompiledPolicy, Policy, load_policy
from geofence.policy.signal_rules import SignalRules
from geofence.reputation.feedset import FeedSet, FeedsSpec, open_feeds
from geofence.reputation.wiring import proxy_groups, with_feeds
from geofence.rows import row_maker
from geofence.signals.settings import SignalSettings
from geofence.signals.stage import StoreErrorMode
from geofence.store import Store

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["Geofence"]

log = logging.getLogger("geofence")

PolicySource = Union[str, "os.PathLike[str]", Mapping[str, Any], Policy]
GeoSpec = Union[
    None, str, "os.PathLike[str]", GeoSource, Sequence[Union[str, "os.PathLike[str]", GeoSource]]
]


class Geofence(RequestPath, FeedRefresh):
    """Decides, per request, whether a client may use an endpoint from where it really is.

    >>> gf = Geofence(policy="policy.yaml")            # doctest: +SKIP
    >>> gf.evaluate("81.2.69.142").allowed             # doctest: +SKIP
    True

    ``policy``: a path (.yaml/.yml/.json/.toml), a mapping or a ``Policy``.
    ``geo``: ``None`` for the embedded DB-IP country + ASN data, or ``.mmdb`` paths / ``GeoSource``
    objects (several compose: the first source that knows a fact wins).
    ``trusted_proxies``: IPs, CIDRs or ``loopback`` / ``linklocal`` / ``private`` whose forwarding
    headers are believed; by default nobody's. ``client_ip_header``: ``x-forwarded-for``,
    ``forwarded`` (RFC 7239) or one header such as ``cf-connecting-ip``.
    ``nat64_prefixes``: RFC 6052 prefixes in use besides ``64:ff9b::/96`` and ``64:ff9b:1::/48``.
    ``reload_interval``: seconds between checks for replaced database files (``None``: never).
    ``store``: where account signals are remembered (``memory://``, ``redis://host:6379/0``,
    ``rediss://``, ``redis+sentinel://``, ``redis+cluster://``, a ``Store``, or ``None``: off);
    ``signals``: ``SignalSettings`` or a mapping of them; ``on_store_error``: ``facts`` (decide
    on the address alone, flagged ``store_unavailable``) or ``deny``.
    """

    def __init__(
        self,
        policy: PolicySource,
        geo: GeoSpec = None,
        trusted_proxies: Iterable[str] = (),
        *,
        client_ip_header: str = "x-forwarded-for",
        nat64_prefixes: Iterable[str] = (),
        cache_size: int = 65536,
        reload_interval: float | None = 5.0,
        on_decision: Callable[[Decision], None] | None = None,
        feeds: FeedsSpec = None,
        store: str | Store | None = "memory://",
        signals: SignalSettings | Mapping[str, Any] | None = None,
        on_store_error: StoreErrorMode = "facts",
    ) -> None:
        self._policy = load_policy(policy)
        self._normalizer = Normalizer(nat64_prefixes)
        proxies = tuple(trusted_proxies)
        # Feeds (None: off) compose after the geo databases and back named proxy groups; the
        # policy's own feeds: section joins them.
        self._feeds = open_feeds(with_policy_feeds(feeds, self._policy.feeds))
        self._resolver = ClientIPResolver(
            TrustedProxies(proxies, groups=proxy_groups(proxies, self._feeds)),
            client_ip_header,
            self._normalizer,
        )
        geo_source = open_geo(geo)  # None: the embedded data
        self._geo: GeoSource = with_feeds(geo_source, self._feeds)
        self._owns_geo = True
        self._geo_generation = generation_counter(self._geo)
        # The fused lookup of the usual source shapes, else the generic one (see rows.py).
        self._make_row = row_maker(self._geo) or self._row
        self._trusts_nobody = not proxies
        self._cache_size = cache_size
        self._reload_interval = reload_interval
        self._data_serial = [0]  # shared with with_policy() siblings: bumped on every reload
        self._on_decision = on_decision
        self._stateful = account_stage(store, signals, on_store_error)
        self._owns_store = isinstance(store, str)
        self._setup_generation()

    def _setup_generation(self) -> None:
        self._next_check = (
            float("inf")
            if self._reload_interval is None
            else time.monotonic() + self._reload_interval
        )
        # Feeds reach decisions on the next request whatever reload_interval says: a refresh
        # wakes the check at once (_wake), and under on_stale open/closed the feed set's own
        # clock is asked on every request (one call; none under the default keep).
        feeds = self._feeds
        self._stale_watch = feeds.needs_check if feeds and feeds.watches_staleness else None
        if feeds is not None:
            feeds.on_swap(self._wake)
        self._reload_lock = threading.Lock()
        compiled = CompiledPolicy(self._policy)
        check_needs(compiled, self._geo, self._policy)
        check_signal_store(self._policy, self._stateful)
        self._gen = self._generation(compiled)

    def with_policy(self, policy: PolicySource) -> Geofence:
        """A Geofence with another policy sharing this one's data, proxies and settings.

        For per-route policies: the databases are opened once. The sibling sees a reload done
        by this instance within ``reload_interval``; closing it leaves the shared data open.
        """
        sibling = object.__new__(Geofence)
        sibling.__dict__.update(self.__dict__)
        sibling._policy = load_policy(policy)
        check_policy_feeds(sibling._policy, self._feeds)
        sibling._owns_geo = sibling._owns_store = False
        sibling._setup_generation()
        return sibling

    def _catch_up(self) -> Generation:
        # A source swapped its data under an uncached lookup: the request path's next look.
        with self._reload_lock:  # waits for this instance's reload in progress, if any
            if self._gen.geo_generation != self._geo_generation():
                self._gen = self._generation(self._gen.compiled)
            return self._gen

    # -- facts without a policy ----------------------------------------------------------------

    def lookup(self, address: str) -> Facts:
        """The facts for one address (normalised first); raises ``AddressError`` if invalid."""
        normalized = self._normalizer.normalize(address)
        return facts_of_row(self._lookup_row(normalized, self._gen.versions))

    def unknown_decision(self, why: str) -> Decision:
        """The policy's unknown action for a request that could not be evaluated (e.g. the
        application's ``identify`` failed): ``why`` is its last reason and its ``ip_problem``;
        reported to ``on_decision`` like any decision."""
        gen = self._gen
        verdict = gen.compiled.decide(gen.unknown, "/", "GET")
        verdict = verdict._replace(reasons=(*verdict.reasons, why))
        client = ClientIP(None, "peer", None, why)
        decision = Decision._make(verdict, gen.unknown, client, gen.stamp)
        if self._on_decision is not None:
            self._report(decision)
        return decision

    # -- data life cycle -------------------------------------------------------------------

    @property
    def policy(self) -> Policy:
        """The loaded policy."""
        return self._policy

    @property
    def geo(self) -> GeoSource:
        """The geo source in use (several sources appear as one composite)."""
        return self._geo

    @property
    def data_versions(self) -> tuple[str, ...]:
        """The version of every data source in service."""
        return self._gen.versions

    def clear_cache(self) -> None:
        """Forget every cached lookup (a data reload does this by itself)."""
        with self._reload_lock:
            self._gen = self._generation(self._gen.compiled)

    def reload(self) -> bool:
        """Swap in database files replaced on disk now; True when anything changed."""
        with self._reload_lock:
            return self._reload_locked()

    def _maybe_reload(self) -> None:
        # One request thread checks; the others carry on with the current generation.
        if not self._reload_lock.acquire(blocking=False):
            return
        try:
            feeds_due = self._feeds is not None and self._feeds.needs_check()
            if time.monotonic() < self._next_check and not feeds_due:
                return
            self._reload_locked()
        except Exception:  # a failed check must never fail the request that triggered it
            log.exception("geofence: checking data files for changes failed")
        finally:
            self._next_check = (
                float("inf")
                if self._reload_interval is None
                else time.monotonic() + self._reload_interval
            )
            if self._feeds is not None and self._feeds.needs_check():
                self._next_check = 0.0  # a refresh landed during the check: look again
            self._reload_lock.release()

    def _wake(self) -> None:
        """A feed refresh landed: the next request checks (see ``_setup_generation``)."""
        self._next_check = 0.0

    def _reload_locked(self) -> bool:
        if self._geo.check_reload():
            self._data_serial[0] += 1
        elif self._gen.serial == self._data_serial[0]:
            return False  # nothing changed, here or through a with_policy() sibling
        self._gen = self._generation(self._gen.compiled)
        log.info("geofence: data reloaded: %s", ", ".join(self._gen.versions))
        return True

    def _generation(self, compiled: CompiledPolicy) -> Generation:
        # The swap counter is read before the versions: a swap in between makes the next
        # uncached lookup catch up, never label new data with old versions.
        geo_generation = self._geo_generation()
        versions = (self._geo.version,)
        stamp = PolicyStamp(self._policy.name, self._policy.revision, self._policy.mode)
        return Generation(
            compiled,
            compiled.verdicts,
            stamp,
            LookupCache(self._cache_size),
            versions,
            # No address: Facts(None)'s fields, no address fields, no verdict number.
            (*Facts(None, sources=versions), *(None,) * (ROW_SIZE - len(Facts._fields)), None),
            self._data_serial[0],
            geo_generation,
            SignalRules(self._policy, compiled),
            LookupCache(min(self._cache_size, CLIENT_CACHE_SIZE)),
        )

    @property
    def reads_headers(self) -> bool:
        """Whether decisions look at request headers (only when some proxy is trusted)."""
        return not self._trusts_nobody

    @property
    def header_names(self) -> frozenset[str]:
        """The (lower-case) headers decisions read: the forwarding header when some proxy is
        trusted, else none."""
        return frozenset() if self._trusts_nobody else frozenset({self._resolver.header})

    @property
    def feeds(self) -> FeedSet | None:
        """The reputation feeds in use (``feeds=``), or ``None``."""
        return self._feeds

    def close(self) -> None:
        """Release the database files (not those of the instance ``with_policy`` came from)."""
        if self._owns_geo:
            self._geo.close()
        if self._owns_store and self._stateful is not None:
            self._stateful.store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Geofence(policy={self._policy.name!r}, data={list(self._gen.versions)!r})"
