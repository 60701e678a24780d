"""Policy test case files: the ``*.geofence.yaml`` / ``*.geofence.toml`` schema and its loading.

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
Running the cases is geofence/testing/cases.py.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, NamedTuple

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from geofence.errors import ConfigurationError, PolicyError, PolicyProblem
from geofence.policy import Action
from geofence.testing.asserts import STAND_IN_ADDRESS
from geofence.testing.static import geo_record

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = [
    "CASE_SUFFIXES",
    "Case",
    "CaseSuite",
    "error",
    "is_case_file",
    "load_cases",
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
        raise error(path, f"cannot read: {exc}") from None
    try:
        return tomllib.loads(text) if path.suffix.lower() == ".toml" else yaml.safe_load(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise error(path, f"invalid {path.suffix[1:].upper()}: {exc}") from None


def error(path: Path, message: str, where: str = "case file") -> PolicyError:
    return PolicyError([PolicyProblem(message, file=str(path), path=where)])


def load_cases(path: str | Path) -> CaseSuite:
    """Load and validate a case file; raise ``PolicyError`` naming the file and each bad case."""
    path = Path(path)
    data = _parse(path)
    if not isinstance(data, dict):
        raise error(path, "the top level must be a mapping with a 'cases' list")
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
