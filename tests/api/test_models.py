"""--model: the bundled default, ID=PATH for a local folder, and a model already in the Hugging
Face cache (offline) — several served at once, each equal to encode()."""

import shutil

import numpy as np
import requests

TEXTS = ["First text", "Hi!", "Self-hosted embeddings on plain CPUs."]


def _hf_cache_with(model_dir, cache_root, repo="acme/minilm-copy"):
    """The layout huggingface_hub's snapshot_download(local_files_only=True) reads."""
    revision = "0" * 40
    repo_dir = cache_root / "hub" / f"models--{repo.replace('/', '--')}"
    shutil.copytree(model_dir, repo_dir / "snapshots" / revision)
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(revision)
    return repo


def test_local_path_and_hf_cache_models_served_side_by_side(
    make_server, model_dir, reference_model, tmp_path, monkeypatch
):
    cached = _hf_cache_with(model_dir, tmp_path / "hf")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # the server process inherits it
    server = make_server(
        "--model",
        "sentence-transformers/all-MiniLM-L6-v2",
        "--model",
        f"local/minilm={model_dir}",
        "--model",
        cached,
        "--runtime",
        "torch",
    )
    listed = requests.get(f"{server.url}/v1/models", timeout=10).json()["data"]
    served = [m["id"] for m in listed]
    assert served == ["sentence-transformers/all-MiniLM-L6-v2", "local/minilm", cached]
    want = reference_model.encode(TEXTS)
    for model_id in served:
        url = f"{server.url}/pipeline/feature-extraction/{model_id}"
        got = np.asarray(requests.post(url, json={"inputs": TEXTS}, timeout=60).json())
        assert np.abs(got - want).max() < 1e-5, model_id
    missing = requests.post(
        f"{server.url}/pipeline/feature-extraction/nobody/nothing", json={"inputs": "x"}, timeout=10
    )
    assert missing.status_code == 404
    for model_id in served:
        assert model_id in missing.json()["error"]


def test_a_model_that_cannot_be_found_stops_serve_with_a_clear_message(tmp_path):
    from servers import run_cli

    proc = run_cli(tmp_path, "serve", "--model", "nobody/not-cached", "--port", "1", check=False)
    assert proc.returncode == 2
    assert "nobody/not-cached" in proc.stderr and "HF_HUB_OFFLINE" in proc.stderr
