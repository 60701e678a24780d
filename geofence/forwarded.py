"""RFC 7239 ``Forwarded`` header parsing, for the right-to-left walk in ``client_ip``.

Lines are parsed from their right end, one element at a time, and only as far as the walk asks:
the client writes whatever it likes to the left of what trusted proxies append, so a malformed
prefix must not be able to hide a well-formed suffix (as an unterminated quote would in a
left-to-right parse).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

__all__ = ["HopError", "forwarded_hops"]


class HopError(Exception):
    """A forwarding-header walk must end here with no address; the message says why."""


def forwarded_hops(lines: tuple[str, ...]) -> Iterator[str]:
    """RFC 7239 ``for=`` node names, right to left; raises ``HopError`` where the walk must end.

    Each line is parsed from its right end, so a malformed prefix written by the client can
    only stop the walk if the walk reaches it, exactly as a bad X-Forwarded-For item would.
    """
    for line in reversed(lines):
        for element in _elements_from_right(line):
            values = [value for name, value in element if name == "for"]
            if len(values) != 1:
                raise HopError(f"an element has {len(values)} for= parameters; one expected")
            yield _node_host(values[0])


def _node_host(node: str) -> str:
    lowered = node.lower()
    if lowered == "unknown" or lowered.startswith("unknown:"):
        raise HopError("a hop is 'unknown'")
    if node.startswith("_"):
        raise HopError(f"a hop is obfuscated ({node[:64]!r})")
    # An obfuscated port ("192.0.2.43:_p1") names no address bits; drop it before parsing.
    head, colon, port = node.rpartition(":")
    if colon and port.startswith("_") and (head.endswith("]") or ":" not in head):
        return head
    return node


_OWS = " \t"
_TCHARS = frozenset("!#$%&'*+.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-")
# Unquoted values are read leniently (RFC 7239 wants "[v6]:port" quoted; some proxies do not).
_VALUE_END = frozenset(';,="' + _OWS)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def _skip_ows(line: str, i: int) -> int:
    while i and line[i - 1] in _OWS:
        i -= 1
    return i


def _elements_from_right(line: str) -> Iterator[list[tuple[str, str]]]:
    """The elements of one Forwarded line, last first, each a list of (lower name, value)."""
    i = len(line)
    pairs: list[tuple[str, str]] = []
    while True:
        i = _skip_ows(line, i)
        if i == 0 or line[i - 1] == ",":
            if pairs:  # empty list items are allowed by the #rule and skipped
                yield pairs[::-1]
                pairs = []
            if i == 0:
                return
            i -= 1
        elif line[i - 1] == ";":
            i -= 1
        else:
            name, value, i = _pair_from_right(line, i)
            pairs.append((name, value))
            before = _skip_ows(line, i)
            if before and line[before - 1] not in ",;":
                raise HopError("malformed element: pairs must be separated by ';'")


def _pair_from_right(line: str, end: int) -> tuple[str, str, int]:
    """The ``name=value`` pair ending at ``end``, and where it starts."""
    if line[end - 1] == '"':
        start = _opening_quote(line, end - 1)
        value = _ESCAPE.sub(r"\1", line[start + 1 : end - 1])
    else:
        start = end
        while start and line[start - 1] not in _VALUE_END:
            start -= 1
        value = line[start:end]
    if not start or line[start - 1] != "=":
        raise HopError("malformed element: expected name=value")
    eq = start - 1
    begin = eq
    while begin and line[begin - 1] in _TCHARS:
        begin -= 1
    if begin == eq:
        raise HopError("malformed element: a parameter has no name")
    return line[begin:eq].lower(), value, begin


def _opening_quote(line: str, close: int) -> int:
    """Index of the quote opening the quoted-string closed at ``close``."""
    k = close
    while True:
        k = line.rfind('"', 0, k)
        if k < 0:
            raise HopError("malformed element: unterminated quoted string")
        run = 0
        while k - run > 0 and line[k - run - 1] == "\\":
            run += 1
        if run % 2 == 0:  # an odd run of backslashes escapes this quote
            return k
