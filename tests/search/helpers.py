"""Helpers for the search tests: hosting a dataset on a test server through the hub's own
commit API, and calling the dataset-viewer routes."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import requests

MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def card(model: str | None = MODEL, dim: int = 384, column: str = "embedding") -> str:
    block = (
        f"embedhub:\n  model: {model}\n  dimension: {dim}\n  embedding_column: {column}\n"
        if model
        else ""
    )
    return f"---\nlicense: mit\n{block}---\n# test dataset\n"


def table(n: int, dim: int = 384, *, seed: int = 0, prefix: str = "row") -> pa.Table:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, dim), dtype=np.float32)
    return pa.table(
        {
            "id": np.arange(n, dtype=np.int64),
            "text": [f"{prefix} {i} {'odd' if i % 2 else 'even'}" for i in range(n)],
            "stars": (np.arange(n) % 5 + 1).astype(np.int64),
            "embedding": pa.array(list(vectors), pa.list_(pa.float32(), dim)),
        }
    )


def exact_rows(t: pa.Table, q: np.ndarray, k: int) -> list[int]:
    """The row numbers of `t`'s k best cosine matches to q, best first (ties by row number):
    what an exact search of the table's `embedding` column answers."""
    vectors = np.stack(t.column("embedding").to_numpy(zero_copy_only=False))
    scores = (vectors @ q) / np.linalg.norm(vectors, axis=1)
    return np.lexsort((np.arange(len(scores)), -scores))[:k].tolist()


def host(
    server,
    token: str,
    repo_id: str,
    files: dict[str, bytes],
    *,
    private: bool = False,
    type_: str = "dataset",
    message: str = "test data",
) -> str:
    """Create the repo if needed and commit `files` to main; returns the commit id."""
    ns, name = repo_id.split("/")
    body: dict[str, Any] = {"name": name, "organization": ns, "type": type_}
    if private:
        body["visibility"] = "private"
    r = requests.post(f"{server.url}/api/repos/create", json=body, headers=auth(token), timeout=60)
    assert r.status_code in (200, 409), r.text
    lines = [{"key": "header", "value": {"summary": message}}]
    for path, content in files.items():
        value = {"path": path, "content": base64.b64encode(content).decode(), "encoding": "base64"}
        lines.append({"key": "file", "value": value})
    r = requests.post(
        f"{server.url}/api/{type_}s/{repo_id}/commit/main",
        data="\n".join(json.dumps(line) for line in lines).encode(),
        headers={**auth(token), "Content-Type": "application/x-ndjson"},
        timeout=300,
    )
    assert r.status_code == 200, r.text
    return r.json()["commitOid"]


def parquet_bytes(t: pa.Table, row_group_size: int | None = None) -> bytes:
    out = io.BytesIO()
    pq.write_table(t, out, row_group_size=row_group_size)
    return out.getvalue()


def dataset_files(t: pa.Table, readme: str | None = None, shards: int = 1) -> dict[str, bytes]:
    files = {"README.md": (readme if readme is not None else card()).encode()}
    step = -(-t.num_rows // shards)
    for s in range(shards):
        part = t.slice(s * step, step)
        files[f"data/train-{s:05d}-of-{shards:05d}.parquet"] = parquet_bytes(part, 64)
    return files


def viewer(server, route: str, token: str | None = None, **params: Any) -> requests.Response:
    return requests.get(
        f"{server.url}/datasets-server/{route}", params=params, headers=auth(token), timeout=300
    )


def semantic(server, token: str | None = None, **body: Any) -> requests.Response:
    return requests.post(
        f"{server.url}/datasets-server/semantic-search",
        json=body,
        headers=auth(token),
        timeout=300,
    )


def metric(server, name: str) -> float:
    """The sum of a metric's samples on /metrics (0 when absent)."""
    total = 0.0
    for line in requests.get(f"{server.url}/metrics", timeout=30).text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            head, value = line.rsplit(" ", 1)
            if head == name or head.startswith(name + "{"):
                total += float(value)
    return total
