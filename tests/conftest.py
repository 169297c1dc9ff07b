"""Shared fixtures: every engine, declared as data; GPU engines skip, with the reason, without a GPU."""

import numpy as np
import pytest

from fastnn.backends import engine_class, get_engine

ENGINE_NAMES = ("numpy", "numba", "cupy")
GPU_ENGINES = ("cupy",)
DTYPES = (np.float32, np.float64)


def engine_or_skip(name):
    """Return engine `name`; skip (GPU engines only) with the reason it cannot run here."""
    reason = engine_class(name).unavailable_reason()
    if reason is not None and name in GPU_ENGINES:
        pytest.skip(f"{name} engine skipped: {reason}")
    return get_engine(name)


def _engine_params(names):
    return [pytest.param(n, id=n, marks=[pytest.mark.gpu] if n in GPU_ENGINES else []) for n in names]


@pytest.fixture(params=_engine_params(ENGINE_NAMES))
def engine(request):
    """Each engine in turn (numpy, numba, cupy)."""
    return engine_or_skip(request.param)


@pytest.fixture(params=_engine_params(n for n in ENGINE_NAMES if n != "numpy"))
def fast_engine(request):
    """Each engine that is compared against the NumPy reference."""
    return engine_or_skip(request.param)


@pytest.fixture(params=DTYPES, ids=lambda d: np.dtype(d).name)
def dtype(request):
    return np.dtype(request.param)


def pytest_report_header(config):
    rows = []
    for name in ENGINE_NAMES:
        reason = engine_class(name).unavailable_reason()
        rows.append(f"  {name}: {'available' if reason is None else 'unavailable: ' + reason}")
    return ["fastnn engines:", *rows]
