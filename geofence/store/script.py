"""The Redis key layout and the calls of ``apply.lua``: one script call per group.

Keys (``P`` the prefix, ``G`` the group, ``N`` the counter name, ``W`` the window in seconds,
``B`` the bucket index; a window reads buckets ``B-5`` to ``B``)::

    {P:G}:N:d:W:B    distinct: a HyperLogLog per bucket (PFADD)
    {P:G}:N:d:W:uB   distinct: the union of the window ending at bucket B (PFMERGE once,
                     then PFADD and a single-key PFCOUNT); it lives two buckets
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
    args: tuple[str, ...]


@lru_cache(maxsize=64)
def _window(window_s: float) -> tuple[str, str, str]:
    """Key text (exact, so two windows never share keys: 86400 -> "86400", 0.6 -> "0.6"), and
    the TTLs in ms of a bucket and of a window union."""
    w = float(window_s)
    text = str(int(w)) if w.is_integer() else repr(w)
    return text, str(_ms(ttl_s(w))), str(_ms(2 * w / BUCKETS))


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


def plan(ops: Sequence[Op], now: float, prefix: str, *, per_group: bool) -> list[GroupCall]:
    """The script calls for ``ops``: one per group on a cluster (``per_group``), where groups
    live on different nodes, else one for the whole batch. A call carries one key per op (the
    script derives the older buckets' keys from it), one spec string, and the values."""
    grouped: dict[str, tuple[list[int], list[str], list[str], list[str]]] = {}
    for i, op in enumerate(ops):
        indexes, keys, specs, values = grouped.setdefault(
            op.group if per_group else "", ([], [], [], [])
        )
        kind = op.kind
        code = _CODE[kind]
        base = f"{{{prefix}:{op.group}}}:{op.name}:{code}"
        indexes.append(i)
        values.append(op.value)
        if kind == "distinct" or kind == "count":
            text, ttl, union_ttl = _window(op.window_s)
            b = str(bucket_of(now, op.window_s))
            keys.append(f"{base}:{text}:{b}")
            specs.append(f"{code} {ttl} {b} {union_ttl} {op.amount};")
        else:
            keys.append(base)
            specs.append(f"{code} {_ms(op.window_s)}  1 {op.amount};")
    return [
        GroupCall(tuple(indexes), tuple(keys), ("".join(specs), *values))
        for indexes, keys, specs, values in grouped.values()
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
