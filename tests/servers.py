"""Real `embedhub serve` processes for tests: started the way a user starts them (the console
entry point), on a free loopback port, each with its own data directory.

A module of its own (not conftest.py) so that any test package can import it by one name."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

EMBEDHUB = [sys.executable, "-m", "embedhub"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(data_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [*EMBEDHUB, *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"embedhub {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


@dataclass
class Server:
    url: str
    data_dir: Path
    proc: subprocess.Popen
    log: Path
    tokens: dict[str, str] = field(default_factory=dict)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run_cli(self.data_dir, *args, check=check)

    def token(self, user: str, *, write: bool = True) -> str:
        """A new token for `user` (created if missing); the token is the last line printed."""
        key = f"{user}:{'write' if write else 'read'}"
        if key not in self.tokens:
            args = ["token", "create", user] + (["--write"] if write else [])
            self.tokens[key] = self.cli(*args).stdout.strip().splitlines()[-1]
        return self.tokens[key]

    def alive(self) -> bool:
        return self.proc.poll() is None


def start_server(
    data_dir: Path, *extra: str, log_dir: Path | None = None, wait: float = 600
) -> Server:
    """`wait`: seconds to become healthy (a first start converts the model; an int8 first
    start also quantizes it and measures its quality: minutes on a busy 2-core box)."""
    port = free_port()
    log = (log_dir or data_dir) / f"serve-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    handle = open(log, "wb")
    proc = subprocess.Popen(
        [*EMBEDHUB, "serve", "--data-dir", str(data_dir), "--port", str(port), *extra],
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"embedhub serve exited early:\n{log.read_text()}")
        try:
            if requests.get(f"{url}/health", timeout=2).status_code == 200:
                return Server(url, data_dir, proc, log)
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"embedhub serve did not become healthy:\n{log.read_text()}")


def stop_server(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.proc.kill()
