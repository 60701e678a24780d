"""The request path: one ``evaluate`` through named stages, and the speed tricks it needs.

    request -> client address -> facts (geo + reputation, cached per address)
            -> stateful stages (memory across requests: account signals) -> policy -> decision

``RequestPath`` is the half of ``Geofence`` that runs per request; ``Geofence`` (engine.py)
keeps construction and the life cycle of the sources and swaps in a new ``Generation`` on
reload. The stages are methods rather than objects on purpose: a cached decision costs about
0.35 us, and each extra Python call costs ~0.07 us of it. So:

- **client address**: ``ClientIPResolver.resolve`` (skipped when no proxy is trusted: the peer
  is the client); a bare dotted quad is parsed with one ``inet_pton``.
- **facts**: a flat ``FactsRow`` per address (positional fields, atomic values, see facts.py
  and rows.py), cached with the policy's verdict number when the verdict depends on the
  address alone, so a repeated address skips the policy.
- **stateful stages**: only for requests that name an account, and only when a stage is
  configured; ``evaluate`` and ``aevaluate`` are the sync and async twins of the one place a
  stage does I/O (its store). Without one, ``aevaluate`` is ``evaluate``.
- **policy** and **decision**: ``CompiledPolicy.decide`` and ``Decision._make``.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from geofence.cache import LookupCache, client_key
from geofence.client_ip import ClientIP, ClientIPResolver
from geofence.decision import AssessedDecision, Decision, PolicyStamp
from geofence.errors import DataError
from geofence.facts import ROW_SIZE, FactsRow, GeoRecord, facts_row
from geofence.form_cache import cached_form_decision
from geofence.net import Address, Normalizer, Via
from geofence.request import Request
from geofence.request_forms import as_request

if TYPE_CHECKING:
    from geofence.geo import GeoSource
    from geofence.policy import CompiledPolicy, Verdict
    from geofence.policy.signal_rules import SignalRules
    from geofence.rows import RowMaker
    from geofence.signals.stage import AccountSignals
    from geofence.vocab.signals import Assessment

__all__ = ["Generation", "RequestPath", "as_request"]  # as_request: re-exported

log = logging.getLogger("geofence")

_new = tuple.__new__
_inet_pton, _AF_INET = socket.inet_pton, socket.AF_INET
_DIRECT = Via.DIRECT

# A cached entry: the ``FactsRow`` of an address followed, at ``_NUMBER``, by the number of its
# verdict when the policy does not look at the path or method (then a repeated address skips
# the policy entirely), else None. One flat tuple of atomic values: the collector untracks a
# nested tuple one level per pass, and an entry still tracked when it reaches the oldest
# generation is what makes the full collections come (see ``FactsRow``).
Entry = FactsRow
_NUMBER = ROW_SIZE


class Generation(NamedTuple):
    """Everything the request path reads, swapped as one reference on reload."""

    compiled: CompiledPolicy
    verdicts: Sequence[Verdict]  # compiled.verdicts: an entry's verdict number -> verdict
    stamp: PolicyStamp
    cache: LookupCache[Entry]
    versions: tuple[str, ...]
    unknown: Entry
    serial: int
    geo_generation: int
    signal_rules: SignalRules  # the policy's rules with signals: conditions, for assessed requests
    clients: LookupCache[ClientIP]  # resolutions through trusted proxies, see client_key


class RequestPath:
    """The per-request stages of ``Geofence``, reading the state its constructor sets up."""

    _gen: Generation
    _next_check: float
    _stale_watch: Callable[[], bool] | None
    _normalizer: Normalizer
    _resolver: ClientIPResolver
    _trusts_nobody: bool
    _geo: GeoSource
    _geo_generation: Callable[[], int]
    _make_row: RowMaker
    _on_decision: Callable[[Decision], None] | None
    _stateful: AccountSignals | None  # the account-signal stage, or None

    def _maybe_reload(self) -> None:
        raise NotImplementedError  # the engine's life cycle

    def _catch_up(self) -> Generation:
        raise NotImplementedError  # the engine's life cycle: a generation of the swapped data

    def evaluate(self, request: object) -> Decision:
        """Decide for a bare address, a ``Request``, an ASGI scope or a WSGI environ.

        Framework request objects work too: anything with a ``scope`` (Starlette, FastAPI),
        ``environ`` (Flask, Werkzeug) or ``META`` (Django) dict.

        Never raises on anything a client sends: an address that cannot be determined gives
        the policy's ``unknown`` action, with the reason in ``Decision.ip_problem``.
        """
        # One frame for every request form (a call costs ~0.07 us of a ~0.35 us cached path).
        if time.monotonic() >= self._next_check or (
            self._stale_watch is not None and self._stale_watch()
        ):
            self._maybe_reload()
        gen = self._gen
        try:
            if type(request) is str:
                entry = gen.cache.get(request)
                if entry is None:
                    address = self._normalizer.normalize_or_none(request)
                    if address is None:
                        pass  # entry stays None: the unknown action, below
                    elif address.original == request:  # already looked up in vain
                        entry = self._new_entry(gen, address)
                    else:
                        entry = self._entry(gen, request, address)
                if entry is None:
                    client = ClientIP(None, "peer", request[:128], "not a valid IP address")
                    decision = self._decide(gen, gen.unknown, client, "/", "GET")
                elif entry[_NUMBER] is not None:
                    verdict = gen.verdicts[entry[_NUMBER]]
                    decision = Decision._make(verdict, entry, None, gen.stamp)
                else:
                    decision = self._decide(gen, entry, None, "/", "GET")
            elif type(request) is dict and (cached := self._cached_form(gen, request)) is not None:
                decision = cached
            else:
                decision = self._evaluate_request(gen, as_request(request))
        except Exception:  # a bug must not open the gate: fail to the unknown action
            decision = self._internal_error(gen)
        if self._on_decision is not None:
            self._report(decision)
        return decision

    def evaluate_cached(self, form: Mapping[Any, Any]) -> Decision | None:
        """``evaluate(form)`` for a scope or environ when the decision is cached for its client
        on the address alone, else ``None`` (then call ``evaluate`` with what the caller built):
        the middleware's way to skip building a ``Request`` for the usual request."""
        if time.monotonic() >= self._next_check or (
            self._stale_watch is not None and self._stale_watch()
        ):
            self._maybe_reload()
        try:
            decision = self._cached_form(self._gen, form)
        except Exception:  # the full path decides, and logs whatever fails there too
            return None
        if decision is not None and self._on_decision is not None:
            self._report(decision)
        return decision

    def _cached_form(self, gen: Generation, form: Mapping[Any, Any]) -> Decision | None:
        header = None if self._trusts_nobody else self._resolver.header
        return cached_form_decision(gen, form, header)

    def _internal_error(self, gen: Generation) -> Decision:
        """The unknown action, for a request whose evaluation raised (a bug, logged)."""
        log.exception("geofence: evaluate failed; applying the policy's unknown action")
        client = ClientIP(None, "peer", None, "internal error while evaluating")
        return self._decide(gen, gen.unknown, client, "/", "GET")

    def _report(self, decision: Decision) -> None:
        """Hand ``decision`` to the ``on_decision`` hook, which must not fail the request."""
        assert self._on_decision is not None
        try:
            self._on_decision(decision)
        except Exception:
            log.exception("geofence: the on_decision hook failed")

    def _evaluate_request(self, gen: Generation, request: Request | None) -> Decision:
        if request is None:
            unknown = ClientIP(None, "peer", None, "not a request, scope, environ or address")
            return self._decide(gen, gen.unknown, unknown, "/", "GET")
        entry, client = self._client_facts(gen, request)
        if request.account is not None and self._stateful is not None:
            assessment = self._stateful.observe(request, entry)
            return self._assessed(gen, entry, client, request, assessment)
        number = entry[_NUMBER]
        if number is not None:
            return Decision._make(gen.verdicts[number], entry, client, gen.stamp)
        return self._decide(gen, entry, client, request.path, request.method)

    async def aevaluate(self, request: object) -> Decision:
        """``evaluate``'s async twin: the one stage that may do I/O (the account signals'
        store) is awaited, so an event loop never blocks on the network. Without an account or
        a stateful stage it is ``evaluate``."""
        req = request if type(request) is str else as_request(request)
        if not isinstance(req, Request) or req.account is None or self._stateful is None:
            return self.evaluate(request)
        if time.monotonic() >= self._next_check or (
            self._stale_watch is not None and self._stale_watch()
        ):
            self._maybe_reload()
        gen = self._gen
        try:
            entry, client = self._client_facts(gen, req)
            assessment = await self._stateful.aobserve(req, entry)
            decision = self._assessed(gen, entry, client, req, assessment)
        except Exception:  # a bug must not open the gate: fail to the unknown action
            decision = self._internal_error(gen)
        if self._on_decision is not None:
            self._report(decision)
        return decision

    def _client_facts(self, gen: Generation, request: Request) -> tuple[Entry, ClientIP | None]:
        """Stages 2 and 3: the client address and the (cached) facts of it."""
        client: ClientIP | None
        if self._trusts_nobody:
            # Nobody's headers are believed, so the peer is the client: skip the header walk.
            peer = request.ip
            entry = None if peer is None else gen.cache.get(peer)
            if entry is None:
                client = self._resolver.resolve(request)
                entry = self._entry_for_client(gen, client)
            else:
                client = None
        else:
            client = self._resolved(gen, request)
            entry = self._entry_for_client(gen, client)
        return entry, client

    def _resolved(self, gen: Generation, request: Request) -> ClientIP:
        """The client address through trusted proxies, cached by (peer, forwarding lines):
        the walk depends on nothing else, and the proxies (named groups follow feeds) are
        fixed for a generation."""
        key = client_key(request.ip, request.header_values(self._resolver.header))
        if key is None:
            return self._resolver.resolve(request)
        client = gen.clients.get(key)
        if client is None:
            client = self._resolver.resolve(request)
            gen.clients.put(key, client)
        return client

    @staticmethod
    def _assessed(
        gen: Generation,
        entry: Entry,
        client: ClientIP | None,
        request: Request,
        assessment: Assessment,
    ) -> Decision:
        """Stages 5 and 6 after a stateful stage: the policy with the assessment."""
        if gen.signal_rules.any:
            verdict = gen.signal_rules.decide(entry, request.path, request.method, assessment)
        elif entry[_NUMBER] is not None:
            verdict = gen.verdicts[entry[_NUMBER]]
        else:
            verdict = gen.compiled.decide(entry, request.path, request.method)
        return AssessedDecision._assessed(verdict, entry, client, gen.stamp, assessment)

    def _entry_for_client(self, gen: Generation, client: ClientIP) -> Entry:
        address = client.address
        if address is None:
            return gen.unknown
        return self._entry(gen, address.original, address)

    def _entry(self, gen: Generation, text: str, address: Address) -> Entry:
        """The entry for ``address``, which arrived as ``text``: cached under both."""
        key = address.original
        entry = gen.cache.get(key)
        if entry is None:
            entry = self._new_entry(gen, address)
        if text != key:
            gen.cache.put(text, entry)
        return entry

    def _new_entry(self, gen: Generation, address: Address) -> Entry:
        # Keyed by the canonical form as it arrived, not the embedded IPv4 address: the facts
        # record how the address arrived, and a rule may match the 6to4/NAT64 form itself.
        # Written flat on purpose: this is the uncached path, where each call costs.
        try:  # _lookup_row, inlined
            row = self._make_row(address, gen.versions)
        except Exception:
            row = self._row(address, gen.versions)
        if self._geo_generation() != gen.geo_generation:
            # A source swapped its data under this lookup (or just before it) while `gen` is
            # the older snapshot: the facts may be newer than gen's versions say. Catch up
            # and look again, so facts, versions and cache are one generation.
            gen, row = self._look_again(gen, address)
        compiled = gen.compiled
        number = None
        if not compiled.request_dependent:
            verdict = compiled.decide(row, "/", "GET")
            number = compiled.number_of_id(id(verdict))
            if number is None:
                number = compiled.verdict_number(verdict)
        entry = (*row, number)
        cache = gen.cache  # put(), without its frame unless full
        if len(cache) >= cache.maxsize:
            cache.evict()
        cache[address.original] = entry
        cache.order.append(address.original)
        return entry

    def _look_again(self, gen: Generation, address: Address) -> tuple[Generation, FactsRow]:
        for _ in range(3):  # bounded: data swapping without pause gets the last attempt
            gen = self._catch_up()
            row = self._lookup_row(address, gen.versions)
            if self._geo_generation() == gen.geo_generation:
                break
        return gen, row

    def _lookup_row(self, address: Address, versions: tuple[str, ...]) -> FactsRow:
        try:
            return self._make_row(address, versions)
        except Exception:  # the fused lookup met something unusual: the generic path recovers
            return self._row(address, versions)

    def _row(self, address: Address, versions: tuple[str, ...]) -> FactsRow:
        try:
            record = self._geo.lookup(address.text)
        except DataError as exc:
            log.warning("geofence: lookup of %s failed: %s", address.text, exc)
            partial = getattr(self._geo, "lookup_partial", None)
            if partial is None:
                return facts_row(address, GeoRecord(), versions, (str(exc),))
            # Keep what the sources that still work know; the failure is recorded, not fatal.
            record, errors = partial(address.text)
            return facts_row(address, record, versions, errors)
        return facts_row(address, record, versions)

    @staticmethod
    def _decide(
        gen: Generation, entry: Entry, client: ClientIP | None, path: str, method: str
    ) -> Decision:
        verdict = gen.compiled.decide(entry, path, method)
        return Decision._make(verdict, entry, client, gen.stamp)
