"""Shared fixtures: every engine, declared as data; GPU engines skip, with the reason, without a GPU."""

import os

import numpy as np
import pytest

from fastnn.backends import engine_class, registry
from fastnn.testing import ENGINE_NAMES, engine_or_skip, engine_params

DTYPES = (np.float32, np.float64)

# float32 tolerances must not depend on the environment: no TF32 in cuBLAS, through CuPy
# (read at its first matmul, after this) or called directly. Set before any test imports CuPy.
os.environ["CUPY_TF32"] = "0"
os.environ["NVIDIA_TF32_OVERRIDE"] = "0"


@pytest.fixture(params=engine_params(ENGINE_NAMES))
def engine(request):
    """Each engine in turn (numpy, numba, cupy)."""
    return engine_or_skip(request.param)


@pytest.fixture(params=engine_params([n for n in ENGINE_NAMES if n != "numpy"]))
def fast_engine(request):
    """Each engine that is compared against the NumPy reference."""
    return engine_or_skip(request.param)


@pytest.fixture(autouse=True)
def no_global_engine_left_chosen():
    """A test that calls fastnn.use must undo it, or every later test runs on its engine."""
    yield
    assert registry._global_choice is None, (
        f"this test left fastnn.use({registry._global_choice.name!r}) in force: undo it (see tests/test_registry.py)")


@pytest.fixture(params=DTYPES, ids=lambda d: np.dtype(d).name)
def dtype(request):
    return np.dtype(request.param)


def pytest_report_header(config):
    rows = []
    for name in ENGINE_NAMES:
        reason = engine_class(name).unavailable_reason()
        rows.append(f"  {name}: {'available' if reason is None else 'unavailable: ' + reason}")
    return ["fastnn engines:", *rows]
