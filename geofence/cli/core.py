"""``geofence check`` and ``lookup``: decide for, or describe, addresses; and the data options
(``--geo``, ``--json``, ``--feeds``) that the commands reading addresses share."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from geofence.cli import COMMANDS, EXIT_ERROR, EXIT_NOT_ALLOWED, EXIT_OK, Command
from geofence.cli.feeds import add_feeds_option
from geofence.decision import Decision
from geofence.embedded import example_policy_path
from geofence.engine import Geofence
from geofence.errors import AddressError, ConfigurationError
from geofence.facts import Facts
from geofence.net import normalize
from geofence.request import Request

__all__: list[str] = []


def _add_check(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("addresses", nargs="+", metavar="ADDRESS", help="the TCP peer address")
    parser.add_argument("--policy", help="policy file (default: the embedded example policy)")
    parser.add_argument("--path", default="/", help="request path decided on (default /)")
    parser.add_argument("--method", default="GET", help="request method (default GET)")
    parser.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="a request header, e.g. 'X-Forwarded-For: 203.0.113.9' (repeatable)",
    )
    parser.add_argument(
        "--trusted-proxy",
        action="append",
        dest="trusted_proxies",
        metavar="CIDR|GROUP",
        help="a proxy whose forwarding headers are believed (repeatable; e.g. private)",
    )
    caller = parser.add_argument_group("the caller (account signals, printed per decision)")
    caller.add_argument("--account", help="the account id the request names")
    caller.add_argument("--declared-country", metavar="CC", help="its billing/KYC country")
    caller.add_argument("--fingerprint", help="a client fingerprint (default: from the headers)")
    caller.add_argument(
        "--store",
        default="memory://",
        metavar="URL",
        help="the signal store to read and record into (default memory://, which knows only "
        "this command's requests; a fleet's redis:// URL shows what it has seen)",
    )
    add_data_options(parser)


def _add_lookup(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("addresses", nargs="+", metavar="ADDRESS")
    add_data_options(parser)


def add_data_options(command: argparse.ArgumentParser) -> None:
    """``--geo`` and ``--json``, shared by the commands that look addresses up."""
    command.add_argument(
        "--geo",
        action="append",
        metavar="MMDB",
        help="a .mmdb database (repeat to compose; default: the embedded DB-IP data)",
    )
    command.add_argument("--json", action="store_true", help="print one JSON object per line")
    add_feeds_option(command)


def _headers(lines: list[str]) -> list[tuple[str, str]]:
    headers = []
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise ConfigurationError(f"--header {line!r}: expected 'Name: value'")
        headers.append((name.strip(), value.strip()))
    return headers


def _check(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout  # looked up per call: pytest and callers swap sys.stdout
    policy = args.policy or example_policy_path()
    headers = _headers(args.header)
    worst = EXIT_OK
    with Geofence(
        policy,
        geo=args.geo,
        reload_interval=None,
        feeds=args.feeds,
        trusted_proxies=args.trusted_proxies or (),
        store=args.store,
    ) as gf:
        for address in args.addresses:
            try:
                normalize(address)
            except AddressError:
                print(f"geofence: error: {address!r} is not a valid IP address", file=sys.stderr)
                worst = EXIT_ERROR
                continue
            decision = gf.evaluate(
                Request(address, headers, args.path, args.method.upper(), **_caller(args))
            )
            if decision.action != "allow" and worst == EXIT_OK:
                worst = EXIT_NOT_ALLOWED
            out.write(_decision_line(address, decision, as_json=args.json))
    return worst


def _caller(args: argparse.Namespace) -> dict[str, Any]:
    country = args.declared_country
    if country is not None and not (len(country) == 2 and country.isascii() and country.isalpha()):
        raise ConfigurationError(
            f"--declared-country {country!r}: expected an ISO 3166-1 alpha-2 code such as US"
        )
    if args.account is None and (country is not None or args.fingerprint is not None):
        raise ConfigurationError("--declared-country and --fingerprint describe an --account")
    return {"account": args.account, "declared_country": country, "fingerprint": args.fingerprint}


def _decision_line(address: str, d: Decision, *, as_json: bool) -> str:
    if as_json:
        return json.dumps({"input": address, **d.to_dict()}) + "\n"
    asn = f"AS{d.asn}" if d.asn is not None else "AS?"
    org = f" ({d.as_org})" if d.as_org else ""
    tags = ",".join(sorted(d.tags)) or "-"
    via = f" via {d.via} {d.original_ip}" if d.via not in (None, "direct") else ""
    # Regions and the database's own attribution (the territory rule) only where there are any.
    where = f"\tregions={','.join(d.regions)}" if d.regions else ""
    if d.attributed_country:
        where += f"\tattributed_country={d.attributed_country}"
    line = (
        f"{address}\t{d.action.value}\trule={d.rule or '(' + _fallback(d) + ')'}\t"
        f"country={d.country or '??'}{where}\t{asn}{org}\ttags={tags}{via}\n"
    )
    if not d.signals:
        return line
    flags = f"  flags={','.join(d.flags)}" if d.flags else ""
    rows = [f"  score {d.score:.3f}{flags}"]
    for name, s in d.signals.items():
        over = s.threshold is not None and s.value >= s.threshold
        limit = "-" if s.threshold is None else f"{s.threshold:g}"
        rows.append(
            f"  {'!' if over else ' '} {name:<22} {s.value:>8g}  threshold {limit:<6} "
            f"window {s.window_s:g}s  {'; '.join(s.evidence)}"
        )
    return line + "\n".join(rows) + "\n"


def _fallback(d: Decision) -> str:
    return "unknown" if d.country is None else "default"


def _lookup(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout  # looked up per call: pytest and callers swap sys.stdout
    status = EXIT_OK
    with Geofence(_ALLOW_ALL, geo=args.geo, reload_interval=None, feeds=args.feeds) as gf:
        for address in args.addresses:
            try:
                facts = gf.lookup(address)
            except AddressError:
                print(f"geofence: error: {address!r} is not a valid IP address", file=sys.stderr)
                status = EXIT_ERROR
                continue
            out.write(_facts_line(address, facts, as_json=args.json))
    return status


# lookup needs a Geofence for its data handling, not a policy: one that reads no facts.
_ALLOW_ALL = {"name": "lookup", "default": "allow", "unknown": "allow", "rules": []}


def _facts_line(address: str, f: Facts, *, as_json: bool) -> str:
    record = {
        "input": address,
        "ip": f.ip,
        "original_ip": None if f.address is None else f.address.original,
        "via": None if f.address is None else f.address.via.value,
        "country": f.country,
        "registered_country": f.registered_country,
        "represented_country": f.represented_country,
        "regions": list(f.regions),
        "continent": f.continent,
        "asn": f.asn,
        "as_org": f.as_org,
        "tags": sorted(f.tags),
        "sources": list(f.sources),
        "errors": list(f.errors),
    }
    if as_json:
        return json.dumps(record) + "\n"
    shown = [f"{k}={_show(v)}" for k, v in record.items() if k not in ("input", "sources")]
    return f"{address}\t" + "\t".join(shown) + "\n"


def _show(value: object) -> str:
    if value is None or value == []:
        return "-"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


COMMANDS.extend(
    [
        Command(
            "check",
            "decide for each address under a policy",
            _add_check,
            _check,
            "geofence check --policy examples/policy.yaml --path /v1/messages --method POST \\\n"
            "      --trusted-proxy private --header 'X-Forwarded-For: 190.6.64.1' 10.0.0.5",
        ),
        Command(
            "lookup",
            "show the facts known about each address",
            _add_lookup,
            _lookup,
            "geofence lookup --feeds --json 8.8.8.8 2001:4860:4860::8888",
        ),
    ]
)
