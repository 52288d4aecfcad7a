"""Fixtures for the hub tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest


@pytest.fixture
def uid() -> str:
    """A short unique suffix: the session server is shared, so names must not collide."""
    return uuid.uuid4().hex[:8]


@dataclass(frozen=True)
class Account:
    user: str
    token: str  # write
    reader: str  # read-only


@pytest.fixture(scope="session")
def account(server) -> Account:
    """One user with a write and a read token for the whole session, for tests that need an
    owner but not a namespace of their own (their repo names carry a `uid`). Each token is a
    CLI run (seconds), so tests share these instead of minting their own."""
    user = f"acct{uuid.uuid4().hex[:6]}"
    return Account(user, server.token(user), server.token(user, write=False))
