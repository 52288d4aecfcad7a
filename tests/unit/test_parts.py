"""A graph runtime's model parts (backends/parts.py): read from the loaded model once, saved in
the graph cache, and read back on later starts without torch, giving the same vectors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from embedhub.backends import load_backend
from embedhub.backends.graph import GraphBackend
from embedhub.backends.heads import Unsupported
from embedhub.backends.openvino import compiled, converted
from embedhub.backends.parts import SourceModel, parts_of, read, save
from embedhub.backends.sentence_transformers import load_sentence_transformer
from embedhub.types import ModelSpec

DEFAULT = ModelSpec("sentence-transformers/all-MiniLM-L6-v2")
TEXTS = ["First text", "Hi!", "word " * 300, "Ünïcödé, 中文 and emoji 😀"]


def _cache() -> Path:
    return Path(os.environ["EMBEDHUB_ONNX_CACHE_DIR"])  # tests/conftest.py sets it


def test_a_warm_start_imports_no_torch_and_gives_encodes_vectors(reference_model):
    load_backend(DEFAULT, runtime="openvino", cache_dir=_cache())  # converts, if not done yet
    script = (
        "import sys, json; from pathlib import Path\n"
        "from embedhub.backends import load_backend\n"
        "from embedhub.types import ModelSpec\n"
        f"b = load_backend(ModelSpec({DEFAULT.model_id!r}), cache_dir=Path({str(_cache())!r}))\n"
        f"v = b.embed({TEXTS!r})\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'transformers')\n"
        "         if m in sys.modules]\n"
        "print(json.dumps({'heavy': heavy, 'info': str(b.info), 'vectors': v.tolist()}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["heavy"] == []
    assert "runtime='openvino'" in got["info"] and "dimension=384" in got["info"]
    vectors = np.asarray(got["vectors"])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)  # the engine normalises
    assert np.abs(vectors - reference_model.encode(TEXTS)).max() < 1e-5


def test_parts_of_a_model_with_cls_pooling_and_dense_layers_round_trip(tmp_path):
    """CLS pooling, a Dense layer with a bias and tanh, one without a bias: saved, read back,
    run on the bundled model's graph (same transformer weights), equal to encode()."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Dense

    model, info, _ = load_sentence_transformer(DEFAULT)
    transformer, pooling = model[0], model[1]
    pooling.pooling_mode = "cls"  # the property sentence-transformers reads the mode from
    torch.manual_seed(0)
    first = Dense(384, 32, bias=True, activation_function=torch.nn.Tanh())
    second = Dense(32, 16, bias=False, activation_function=torch.nn.Identity())
    variant = SentenceTransformer(modules=[transformer, pooling, first, second], device="cpu")
    variant_info = info.__class__(**{**info.__dict__, "dimension": 16, "normalizes": False})

    parts = parts_of(variant, variant_info)
    save(parts, tmp_path)
    again = read(tmp_path)
    assert again.head.pooling == "cls"
    assert [d.activation for d in again.head.dense] == ["Tanh", "Identity"]
    assert again.head.dense[1].bias is None
    assert (again.tokenizer, again.pad_id, again.special_ids) == (
        parts.tokenizer,
        parts.pad_id,
        parts.special_ids,
    )
    assert again.info == variant_info

    from embedhub.backends.base import LoadOptions

    run = compiled(converted(SourceModel(DEFAULT, 1), _cache()), LoadOptions())
    backend = GraphBackend("openvino", again, run, run.names)
    want = variant.encode(TEXTS)
    assert want.shape == (len(TEXTS), 16)
    assert np.abs(backend.embed(TEXTS) - want).max() < 1e-5


def test_a_dense_layer_with_a_residual_connection_is_not_taken_for_a_plain_one():
    """use_residual between equal sizes has no layer of its own: only the flag tells."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Dense

    model, info, _ = load_sentence_transformer(DEFAULT)
    residual = Dense(384, 384, use_residual=True, activation_function=torch.nn.Identity())
    variant = SentenceTransformer(modules=[model[0], model[1], residual], device="cpu")
    with pytest.raises(Unsupported, match="residual"):
        parts_of(variant, info.__class__(**{**info.__dict__, "normalizes": False}))


def test_parts_naming_a_head_this_version_does_not_compute_are_refused(tmp_path):
    model, info, _ = load_sentence_transformer(DEFAULT)
    save(parts_of(model, info), tmp_path)
    described = json.loads((tmp_path / "parts.json").read_text())
    described["pooling"] = "weightedmean"
    (tmp_path / "parts.json").write_text(json.dumps(described))
    with pytest.raises(Unsupported, match="weightedmean"):
        read(tmp_path)
