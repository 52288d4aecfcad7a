"""Helpers for the hub tests: raw HTTP with a token, test data, and running the
official clients in a subprocess (huggingface_hub and datasets read HF_ENDPOINT and
HF_HUB_DISABLE_XET at import time, so each scenario gets its own interpreter)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import requests


def auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def create_repo(
    server, token: str, repo_id: str, *, type_: str = "dataset", private: bool = False
) -> requests.Response:
    ns, name = repo_id.split("/")
    body = {"name": name, "organization": ns, "type": type_}
    if private:
        body["visibility"] = "private"
    return requests.post(
        f"{server.url}/api/repos/create", json=body, headers=auth(token), timeout=30
    )


def commit(
    server,
    token: str | None,
    repo_id: str,
    lines: list[dict],
    *,
    type_: str = "datasets",
    rev: str = "main",
) -> requests.Response:
    body = "\n".join(json.dumps(line) for line in lines).encode()
    headers = {**auth(token), "Content-Type": "application/x-ndjson"}
    return requests.post(
        f"{server.url}/api/{type_}/{repo_id}/commit/{rev}", data=body, headers=headers, timeout=60
    )


def header(summary: str = "test commit", **extra: Any) -> dict:
    return {"key": "header", "value": {"summary": summary, **extra}}


def file_line(path: str, content: bytes) -> dict:
    import base64

    value = {"path": path, "content": base64.b64encode(content).decode(), "encoding": "base64"}
    return {"key": "file", "value": value}


def write_parquet_dataset(folder: Path, shards: int = 2, rows_per_shard: int = 50) -> list[dict]:
    """README + data/train-*.parquet; returns the rows in order."""
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "README.md").write_text("---\nlicense: mit\n---\n# test embeddings\n")
    rows = []
    for s in range(shards):
        part = [
            {
                "id": s * rows_per_shard + i,
                "text": f"row {s}-{i}",
                "embedding": [float(s), float(i), 0.5],
            }
            for i in range(rows_per_shard)
        ]
        rows.extend(part)
        pq.write_table(
            pa.Table.from_pylist(part), folder / "data" / f"train-{s:05d}-of-{shards:05d}.parquet"
        )
    return rows


def run_client(
    server, script: str, tmp_path: Path, *, env: dict[str, str] | None = None, timeout: int = 300
) -> Any:
    """Run `script` with a fresh interpreter pointed at `server`; it must print one JSON value
    as its last stdout line, which is returned."""
    home = tmp_path / f"hf-home-{uuid.uuid4().hex[:6]}"
    full_env = {
        **os.environ,
        "HF_ENDPOINT": server.url,
        "HF_HOME": str(home),
        "HF_HUB_OFFLINE": "0",
        "HF_DATASETS_OFFLINE": "0",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "HF_HUB_DISABLE_XET": "0",
        **(env or {}),
    }
    full_env.pop("HF_TOKEN", None)
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, f"client script failed:\n{proc.stdout}\n{proc.stderr[-6000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])
