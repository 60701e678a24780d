"""Parsers for the published feed formats: each turns the bytes of a feed into ranges.

A bad line or record is counted (with the first few quoted) and skipped, never fatal: one typo
upstream must not drop a whole list. A body that is not the format at all (not JSON, not UTF-8)
raises ``FeedFormatError``; so does a feed with no entries, which the caller treats as a failed
download and keeps its last good copy.

Formats (``FORMATS``): ``plain`` (one IP/CIDR/range per line, ``#``/``;`` comments, also
FireHOL netsets, Spamhaus text, the Tor bulk exit list, exploded IPv6), ``tordnsel``
(``ExitAddress`` lines of check.torproject.org/exit-addresses), ``spamhaus-ndjson``, ``aws``,
``google``, ``azure``, ``oracle``, ``fastly``, ``github``, ``geofeed`` (RFC 8805 CSV).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from geofence.errors import AddressError, DataError
from geofence.reputation.range_builder import PackedRanges, parse_range

__all__ = ["FORMATS", "FeedFormatError", "ParsedFeed", "parse_feed"]

_SAMPLES = 5  # bad lines quoted in a report


class FeedFormatError(DataError):
    """The body is not in the feed's format at all, or yields no entries."""


@dataclass
class ParsedFeed:
    """The ranges of one feed body and what went wrong on the way."""

    ranges: PackedRanges = field(default_factory=PackedRanges)
    """``(version, first, last)`` per valid entry, in file order (duplicates kept)."""
    bad: int = 0
    """Entries that could not be read."""
    bad_samples: list[str] = field(default_factory=list)
    """The first few bad entries, with their line or position."""
    meta: dict[str, str] = field(default_factory=dict)
    """What the feed says about itself: a timestamp, a sync token, a record count."""
    places: list[tuple[int, int, int, str, str | None]] = field(default_factory=list)
    """Geofeeds only: ``(version, first, last, country, region)`` per valid row with a
    country, upper case (``"GB"``, ``"GB-EN"``; region ``None`` when the row has none or
    a malformed one). ``ranges`` holds every valid row all the same."""

    def add(self, text: str, where: str) -> None:
        """Add one range text, or count it as bad."""
        try:
            self.ranges.append(parse_range(text))
        except AddressError:
            self.reject(text, where)

    def reject(self, text: str, where: str) -> None:
        """Count a bad entry."""
        self.bad += 1
        if len(self.bad_samples) < _SAMPLES:
            self.bad_samples.append(f"{where}: {text[:80]!r}")

    @property
    def count(self) -> int:
        """Valid entries."""
        return len(self.ranges)


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")  # a BOM is tolerated, as RFC 8805 verifiers do
    except UnicodeDecodeError as exc:
        raise FeedFormatError(f"not UTF-8 text: {exc}") from None


def _lines(body: bytes) -> Iterator[tuple[int, str]]:
    return enumerate(_text(body).splitlines(), 1)


def parse_plain(body: bytes, select: Sequence[str] = ()) -> ParsedFeed:
    """One address, CIDR or ``first-last`` per line; ``#``/``;`` comments, blank lines skipped."""
    parsed = ParsedFeed()
    for number, line in _lines(body):
        entry = line.split("#", 1)[0].split(";", 1)[0].strip()
        if entry:
            parsed.add(
                entry.split()[0] if " " in entry or "\t" in entry else entry, f"line {number}"
            )
    return parsed


def parse_tordnsel(body: bytes, select: Sequence[str] = ()) -> ParsedFeed:
    """TorDNSEL ``exit-addresses``: ``ExitAddress <ip> <date> <time>`` lines inside blocks."""
    parsed = ParsedFeed()
    relays = 0
    for number, line in _lines(body):
        if line.startswith("ExitNode "):
            relays += 1
        elif line.startswith("ExitAddress "):
            parts = line.split()
            parsed.add(parts[1] if len(parts) > 1 else "", f"line {number}")
    parsed.meta["relays"] = str(relays)
    return parsed


def parse_spamhaus_ndjson(body: bytes, select: Sequence[str] = ()) -> ParsedFeed:
    """Spamhaus DROP JSON: one ``{"cidr": ...}`` object per line, then a metadata object."""
    parsed = ParsedFeed()
    for number, line in _lines(body):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            parsed.reject(line, f"line {number}")
            continue
        if isinstance(record, dict) and record.get("type") == "metadata":
            parsed.meta.update({k: str(v) for k, v in record.items() if k != "type"})
        elif isinstance(record, dict) and isinstance(record.get("cidr"), str):
            parsed.add(record["cidr"], f"line {number}")
        else:
            parsed.reject(line, f"line {number}")
    return parsed


def _json(body: bytes) -> Any:
    try:
        return json.loads(_text(body))
    except ValueError as exc:
        raise FeedFormatError(f"not JSON: {exc}") from None


def _object(body: bytes, *keys: str) -> dict[str, Any]:
    data = _json(body)
    if not isinstance(data, dict) or not all(k in data for k in keys):
        raise FeedFormatError(f"expected a JSON object with {', '.join(keys)}")
    return data


def _records(parsed: ParsedFeed, items: object, where: str) -> Iterable[Any]:
    if not isinstance(items, list):
        parsed.reject(repr(items), f"{where} (not a list)")
        return ()
    return items


def _add_value(parsed: ParsedFeed, value: object, where: str) -> None:
    if isinstance(value, str):
        parsed.add(value, where)
    else:
        parsed.reject(repr(value), where)


def parse_aws(body: bytes, select: Sequence[str] = ()) -> ParsedFeed:
    """AWS ``ip-ranges.json``; ``select`` keeps only those services (``EC2``...)."""
    data = _object(body, "prefixes")
    parsed = ParsedFeed(meta=_meta(data, "syncToken", "createDate"))
    for list_key, key in (("prefixes", "ip_prefix"), ("ipv6_prefixes", "ipv6_prefix")):
        for i, item in enumerate(_records(parsed, data.get(list_key, []), list_key)):
            if not isinstance(item, dict):
                parsed.reject(repr(item), f"{list_key}[{i}]")
            elif not select or item.get("service") in select:
                _add_value(parsed, item.get(key), f"{list_key}[{i}]")
    return parsed


def parse_google(body: bytes, select: Sequence[str] = ()) -> ParsedFeed:
    """Google ``cloud.json`` / ``goog.json`` / Googlebot: ``prefixes[ipv4Prefix|ipv6Prefix]``."""
    data = _object(body, "prefixes")
    parsed = ParsedFeed(meta=_meta(data, "syncToken", "creationTime"))
    for i, item in enumerate(_records(parsed, data["prefixes"], "prefixes")):
        value = item.get("ipv4Prefix", item.get("ipv6Prefix")) if isinstance(item, dict) else item
        if not select or (isinstance(item, dict) and item.get("scope") in select):
            _add_value(parsed, value, f"prefixes[{i}]")
    return parsed


def parse_azure(body: bytes, select: Sequence[str] = ()) -> ParsedFeed:
    """Azure Service Tags; ``select`` keeps only those tag names (``AzureCloud``...)."""
    data = _object(body, "values")
    parsed = ParsedFeed(meta=_meta(data, "changeNumber", "cloud"))
    for i, item in enumerate(_records(parsed, data["values"], "values")):
        if not isinstance(item, dict) or not isinstance(item.get("properties"), dict):
            parsed.reject(repr(item)[:80], f"values[{i}]")
            continue
        if select and item.get("name") not in select:
            continue
        prefixes = item["properties"].get("addressPrefixes", [])
        for j, value in enumerate(_records(parsed, prefixes, f"values[{i}]")):
            _add_value(parsed, value, f"values[{i}].addressPrefixes[{j}]")
    return parsed


def parse_oracle(body: bytes, select: Sequence[str] = ()) -> ParsedFeed:
    """Oracle Cloud ``public_ip_ranges.json``: ``regions[].cidrs[].cidr``."""
    data = _object(body, "regions")
    parsed = ParsedFeed(meta=_meta(data, "last_updated_timestamp"))
    for i, region in enumerate(_records(parsed, data["regions"], "regions")):
        cidrs = region.get("cidrs", []) if isinstance(region, dict) else None
        for j, item in enumerate(_records(parsed, cidrs, f"regions[{i}]")):
            value = item.get("cidr") if isinstance(item, dict) else item
            _add_value(parsed, value, f"regions[{i}].cidrs[{j}]")
    return parsed


def parse_fastly(body: bytes, select: Sequence[str] = ()) -> ParsedFeed:
    """Fastly public-ip-list: ``{"addresses": [...], "ipv6_addresses": [...]}``."""
    data = _object(body, "addresses")
    parsed = ParsedFeed()
    for key in ("addresses", "ipv6_addresses"):
        for i, value in enumerate(_records(parsed, data.get(key, []), key)):
            _add_value(parsed, value, f"{key}[{i}]")
    return parsed


def parse_github(body: bytes, select: Sequence[str] = ()) -> ParsedFeed:
    """GitHub ``/meta``: CIDR lists under ``hooks``, ``actions``...; ``select`` picks the keys."""
    data = _object(body)
    parsed = ParsedFeed()
    keys = list(select) or [k for k, v in data.items() if isinstance(v, list) and k != "ssh_keys"]
    for key in keys:
        for i, value in enumerate(_records(parsed, data.get(key), key)):
            _add_value(parsed, value, f"{key}[{i}]")
    return parsed


def parse_geofeed(body: bytes, select: Sequence[str] = ()) -> ParsedFeed:
    """RFC 8805 ``ip_prefix,alpha2code,region,city,postal_code`` (BOM, CRLF, comments ok).

    As the MaxMind verifier reads it: fields are trimmed, a row needs at least 5 fields (a 6th
    is ignored), and an empty or unparsable prefix makes the row invalid. ``select`` keeps
    only rows of those countries. Rows with a country also go to ``places`` (see ``_place``).
    """
    parsed = ParsedFeed()
    countries: set[str] = set()
    for number, line in _lines(body):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) < 5 or not fields[0]:
            parsed.reject(line, f"line {number}")
            continue
        if select and fields[1].upper() not in select:
            continue
        before = parsed.count
        parsed.add(fields[0], f"line {number}")
        if parsed.count > before and fields[1]:
            countries.add(fields[1].upper())
            place = _place(fields[1], fields[2])
            if place is not None:
                parsed.places.append((*parsed.ranges[-1], *place))
    parsed.meta["countries"] = ",".join(sorted(countries))
    return parsed


_COUNTRY = re.compile(r"[A-Z]{2}")
_REGION = re.compile(r"([A-Z]{2})-[A-Z0-9]{1,3}")


def _place(country: str, region: str) -> tuple[str, str | None] | None:
    """``(country, region)`` of a geofeed row, upper case, or ``None`` without a usable country.

    The region is kept as published (Apple writes ``GB-EN`` where ISO 3166-2 has ``GB-ENG``)
    when it is ``<country>-<1 to 3 letters or digits>``; anything else drops just the region.
    """
    # ASCII is checked before upper-casing: "ß".upper() is "SS".
    country = country.upper() if country.isascii() else ""
    if not _COUNTRY.fullmatch(country):
        return None
    shape = _REGION.fullmatch(region.upper()) if region.isascii() else None
    return country, (shape[0] if shape is not None and shape[1] == country else None)


def _meta(data: Mapping[str, Any], *keys: str) -> dict[str, str]:
    return {k: str(data[k]) for k in keys if k in data}


Parser = Callable[[bytes, Sequence[str]], ParsedFeed]

FORMATS: Mapping[str, Parser] = {
    "plain": parse_plain,
    "tordnsel": parse_tordnsel,
    "spamhaus-ndjson": parse_spamhaus_ndjson,
    "aws": parse_aws,
    "google": parse_google,
    "azure": parse_azure,
    "oracle": parse_oracle,
    "fastly": parse_fastly,
    "github": parse_github,
    "geofeed": parse_geofeed,
}
"""Format name -> parser."""


def parse_feed(format: str, body: bytes, select: Sequence[str] = ()) -> ParsedFeed:
    """Parse ``body`` as ``format``; raises ``FeedFormatError`` when nothing valid is in it."""
    try:
        parser = FORMATS[format]
    except KeyError:
        raise FeedFormatError(
            f"unknown feed format {format!r} (known: {', '.join(sorted(FORMATS))})"
        ) from None
    try:
        parsed = parser(body, select)
    except RecursionError:  # json.loads on deeply nested input: the feed's fault, not ours
        raise FeedFormatError(f"{format} feed nested too deeply to parse") from None
    if not parsed.ranges:
        problem = f"; {parsed.bad} bad entries, e.g. {parsed.bad_samples[0]}" if parsed.bad else ""
        raise FeedFormatError(f"no entries in the {format} feed{problem}")
    return parsed
