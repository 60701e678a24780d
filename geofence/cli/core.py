"""``geofence check``, ``lookup`` and ``validate``: the core commands."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from geofence.cli import COMMANDS, EXIT_ERROR, EXIT_NOT_ALLOWED, EXIT_OK, Command
from geofence.cli.feeds import add_feeds_option
from geofence.decision import Decision
from geofence.embedded import example_policy_path
from geofence.engine import Geofence
from geofence.errors import AddressError, GeofenceError
from geofence.facts import Facts
from geofence.policy import load_policy

__all__: list[str] = []


def _add_check(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("addresses", nargs="+", metavar="ADDRESS")
    parser.add_argument("--policy", help="policy file (default: the embedded example policy)")
    add_data_options(parser)


def _add_lookup(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("addresses", nargs="+", metavar="ADDRESS")
    add_data_options(parser)


def _add_validate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument("--json", action="store_true", help="print JSON")


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


def _check(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout  # looked up per call: pytest and callers swap sys.stdout
    policy = args.policy or example_policy_path()
    worst = EXIT_OK
    with Geofence(policy, geo=args.geo, reload_interval=None, feeds=args.feeds) as gf:
        for address in args.addresses:
            decision = gf.evaluate(address)
            if decision.ip is None:
                print(f"geofence: error: {address!r} is not a valid IP address", file=sys.stderr)
                worst = EXIT_ERROR
                continue
            if decision.action != "allow" and worst == EXIT_OK:
                worst = EXIT_NOT_ALLOWED
            out.write(_decision_line(address, decision, as_json=args.json))
    return worst


def _decision_line(address: str, d: Decision, *, as_json: bool) -> str:
    if as_json:
        return json.dumps({"input": address, **d.to_dict()}) + "\n"
    asn = f"AS{d.asn}" if d.asn is not None else "AS?"
    org = f" ({d.as_org})" if d.as_org else ""
    tags = ",".join(sorted(d.tags)) or "-"
    via = f" via {d.via} {d.original_ip}" if d.via not in (None, "direct") else ""
    return (
        f"{address}\t{d.action.value}\trule={d.rule or '(' + _fallback(d) + ')'}\t"
        f"country={d.country or '??'}\t{asn}{org}\ttags={tags}{via}\n"
    )


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


def _validate(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout  # looked up per call: pytest and callers swap sys.stdout
    status = EXIT_OK
    for path in args.files:
        try:
            policy = load_policy(path)
        except GeofenceError as exc:
            status = EXIT_ERROR
            if args.json:
                out.write(json.dumps({"file": path, "valid": False, "errors": str(exc)}) + "\n")
            else:
                print(f"{path}: INVALID\n{exc}", file=out)
            continue
        if args.json:
            out.write(json.dumps({"file": path, "valid": True, "revision": policy.revision}) + "\n")
        else:
            print(
                f"{path}: OK (policy {policy.name!r}, {len(policy.rules)} rules, "
                f"revision {policy.revision})",
                file=out,
            )
    return status


COMMANDS.extend(
    [
        Command("check", "decide for each address under a policy", _add_check, _check),
        Command("lookup", "show the facts known about each address", _add_lookup, _lookup),
        Command("validate", "validate policy files", _add_validate, _validate),
    ]
)
