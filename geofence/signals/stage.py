"""``AccountSignals``: the stateful stage of the request path (memory across requests).

For a request that names an account it sends one batch to the store (``compute.plan``) and
reads the signals back (``compute.assess``): one round trip, ``observe`` and ``aobserve`` its
sync and async twins (the ASGI middleware awaits the async one, so the event loop never waits
on the network).

New accounts per network are counted once per account, fleet-wide: the batch of every request
sets the account's first-seen time only if absent and reads it back, so exactly one request
(the first anywhere) learns that it was the first. Its network's count of new accounts is then
raised with this process's *next* batch (never a second round trip), and the decision in hand
counts it already.

A store that fails (down, slow past its timeout) follows ``on_store_error``: ``"facts"`` (the
default) decides on the address facts alone with the flag ``store_unavailable``, warning once
per outage and recovering by itself; ``"deny"`` makes every account request fail closed.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from datetime import datetime
from typing import Literal

from geofence.errors import StoreUnavailable
from geofence.facts import FactsRow
from geofence.request import Request
from geofence.signals.compute import Locate, Observation, assess, is_new, observation, op, plan
from geofence.signals.fingerprint import derive_fingerprint
from geofence.signals.keys import digest
from geofence.signals.settings import SignalSettings
from geofence.store import Op, Store
from geofence.vocab.codes import country_codes
from geofence.vocab.signals import NO_SIGNALS, Assessment

__all__ = ["STORE_UNAVAILABLE", "AccountSignals", "StoreErrorMode"]

log = logging.getLogger("geofence")

StoreErrorMode = Literal["facts", "deny"]
STORE_UNAVAILABLE = "store_unavailable"
"""The flag of a decision made without the store."""
_DOWN = Assessment(NO_SIGNALS, 0.0, (STORE_UNAVAILABLE,))
_DOWN_DENY = Assessment(NO_SIGNALS, 1.0, (STORE_UNAVAILABLE,))
_PENDING_MAX = 1024  # late new-account entries waiting for a batch; more are dropped


def _epoch(when: datetime | None) -> float | None:
    return None if when is None else when.timestamp()


class AccountSignals:
    """The account-signal stage; see the module docstring."""

    def __init__(
        self,
        store: Store,
        settings: SignalSettings,
        locate: Locate,
        *,
        on_store_error: StoreErrorMode = "facts",
    ) -> None:
        self.store = store
        self.settings = settings
        self._locate = locate
        self._tolerated_asns = frozenset(settings.tolerated_asns)
        self._down = _DOWN if on_store_error == "facts" else _DOWN_DENY
        self._pending: deque[Op] = deque(maxlen=_PENDING_MAX)
        self._outage = False

    # -- the two twins ------------------------------------------------------------------------

    def observe(self, request: Request, row: FactsRow) -> Assessment:
        """The assessment of ``request`` (which names an account); blocks on the store."""
        obs, derived = self._observation(request, row)
        batch, where, late = self._batch(obs)
        try:
            results = self.store.apply(batch, obs.t)
        except StoreUnavailable as exc:
            return self._store_failed(exc, late)
        return self._read(obs, results, where, derived)

    async def aobserve(self, request: Request, row: FactsRow) -> Assessment:
        """``observe``, awaiting the store instead of blocking."""
        obs, derived = self._observation(request, row)
        batch, where, late = self._batch(obs)
        try:
            results = await self.store.aapply(batch, obs.t)
        except StoreUnavailable as exc:
            return self._store_failed(exc, late)
        return self._read(obs, results, where, derived)

    # -- the shared halves --------------------------------------------------------------------

    def _observation(self, request: Request, row: FactsRow) -> tuple[Observation, bool]:
        assert request.account is not None
        t = time.time() if request.time is None else request.time.timestamp()
        declared = request.declared_country
        if declared is not None and declared not in country_codes():
            declared = None  # a code of no country: treated as undeclared
        given = request.fingerprint
        if given is not None:
            fingerprint: str | None = "f:" + digest(given, "fingerprint")
        else:
            fingerprint = derive_fingerprint(request.headers)
        obs = observation(
            request.account, row, t, declared, fingerprint, _epoch(request.account_created),
            self.settings, self._locate, self._tolerated_asns,
        )  # fmt: skip
        return obs, given is None

    def _batch(self, obs: Observation) -> tuple[list[Op], dict[str, int], list[Op]]:
        planned = plan(obs, self.settings)
        late: list[Op] = []
        while self._pending and len(late) < 16:
            try:
                late.append(self._pending.popleft())
            except IndexError:  # another thread took the last one
                break
        # The late entries go first, so this batch's reads already include them.
        shift = len(late)
        where = {key: index + shift for key, index in planned.at.items()} if shift else planned.at
        return late + planned.ops, where, late

    def _read(
        self, obs: Observation, results: list[int | str | None], where: dict[str, int],
        derived: bool,
    ) -> Assessment:  # fmt: skip
        if self._outage:
            self._outage = False
            log.warning("geofence: the signal store %s is back", self.store.url)
        extra = 0
        if obs.network is not None and is_new(
            obs, results[where["first_seen"]], self.settings.window_s
        ):
            self._pending.append(op("count", obs.network, "new", amount=1, window=window))
            extra = 1  # this decision counts the account already
        return assess(obs, results, where, self.settings, derived, extra)

    def _store_failed(self, exc: StoreUnavailable, late: list[Op]) -> Assessment:
        self._pending.extend(late)  # kept for the next batch, within the bound
        if not self._outage:
            self._outage = True
            log.warning(
                "geofence: the signal store %s is unavailable (%s): deciding on address "
                "facts alone, flagged %s, until it answers again",
                self.store.url, exc, STORE_UNAVAILABLE,
            )  # fmt: skip
        return self._down
