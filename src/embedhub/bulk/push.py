"""`--push`: upload the published dataset (data/ and README.md, never the work dir) to a hub
repo through embedhub.hub.client, which uses the official huggingface_hub client."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from embedhub.bulk.errors import BulkError
from embedhub.bulk.store import WORK_DIR


def push(
    folder: Path,
    repo_id: str,
    *,
    endpoint: str | None = None,
    token: str | None = None,
    private: bool = False,
) -> str:
    """Returns "REPO@COMMIT". The index and parts stay home: a staged copy made of hard links
    holds only what a reader needs."""
    from embedhub.hub.client import push_folder

    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise BulkError(f"--push {repo_id!r}: expected NAMESPACE/NAME")
    stage = folder / WORK_DIR / "push"
    shutil.rmtree(stage, ignore_errors=True)
    try:
        shutil.copytree(folder / "data", stage / "data", copy_function=_link)
        _link(folder / "README.md", stage / "README.md")
        commit = push_folder(
            stage,
            repo_id,
            endpoint=endpoint,
            token=token,
            private=private,
            commit_message=f"Embeddings from embedhub embed ({folder.name})",
        )
    except BulkError:
        raise
    except Exception as exc:  # the hub said no (auth, network, name): say which and why
        where = endpoint or os.environ.get("HF_ENDPOINT") or "the Hugging Face Hub"
        raise BulkError(f"--push {repo_id} to {where} failed: {exc}") from exc
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return f"{repo_id}@{commit}"


def _link(src: str | Path, dst: str | Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
