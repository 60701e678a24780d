"""Every exception geofence raises, in one tree.

    GeofenceError
     ├── ConfigurationError        a bad constructor argument (raised at set-up, not per request)
     │    ├── PolicyError          a policy file or mapping that does not validate
     │    └── DataError            a missing, corrupt or wrong-type data file (.mmdb, feed)
     ├── StoreUnavailable          the state store (Redis) did not answer in time or refused
     └── AddressError (ValueError) text that is not a valid IP address

``Geofence.evaluate()`` never raises any of these for anything a client sends: an invalid
client address becomes the fact "unknown" inside the returned ``Decision``.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "AddressError",
    "ConfigurationError",
    "DataError",
    "GeofenceError",
    "PolicyError",
    "StoreUnavailable",
]


class GeofenceError(Exception):
    """Base class of every geofence error."""


class ConfigurationError(GeofenceError):
    """A constructor argument is wrong; raised at set-up time, never per request."""


class PolicyError(ConfigurationError):
    """A policy does not validate.

    ``problems`` lists every problem found, each a ``PolicyProblem`` naming where it is
    (file, rule, field) and the offending value, so all of them can be fixed in one pass.
    """

    def __init__(self, problems: Sequence[PolicyProblem]) -> None:
        self.problems: tuple[PolicyProblem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems) or "invalid policy")

    @property
    def location(self) -> str:
        """Where the first problem is, e.g. ``policy.yaml: rules[2] (embargoed).countries``."""
        return self.problems[0].location if self.problems else ""


class PolicyProblem:
    """One validation problem: where it is, the value, and what is wrong (with a suggestion)."""

    __slots__ = ("file", "message", "path", "rule", "value")

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        rule: str | None = None,
        path: str = "",
        value: object = None,
    ) -> None:
        self.message = message
        self.file = file
        self.rule = rule
        self.path = path
        self.value = value

    @property
    def location(self) -> str:
        """``file: path (rule)`` with whatever parts are known."""
        where = self.path or "policy"
        if self.rule:
            where = f"{where} (rule {self.rule!r})"
        return f"{self.file}: {where}" if self.file else where

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"

    def __repr__(self) -> str:
        return f"PolicyProblem({str(self)!r})"


class DataError(ConfigurationError):
    """A data file is missing, corrupt or of the wrong type; ``path`` names it."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class StoreUnavailable(GeofenceError):
    """The state store could not be reached, timed out or failed; ``url`` names it (redacted).

    Raised by ``Store.apply`` / ``aapply`` only; the store retries by itself on a later call.
    """

    def __init__(self, message: str, *, url: str = "") -> None:
        self.url = url
        super().__init__(f"{url}: {message}" if url else message)


class AddressError(GeofenceError, ValueError):
    """Text that is not a valid IP address (after brackets, port and zone id are removed)."""

    def __init__(self, message: str, *, text: str = "") -> None:
        self.text = text
        super().__init__(message)
