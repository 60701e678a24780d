"""The ``signals:`` condition of a rule: account-signal and score comparisons, ANDed.

    - name: farm-networks
      action: deny
      signals: {network_new_accounts: ">= 5", fingerprint_accounts: ">= 20"}
    - name: risky
      action: challenge
      signals: {score: ">= 0.5"}

A value is a comparison (``>=``, ``>``, ``<=``, ``<``, then a number) or a bare number, read as
``>=``. Names come from ``geofence.vocab.signals`` (plus ``score``); shares and the score lie in
[0, 1]. A request without an account has no signals and score 0, so a ``signals:`` test of a
signal never matches it. The rule's other keys are ANDed with it, as every key is.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections.abc import Callable, Mapping
from typing import NamedTuple

from geofence.vocab.signals import SCORE, SIGNAL_NAMES, Assessment

__all__ = ["SignalTest", "parse_signal_tests"]

_OPS: Mapping[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}
_FORM = re.compile(r"\s*(>=|>|<=|<)?\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*")
_UNIT = frozenset({SCORE, "declared_mismatch", "anonymizer_share"})  # values in [0, 1]
_KNOWN = (*SIGNAL_NAMES, SCORE)


class SignalTest(NamedTuple):
    """``name op value``: one comparison of a ``signals:`` condition."""

    name: str
    op: str
    value: float

    def holds(self, assessment: Assessment) -> bool:
        """Whether the assessment's value of ``name`` passes (a missing signal never does)."""
        if self.name == SCORE:
            actual = assessment.score
        else:
            signal = assessment.signals.get(self.name)
            if signal is None:
                return False
            actual = signal.value
        return _OPS[self.op](actual, self.value)

    def describe(self, assessment: Assessment) -> str:
        """``network_new_accounts 7 >= 5 (24h window)``: for the decision's reasons."""
        if self.name == SCORE:
            return f"score {assessment.score:.2f} {self.op} {_number(self.value)}"
        signal = assessment.signals[self.name]
        window = _window(signal.window_s)
        return f"{self.name} {_number(signal.value)} {self.op} {_number(self.value)} ({window})"


def parse_signal_tests(raw: object) -> object:
    """A ``signals:`` mapping as ``SignalTest`` tuples; raises ``ValueError`` saying what is
    wrong with the first bad entry (pydantic turns it into a located ``PolicyError``)."""
    if isinstance(raw, (list, tuple)) and all(isinstance(t, SignalTest) for t in raw):
        return raw
    if not isinstance(raw, Mapping):
        raise ValueError(
            "signals: is a mapping of signal name to comparison, "
            "e.g. {network_new_accounts: '>= 5', score: '>= 0.85'}"
        )
    if not raw:
        raise ValueError("an empty signals: never matches; leave the key out instead")
    tests = []
    for name, text in raw.items():
        if not isinstance(name, str) or name not in _KNOWN:
            close = difflib.get_close_matches(str(name), _KNOWN, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"unknown signal {name!r}{hint} (known: {', '.join(_KNOWN)})")
        tests.append(_comparison(name, text))
    return tuple(tests)


def _comparison(name: str, text: object) -> SignalTest:
    if isinstance(text, bool) or not isinstance(text, (int, float, str)):
        raise ValueError(f"{name}: write a comparison such as '>= 20', not {text!r}")
    if isinstance(text, (int, float)):
        op, value = ">=", float(text)
    else:
        found = _FORM.fullmatch(text)
        if found is None:
            raise ValueError(
                f"{name}: {text!r} is not a comparison; write >=, >, <= or < and a number, "
                "e.g. '>= 20'"
            )
        op, value = found[1] or ">=", float(found[2])
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name}: the threshold must be a finite number >= 0, not {text!r}")
    if name in _UNIT and value > 1:
        raise ValueError(f"{name} is a share between 0 and 1; {text!r} can never hold")
    return SignalTest(name, op, value)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def _window(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit} window"
    return f"{seconds:g}s window"
