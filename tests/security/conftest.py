"""Fixtures for the hub's adversarial tests: a git environment of its own, and users."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest


@pytest.fixture
def uid() -> str:
    """A short unique suffix: the session server is shared, so names must not collide."""
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def git_env(tmp_path_factory: pytest.TempPathFactory, git_lfs: str) -> dict[str, str]:
    home = tmp_path_factory.mktemp("git-home")
    env = {
        **os.environ,
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "",
        "SSH_ASKPASS": "",
    }
    env.pop("GIT_CONFIG_GLOBAL", None)
    for args in (
        ["config", "--global", "user.name", "Attacker"],
        ["config", "--global", "user.email", "a@example.com"],
        ["config", "--global", "init.defaultBranch", "main"],
        ["lfs", "install"],
    ):
        subprocess.run(["git", *args], env=env, check=True, capture_output=True)
    return env


def git(
    env: dict[str, str], cwd: Path, *args: str, check: bool = True, input: bytes | None = None
) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, timeout=120, input=input
    )
    if check:
        assert proc.returncode == 0, f"git {' '.join(args)}:\n{proc.stdout!r}\n{proc.stderr!r}"
    return proc
