"""Helpers for test suites (ours and yours): every engine as a pytest parameter.

GPU engines (``device_kind == "gpu"`` on the engine class) carry the ``gpu`` marker and
skip, with the reason printed, where they cannot run; every other engine must run. pytest
is imported only when these are called.
"""

from .backends import engine_class, get_engine
from .backends.registry import ENGINE_CLASSES

ENGINE_NAMES = tuple(ENGINE_CLASSES)


def is_gpu_engine(name):
    """Whether engine `name` keeps its arrays on a GPU (imports its module, not CuPy).

    Names that are no engine (the benchmarks' peers "torch", "sklearn") are not GPU engines.
    """
    return name in ENGINE_CLASSES and engine_class(name).device_kind == "gpu"


def engine_or_skip(name):
    """Return engine `name`; skip (GPU engines only) with the reason it cannot run here."""
    import pytest

    reason = engine_class(name).unavailable_reason()
    if reason is not None and is_gpu_engine(name):
        pytest.skip(f"{name} engine skipped: {reason}")
    return get_engine(name)


def engine_params(names=ENGINE_NAMES):
    """pytest.param objects for `names`, with the ``gpu`` marker on GPU engines."""
    import pytest

    return [pytest.param(n, id=n, marks=[pytest.mark.gpu] if is_gpu_engine(n) else []) for n in names]
