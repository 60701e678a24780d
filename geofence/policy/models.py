"""The policy models: pydantic at the edge, validated and normalised once at load time.

Condition lists are tuples (not lists) so a frozen model is hashable and truly immutable.
"""

from __future__ import annotations

import difflib
import hashlib
import ipaddress
import json
import re
from functools import cached_property
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from geofence.policy.signal_tests import SignalTest, parse_signal_tests
from geofence.vocab import codes
from geofence.vocab.actions import Action, Mode
from geofence.vocab.feeds import FeedSpec, named_feeds
from geofence.vocab.tags import check_tag

__all__ = [
    "ADDRESS_CONDITIONS",
    "CONDITION_FIELDS",
    "HTTP_METHODS",
    "REQUEST_CONDITIONS",
    "Action",
    "Conditions",
    "CountryMatch",
    "Mode",
    "Policy",
    "Rule",
]


CountryMatch = Literal["location", "registered", "either"]

HTTP_METHODS: frozenset[str] = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)
"""The methods a rule may name."""

ADDRESS_CONDITIONS: tuple[str, ...] = (
    "countries",
    "regions",
    "continents",
    "asns",
    "networks",
    "tags",
)
"""Conditions that read facts about the client address."""
REQUEST_CONDITIONS: tuple[str, ...] = ("paths", "methods")
"""Conditions that read only the request."""
CONDITION_FIELDS: tuple[str, ...] = ADDRESS_CONDITIONS + REQUEST_CONDITIONS
"""Every condition field, in the order they are checked."""

_MAX_ASN = 2**32 - 1


def _asn(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"{value!r} is not an AS number (write 13335 or 'AS13335')")
    text = str(value).strip().upper().removeprefix("AS")
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= _MAX_ASN:
        raise ValueError(f"{value!r} is not an AS number between 1 and {_MAX_ASN}")
    return int(text)


def _network(text: str) -> str:
    try:
        return str(ipaddress.ip_network(text, strict=True))
    except ValueError as exc:
        try:
            fixed = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise ValueError(f"{text!r} is not a CIDR network: {exc}") from None
        raise ValueError(f"{text!r} has host bits set; did you mean {str(fixed)!r}?") from None


def _path(text: str) -> str:
    if not text.startswith(("/", "*")):
        raise ValueError(f"{text!r}: a path glob must start with '/' or '*'")
    return text


def _method(text: str) -> str:
    method = text.upper()
    if method in HTTP_METHODS:
        return method
    close = difflib.get_close_matches(method, sorted(HTTP_METHODS), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"{text!r} is not an HTTP method{hint}")


def _non_empty(items: tuple[object, ...]) -> tuple[object, ...]:
    # An empty list would silently never match; leaving the key out is how to say "any".
    # A validator rather than min_length, which also fires when items were dropped as invalid.
    if not items:
        raise ValueError("an empty list never matches; leave the key out instead")
    return items


_NonEmpty = AfterValidator(_non_empty)
Countries = Annotated[tuple[Annotated[str, AfterValidator(codes.country_code)], ...], _NonEmpty]
Regions = Annotated[tuple[Annotated[str, AfterValidator(codes.region_code)], ...], _NonEmpty]
Continents = Annotated[tuple[Annotated[str, AfterValidator(codes.continent_code)], ...], _NonEmpty]
ASNs = Annotated[tuple[Annotated[int, BeforeValidator(_asn)], ...], _NonEmpty]
Networks = Annotated[tuple[Annotated[str, AfterValidator(_network)], ...], _NonEmpty]
Tags = Annotated[tuple[Annotated[str, AfterValidator(check_tag)], ...], _NonEmpty]
Paths = Annotated[tuple[Annotated[str, AfterValidator(_path)], ...], _NonEmpty]
Methods = Annotated[tuple[Annotated[str, AfterValidator(_method)], ...], _NonEmpty]

_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,128}")


class Conditions(BaseModel):
    """Conditions on a request: keys are ANDed, the items of a list ORed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    countries: Countries = ()
    """ISO 3166-1 alpha-2 codes (plus ``XK``), compared per the policy's ``country_match``."""
    regions: Regions = ()
    """ISO 3166-2 subdivision codes such as ``UA-43``."""
    continents: Continents = ()
    """Continent codes: AF AN AS EU NA OC SA."""
    asns: ASNs = ()
    """AS numbers (``13335`` or ``"AS13335"``)."""
    networks: Networks = ()
    """CIDR networks (no host bits), matched on the normalised and the original address."""
    tags: Tags = ()
    """Reputation tags from ``geofence.tags.KNOWN_TAGS``, ``feed:<name>``, or a geofeed's
    ``geofeed:<CC>`` / ``geofeed:<CC>-<region>``."""
    paths: Paths = ()
    """Case-sensitive fnmatch globs on the URL path (without the query string)."""
    methods: Methods = ()
    """HTTP methods, upper case."""

    @model_validator(mode="after")
    def _has_condition(self) -> Conditions:
        if not self.used:
            raise ValueError(
                "no condition given; use at least one of " + ", ".join(CONDITION_FIELDS)
            )
        return self

    @property
    def used(self) -> tuple[str, ...]:
        """Names of the condition fields that are set."""
        return tuple(f for f in CONDITION_FIELDS if getattr(self, f))


class Rule(Conditions):
    """A named rule: when its conditions match (and its ``unless`` does not), ``action``."""

    name: str
    """Unique name, reported in decisions."""
    action: Action
    """What to do when the rule matches."""
    status: int | None = Field(default=None, ge=400, le=599)
    """HTTP status for deny/challenge; default 451 (deny) or 403 (challenge)."""
    unless: Conditions | None = None
    """Exceptions: the rule does not match when ANY of these conditions matches."""
    signals: Annotated[tuple[SignalTest, ...], BeforeValidator(parse_signal_tests)] = ()
    """Account-signal comparisons, ANDed (``{network_new_accounts: ">= 5", score: ">= 0.5"}``):
    see ``geofence.policy.signal_tests``. Never matches a request without an account."""

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not _NAME.fullmatch(name) or name != name.strip():
            raise ValueError(
                f"{name!r}: a rule name is 1-128 characters, no control characters, "
                "no leading or trailing spaces"
            )
        return name

    @model_validator(mode="after")
    def _has_condition(self) -> Rule:
        if not self.used and self.unless is None and not self.signals:
            raise ValueError(
                "rule has no condition; use at least one of "
                + ", ".join((*CONDITION_FIELDS, "unless", "signals"))
            )
        if self.status is not None and self.action is Action.ALLOW:
            raise ValueError("status applies to deny and challenge rules, not allow")
        return self


class Policy(BaseModel):
    """A geographic access policy: rules tried in order, first match wins."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    """Name of the policy, reported in decisions."""
    mode: Mode = Mode.ENFORCE
    """``enforce`` or ``report``."""
    default: Action = Action.DENY
    """Action when no rule matches."""
    unknown: Action = Action.DENY
    """Action when no rule matches and the country (or the address) is unknown."""
    country_match: CountryMatch = "location"
    """Which country ``countries`` compares: location, registered, or either."""
    rules: tuple[Rule, ...]
    """The rules, tried in order."""
    feeds: Annotated[tuple[FeedSpec, ...], BeforeValidator(named_feeds)] = ()
    """The policy's own feeds, loaded with ``Geofence(feeds=...)``: catalog names, ``embedded``
    (the shipped snapshots) or mappings (``name``, ``url`` or ``path``, ``format``, ``tag``); a
    rule names one as ``feed:<name>``. A relative ``path`` is read from the working directory."""

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
        seen: set[str] = set()
        for rule in rules:
            if rule.name in seen:
                raise PydanticCustomError(
                    "duplicate_rule_name",
                    "rule name '{name}' is used more than once",
                    {"name": rule.name},
                )
            seen.add(rule.name)
        return rules

    @field_validator("feeds")
    @classmethod
    def _unique_feeds(cls, feeds: tuple[FeedSpec, ...]) -> tuple[FeedSpec, ...]:
        names = [feed.name for feed in feeds]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"feed name {name!r} is used more than once")
        return feeds

    @cached_property
    def revision(self) -> str:
        """First 16 hex digits of the SHA-256 of the canonical JSON of the policy."""
        canonical = json.dumps(
            self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]
