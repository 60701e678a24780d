"""What a decision can say: the ``Action``, the policy ``Mode`` and the ``Verdict`` of a request.

Values that decisions carry and policies produce: they live here, below both, so the decision
(facts layer) never imports the policy package.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from types import MappingProxyType
from typing import NamedTuple

__all__ = ["DEFAULT_STATUS", "Action", "Mode", "Verdict"]


class Action(str, Enum):
    """What a rule (or the default) does with a request."""

    ALLOW = "allow"
    DENY = "deny"
    CHALLENGE = "challenge"


class Mode(str, Enum):
    """``enforce`` blocks; ``report`` decides and logs but never blocks."""

    ENFORCE = "enforce"
    REPORT = "report"


class Verdict(NamedTuple):
    """The outcome of a policy for one request (a tuple: built or reused per request)."""

    action: Action
    """What to do."""
    rule: str | None
    """Name of the matched rule, or ``None`` when the default or unknown action applied."""
    reasons: tuple[str, ...]
    """Short sentences saying why."""
    status: int
    """HTTP status to send when the action is not allow."""


DEFAULT_STATUS: Mapping[Action, int] = MappingProxyType(
    {Action.DENY: 451, Action.CHALLENGE: 403, Action.ALLOW: 200}
)
"""The HTTP status of an action when its rule names none."""
