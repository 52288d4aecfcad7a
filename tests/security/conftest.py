"""Fixtures for the hub's adversarial tests: unique names and git (the git environment is
tests/conftest.py's `git_env`)."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest


@pytest.fixture
def uid() -> str:
    """A short unique suffix: the session server is shared, so names must not collide."""
    return uuid.uuid4().hex[:8]


def git(
    env: dict[str, str], cwd: Path, *args: str, check: bool = True, input: bytes | None = None
) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, timeout=120, input=input
    )
    if check:
        assert proc.returncode == 0, f"git {' '.join(args)}:\n{proc.stdout!r}\n{proc.stderr!r}"
    return proc
