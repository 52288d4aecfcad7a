"""load_backend: runtimes by name, a model a graph runtime can't take still served, and bad
runtime settings refused with one line."""

import pytest

from embedhub.backends import RuntimeSettingError, load_backend
from embedhub.backends.sentence_transformers import SentenceTransformersBackend
from embedhub.models import ModelNotFound
from embedhub.types import ModelSpec

DEFAULT = ModelSpec("sentence-transformers/all-MiniLM-L6-v2")


@pytest.mark.parametrize("runtime", ["onnx", "openvino"])
def test_a_failed_conversion_falls_back_to_torch(monkeypatch, caplog, runtime):
    import importlib

    module = importlib.import_module(f"embedhub.backends.{runtime}")

    def broken(*args, **kwargs):
        raise RuntimeError("unsupported operator")

    monkeypatch.setattr(module, "load", broken)
    backend = load_backend(DEFAULT, runtime=runtime)
    assert type(backend) is SentenceTransformersBackend
    assert backend.info.runtime == "torch"
    assert f"{runtime} runtime can't take sentence-transformers/all-MiniLM-L6-v2" in caplog.text


def test_a_missing_model_is_not_hidden_by_the_fallback(tmp_path):
    with pytest.raises(ModelNotFound, match="no model files"):
        load_backend(ModelSpec("x/y", str(tmp_path)), runtime="openvino")


@pytest.mark.parametrize(
    ("runtime", "precision", "message"),
    [
        ("tpu", "fp32", "--runtime 'tpu' is not a runtime; choose one of openvino, onnx, torch"),
        ("openvino", "int4", "--precision 'int4' is not a precision; choose one of fp32, int8"),
        ("torch", "int8", "--precision int8 needs --runtime openvino"),
    ],
)
def test_unknown_runtime_or_precision_is_refused(runtime, precision, message):
    with pytest.raises(RuntimeSettingError) as caught:
        load_backend(DEFAULT, runtime=runtime, precision=precision)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"", "no texts in it"),
        (b"\n  \n", "no texts in it"),
        (b"\x89PNG\r\n\x1a\n\0\0", "not a text file"),
        (b"caf\xe9\n", "not UTF-8 text"),
    ],
)
def test_an_unusable_calibration_file_is_refused_before_loading(tmp_path, content, message):
    path = tmp_path / "calibration.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(RuntimeSettingError, match=f"--calibration {path}: {message}"):
        load_backend(
            ModelSpec("x/y", str(tmp_path / "nowhere")), precision="int8", calibration=path
        )
