"""The notes' demo, z = w.x + b, as pytest-benchmark groups: engines side by side.

Sizes: the vectorised form at n = 10^6, as in the notes. The loop at n = 10^5 for every
engine (the Python loop takes ~0.15-0.45 s at 10^6, too slow for many rounds); multiply
its times by 10 to compare with the notes' 450 ms. With --benchmark-disable, n = 1000.
Each timed call ends with the engine's synchronize(), so GPU work is counted.
For the memory floor and a single table with all of this, run ``fastnn bench``.
"""

import numpy as np
import pytest

VECTORISED_N = 10**6
LOOP_N = 10**5
SMOKE_N = 1000
BIAS = 0.5


def _vectors(engine, n, dtype):
    rng = np.random.default_rng(0)
    w, x = rng.random(n).astype(dtype), rng.random(n).astype(dtype)
    return w, x, engine.asarray(w), engine.asarray(x)


def _timed_call(benchmark, engine, fn, w, x):
    """Benchmark fn(w, x, b) followed by synchronize(); check the result against np.dot."""
    def call():
        z = fn(w, x, BIAS)
        engine.synchronize()
        return z

    z = benchmark(call)
    return float(engine.to_numpy(z))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_dot_vectorized(benchmark, engine, dtype, full_size):
    name = engine.name
    n = VECTORISED_N if full_size else SMOKE_N
    benchmark.group = f"dot_vectorized {dtype} n={n:,}"
    benchmark.extra_info.update(engine=name, dtype=dtype, n=n, notes_s=1.5e-3 * n / 1e6)
    w, x, ew, ex = _vectors(engine, n, dtype)
    z = _timed_call(benchmark, engine, engine.dot_vectorized, ew, ex)
    assert z == pytest.approx(np.dot(w.astype(float), x.astype(float)) + BIAS, rel=1e-4)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_dot_loop(benchmark, engine, dtype, full_size):
    name = engine.name
    n = LOOP_N if full_size else SMOKE_N
    benchmark.group = f"dot_loop {dtype} n={n:,} (x10 for the notes' n=10^6)"
    benchmark.extra_info.update(engine=name, dtype=dtype, n=n, notes_s=0.450 * n / 1e6)
    w, x, ew, ex = _vectors(engine, n, dtype)
    z = _timed_call(benchmark, engine, engine.dot_loop, ew, ex)
    assert z == pytest.approx(np.dot(w.astype(float), x.astype(float)) + BIAS, rel=1e-4)
