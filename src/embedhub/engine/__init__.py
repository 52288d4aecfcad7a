"""Queue, token-budget batching and backpressure around one backend. Knows no HTTP."""

from embedhub.engine.core import Engine, plan_workers
from embedhub.engine.errors import EngineError, EngineErrorKind
from embedhub.engine.observer import EngineObserver

__all__ = ["Engine", "EngineError", "EngineErrorKind", "EngineObserver", "plan_workers"]
