"""The Redis key layout and the calls of ``apply.lua``: one script call per group.

Keys (``P`` the prefix, ``G`` the group, ``N`` the counter name, ``W`` the window in seconds,
``B`` the bucket index)::

    {P:G}:N:d:W:B    distinct: a HyperLogLog per bucket (PFADD, PFCOUNT over the window)
    {P:G}:N:c:W:B    count: an integer per bucket (INCRBY, summed over the window)
    {P:G}:N:s        swap: a string (previous value returned, this one stored)
    {P:G}:N:f        first: a string set only when absent

The ``{P:G}`` hash tag puts every key of one group in one Redis Cluster hash slot, so one
script updates them atomically on a cluster too; different groups may live on other nodes.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

from geofence.store.protocol import BUCKETS, Op, Result, bucket_of, ttl_s

__all__ = ["SCRIPT", "SCRIPT_SHA", "GroupCall", "decode", "plan"]

SCRIPT = files("geofence.store").joinpath("apply.lua").read_text(encoding="utf-8")
SCRIPT_SHA = hashlib.sha1(SCRIPT.encode(), usedforsecurity=False).hexdigest()
_CODE = {"distinct": "d", "count": "c", "swap": "s", "first": "f"}


@dataclass(frozen=True, slots=True)
class GroupCall:
    """One script call: which ops it carries (their indexes), its keys and its arguments."""

    indexes: tuple[int, ...]
    keys: tuple[str, ...]
    args: tuple[str | int, ...]


@lru_cache(maxsize=64)
def _window_text(window_s: float) -> str:
    # exact, so two windows never share keys: 86400 -> "86400", 0.6 -> "0.6"
    w = float(window_s)
    return str(int(w)) if w.is_integer() else repr(w)


def _op_keys(op: Op, now: float, prefix: str) -> tuple[list[str], int]:
    """The op's keys (current bucket first) and their TTL in milliseconds."""
    base = f"{{{prefix}:{op.group}}}:{op.name}:{_CODE[op.kind]}"
    if op.kind in ("swap", "first"):
        return [base], max(1, math.ceil(op.window_s * 1000))
    b = bucket_of(now, op.window_s)
    stem = f"{base}:{_window_text(op.window_s)}:"
    return [f"{stem}{b - i}" for i in range(BUCKETS)], max(1, math.ceil(ttl_s(op.window_s) * 1000))


def plan(ops: Sequence[Op], now: float, prefix: str) -> list[GroupCall]:
    """One ``GroupCall`` per group, in the order groups first appear in ``ops``."""
    grouped: dict[str, tuple[list[int], list[str], list[str | int]]] = {}
    for i, op in enumerate(ops):
        indexes, keys, args = grouped.setdefault(op.group, ([], [], []))
        op_keys, ttl = _op_keys(op, now, prefix)
        indexes.append(i)
        keys.extend(op_keys)
        args.extend((_CODE[op.kind], len(op_keys), ttl, op.value, op.amount))
    return [
        GroupCall(tuple(indexes), tuple(keys), (len(indexes), *args))
        for indexes, keys, args in grouped.values()
    ]


def decode(
    ops: Sequence[Op], calls: Sequence[GroupCall], replies: Sequence[object]
) -> list[Result]:
    """The script replies, put back in the order of ``ops`` with each kind's result type."""
    out: list[Result] = [None] * len(ops)
    for call, reply in zip(calls, replies, strict=True):
        if not isinstance(reply, list) or len(reply) != len(call.indexes):
            raise ValueError(f"unexpected reply from the store script: {reply!r}")
        for i, value in zip(call.indexes, reply, strict=True):
            if isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            kind = ops[i].kind
            if kind in ("distinct", "count"):
                out[i] = int(str(value))
            elif kind == "first":
                out[i] = "" if value is None else str(value)
            else:
                out[i] = None if value is None else str(value)
    return out
