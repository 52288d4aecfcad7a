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

from embedhub.backends.base import PASS, LoadOptions
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
    the threads, f32 arithmetic wherever the graph has float ops. With more than one worker,
    compiled a second time as one stream with every thread, for lone passes (see _Runner)."""
    import openvino

    core = openvino.Core()
    graph = core.read_model(str(xml))
    threads = options.workers * options.threads
    model = core.compile_model(graph, "CPU", _config(options.workers, threads))
    wide = core.compile_model(graph, "CPU", _config(1, threads)) if options.workers > 1 else None
    return _Runner(model, wide)


def _config(streams: int, threads: int) -> dict[str, Any]:
    # No CPU pinning: with two compiled models in one process and pinning on (the default),
    # 16 single-text clients got 74-80 texts/s in 3 runs of bench/serve.py (quiet 2-core box);
    # unpinned, 76-99 in 8 runs (mean 88.7) against 75-98 in 7 (mean 90.1) for one pinned
    # model before. Runs of one build differ by up to 20% here, so pinning's cost is likely,
    # not proven; unpinned, no throughput loss was measurable.
    return {
        "INFERENCE_PRECISION_HINT": "f32",
        "NUM_STREAMS": streams,
        "INFERENCE_NUM_THREADS": threads,
        "ENABLE_CPU_PINNING": False,
    }


class _Runner:
    """One infer request per engine worker thread: a request is not shareable, a compiled
    model is, and requests on different streams run at once.

    A pass the engine says is all the work there is (`PASS.alone`: a lone request on an idle
    server) runs on `wide`, the same graph compiled as one stream with every thread: on one
    thread of one stream it would leave the other cores idle while its client waits. The
    vectors are the same, bit for bit (measured on 300 real texts of every length). Only
    then: a request of two inputs, split by the engine over both workers, ran slower as a
    wide pass beside a one-thread pass (p50 1.2x, 2 shared cores), and two one-input passes
    in turn on every thread took ~1.3x as long as side by side on one thread each. A pass
    that starts while a wide one runs takes its own stream rather than wait. Under load a
    pass is rarely alone, so throughput stays on the one-thread streams."""

    def __init__(self, model: Any, wide: Any = None) -> None:
        self.model = model
        self.wide = wide
        self.names = [port.any_name for port in model.inputs]
        self._local = threading.local()
        self._lock = threading.Lock()
        self._running = 0  # passes in progress
        # One inference of each graph here, on the loading thread, before any worker runs
        # one. Why: the first infer() initialises statics in OpenVINO's Python binding
        # (pybind11's numpy API), and two workers doing that at once deadlocked the process:
        # each waited for the other's static initialisation while holding or awaiting the GIL
        # (seen in test_engine's concurrent test, all threads idle for 20 minutes).
        warm = {
            port.any_name: np.ones((1, 2), dtype=port.get_element_type().to_dtype())
            for port in model.inputs
        }
        for compiled_model in (model, wide):
            if compiled_model is not None:
                compiled_model.create_infer_request().infer(warm)

    def __call__(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        wide = self._start(PASS.alone)
        try:
            request = self._request(wide)
            request.infer(feeds)
        finally:
            self._end()
        # A view of the request's own buffer (this thread's alone): valid until this
        # thread's next call, and the pooling that reads it runs before then.
        return request.get_output_tensor(0).data

    def _request(self, wide: bool) -> Any:
        name = "wide" if wide else "narrow"
        request = getattr(self._local, name, None)
        if request is None:
            request = (self.wide if wide else self.model).create_infer_request()
            setattr(self._local, name, request)
        return request

    def _start(self, alone: bool) -> bool:
        """Count this pass in; True when it is to run wide."""
        with self._lock:
            wide = self.wide is not None and alone and self._running == 0
            self._running += 1
            return wide

    def _end(self) -> None:
        with self._lock:
            self._running -= 1
