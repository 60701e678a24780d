"""The real client address: the TCP peer, or a forwarding header believed only from trusted proxies.

A forwarding header is written by whoever sent it, so it is only read when the peer is a trusted
proxy, and then walked right to left: each trusted proxy appends the address it saw, so the
first hop that is not a trusted proxy is the client, and anything to its left is the client's own
(forgeable) claim. Trust is checked on the address as it appeared on the wire, with only
IPv4-mapped and IPv4-compatible unwrapped: a 6to4, Teredo or NAT64 address is never "private" or
"loopback" because of the IPv4 address embedded in it.
"""

from __future__ import annotations

import ipaddress
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import NamedTuple, overload

from geofence.errors import AddressError, ConfigurationError
from geofence.forwarded import HopError, forwarded_hops
from geofence.net import Address, Normalizer, parse_address
from geofence.request import Request

__all__ = ["ClientIP", "ClientIPResolver", "ProxySpec", "TrustedProxies"]

ProxySpec = (
    str
    | ipaddress.IPv4Network
    | ipaddress.IPv6Network
    | ipaddress.IPv4Address
    | ipaddress.IPv6Address
)
"""One trusted-proxy spec: a name, an IP or a CIDR (as text or an ``ipaddress`` object)."""

_NAMED: dict[str, tuple[str, ...]] = {
    "linklocal": ("169.254.0.0/16", "fe80::/10"),
    "loopback": ("127.0.0.0/8", "::1/128"),
    "private": ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"),
}
_MAPPED = b"\x00" * 10 + b"\xff\xff"
_COMPATIBLE = b"\x00" * 12
_MAPPED_NET = ipaddress.IPv6Network("::ffff:0:0/96")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_DEFAULT_NORMALIZER = Normalizer()
_SHOWN = 64  # characters of a bad hop quoted in a problem, so a huge header stays out of logs


class TrustedProxies:
    """The proxies whose forwarding headers are believed: IPs, CIDRs and named groups.

    Names: ``loopback``, ``linklocal``, ``private``, plus any passed in ``groups`` (a name
    mapped to a predicate over the packed address, 4 or 16 bytes).

    >>> "10.1.2.3" in TrustedProxies(["private"])
    True
    """

    __slots__ = ("_ends", "_groups", "_specs", "_starts")

    def __init__(
        self,
        specs: Iterable[ProxySpec] | str = (),
        *,
        groups: Mapping[str, Callable[[bytes], bool]] | None = None,
    ) -> None:
        groups = groups or {}
        if not all(isinstance(n, str) and callable(c) for n, c in groups.items()):
            raise ConfigurationError("trusted proxy groups map names (str) to callables")
        extra = {name.lower(): check for name, check in groups.items()}
        clash = sorted(extra.keys() & _NAMED.keys())
        if clash:
            raise ConfigurationError(f"trusted proxy groups may not redefine {', '.join(clash)}")
        if isinstance(specs, str):
            specs = (specs,)
        elif not isinstance(specs, Iterable):
            raise ConfigurationError(f"trusted proxies must be a list of specs, not {specs!r}")
        specs = tuple(specs)
        intervals: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
        used: list[Callable[[bytes], bool]] = []
        for spec in specs:
            name = spec.lower() if isinstance(spec, str) else None
            if name in _NAMED:
                networks = [ipaddress.ip_network(n) for n in _NAMED[name]]
            elif name in extra:
                used.append(extra[name])
                continue
            else:
                networks = [_network(spec, sorted((*_NAMED, *extra)))]
            for net in networks:
                last = int(net.broadcast_address)
                intervals[net.version].append((int(net.network_address), last))
        merged = {version: _merge(spans) for version, spans in intervals.items()}
        self._specs: tuple[ProxySpec, ...] = specs
        # Indexed by packed length (4 or 16): start and end ints of merged, sorted intervals.
        self._starts = {4: [s for s, _ in merged[4]], 16: [s for s, _ in merged[6]]}
        self._ends = {4: [e for _, e in merged[4]], 16: [e for _, e in merged[6]]}
        self._groups: tuple[Callable[[bytes], bool], ...] = tuple(used)

    @property
    def specs(self) -> tuple[ProxySpec, ...]:
        """The specs as given."""
        return self._specs

    def contains_packed(self, packed: bytes) -> bool:
        """Whether the address with these 4 or 16 wire bytes is a trusted proxy.

        Only IPv4-mapped and IPv4-compatible (``::a.b.c.d``, first octet not zero) are
        unwrapped: they are the IPv4 host itself, while other embeddings (6to4, Teredo, NAT64)
        are other hosts and must not inherit their payload's trust.
        """
        if len(packed) == 16 and (
            packed[:12] == _MAPPED or (packed[:12] == _COMPATIBLE and packed[12])
        ):
            packed = packed[12:]
        starts = self._starts.get(len(packed))
        if starts:
            value = int.from_bytes(packed, "big")
            i = bisect_right(starts, value) - 1
            if i >= 0 and value <= self._ends[len(packed)][i]:
                return True
        return bool(self._groups) and any(check(packed) for check in self._groups)

    def __contains__(self, address: object) -> bool:
        """``text in proxies``: parses the text (brackets, port allowed); invalid is False."""
        if isinstance(address, bytes):
            return self.contains_packed(address)
        try:
            return self.contains_packed(parse_address(address)[1])  # type: ignore[arg-type]
        except AddressError:
            return False

    def __bool__(self) -> bool:
        return bool(self._starts[4] or self._starts[16] or self._groups)

    def __repr__(self) -> str:
        return f"TrustedProxies({list(self._specs)!r})"


def _network(spec: object, names: list[str]) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if isinstance(spec, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        net = spec
    elif isinstance(spec, (str, ipaddress.IPv4Address, ipaddress.IPv6Address)):
        try:
            net = ipaddress.ip_network(spec, strict=True)
        except ValueError as exc:
            raise ConfigurationError(
                f"trusted proxy {spec!r} is not an IP address, a CIDR without host bits, or one of "
                f"the names {', '.join(names)}: {exc}"
            ) from None
    else:
        raise ConfigurationError(f"trusted proxy {spec!r} must be a str, not {type(spec).__name__}")
    if isinstance(net, ipaddress.IPv6Network) and net.subnet_of(_MAPPED_NET):
        # Lookups unwrap IPv4-mapped addresses, so a mapped spec must be stored as IPv4 to match.
        return ipaddress.IPv4Network((int(net.network_address) & 0xFFFFFFFF, net.prefixlen - 96))
    return net


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


class ClientIP(NamedTuple):
    """The resolved client address and where it came from (a tuple: built per request)."""

    address: Address | None
    """The normalised client address, or ``None`` when it cannot be determined."""
    source: str
    """``"peer"``, ``"x-forwarded-for"``, ``"forwarded"`` or the configured header name."""
    peer: str | None
    """The peer address text as given."""
    problem: str | None = None
    """Why ``address`` is ``None``, or why a forwarding header was ignored."""


class ClientIPResolver:
    """Finds the client address of a request, believing headers only from trusted proxies.

    ``header`` is ``"x-forwarded-for"``, ``"forwarded"`` (RFC 7239) or the name of a header
    holding one address (``"cf-connecting-ip"``, ``"x-real-ip"``...).
    """

    __slots__ = ("_header", "_max_hops", "_max_length", "_normalizer", "_trusted", "_walk")

    def __init__(
        self,
        trusted_proxies: TrustedProxies | Iterable[ProxySpec] | str = (),
        header: str = "x-forwarded-for",
        normalizer: Normalizer | None = None,
        *,
        max_hops: int = 64,
        max_header_length: int = 8192,
    ) -> None:
        if not isinstance(header, str) or not _TOKEN.fullmatch(header):
            raise ConfigurationError(f"client IP header {header!r} is not a valid header name")
        for name, limit in (("max_hops", max_hops), ("max_header_length", max_header_length)):
            if not isinstance(limit, int) or limit < 1:
                raise ConfigurationError(f"{name} must be a positive int, not {limit!r}")
        self._trusted = (
            trusted_proxies
            if isinstance(trusted_proxies, TrustedProxies)
            else TrustedProxies(trusted_proxies)
        )
        self._header = header.lower()
        self._normalizer = normalizer or _DEFAULT_NORMALIZER
        self._max_hops = max_hops
        self._max_length = max_header_length
        walks = {"x-forwarded-for": _xff_hops, "forwarded": forwarded_hops}
        self._walk: Callable[[tuple[str, ...]], Iterator[str]] | None = walks.get(self._header)

    @property
    def header(self) -> str:
        """The forwarding header read from trusted proxies (lower-case)."""
        return self._header

    @property
    def trusted_proxies(self) -> TrustedProxies:
        """The trusted proxies."""
        return self._trusted

    @overload
    def resolve(self, request: Request, /) -> ClientIP: ...
    @overload
    def resolve(self, peer: str | None, request: Request | None = None, /) -> ClientIP: ...

    def resolve(self, peer: Request | str | None, request: Request | None = None, /) -> ClientIP:
        """The client address of ``request`` (or of ``peer`` with ``request``'s headers).

        Never raises: whatever the input, a failure is ``address=None`` with a ``problem``.
        """
        if isinstance(peer, Request):
            request = peer
            peer = peer.ip
        try:
            return self._resolve(peer, request)
        except Exception as exc:  # a client must never be able to turn a decision into a 500
            text = peer if isinstance(peer, str) else None
            return ClientIP(None, "peer", text, f"client address not resolved: {exc!r:.{_SHOWN}}")

    def _resolve(self, peer: str | None, request: Request | None) -> ClientIP:
        if not isinstance(peer, str) or not peer:
            return ClientIP(None, "peer", None, "no peer address")
        try:
            packed = parse_address(peer)[1]
        except AddressError:
            return ClientIP(None, "peer", peer, f"peer address {peer[:_SHOWN]!r} is not valid")
        lines = request.header_values(self._header) if request is not None else ()
        if not self._trusted.contains_packed(packed):
            ignored = f"{self._header} ignored: the peer is not a trusted proxy" if lines else None
            return ClientIP(self._normalizer.normalize_packed(packed), "peer", peer, ignored)
        if not lines:
            return ClientIP(self._normalizer.normalize_packed(packed), "peer", peer, None)
        if sum(map(len, lines)) + len(lines) - 1 > self._max_length:
            return self._none(peer, f"longer than {self._max_length} characters")
        if self._walk is None:
            return self._single(peer, lines)
        return self._walk_hops(peer, self._walk(lines))

    def _none(self, peer: str, problem: str) -> ClientIP:
        return ClientIP(None, self._header, peer, f"{self._header}: {problem}")

    def _single(self, peer: str, lines: tuple[str, ...]) -> ClientIP:
        if len(lines) > 1:
            return self._none(peer, f"sent {len(lines)} times; one address expected")
        value = lines[0].strip(" \t")
        if "," in value:
            return self._none(peer, "a list; one address expected")
        try:
            packed = parse_address(value)[1]
        except AddressError:
            return self._none(peer, f"{value[:_SHOWN]!r} is not an IP address")
        return ClientIP(self._normalizer.normalize_packed(packed), self._header, peer, None)

    def _walk_hops(self, peer: str, hops: Iterator[str]) -> ClientIP:
        packed = b""
        try:
            for count, hop in enumerate(hops, 1):
                if count > self._max_hops:
                    return self._none(peer, f"more than {self._max_hops} trusted hops")
                try:
                    packed = parse_address(hop)[1]
                except AddressError:
                    return self._none(peer, f"hop {hop[:_SHOWN]!r} is not an IP address")
                if not self._trusted.contains_packed(packed):
                    break
        except HopError as stop:
            return self._none(peer, str(stop))
        if not packed:
            return self._none(peer, "no hops")
        return ClientIP(self._normalizer.normalize_packed(packed), self._header, peer, None)


def _xff_hops(lines: tuple[str, ...]) -> Iterator[str]:
    """X-Forwarded-For hops, right to left."""
    for item in reversed(",".join(lines).split(",")):
        yield item.strip(" \t")
