"""ONNX Runtime: the transformer exported once to ONNX with torch's exporter, cached by the
weights' identity, run by ONNX Runtime inside the shared graph pipeline (backends/graph.py).

Why: on a small CPU model most of a torch forward pass for a short batch is framework overhead
(~5 ms per call for all-MiniLM-L6-v2 on 2 cores); ONNX Runtime runs the same graph with far
less of it. Vectors match `encode()` to float32 precision (max abs diff ~1e-6)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from embedhub.backends.base import LoadOptions
from embedhub.backends.graph import GraphBackend
from embedhub.backends.graphcache import cached_graph, graph_key
from embedhub.backends.parts import SourceModel, model_parts
from embedhub.types import ModelSpec

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# Part of the cache key: a change to how graphs are exported must not reuse older graphs.
EXPORT_VERSION = "onnx 2: eager attention"


def load(spec: ModelSpec, options: LoadOptions) -> GraphBackend:
    """The runtime's entry point (see embedhub.backends.RUNTIMES). With the graph and the
    model's parts cached, no torch is imported (see backends/parts.py)."""
    import onnxruntime as ort

    source = SourceModel(spec, options.threads)
    parts = model_parts(source, options.cache_dir)
    onnx_path = exported(source, options.cache_dir)
    so = ort.SessionOptions()
    so.intra_op_num_threads = options.threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Spinning worker threads steal the core the event loop needs between batches.
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]

    def run(feeds: dict[str, np.ndarray]) -> np.ndarray:
        return session.run(None, feeds)[0]  # safe to call from several threads at once

    return GraphBackend("onnx", parts, run, names)


def exported(source: SourceModel, cache_dir: Path) -> Path:
    """The transformer as ONNX (`model.onnx` in its cache folder), exported on first use."""
    key = graph_key(source.path, EXPORT_VERSION)

    def build(out: Path) -> None:
        _export(source.load()[0], out / "model.onnx")

    folder = cached_graph(cache_dir, key, build, f"{source.spec.model_id} to ONNX")
    return folder / "model.onnx"


def token_embeddings_module(model: Any) -> tuple[Any, dict[str, Any]]:
    """The model's transformer as a torch module (input ids... -> last hidden state), and a
    small example batch of its inputs: what both converters trace."""
    import torch

    hf = getattr(model[0], "model", None) or model[0].auto_model
    sample = model.preprocess(["an example sentence", "a second, longer example sentence"])
    example = {n: sample[n] for n in INPUTS if n in sample}

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.hf = hf

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
            return self.hf(
                input_ids=input_ids, attention_mask=attention_mask, **extra
            ).last_hidden_state

    return TokenEmbeddings().eval(), example


def _export(model: Any, target: Path) -> None:
    import torch

    module, example = token_embeddings_module(model)
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq", min=2, max=4096)
    with eager_attention(module.hf):
        torch.onnx.export(
            module,
            (),
            str(target),
            kwargs=example,
            input_names=list(example),
            output_names=["token_embeddings"],
            dynamic_shapes={n: {0: batch, 1: seq} for n in example},
            dynamo=True,
            verbose=False,
        )


@contextlib.contextmanager
def eager_attention(hf: Any) -> Iterator[None]:
    """Export attention as plain MatMul/Softmax ops. Why: exported from torch's SDPA the graph
    ran 15-20% slower in ONNX Runtime (measured, all-MiniLM-L6-v2, one thread: 32x256 tokens
    2.6 s vs 2.1 s; 100 small passes 4.9 s vs 4.3-4.5 s); the same vectors to ~4e-6."""
    setter = getattr(hf, "set_attn_implementation", None)
    before = getattr(hf.config, "_attn_implementation", None)
    if setter is None or before in (None, "eager"):
        yield
        return
    try:
        setter("eager")
    except (ValueError, ImportError):  # a model without an eager path: export it as it is
        yield
        return
    try:
        yield
    finally:
        setter(before)
