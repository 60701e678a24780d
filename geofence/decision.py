"""Decision: the answer to one request, with everything needed to explain it."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from geofence.facts import (
    EMPTY_TAGS,
    Facts,
    FactsRow,
    address_fields,
    facts_of_row,
    location_fields,
)
from geofence.vocab.signals import NO_SIGNALS, Assessment, Signal

if TYPE_CHECKING:
    from geofence.client_ip import ClientIP
    from geofence.vocab.actions import Action, Mode, Verdict

__all__ = ["AssessedDecision", "Decision", "PolicyStamp"]


class PolicyStamp:
    """The policy identity a decision carries: shared by every decision of one policy."""

    __slots__ = ("mode", "name", "revision")

    def __init__(self, name: str, revision: str, mode: Mode) -> None:
        self.name = name
        self.revision = revision
        self.mode = mode


_new = object.__new__
(_ADDRESS, _COUNTRY, _REGISTERED, _REPRESENTED, _REGIONS, _CONTINENT, _ASN, _AS_ORG, _TAGS,
 _SOURCES, _ERRORS) = range(11)  # fmt: skip


class Decision:
    """The outcome of ``Geofence.evaluate()``: the action, the rule and why, and the facts.

    Immutable: every field is a read-only property. A decision is assembled from pieces shared
    between requests (the verdict, the facts of the address, the policy stamp), so building one
    costs a single small object; ``decision_id`` is made on first access. The engine hands it
    the cached ``FactsRow``; ``facts`` turns that into ``Facts`` on first access.
    """

    __slots__ = ("_client", "_facts", "_id", "_stamp", "_verdict")

    _client: ClientIP | None
    _facts: FactsRow  # a Facts, or the engine's row of it until ``facts`` is read
    _id: str | None
    _stamp: PolicyStamp
    _verdict: Verdict

    def __init__(
        self, verdict: Verdict, facts: FactsRow, client: ClientIP | None, stamp: PolicyStamp
    ) -> None:
        self._verdict = verdict
        self._facts = facts
        self._client = client
        self._stamp = stamp
        self._id = None

    @classmethod
    def _make(
        cls, verdict: Verdict, facts: FactsRow, client: ClientIP | None, stamp: PolicyStamp
    ) -> Decision:
        # The request path skips __init__'s call overhead; same fields.
        d = _new(cls)
        d._verdict = verdict
        d._facts = facts
        d._client = client
        d._stamp = stamp
        d._id = None
        return d

    @property
    def allowed(self) -> bool:
        """Whether the request may proceed: False only for a non-allow action in enforce mode."""
        return self._verdict.action == "allow" or self._stamp.mode == "report"

    @property
    def action(self) -> Action:
        """What the policy says: allow, deny or challenge (also in report mode)."""
        return self._verdict.action

    @property
    def rule(self) -> str | None:
        """Name of the rule that matched, or ``None`` when the default or unknown action applied."""
        return self._verdict.rule

    @property
    def reasons(self) -> tuple[str, ...]:
        """Short sentences saying why (and, when the territory rule moved the country, how)."""
        attributed = location_fields(self._facts)[2]
        if attributed is None:
            return self._verdict.reasons
        return (*self._verdict.reasons, _territory_reason(self, attributed))

    @property
    def status(self) -> int:
        """HTTP status an adapter should send when the request is not allowed."""
        return self._verdict.status

    @property
    def mode(self) -> Mode:
        """``enforce`` or ``report`` (report: decide and log, never block)."""
        return self._stamp.mode

    @property
    def policy_name(self) -> str:
        """Name of the policy that decided."""
        return self._stamp.name

    @property
    def policy_revision(self) -> str:
        """Hash of the policy's canonical form."""
        return self._stamp.revision

    @property
    def decision_id(self) -> str:
        """A unique id for logs (UUID4 hex), made on first access."""
        if self._id is None:
            self._id = uuid.uuid4().hex
        return self._id

    @property
    def facts(self) -> Facts:
        """Everything known about the client address."""
        facts = self._facts
        if type(facts) is not Facts:
            # Made once; a racing thread makes an equal one, so either may stay.
            facts = self._facts = facts_of_row(facts)
        return facts

    @property
    def ip(self) -> str | None:
        """The normalised client address, or ``None`` when it could not be determined."""
        address = self._facts[_ADDRESS]  # the text in a row, an Address in Facts
        return address if address is None or type(address) is str else address.text

    @property
    def original_ip(self) -> str | None:
        """The client address as it arrived (e.g. the 6to4 form), before normalisation."""
        fields = address_fields(self._facts)
        return None if fields is None else fields[3]

    @property
    def via(self) -> str | None:
        """How the address arrived: direct, ipv4-mapped, ipv4-compatible, 6to4, nat64 or teredo."""
        fields = address_fields(self._facts)
        return None if fields is None else fields[4]

    @property
    def ip_source(self) -> str:
        """Where the client address was taken from: peer, x-forwarded-for, forwarded, a header."""
        return "peer" if self._client is None else self._client.source

    @property
    def ip_problem(self) -> str | None:
        """Why the client address is unknown or a forwarding header was not believed."""
        return None if self._client is None else self._client.problem

    @property
    def country(self) -> str | None:
        """ISO 3166-1 alpha-2 location country, or ``None``."""
        return self._facts[_COUNTRY]  # type: ignore[no-any-return]

    @property
    def registered_country(self) -> str | None:
        """ISO 3166-1 alpha-2 registered country, or ``None``."""
        return self._facts[_REGISTERED]  # type: ignore[no-any-return]

    @property
    def represented_country(self) -> str | None:
        """ISO 3166-1 alpha-2 represented country, or ``None``."""
        return self._facts[_REPRESENTED]  # type: ignore[no-any-return]

    @property
    def regions(self) -> tuple[str, ...]:
        """ISO 3166-2 codes such as ``("GB-ENG",)``."""
        return self._facts[_REGIONS]  # type: ignore[no-any-return]

    @property
    def continent(self) -> str | None:
        """Continent code, or ``None``."""
        return self._facts[_CONTINENT]  # type: ignore[no-any-return]

    @property
    def asn(self) -> int | None:
        """Autonomous system number, or ``None``."""
        return self._facts[_ASN]  # type: ignore[no-any-return]

    @property
    def as_org(self) -> str | None:
        """Organisation holding the AS, or ``None``."""
        return self._facts[_AS_ORG]  # type: ignore[no-any-return]

    @property
    def tags(self) -> frozenset[str]:
        """Reputation tags: tor, vpn, public_proxy, residential_proxy, hosting, relay, ..."""
        return self._facts[_TAGS] or EMPTY_TAGS

    @property
    def attributed_country(self) -> str | None:
        """The country the database named when it differs from ``country`` (the territory
        rule, ``geofence.geo.territory``: ``"RU"`` for a Crimean network filed under RU)."""
        return location_fields(self._facts)[2]

    @property
    def latitude(self) -> float | None:
        """Coarse latitude of the client's location, degrees, or ``None``."""
        return location_fields(self._facts)[0]

    @property
    def longitude(self) -> float | None:
        """Coarse longitude of the client's location, degrees, or ``None``."""
        return location_fields(self._facts)[1]

    @property
    def location(self) -> tuple[float, float] | None:
        """``(latitude, longitude)``, or ``None`` when either is unknown."""
        lat, lon, _ = location_fields(self._facts)
        return None if lat is None or lon is None else (lat, lon)

    @property
    def data_versions(self) -> tuple[str, ...]:
        """The data consulted and its version, e.g. ``("dbip-country 2026-06-01",)``."""
        return self._facts[_SOURCES]  # type: ignore[no-any-return]

    @property
    def signals(self) -> Mapping[str, Signal]:
        """Account signals by name (read-only); empty for a request without an account."""
        return NO_SIGNALS

    @property
    def score(self) -> float:
        """The combined account-signal score in [0, 1]; 0.0 for a request without an account."""
        return 0.0

    @property
    def flags(self) -> tuple[str, ...]:
        """Conditions of the decision itself, e.g. ``store_unavailable`` (signals skipped)."""
        return ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of every field."""
        return {
            "decision_id": self.decision_id,
            "allowed": self.allowed,
            "action": self.action.value,
            "rule": self.rule,
            "reasons": list(self.reasons),
            "status": self.status,
            "mode": self.mode.value,
            "policy": self.policy_name,
            "policy_revision": self.policy_revision,
            "ip": self.ip,
            "original_ip": self.original_ip,
            "via": self.via,
            "ip_source": self.ip_source,
            "ip_problem": self.ip_problem,
            "country": self.country,
            "registered_country": self.registered_country,
            "represented_country": self.represented_country,
            "regions": list(self.regions),
            "attributed_country": self.attributed_country,
            "latitude": self.latitude,
            "longitude": self.longitude,
            "continent": self.continent,
            "asn": self.asn,
            "as_org": self.as_org,
            "tags": sorted(self.tags),
            "data_versions": list(self.data_versions),
            "data_errors": list(self._facts[_ERRORS]),
            "signals": {name: signal.to_dict() for name, signal in self.signals.items()},
            "score": self.score,
            "flags": list(self.flags),
        }

    def __repr__(self) -> str:
        return (
            f"Decision(action={self.action.value!r}, allowed={self.allowed}, rule={self.rule!r}, "
            f"ip={self.ip!r}, country={self.country!r}, tags={sorted(self.tags)!r})"
        )


class AssessedDecision(Decision):
    """A decision on a request that named an account: it also carries the ``Assessment``.

    A subclass, so the decisions of the address-only path stay one small object with no
    field to fill.
    """

    __slots__ = ("_assessment",)

    _assessment: Assessment

    @classmethod
    def _assessed(
        cls,
        verdict: Verdict,
        facts: FactsRow,
        client: ClientIP | None,
        stamp: PolicyStamp,
        assessment: Assessment,
    ) -> AssessedDecision:
        d = cls._make(verdict, facts, client, stamp)
        assert isinstance(d, AssessedDecision)
        d._assessment = assessment
        return d

    @property
    def signals(self) -> Mapping[str, Signal]:
        return self._assessment.signals

    @property
    def score(self) -> float:
        return self._assessment.score

    @property
    def flags(self) -> tuple[str, ...]:
        return self._assessment.flags


def _territory_reason(decision: Decision, attributed: str) -> str:
    region = next((r for r in decision.regions if r[:2] == decision.country), None)
    return (
        f"{decision.ip} is in {region or decision.country}, {decision.country} under ISO 3166, "
        f"though the database attributes it to {attributed} (the territory rule)"
    )
