"""Client header sets for the simulation: the SDK builds honest users run, and a relay's one.

Honest accounts send what the official SDKs send (``User-Agent`` and the ``X-Stainless-*``
headers) and differ in SDK language and version, operating system, architecture and runtime
version, the newer releases and the common platforms more often. A relay rewrites every
account's headers to its own default set, in its own header order (research/accounts.md
section 0: claude-relay-service, cc-relayer): one fingerprint, or a few, across its accounts.
"""

from __future__ import annotations

import random

__all__ = ["HeaderSet", "honest_headers", "relay_headers"]

HeaderSet = tuple[tuple[str, str], ...]

_OS = (("Linux", 0.5), ("MacOS", 0.35), ("Windows", 0.15))
_ARCH = (("x64", 0.7), ("arm64", 0.3))
_PYTHON = (("3.12.4", 0.3), ("3.11.9", 0.3), ("3.10.14", 0.2), ("3.13.0", 0.15),
           ("3.9.19", 0.05))  # fmt: skip
_NODE = (("v20.15.0", 0.4), ("v22.4.1", 0.3), ("v18.20.4", 0.2), ("v21.7.3", 0.1))


def _pick(rng: random.Random, choices: tuple[tuple[str, float], ...]) -> str:
    names, weights = zip(*choices, strict=True)
    choice: str = rng.choices(names, weights)[0]
    return choice


def _release(rng: random.Random, major: int, count: int) -> str:
    # Newer releases are more common: weight 1/(age + 1).
    age = rng.choices(range(count), [1 / (a + 1) for a in range(count)])[0]
    return f"0.{major - age}.{rng.randrange(3)}"


def honest_headers(rng: random.Random) -> HeaderSet:
    """The headers of one honest client build (an SDK release on one platform)."""
    python = rng.random() < 0.65
    version = _release(rng, 45 if python else 30, 20)
    lang, runtime = ("python", "CPython") if python else ("js", "node")
    runtime_version = _pick(rng, _PYTHON if python else _NODE)
    agent = f"Anthropic/{'Python' if python else 'JS'} {version}"
    return (
        ("host", "api.example.com"),
        ("accept", "application/json"),
        ("content-type", "application/json"),
        ("user-agent", agent),
        ("x-stainless-lang", lang),
        ("x-stainless-package-version", version),
        ("x-stainless-os", _pick(rng, _OS)),
        ("x-stainless-arch", _pick(rng, _ARCH)),
        ("x-stainless-runtime", runtime),
        ("x-stainless-runtime-version", runtime_version),
    )


def relay_headers(index: int) -> HeaderSet:
    """Relay default number ``index``: fixed SDK traits, the relay's own header order."""
    version = f"0.{39 + index}.0"
    return (
        ("host", "api.example.com"),
        ("user-agent", f"Anthropic/Python {version}"),
        ("x-stainless-package-version", version),
        ("x-stainless-lang", "python"),
        ("x-stainless-os", "Linux"),
        ("x-stainless-arch", "x64"),
        ("x-stainless-runtime", "CPython"),
        ("x-stainless-runtime-version", "3.11.9"),
        ("content-type", "application/json"),
        ("accept", "application/json"),
    )
