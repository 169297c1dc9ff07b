"""No hidden copies: training a float64 X in float32 never holds a float32 copy of X.

NumPy reports its array allocations to tracemalloc, so the traced peak during fit is the
extra memory training needed beside the caller's X. Mini-batches are cast as their rows
are gathered, so the peak is a few batches and the weights, not X; a full batch is the
whole X, and that copy is gone as soon as fit returns, without waiting for the garbage
collector (a reference cycle once kept it).
"""

import gc
import tracemalloc

import numpy as np
import pytest

import fastnn
from fastnn.testing import ENGINE_NAMES, engine_or_skip, is_gpu_engine

CPU_ENGINES = [name for name in ENGINE_NAMES if not is_gpu_engine(name)]


def traced_fit(network, X, y):
    """(peak bytes allocated during fit, bytes still allocated after it) with the collector off."""
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        network.fit(X, y)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        gc.enable()
    return peak - start, current - start


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20_000, 100))  # float64: 16 MB; its float32 copy would be 8 MB
    return X, (X[:, 0] > 0).astype(np.int64)


@pytest.mark.parametrize("name", CPU_ENGINES)
def test_mini_batches_are_cast_as_they_are_cut(name, data):
    engine_or_skip(name)
    X, y = data
    network = fastnn.DeepNetwork([100, 16, 1], "relu", learning_rate=0.1, epochs=2, batch_size=64,
                                 dtype="float32", engine=name)
    network.fit(X[:64], y[:64])  # compile kernels before tracing
    peak, kept = traced_fit(network, X, y)
    copy_of_X = X.size * np.dtype(np.float32).itemsize
    assert peak < copy_of_X / 4, f"fit allocated {peak / 1e6:.1f} MB at its peak; a float32 X is {copy_of_X / 1e6:.1f} MB"
    assert network.parameters_["W1"].dtype == np.float32
    assert kept < copy_of_X / 20


@pytest.mark.parametrize("name", CPU_ENGINES)
def test_a_full_batch_copy_is_freed_when_fit_returns(name, data):
    engine_or_skip(name)
    X, y = data
    network = fastnn.DeepNetwork([100, 4, 1], "relu", learning_rate=0.1, epochs=2, dtype="float32", engine=name)
    network.fit(X[:64], y[:64])
    peak, kept = traced_fit(network, X, y)
    copy_of_X = X.size * np.dtype(np.float32).itemsize
    assert peak >= copy_of_X, "the full batch is X itself, cast: the trace should have seen it"
    assert kept < copy_of_X / 20, f"{kept / 1e6:.1f} MB still held after fit returned"
