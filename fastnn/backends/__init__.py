"""Engines: one interface (:class:`Engine`), implemented by numpy, numba and cupy."""

from .base import Engine
from .registry import (
    EngineInfo,
    EngineUnavailableError,
    UnknownEngineError,
    engine_class,
    engines,
    get_engine,
    use,
    using,
)

__all__ = [
    "Engine",
    "EngineInfo",
    "EngineUnavailableError",
    "UnknownEngineError",
    "engine_class",
    "engines",
    "get_engine",
    "use",
    "using",
]
