"""Which engines exist, which can run here, and which one is in use.

Selection, from strongest to weakest: ``with fastnn.using(name):`` (local to the current
thread or task), ``fastnn.use(name)`` (global), the ``FASTNN_ENGINE`` environment
variable, and finally ``"auto"``: CuPy when a usable GPU is present, else Numba, else NumPy.
Engine modules are imported only when an engine is asked for, so importing fastnn never
imports Numba or CuPy.
"""

import contextlib
import contextvars
import importlib
import os
import threading
from dataclasses import dataclass

from ..errors import EngineUnavailableError, UnknownEngineError
from .base import Engine

ENGINE_CLASSES = {
    "numpy": ("fastnn.backends.numpy_engine", "NumpyEngine"),
    "numba": ("fastnn.backends.numba_engine", "NumbaEngine"),
    "cupy": ("fastnn.backends.cupy_engine", "CupyEngine"),
}
AUTO_ORDER = ("cupy", "numba", "numpy")
ENV_VARIABLE = "FASTNN_ENGINE"


@dataclass(frozen=True)
class EngineInfo:
    """One row of :func:`engines`: an engine's name, whether it can run here, and why not."""

    name: str
    available: bool
    reason: str | None


_global_choice = None
_context_choice = contextvars.ContextVar("fastnn_engine", default=None)
_instances = {}
_instances_lock = threading.Lock()


def engine_class(name, argument="engine"):
    """Return the class of engine `name`, importing its module (not its optional packages)."""
    if not isinstance(name, str) or name not in ENGINE_CLASSES:
        known = ", ".join(repr(n) for n in (*ENGINE_CLASSES, "auto"))
        raise UnknownEngineError(f"{argument}: expected one of {known}, got {name!r}")
    module_name, class_name = ENGINE_CLASSES[name]
    return getattr(importlib.import_module(module_name), class_name)


def engines():
    """List every engine with whether it can run here and, when it cannot, why."""
    rows = []
    for name in ENGINE_CLASSES:
        reason = engine_class(name).unavailable_reason()
        rows.append(EngineInfo(name, reason is None, reason))
    return rows


def get_engine(engine=None, **options):
    """Return an engine instance: `engine` may be an Engine, a name, "auto" or None (current).

    `options` are passed to the engine's constructor (for example ``device=1`` for cupy).
    """
    if isinstance(engine, Engine):
        return engine
    argument = "engine"
    if engine is None:
        chosen = _context_choice.get() or _global_choice
        if chosen is not None and not options:
            return chosen
        if chosen is not None:
            engine = chosen.name
        else:
            engine, argument = os.environ.get(ENV_VARIABLE) or "auto", ENV_VARIABLE
    name = _resolve_auto() if engine == "auto" else engine
    return _instance(name, options, argument)


def engine_by_name(name, options):
    """The engine `name` with constructor `options`: how a pickled engine is restored."""
    return get_engine(name, **options)


def use(engine, **options):
    """Make `engine` the global default for this process and return the instance.

    ``use(None)`` forgets the choice: the default is again $FASTNN_ENGINE, else "auto".
    """
    global _global_choice
    _global_choice = None if engine is None else get_engine(engine, **options)
    return _global_choice


@contextlib.contextmanager
def using(engine, **options):
    """Use `engine` inside a ``with`` block, for the current thread or asyncio task only."""
    token = _context_choice.set(get_engine(engine, **options))
    try:
        yield _context_choice.get()
    finally:
        _context_choice.reset(token)


def _resolve_auto():
    """The first engine of AUTO_ORDER that can run here, probed once per process.

    The notes' steps look their engine up on every call: probing each time cost 10 us.
    """
    global _auto_choice
    if _auto_choice is None:
        _auto_choice = next((name for name in AUTO_ORDER if engine_class(name).unavailable_reason() is None),
                            "numpy")
    return _auto_choice


_auto_choice = None


def _instance(name, options, argument="engine"):
    """One shared instance per (name, options), created after checking it can run here."""
    if not options and isinstance(name, str):  # the common case, on every call: no lock, no import
        instance = _instances.get((name, ()))
        if instance is not None:
            return instance
    cls = engine_class(name, argument)
    key = (name, tuple(sorted(options.items())))
    with _instances_lock:
        if key not in _instances:
            reason = cls.unavailable_reason()
            if reason is not None:
                raise EngineUnavailableError(f"engine {name!r} cannot run here: {reason}")
            try:
                _instances[key] = cls(**options)
            except TypeError as error:
                raise ValueError(f"engine {name!r} does not take the options {options}: {error}") from None
        return _instances[key]
