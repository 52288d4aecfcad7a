"""Shared fixtures: a real `embedhub serve` process on a free loopback port, with its own data
directory, started the way a user starts it (the console script)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import Server, start_server, stop_server  # tests/servers.py

# Nothing in the test suite may reach the public Hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Every test server shares one ONNX export (the default runtime exports on first start).
if "EMBEDHUB_ONNX_CACHE_DIR" not in os.environ:
    _ONNX_CACHE = tempfile.mkdtemp(prefix="embedhub-onnx-")
    os.environ["EMBEDHUB_ONNX_CACHE_DIR"] = _ONNX_CACHE
else:
    _ONNX_CACHE = None  # the caller's own cache: theirs to keep


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The shared graph cache goes with the session (each is hundreds of MB)."""
    if _ONNX_CACHE is not None:
        shutil.rmtree(_ONNX_CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One shared server for the whole session (the model loads once)."""
    data_dir = tmp_path_factory.mktemp("embedhub-home")
    srv = start_server(data_dir)
    yield srv
    stop_server(srv)


@pytest.fixture
def make_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """Start extra servers with their own flags; each is stopped after the test."""
    started: list[Server] = []

    def make(*extra: str, data_dir: Path | None = None) -> Server:
        srv = start_server(data_dir or tmp_path_factory.mktemp("embedhub-home"), *extra)
        started.append(srv)
        return srv

    yield make
    for srv in started:
        stop_server(srv)


@pytest.fixture(scope="session")
def model_dir() -> Path:
    from embedhub.models import bundled_model_path

    return bundled_model_path()


@pytest.fixture(scope="session")
def reference_model(model_dir: Path):
    """sentence-transformers itself: the reference every vector is compared with."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_dir), device="cpu")


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A reranker, a classifier and a SPLADE model, tiny and random (tests/kinds.py)."""
    from kinds import build_models  # tests/kinds.py

    return build_models(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture(scope="session")
def git_lfs() -> str:
    path = shutil.which("git-lfs")
    if path is None:
        pytest.fail("git-lfs is not installed (apt-get install git-lfs); .ci/run installs it")
    return path


@pytest.fixture(scope="module")
def git_env(tmp_path_factory: pytest.TempPathFactory, git_lfs: str) -> dict[str, str]:
    """An environment for `git` that reads nothing of this machine's git config: a home of its
    own with a user, `main` as the first branch and git-lfs installed, and no prompts."""
    import subprocess

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
        ["config", "--global", "user.name", "Tester"],
        ["config", "--global", "user.email", "t@example.com"],
        ["config", "--global", "init.defaultBranch", "main"],
        ["lfs", "install"],
    ):
        subprocess.run(["git", *args], env=env, check=True, capture_output=True)
    return env
