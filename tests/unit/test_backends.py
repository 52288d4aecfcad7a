"""load_backend: runtimes by name, and a model the ONNX exporter can't take still served."""

import pytest

from embedhub.backends import load_backend
from embedhub.backends.sentence_transformers import SentenceTransformersBackend
from embedhub.models import ModelNotFound
from embedhub.types import ModelSpec

DEFAULT = ModelSpec("sentence-transformers/all-MiniLM-L6-v2")


def test_failed_onnx_export_falls_back_to_torch(monkeypatch, caplog):
    from embedhub.backends import onnx

    def broken(*args, **kwargs):
        raise RuntimeError("unsupported operator")

    monkeypatch.setattr(onnx.OnnxBackend, "load", classmethod(broken))
    backend = load_backend(DEFAULT, runtime="onnx")
    assert type(backend) is SentenceTransformersBackend
    assert "ONNX export of sentence-transformers/all-MiniLM-L6-v2 failed" in caplog.text


def test_a_missing_model_is_not_hidden_by_the_fallback(tmp_path):
    with pytest.raises(ModelNotFound, match="no model files"):
        load_backend(ModelSpec("x/y", str(tmp_path)), runtime="onnx")


def test_unknown_runtime_is_refused():
    with pytest.raises(ValueError, match="unknown runtime 'tpu'"):
        load_backend(DEFAULT, runtime="tpu")
