"""A weak client fingerprint derived from headers, when the application gives none.

What an SDK or client sends on every request, normalised: the User-Agent's product tokens
(names and major.minor versions, no build numbers or comments), the ``X-Stainless-*`` headers
of the OpenAI/Anthropic SDKs (language, package version, OS, architecture, runtime and its
version), the primary Accept-Language, and the order of header names. Relay tools rewrite
these to one default set across the accounts they serve, which is what this can see.

Weak by design, and documented so: honest users of one popular SDK release on one platform
share it, so it weighs less in the score (``SignalSettings.derived_fingerprint_weight``) than
an application's own fingerprint (a device id, a TLS JA4 from the edge).
"""

from __future__ import annotations

import re

from geofence.signals.keys import digest

__all__ = ["derive_fingerprint"]

_PRODUCT = re.compile(r"([A-Za-z][A-Za-z0-9_.+-]{0,40})/(\d{1,4})(?:\.(\d{1,4}))?")
_STAINLESS = (
    "x-stainless-lang", "x-stainless-package-version", "x-stainless-os", "x-stainless-arch",
    "x-stainless-runtime", "x-stainless-runtime-version",
)  # fmt: skip
# Headers that vary per request or per user, not per client build: left out of the order.
_VOLATILE = frozenset({
    "authorization", "cookie", "content-length", "content-type", "x-request-id",
    "x-forwarded-for", "forwarded", "x-real-ip", "traceparent", "tracestate", "idempotency-key",
    "x-stainless-retry-count", "x-stainless-timeout", "x-api-key", "host",
})  # fmt: skip
_MAX_HEADERS = 64  # a client sending thousands of headers costs no more than this many
_MEMO_KEPT = 4096  # derived fingerprints kept per header set; a flood clears, never grows
_MEMO_CHARS = 4096  # header sets longer than this are derived afresh, never kept
_derived: dict[tuple[tuple[str, str], ...], str | None] = {}


def _user_agent(value: str) -> str:
    tokens = [f"{m[1].lower()}/{m[2]}.{m[3] or 0}" for m in _PRODUCT.finditer(value[:512])]
    return " ".join(tokens[:6])


def derive_fingerprint(headers: tuple[tuple[str, str], ...]) -> str | None:
    """``d:`` and a digest of the normalised client traits, or ``None`` without headers."""
    if not headers:
        return None
    lines = headers[:_MAX_HEADERS]
    held = _derived.get(lines, "")  # one client build sends the same headers every time
    if held != "":
        return held
    made = _derive(lines)
    if sum(len(name) + len(value) for name, value in lines) <= _MEMO_CHARS:  # bytes bounded
        if len(_derived) >= _MEMO_KEPT:
            _derived.clear()
        _derived[lines] = made
    return made


def _derive(lines: tuple[tuple[str, str], ...]) -> str:
    first: dict[str, str] = {}
    order: list[str] = []
    for name, value in lines:
        if name not in first:
            first[name] = value
            if name not in _VOLATILE:
                order.append(name)
    traits = [
        _user_agent(first.get("user-agent", "")),
        *(first.get(name, "")[:64].strip().lower() for name in _STAINLESS),
        first.get("accept-language", "")[:32].split(",")[0].split(";")[0].strip().lower(),
        ",".join(order),
    ]
    return "d:" + digest("\x1f".join(traits), "fingerprint")
