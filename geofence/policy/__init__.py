"""Policies: pydantic models loaded from YAML/JSON/TOML, compiled once into a fast matcher."""

from __future__ import annotations

from geofence.policy.compile import CompiledPolicy, Verdict, evaluate
from geofence.policy.load import PolicySource, load_policy
from geofence.policy.models import Action, Conditions, Mode, Policy, Rule

__all__ = [
    "Action",
    "CompiledPolicy",
    "Conditions",
    "Mode",
    "Policy",
    "PolicySource",
    "Rule",
    "Verdict",
    "evaluate",
    "load_policy",
]
