"""Fixtures for the hub tests."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def uid() -> str:
    """A short unique suffix: the session server is shared, so names must not collide."""
    return uuid.uuid4().hex[:8]
