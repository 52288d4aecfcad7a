"""Helpers for the web view's tests: pushing small datasets through the hub's commit API (or
`embedhub embed --push` when real vectors are needed), signing in, and reading a page."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import requests

CSRF_RE = re.compile(r'name="csrf" value="([0-9a-f]*)"')
TOPICS = ("cooking", "astronomy", "football")


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def create_repo(server, token: str, repo_id: str, *, private: bool = False) -> None:
    ns, name = repo_id.split("/")
    body = {"name": name, "organization": ns, "type": "dataset", "private": private}
    r = requests.post(f"{server.url}/api/repos/create", json=body, headers=auth(token), timeout=30)
    assert r.status_code == 200, r.text


def commit_files(server, token: str, repo_id: str, files: dict[str, bytes]) -> str:
    lines = [{"key": "header", "value": {"summary": f"add {', '.join(files)}"}}]
    for path, content in files.items():
        value = {"path": path, "content": base64.b64encode(content).decode(), "encoding": "base64"}
        lines.append({"key": "file", "value": value})
    r = requests.post(
        f"{server.url}/api/datasets/{repo_id}/commit/main",
        data="\n".join(json.dumps(line) for line in lines),
        headers={**auth(token), "Content-Type": "application/x-ndjson"},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    return r.json()["commitOid"]


def parquet_bytes(rows: dict[str, list]) -> bytes:
    out = io.BytesIO()
    pq.write_table(pa.table(rows), out)
    return out.getvalue()


def random_rows(n: int, dims: int = 8, seed: int = 0) -> dict[str, list]:
    """Rows with a text, a topic and a vector clustered by topic (no model needed)."""
    rng = np.random.default_rng(seed)
    topic = [TOPICS[i % 3] for i in range(n)]
    vectors = rng.normal(size=(n, dims)).astype(np.float32) + np.repeat(
        np.arange(n)[:, None] % 3 * 3.0, dims, axis=1
    )
    return {
        "id": list(range(n)),
        "text": [f"row {i} is about {t}" for i, t in enumerate(topic)],
        "topic": topic,
        "embedding": [list(map(float, v)) for v in vectors],
    }


def push_embedded(
    server, token: str, repo_id: str, rows: list[dict], tmp: Path, *, private: bool = False
) -> None:
    """The real flow: `embedhub embed` with the server's model, pushed to the server's hub.
    Each row needs a `text`; its other fields are kept as columns."""
    source = tmp / f"{repo_id.replace('/', '_')}.parquet"
    pq.write_table(pa.Table.from_pylist(rows), source)
    args = [
        sys.executable,
        "-m",
        "embedhub",
        "embed",
        str(source),
        "--output",
        str(tmp / f"out-{repo_id.replace('/', '_')}"),
        "--url",
        server.url,
        "--token",
        token,
        "--push",
        repo_id,
        "--endpoint",
        server.url,
        "--hub-token",
        token,
        "--quiet",
        "--data-dir",
        str(server.data_dir),
    ]
    if private:
        args.append("--private")
    # The hub it pushes to is the test's own server, so the client may go online.
    env = {**os.environ, "HF_HUB_OFFLINE": "0", "HF_HOME": str(tmp / "hf")}
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def csrf_of(html: str) -> str:
    found = CSRF_RE.search(html)
    assert found and found.group(1), "no CSRF token in the page"
    return found.group(1)


def sign_in(server, token: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{server.url}/-/login", timeout=30)
    r = session.post(
        f"{server.url}/-/login",
        data={"csrf": csrf_of(page.text), "token": token, "next": "/"},
        allow_redirects=False,
        timeout=30,
    )
    assert r.status_code == 303, r.text
    return session
