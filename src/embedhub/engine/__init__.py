"""Queue, token-budget batching and backpressure around one backend. Knows no HTTP."""

from embedhub.engine.core import Engine
from embedhub.engine.observer import EngineObserver

__all__ = ["Engine", "EngineObserver"]
