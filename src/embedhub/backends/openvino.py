"""OpenVINO: the transformer converted once (`openvino.convert_model` of the torch module),
cached beside the ONNX graphs, run inside the shared graph pipeline (backends/graph.py).

Why: OpenVINO's CPU plugin fuses a BERT layer's ops further than ONNX Runtime does; on
all-MiniLM-L6-v2 in-process it measured ~2x `encode()` with the same vectors (see
docs/performance.md). It is compiled with an explicit f32 inference precision: on a CPU with
bf16 (AMX) its default would silently run bf16 and change the numbers.

`--precision int8` runs the graph quantized by backends/quantize.py instead, behind its
quality gate."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from embedhub.backends.base import LoadOptions
from embedhub.backends.graph import GraphBackend
from embedhub.backends.graphcache import cached_graph, graph_key
from embedhub.backends.onnx import eager_attention, token_embeddings_module
from embedhub.backends.parts import SourceModel, model_parts
from embedhub.types import ModelSpec

# Part of the cache key: a change to how graphs are converted must not reuse older graphs.
CONVERT_VERSION = "openvino 1"


def load(spec: ModelSpec, options: LoadOptions) -> GraphBackend:
    """The runtime's entry point (see embedhub.backends.RUNTIMES). With the graph and the
    model's parts cached, no torch is imported (see backends/parts.py)."""
    source = SourceModel(spec, options.threads)
    parts = model_parts(source, options.cache_dir)
    xml = converted(source, options.cache_dir)

    def backend(graph: Path) -> GraphBackend:
        run = compiled(graph, options)
        return GraphBackend("openvino", parts, run, run.names)

    if options.precision == "fp32":
        return backend(xml)
    from embedhub.backends.quantize import quantized

    return quantized(spec.model_id, backend, xml, source.path, options.cache_dir, options)


def converted(source: SourceModel, cache_dir: Path) -> Path:
    """The fp32 graph (`model.xml` + `model.bin`), converted on first use."""
    import openvino

    key = graph_key(source.path, CONVERT_VERSION, openvino.get_version())

    def build(out: Path) -> None:
        _convert(source.load()[0], out)

    folder = cached_graph(cache_dir, key, build, f"{source.spec.model_id} to OpenVINO")
    return folder / "model.xml"


def _convert(model: Any, out: Path) -> None:
    import openvino

    module, example = token_embeddings_module(model)
    with eager_attention(module.hf):
        graph = openvino.convert_model(module, example_input=example)
    # fp16 weights on disk (the default) would change the numbers.
    openvino.save_model(graph, out / "model.xml", compress_to_fp16=False)


def compiled(xml: Path, options: LoadOptions) -> _Runner:
    """The graph compiled for this CPU: one stream per engine worker, each with its share of
    the threads, f32 arithmetic wherever the graph has float ops."""
    import openvino

    core = openvino.Core()
    config = {
        "INFERENCE_PRECISION_HINT": "f32",
        "NUM_STREAMS": options.workers,
        "INFERENCE_NUM_THREADS": options.workers * options.threads,
    }
    model = core.compile_model(str(xml), "CPU", config)
    return _Runner(model)


class _Runner:
    """One infer request per engine worker thread: a request is not shareable, a compiled
    model is, and requests on different streams run at once."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.names = [port.any_name for port in model.inputs]
        self._local = threading.local()
        # One inference here, on the loading thread, before any worker runs one. Why: the
        # first infer() initialises statics in OpenVINO's Python binding (pybind11's numpy
        # API), and two workers doing that at once deadlocked the process: each waited for
        # the other's static initialisation while holding or awaiting the GIL (seen in
        # test_engine's concurrent test, all threads idle for 20 minutes).
        warm = {
            port.any_name: np.ones((1, 2), dtype=port.get_element_type().to_dtype())
            for port in model.inputs
        }
        model.create_infer_request().infer(warm)

    def __call__(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self.model.create_infer_request()
        request.infer(feeds)
        # A view of the request's own buffer: valid until this thread's next call, and the
        # pooling that reads it runs before then.
        return request.get_output_tensor(0).data
