"""Policy test cases as data: ``*.geofence.yaml`` / ``*.geofence.toml`` files, loaded and run.

::

    policy: policy.yaml            # relative to this file; optional when given on the command line
    addresses:                     # optional: facts for addresses that request cases use
      203.0.113.0/24: {country: US, tags: [vpn]}
    cases:
      - name: embargoed country is blocked
        facts: {country: CU}                       # facts directly, no database needed
        expect: {action: deny, rule: embargoed}
      - name: real address through the configured data
        request: {ip: 8.8.8.8, path: /v1/messages}
        expect: {action: allow}

A ``facts`` case decides on exactly the facts given (``ip`` defaults to a stand-in address, see
``STAND_IN_ADDRESS``). A ``request`` case runs a real ``Geofence`` over the ``addresses`` given
here, then the ``geo`` databases listed (paths relative to this file), or the embedded data;
``feeds`` (``[embedded]`` or catalog names) adds reputation feeds.
Problems are reported as a ``PolicyError`` whose problems name the file and the case.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, NamedTuple

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from geofence.decision import Decision
from geofence.engine import Geofence
from geofence.errors import ConfigurationError, PolicyError, PolicyProblem
from geofence.geo import GeoSource
from geofence.policy import Action, CompiledPolicy, Policy, PolicySource, load_policy
from geofence.request import Request
from geofence.testing.asserts import ANY, STAND_IN_ADDRESS, assert_decision, decide_facts
from geofence.testing.static import StaticGeo, geo_record

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = [
    "CASE_SUFFIXES",
    "Case",
    "CaseResult",
    "CaseRunner",
    "CaseSuite",
    "is_case_file",
    "load_cases",
    "run_file",
]

CASE_SUFFIXES = (".geofence.yaml", ".geofence.yml", ".geofence.toml")
"""File names ending so are case files."""


def is_case_file(path: str | Path) -> bool:
    """True for ``*.geofence.yaml`` / ``.yml`` / ``.toml``."""
    return str(path).lower().endswith(CASE_SUFFIXES)


def _no_yaml_boolean(value: object) -> object:
    # YAML 1.1 reads a bare NO (Norway) as false; say so instead of "not a string".
    if isinstance(value, bool):
        raise ValueError(f'YAML read this as {value}: quote country codes such as "NO"')
    return value


_Code = Annotated[str, BeforeValidator(_no_yaml_boolean)]
_Model = ConfigDict(extra="forbid", frozen=True)


class FactsSpec(BaseModel):
    """The client facts of a ``facts`` case (``GeoRecord`` fields, plus ``ip``)."""

    model_config = _Model

    ip: str | None = STAND_IN_ADDRESS
    country: _Code | None = None
    registered_country: _Code | None = None
    represented_country: _Code | None = None
    regions: tuple[str, ...] = ()
    continent: str | None = None
    asn: int | str | None = None
    as_org: str | None = None
    tags: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _codes(self) -> FactsSpec:
        try:
            geo_record(self.record())
        except ConfigurationError as exc:
            raise ValueError(str(exc).removeprefix("facts: ")) from None
        return self

    def record(self) -> dict[str, Any]:
        """The facts as a mapping for ``geo_record`` (without ``ip``)."""
        return self.model_dump(exclude={"ip"}, exclude_defaults=True)


class RequestSpec(BaseModel):
    """The request of a ``request`` case: ``ip`` is the TCP peer."""

    model_config = _Model

    ip: str | None
    path: str = "/"
    method: str = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    account: str | None = None


def _empty_is_none(value: object) -> object:
    # TOML has no null: rule = "" says "no rule matched" (a rule name is never empty).
    return None if value == "" else value


class Expect(BaseModel):
    """What the decision must be; ``rule: null`` (TOML: ``""``) expects the fallback action."""

    model_config = _Model

    action: Action | None = None
    rule: Annotated[str | None, BeforeValidator(_empty_is_none)] = None
    allowed: bool | None = None
    status: int | None = None
    reason: str | None = None

    @model_validator(mode="after")
    def _something(self) -> Expect:
        if not self.model_fields_set:
            raise ValueError("expect needs at least one of action, rule, allowed, status, reason")
        return self


class Case(BaseModel):
    """One case: a name, ``facts`` or ``request`` (exactly one), and ``expect``."""

    model_config = _Model

    name: str = Field(min_length=1)
    facts: FactsSpec | None = None
    path: str = "/"
    """The URL path of a ``facts`` case (a ``request`` has its own)."""
    method: str = "GET"
    """The HTTP method of a ``facts`` case."""
    request: RequestSpec | None = None
    expect: Expect

    @model_validator(mode="after")
    def _one_input(self) -> Case:
        if (self.facts is None) == (self.request is None):
            raise ValueError("give exactly one of facts or request")
        if self.request is not None and {"path", "method"} & self.model_fields_set:
            raise ValueError("path and method go inside request")
        return self


class _CasesModel(BaseModel):
    model_config = _Model

    policy: str | None = None
    geo: tuple[str, ...] | None = None
    feeds: tuple[str, ...] = ()
    addresses: dict[str, FactsSpec] = Field(default_factory=dict)
    trusted_proxies: tuple[str, ...] = ()
    cases: tuple[Case, ...] = Field(min_length=1)


class CaseSuite(NamedTuple):
    """A loaded case file."""

    path: Path
    policy: Path | None
    """The policy the file names, resolved against the file's directory."""
    geo: tuple[Path, ...] | None
    feeds: tuple[str, ...]
    """Reputation feeds for request cases: ``embedded`` or catalog names."""
    addresses: Mapping[str, FactsSpec]
    trusted_proxies: tuple[str, ...]
    cases: tuple[Case, ...]


def _parse(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:
        raise _error(path, f"cannot read: {exc}") from None
    try:
        return tomllib.loads(text) if path.suffix.lower() == ".toml" else yaml.safe_load(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise _error(path, f"invalid {path.suffix[1:].upper()}: {exc}") from None


def _error(path: Path, message: str, where: str = "case file") -> PolicyError:
    return PolicyError([PolicyProblem(message, file=str(path), path=where)])


def load_cases(path: str | Path) -> CaseSuite:
    """Load and validate a case file; raise ``PolicyError`` naming the file and each bad case."""
    path = Path(path)
    data = _parse(path)
    if not isinstance(data, dict):
        raise _error(path, "the top level must be a mapping with a 'cases' list")
    try:
        model = _CasesModel.model_validate(data)
    except ValidationError as exc:
        problems = [
            PolicyProblem(_message(err), file=str(path), path=_where(err["loc"], data))
            for err in exc.errors()
        ]
        raise PolicyError(problems) from None
    base = path.parent
    return CaseSuite(
        path,
        None if model.policy is None else base / model.policy,
        None if model.geo is None else tuple(base / g for g in model.geo),
        model.feeds,
        model.addresses,
        model.trusted_proxies,
        model.cases,
    )


def _message(err: Any) -> str:
    ctx = err.get("ctx") or {}
    if err["type"] == "value_error" and "error" in ctx:
        return str(ctx["error"])
    if err["type"] == "extra_forbidden":
        return f"unknown key {err['loc'][-1]!r}"
    return str(err["msg"])


def _where(loc: tuple[int | str, ...], data: dict[str, Any]) -> str:
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
            cases = data.get("cases")
            if i == 1 and loc[0] == "cases" and isinstance(cases, list) and part < len(cases):
                name = cases[part].get("name") if isinstance(cases[part], dict) else None
                if isinstance(name, str):
                    out += f" ({name!r})"
        else:
            out += f".{part}" if out else part
    return out


class CaseResult(NamedTuple):
    """The outcome of one case: ``message`` says what differed (empty when it passed)."""

    case: Case
    passed: bool
    message: str
    decision: Decision


class CaseRunner:
    """Runs the cases of a suite against a policy (the suite's own unless one is given)."""

    def __init__(self, suite: CaseSuite, policy: PolicySource | None = None) -> None:
        self.suite = suite
        source: PolicySource | None = policy if policy is not None else suite.policy
        if source is None:
            raise _error(suite.path, "no policy: name one with 'policy:' or on the command line")
        self.policy: Policy = load_policy(source)
        self._compiled = CompiledPolicy(self.policy)
        self._geofence: Geofence | None = None
        self._check_rule_names()

    def _check_rule_names(self) -> None:
        names = [rule.name for rule in self.policy.rules]
        problems = [
            PolicyProblem(
                f"expects rule {case.expect.rule!r}, but policy {self.policy.name!r} has no such "
                f"rule (rules: {', '.join(names) or 'none'})",
                file=str(self.suite.path),
                path=f"cases[{i}] ({case.name!r}).expect.rule",
            )
            for i, case in enumerate(self.suite.cases)
            if case.expect.rule is not None and case.expect.rule not in names
        ]
        if problems:
            raise PolicyError(problems)

    def run(self, case: Case) -> CaseResult:
        """Decide the case and compare; raises ``GeofenceError`` if the data cannot be set up."""
        decision = self.decide(case)
        expect = case.expect
        try:
            assert_decision(
                decision,
                action=expect.action,
                rule=expect.rule if "rule" in expect.model_fields_set else ANY,
                allowed=expect.allowed,
                status=expect.status,
                reason=expect.reason,
            )
        except AssertionError as exc:
            return CaseResult(case, False, str(exc), decision)
        return CaseResult(case, True, "", decision)

    def decide(self, case: Case) -> Decision:
        """The decision for the case's facts or request."""
        if case.facts is not None:
            return decide_facts(
                self._compiled,
                case.facts.record(),
                ip=case.facts.ip,
                path=case.path,
                method=case.method.upper(),
            )
        assert case.request is not None
        r = case.request
        request = Request(
            ip=r.ip, headers=r.headers, path=r.path, method=r.method, account=r.account
        )
        return self.geofence().evaluate(request)

    def geofence(self) -> Geofence:
        """The ``Geofence`` request cases run through, built on first use."""
        if self._geofence is None:
            sources: list[GeoSource | str] = []
            if self.suite.addresses:
                static = {net: facts.record() for net, facts in self.suite.addresses.items()}
                sources.append(StaticGeo(static, name=self.suite.path.name))
            if self.suite.geo is not None:
                sources.extend(str(p) for p in self.suite.geo)
            else:
                from geofence.embedded import default_geo_paths

                sources.extend(str(p) for p in default_geo_paths())
            self._geofence = Geofence(
                self.policy,
                geo=sources,
                feeds=list(self.suite.feeds) or None,
                trusted_proxies=self.suite.trusted_proxies,
                reload_interval=None,
            )
        return self._geofence

    def close(self) -> None:
        """Close the data files opened for request cases."""
        if self._geofence is not None:
            self._geofence.close()


def run_file(path: str | Path, policy: PolicySource | None = None) -> list[CaseResult]:
    """Load a case file and run every case; raises ``GeofenceError`` on an invalid file."""
    runner = CaseRunner(load_cases(path), policy)
    try:
        return [runner.run(case) for case in runner.suite.cases]
    finally:
        runner.close()
