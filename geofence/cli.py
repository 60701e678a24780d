"""The ``geofence`` command: check addresses against a policy, look up facts, validate policies.

Exit codes: 0 all allowed / valid, 1 something not allowed, 2 usage, policy or data error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TextIO

from geofence.decision import Decision
from geofence.embedded import example_policy_path
from geofence.engine import Geofence
from geofence.errors import AddressError, GeofenceError
from geofence.facts import Facts
from geofence.policy import load_policy

__all__ = ["main"]

EXIT_OK, EXIT_NOT_ALLOWED, EXIT_ERROR = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="geofence", description="Geographic access policies for API servers."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = sub.add_parser("check", help="decide for each address under a policy")
    check.add_argument("addresses", nargs="+", metavar="ADDRESS")
    check.add_argument("--policy", help="policy file (default: the embedded example policy)")
    _add_data_options(check)

    lookup = sub.add_parser("lookup", help="show the facts known about each address")
    lookup.add_argument("addresses", nargs="+", metavar="ADDRESS")
    _add_data_options(lookup)

    validate = sub.add_parser("validate", help="validate policy files")
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _add_data_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--geo",
        action="append",
        metavar="MMDB",
        help="a .mmdb database (repeat to compose; default: the embedded DB-IP data)",
    )
    command.add_argument("--json", action="store_true", help="print one JSON object per line")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 for --help
        return int(exc.code or 0)
    out = sys.stdout
    try:
        if args.command == "check":
            return _check(args, out)
        if args.command == "lookup":
            return _lookup(args, out)
        return _validate(args, out)
    except GeofenceError as exc:
        print(f"geofence: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _check(args: argparse.Namespace, out: TextIO) -> int:
    policy = args.policy or example_policy_path()
    worst = EXIT_OK
    with Geofence(policy, geo=args.geo, reload_interval=None) as gf:
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


def _lookup(args: argparse.Namespace, out: TextIO) -> int:
    status = EXIT_OK
    with Geofence(_ALLOW_ALL, geo=args.geo, reload_interval=None) as gf:
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


def _validate(args: argparse.Namespace, out: TextIO) -> int:
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


if __name__ == "__main__":
    sys.exit(main())
