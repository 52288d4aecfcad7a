"""What follows the transformer in a sentence-transformers model (Pooling, Dense), in numpy.

Why numpy: on a graph runtime these few ops are all that would still need torch, and torch's
per-call overhead is larger than the ops themselves on small batches. The arithmetic is the
modules' own (see sentence_transformers' Pooling and Dense), so vectors stay within float32
rounding of `encode()`. A module stack outside what is written here raises `Unsupported`,
and the runtime falls back to torch for that model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


class Unsupported(ValueError):
    """A model whose modules this pipeline does not reproduce exactly."""


def _mean(tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
    weights = mask.astype(np.float32)
    total = np.einsum("nsh,ns->nh", tokens, weights)
    return total / np.maximum(weights.sum(1, keepdims=True), 1e-9)


def _cls(tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return tokens[np.arange(len(tokens)), mask.argmax(1)]  # the first real token


def _max(tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return np.where(mask[..., None] == 0, -np.inf, tokens).max(1).astype(np.float32)


def _last(tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
    seq = mask.shape[1]
    found = mask[:, ::-1].argmax(1)  # distance of the last real token from the end
    last = np.where(mask.any(1), seq - 1 - found, seq - 1)
    rows = np.arange(len(tokens))
    return tokens[rows, last] * mask[rows, last][:, None].astype(np.float32)


POOLINGS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "mean": _mean,
    "cls": _cls,
    "max": _max,
    "lasttoken": _last,
}
_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "Identity": lambda x: x,
    "Tanh": np.tanh,
}


@dataclass(frozen=True)
class Dense:
    weight: np.ndarray  # (out, in), as torch.nn.Linear keeps it
    bias: np.ndarray | None
    activation: str  # a name in _ACTIVATIONS (names, so that a head can be saved as files)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        y = x @ self.weight.T
        if self.bias is not None:
            y = y + self.bias
        return _ACTIVATIONS[self.activation](y).astype(np.float32, copy=False)


@dataclass(frozen=True)
class Head:
    """Token embeddings and their attention mask -> sentence embeddings (before Normalize)."""

    pooling: str  # a name in POOLINGS
    dense: tuple[Dense, ...]

    def __call__(self, tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
        out = POOLINGS[self.pooling](tokens, mask)
        for layer in self.dense:
            out = layer(out)
        return np.ascontiguousarray(out, dtype=np.float32)

    def check(self) -> None:
        """Raise Unsupported unless every part has a name this module computes (a head read
        back from files may name one a later version dropped)."""
        if self.pooling not in POOLINGS:
            raise Unsupported(f"pooling mode {self.pooling!r}; supported: {', '.join(POOLINGS)}")
        for layer in self.dense:
            if layer.activation not in _ACTIVATIONS:
                raise Unsupported(f"Dense activation {layer.activation}")


def read_head(modules: list) -> Head:
    """The head of a [Transformer, Pooling, Dense..., (Normalize)] stack; `modules` without
    the final Normalize, which the engine applies."""
    names = [type(m).__name__ for m in modules]
    if len(names) < 2 or names[0] != "Transformer" or names[1] != "Pooling":
        raise Unsupported(f"modules {names}: expected Transformer, Pooling, then Dense layers")
    pooling = modules[1]
    mode = getattr(pooling, "pooling_mode", None)
    if not isinstance(mode, str) or mode not in POOLINGS:
        raise Unsupported(f"pooling mode {mode!r}; supported: {', '.join(POOLINGS)}")
    if not getattr(pooling, "include_prompt", True):
        raise Unsupported("pooling that leaves the prompt's tokens out")
    return Head(mode, tuple(_dense(m) for m in modules[2:]))


def _dense(module) -> Dense:  # module: sentence_transformers Dense
    kind = type(module).__name__
    if kind != "Dense":
        raise Unsupported(f"module {kind} after pooling")
    # sentence-transformers >= 5 may add the input back (`use_residual`); only a residual
    # between different sizes has its own `residual` layer, so both are checked.
    if getattr(module, "use_residual", False) or getattr(module, "residual", None) is not None:
        raise Unsupported("Dense layer with a residual connection")
    activation = type(module.activation_function).__name__
    if activation not in _ACTIVATIONS:
        raise Unsupported(f"Dense activation {activation}")
    linear = module.linear
    bias = None if linear.bias is None else linear.bias.detach().float().numpy().copy()
    return Dense(linear.weight.detach().float().numpy().copy(), bias, activation)
