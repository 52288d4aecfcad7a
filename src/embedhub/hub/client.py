"""Upload and download hub repos with the official client, so the same calls work against
embedhub and against huggingface.co.

huggingface_hub reads HF_ENDPOINT once, at import time; the endpoint is therefore passed to
every call explicitly (`endpoint=`, else $HF_ENDPOINT as it is now, else the client's default)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def _endpoint(endpoint: str | None) -> str | None:
    value = endpoint or os.environ.get("HF_ENDPOINT") or None
    return value.rstrip("/") if value else None


def _api(endpoint: str | None, token: str | None) -> Any:
    from huggingface_hub import HfApi

    return HfApi(endpoint=_endpoint(endpoint), token=token)


def push_folder(
    folder: str | Path,
    repo_id: str,
    *,
    endpoint: str | None = None,
    token: str | None = None,
    private: bool = False,
    repo_type: str = "dataset",
    commit_message: str | None = None,
) -> str:
    """Create the repo if needed and upload `folder` into it; returns the commit id."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder")
    api = _api(endpoint, token)
    api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)
    if private:
        # An existing public repo is made private when asked; never the other way round.
        api.update_repo_settings(repo_id, repo_type=repo_type, private=True)
    info = api.upload_folder(
        folder_path=str(folder),
        repo_id=repo_id,
        repo_type=repo_type,
        # `embedhub embed` keeps its resume state in OUTPUT/.embedhub: never part of a dataset.
        ignore_patterns=[".embedhub/**"],
        commit_message=commit_message or f"Upload {folder.name} with embedhub",
    )
    return info.oid


def pull(
    repo_id: str,
    folder: str | Path,
    *,
    endpoint: str | None = None,
    token: str | None = None,
    repo_type: str = "dataset",
) -> Path:
    """Download the repo's files (main branch) into `folder`; returns the folder."""
    from huggingface_hub import snapshot_download

    path = snapshot_download(
        repo_id,
        repo_type=repo_type,
        local_dir=str(folder),
        endpoint=_endpoint(endpoint),
        token=token,
    )
    return Path(path)
