"""One strict address parser and the normalisation applied before every lookup and cache key.

Parsing is strict on purpose: ``010.0.0.1``, ``127.1`` and ``0x7f.0.0.1`` are rejected
rather than guessed at, because different software reads them as different addresses and an
attacker picks whichever reading gets through. Parsing uses ``socket.inet_pton``, which accepts
exactly dotted-quad IPv4 and RFC 4291 IPv6 text, and is fast enough for the request path.

Normalisation maps the IPv6 forms that carry an IPv4 client address to that IPv4 address:

========================  ==========================  =====================================
form                      prefix                      IPv4 address taken from
========================  ==========================  =====================================
IPv4-mapped               ``::ffff:0:0/96``           the last 32 bits
IPv4-compatible           ``::/96`` (RFC 4291,        the last 32 bits, except ``::``,
(deprecated)              section 2.5.5.1)            ``::1`` and 0.0.0.0/8 (stay IPv6)
6to4 (RFC 3056)           ``2002::/16``               bits 16-47
NAT64 (RFC 6052)          ``64:ff9b::/96``,           the RFC 6052 position for the prefix
                          ``64:ff9b:1::/48``,         length (32/40/48/56/64/96 bits; bits
                          configured prefixes         64-71 are skipped)
Teredo (RFC 4380)         ``2001::/32``               the last 32 bits, inverted
========================  ==========================  =====================================
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from enum import Enum
from typing import NamedTuple

from geofence.errors import AddressError, ConfigurationError

__all__ = [
    "WELL_KNOWN_NAT64_PREFIXES",
    "Address",
    "Normalizer",
    "Via",
    "normalize",
    "parse_address",
    "split_host",
]

_MAX_TEXT = 128  # longest sensible "[v6%zone]:port"; anything longer is refused before parsing
_AF_INET = socket.AF_INET
_AF_INET6 = socket.AF_INET6
_inet_pton = socket.inet_pton
_inet_ntop = socket.inet_ntop


class Via(str, Enum):
    """How the client's address arrived, when normalisation changed it."""

    DIRECT = "direct"
    IPV4_MAPPED = "ipv4-mapped"
    IPV4_COMPATIBLE = "ipv4-compatible"
    SIXTOFOUR = "6to4"
    NAT64 = "nat64"
    TEREDO = "teredo"


class Address(NamedTuple):
    """A parsed, normalised address (a tuple: cheap to build on the request path).

    ``text`` is the canonical form used for every lookup and cache key: dotted quad for IPv4,
    compressed lower-case for IPv6. ``original`` is the canonical form of the address as it
    arrived; it differs from ``text`` only when ``via`` is not ``Via.DIRECT``.
    """

    text: str
    """Canonical normalised address, e.g. ``"192.0.2.1"``."""
    version: int
    """4 or 6 (of the normalised address)."""
    packed: bytes
    """4 or 16 bytes of the normalised address."""
    original: str
    """Canonical form of the address as it arrived, e.g. ``"2002:c000:201::"``."""
    via: Via
    """How the address was embedded in what arrived."""

    @property
    def value(self) -> int:
        """The normalised address as an integer."""
        return int.from_bytes(self.packed, "big")

    @property
    def ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        """The normalised address as an ``ipaddress`` object."""
        return ipaddress.ip_address(self.packed)

    @property
    def original_packed(self) -> bytes:
        """The bytes of the address as it arrived (before normalisation)."""
        if self.via is Via.DIRECT:
            return self.packed
        return _inet_pton(_AF_INET6, self.original)


def split_host(text: str) -> str:
    """Strip brackets, a port and a zone id from ``text``; return the bare address text.

    ``[2001:db8::1]:443`` -> ``2001:db8::1``, ``1.2.3.4:5678`` -> ``1.2.3.4``,
    ``fe80::1%eth0`` -> ``fe80::1``. A bare IPv6 address is never read as having a port.
    Raises ``AddressError`` when the shape is wrong (an empty or non-numeric port, a lone bracket).
    """
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise AddressError("unclosed '[' in address", text=text)
        rest = text[end + 1 :]
        if rest and not (rest.startswith(":") and _is_port(rest[1:])):
            raise AddressError("only ':port' may follow ']'", text=text)
        host = text[1:end]
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
        if not _is_port(port):
            raise AddressError("invalid port", text=text)
    else:
        host = text
    zone = host.find("%")
    if zone >= 0:
        if ":" not in host or not _ZONE_CHARS.issuperset(host[zone + 1 :]) or zone == len(host) - 1:
            raise AddressError("a zone id needs an IPv6 address and an RFC 6874 name", text=text)
        host = host[:zone]
    return host


# RFC 6874 ZoneID characters (unreserved plus '%' for pct-encoding): a zone id is dropped, so
# without this check any text after '%' (spaces, commas, quotes) would pass unseen.
_ZONE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%")


def _is_port(port: str) -> bool:
    return 0 < len(port) <= 5 and port.isascii() and port.isdigit() and int(port) <= 65535


def parse_address(text: str) -> tuple[int, bytes]:
    """Parse ``text`` strictly; return ``(family, packed)`` without normalising.

    Accepts brackets, ports and zone ids (see ``split_host``). Raises ``AddressError``.
    """
    if not isinstance(text, str) or not text or len(text) > _MAX_TEXT or not text.isascii():
        raise AddressError("not an address", text=str(text)[:_MAX_TEXT])
    try:
        return _AF_INET, _inet_pton(_AF_INET, text)
    except (OSError, ValueError):
        # ValueError: inet_pton refuses an embedded NUL that way, not with OSError.
        pass
    host = split_host(text) if ("[" in text or "%" in text or text.count(":") == 1) else text
    try:
        if ":" in host:
            return _AF_INET6, _inet_pton(_AF_INET6, host)
        return _AF_INET, _inet_pton(_AF_INET, host)
    except (OSError, ValueError):
        raise AddressError("not a valid IPv4 dotted quad or IPv6 address", text=text) from None


_MAPPED_PREFIX = b"\x00" * 10 + b"\xff\xff"
_COMPATIBLE_PREFIX = b"\x00" * 12
_SIXTOFOUR_PREFIX = b"\x20\x02"
_TEREDO_PREFIX = b"\x20\x01\x00\x00"
WELL_KNOWN_NAT64_PREFIXES: tuple[str, ...] = ("64:ff9b::/96", "64:ff9b:1::/48")
_RFC6052_LENGTHS = (32, 40, 48, 56, 64, 96)


def _nat64_extract(packed: bytes, length: int) -> bytes:
    """The IPv4 bytes RFC 6052 section 2.2 places after a prefix of ``length`` bits."""
    if length == 96:
        return packed[12:16]
    start = length // 8
    # Octet 8 (bits 64-71, the "u" octet) is reserved and never carries address bits.
    octets = [i for i in range(start, 17) if i != 8][:4]
    return bytes(packed[i] for i in octets)


class Normalizer:
    """Normalises addresses; ``nat64_prefixes`` adds RFC 6052 prefixes to the well-known ones.

    >>> Normalizer().normalize("::ffff:192.0.2.1").text
    '192.0.2.1'
    """

    __slots__ = ("_nat64", "_special")

    def __init__(self, nat64_prefixes: Iterable[str] = ()) -> None:
        prefixes: list[tuple[bytes, int]] = []
        for spec in (*WELL_KNOWN_NAT64_PREFIXES, *nat64_prefixes):
            try:
                net = ipaddress.IPv6Network(spec, strict=True)
            except (ValueError, TypeError) as exc:
                raise ConfigurationError(
                    f"NAT64 prefix {spec!r} is not an IPv6 network: {exc}"
                ) from None
            if net.prefixlen not in _RFC6052_LENGTHS:
                raise ConfigurationError(
                    f"NAT64 prefix {spec!r} has length /{net.prefixlen}; RFC 6052 allows "
                    f"/{', /'.join(map(str, _RFC6052_LENGTHS))}"
                )
            if net.prefixlen < 96 and net.network_address.packed[8] != 0:
                raise ConfigurationError(f"NAT64 prefix {spec!r}: bits 64-71 must be zero")
            entry = (net.network_address.packed[: net.prefixlen // 8], net.prefixlen)
            if entry not in prefixes:
                prefixes.append(entry)
        # Longest first, so a configured /96 inside a shorter prefix is read at its own length.
        prefixes.sort(key=lambda p: -p[1])
        self._nat64: tuple[tuple[bytes, int], ...] = tuple(prefixes)
        # The first two bytes of every form that embeds an IPv4 address (mapped ::ffff:0:0/96,
        # 6to4, Teredo and the NAT64 prefixes, all at least /32): one set test skips the rest.
        self._special = frozenset(
            (_MAPPED_PREFIX[:2], _SIXTOFOUR_PREFIX, _TEREDO_PREFIX[:2])
        ) | frozenset(prefix[:2] for prefix, _ in prefixes)

    def normalize_or_none(self, text: str) -> Address | None:
        """``normalize``, but ``None`` for text that is no address; bare canonical forms (the
        request path's usual input) are taken without raising an exception on the way, which
        costs more than the parse itself."""
        if type(text) is not str or len(text) > _MAX_TEXT:
            pass  # the long way decides and explains
        elif ":" not in text:
            try:
                # inet_pton accepts only canonical dotted quads: the text is the canonical form.
                return _new(Address, (text, 4, _inet_pton(_AF_INET, text), text, _DIRECT))
            except (OSError, ValueError):
                pass
        else:
            try:
                packed = _inet_pton(_AF_INET6, text)
            except (OSError, ValueError):  # brackets, a port, a zone id, or no address at all
                pass
            else:
                if packed[:2] not in self._special:
                    canonical = _inet_ntop(_AF_INET6, packed)
                    return _new(Address, (canonical, 6, packed, canonical, _DIRECT))
                return self.normalize_packed(packed)
        try:
            return self.normalize(text)
        except AddressError:
            return None

    def normalize(self, text: str) -> Address:
        """Parse ``text`` strictly and normalise it; raises ``AddressError``."""
        # Fast paths for bare addresses, the common case; anything else (or anything they
        # refuse) goes through parse_address, which decides and explains.
        if type(text) is str and len(text) <= _MAX_TEXT:
            if ":" not in text:
                try:
                    # inet_pton accepts only canonical dotted quads, so the text is already
                    # the canonical form and needs no inet_ntop round trip.
                    return _new(Address, (text, 4, _inet_pton(_AF_INET, text), text, _DIRECT))
                except (OSError, ValueError):
                    pass
            else:
                try:  # inet_pton refuses brackets, ports and zone ids: those go the long way
                    return self.normalize_packed(_inet_pton(_AF_INET6, text))
                except (OSError, ValueError):
                    pass
        family, packed = parse_address(text)
        return self.normalize_packed(packed) if family == _AF_INET6 else _ipv4(packed)

    def normalize_packed(self, packed: bytes) -> Address:
        """Normalise 4 or 16 packed bytes."""
        if len(packed) == 4:
            return _ipv4(packed)
        if packed[:2] not in self._special:  # most addresses: none of the forms below
            text = _inet_ntop(_AF_INET6, packed)
            return _new(Address, (text, 6, packed, text, _DIRECT))
        if packed[:12] == _MAPPED_PREFIX:
            return _embedded(packed, packed[12:], Via.IPV4_MAPPED)
        if packed[:12] == _COMPATIBLE_PREFIX and packed[12]:
            # Deprecated, but still parsed and still aliased to IPv4 by MMDB files: without
            # this, ::a.b.c.d got the IPv4's country but none of its feed tags or networks.
            # A zero first octet (::, ::1, 0.0.0.0/8) is no IPv4 host: it stays IPv6.
            return _embedded(packed, packed[12:], Via.IPV4_COMPATIBLE)
        if packed[:2] == _SIXTOFOUR_PREFIX:
            return _embedded(packed, packed[2:6], Via.SIXTOFOUR)
        if packed[:4] == _TEREDO_PREFIX:
            return _embedded(packed, bytes(b ^ 0xFF for b in packed[12:]), Via.TEREDO)
        for prefix, length in self._nat64:
            if packed.startswith(prefix):
                return _embedded(packed, _nat64_extract(packed, length), Via.NAT64)
        text = _inet_ntop(_AF_INET6, packed)
        return _new_address((text, 6, packed, text, _DIRECT))


_DIRECT = Via.DIRECT


_new = tuple.__new__


def _new_address(fields: tuple[str, int, bytes, str, Via]) -> Address:
    # tuple.__new__ skips the NamedTuple constructor's argument handling (~3x cheaper).
    return tuple.__new__(Address, fields)


def _ipv4(packed: bytes) -> Address:
    text = _inet_ntop(_AF_INET, packed)
    return _new_address((text, 4, packed, text, _DIRECT))


def _embedded(packed6: bytes, packed4: bytes, via: Via) -> Address:
    return _new_address(
        (_inet_ntop(_AF_INET, packed4), 4, packed4, _inet_ntop(_AF_INET6, packed6), via)
    )


_DEFAULT = Normalizer()


def normalize(text: str) -> Address:
    """Parse and normalise with the well-known NAT64 prefixes only; raises ``AddressError``."""
    return _DEFAULT.normalize(text)
