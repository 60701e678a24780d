"""Shared paths for the policy tests."""

from __future__ import annotations

from pathlib import Path

import pytest

POLICIES = Path(__file__).resolve().parent.parent / "data" / "policies"


@pytest.fixture
def policies() -> Path:
    """The directory of example policy files."""
    return POLICIES
