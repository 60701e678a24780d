"""Policies: pydantic models loaded from YAML/JSON/TOML, compiled once into a fast matcher."""

from __future__ import annotations

from geofence.policy.compile import CompiledPolicy, evaluate
from geofence.policy.load import PolicySource, load_policy
from geofence.policy.models import Conditions, Policy, Rule
from geofence.vocab.actions import Action, Mode, Verdict

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
