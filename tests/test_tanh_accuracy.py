"""tanh is within 2 ulp of the exact value on every engine and every path, and NaN, +-inf,
+-0 and subnormals come out as IEEE arithmetic says.

The oracle is tanh(z) = (e^2z - 1) / (e^2z + 1) in 40-digit decimal arithmetic (Python's
decimal module, correctly rounded exp; z - z^3/3 below 1e-10, where e^2z - 1 would cancel),
so it depends on no float library. Measured worst cases: the numba engine's call-free tanh
(fastnn/kernels/numba_math.py) 1.29 ulp over these inputs in float64 (1.61 over a denser
35,000-value sweep of [-25, 25] and tiny values, 1.65 without FMAs) and 0.50 in float32
(computed in float64, rounded once); NumPy's np.tanh 1.06 and 1.30 here. The bound is 2 ulp, and 0.51 for the
numba kernels' float32, which must stay rounded once from float64.
"""

import decimal
import functools

import numpy as np
import pytest
from ulp import ulp_errors

from fastnn.backends import get_engine
from fastnn.kernels import numba_step
from fastnn.propagation import Workspace

ULP_BOUND = 2.0
NUMBA_FLOAT32_BOUND = 0.51
# 1,000 values take the numba engine's kernels, 4,000 its NumPy passes (above _SCALAR_MATH_MAX).
SIZES = (1000, 4000)
PATHS = ("activation", "bias_activation", "training_step")
NUMBA_PATHS = ("fused bias_activation",)


def tanh_oracle(z):
    """tanh(z) for each z, to 40 significant digits, as Decimals."""
    exact = []
    with decimal.localcontext() as context:
        context.prec = 40
        for x in z:
            d = decimal.Decimal(float(x))
            if abs(d) < decimal.Decimal("1e-10"):  # the series: its next term is below 1e-40 relative
                exact.append(d - d ** 3 / 3)
            else:  # e^-2|z|: no overflow, and 0 (not an error) far out
                e = (-2 * abs(d)).exp()
                exact.append(((1 - e) / (1 + e)).copy_sign(d))
    return exact


@functools.lru_cache(maxsize=None)
def inputs_and_exact(dtype_name, size):
    """`size` inputs of every kind, and their exact tanh: tiny (normal) values, both sides of the
    switch at |z| = 1 and 1's neighbours, moderate values, and large ones up to saturation and far beyond."""
    dtype = np.dtype(dtype_name)
    info = np.finfo(dtype)
    rng = np.random.default_rng(11)
    part = size // 4
    sign = rng.choice([-1.0, 1.0], size)
    tiny = 10.0 ** rng.uniform(np.log10(info.tiny), -4, part)
    switch = np.concatenate([rng.uniform(0.0, 1.5, part - 3), [np.nextafter(dtype.type(1), dtype.type(0)), 1.0,
                                                                 np.nextafter(dtype.type(1), dtype.type(2))]])
    moderate = rng.uniform(1.5, 8.0, part)
    large = np.concatenate([rng.uniform(8.0, 25.0, size - 3 * part - 3), [1e3, 1e30, float(info.max)]])
    z = (sign * np.concatenate([tiny, switch, moderate, large])).astype(dtype)
    return z, tanh_oracle(z)


def tanh_through(engine, path, z):
    """tanh of the flat array z through one of the engine's paths, back as a flat NumPy array."""
    dtype = z.dtype
    if path == "activation":
        return engine.to_numpy(engine.activation(engine.asarray(z.reshape(-1, 8)), "tanh")).reshape(-1)
    if path == "bias_activation":  # a bias of -0: z + (-0) is z for every z, -0 included
        A = engine.bias_activation(engine.asarray(z.reshape(-1, 8)), engine.asarray(np.full((8, 1), -0.0, dtype)), "tanh")
        return engine.to_numpy(A).reshape(-1)
    if path == "training_step":  # a [1, 1, 1] network, W1 = 1 and b1 = 0: A^[1] = tanh(z), kept after the step
        m = z.shape[0]
        X, Y = engine.asarray(z.reshape(m, 1)), engine.asarray(np.ones((m, 1), dtype))
        weights = [None, engine.asarray(np.ones((1, 1), dtype)), engine.asarray(np.full((1, 1), 0.5, dtype))]
        biases = [None, engine.asarray(np.zeros((1, 1), dtype)), engine.asarray(np.zeros((1, 1), dtype))]
        workspace = Workspace(engine, [1, 1, 1], m, dtype, X=X, Y=Y)
        with np.errstate(invalid="ignore", over="ignore"):  # NaN or inf inputs make the cost NaN
            engine.training_step(weights, biases, [None, "tanh", "sigmoid"], 0.1, workspace)
        return engine.to_numpy(workspace.A[1]).reshape(-1)
    assert path == "fused bias_activation"  # the numba step's kernel for a hidden layer on BLAS
    A = z.reshape(-1, 8).copy()  # bias -0, as above
    numba_step.bias_activation(A, np.full((8, 1), -0.0, dtype), numba_step.TANH, 0.01)
    return A.reshape(-1)


def assert_within(a, z, exact, bound):
    errors = ulp_errors(a, exact, a.dtype)
    worst = int(np.argmax(errors))
    assert errors[worst] <= bound, f"{errors[worst]:.2f} ulp at z = {z[worst]!r}: {a[worst]!r}"


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("path", PATHS)
def test_tanh_is_within_2_ulp(engine, dtype, path, size):
    z, exact = inputs_and_exact(dtype.name, size)
    a = tanh_through(engine, path, z)
    assert a.dtype == dtype
    assert_within(a, z, exact, ULP_BOUND)
    if engine.name == "numba" and dtype == np.float32 and (path == "training_step" or size <= 1024):
        assert_within(a, z, exact, NUMBA_FLOAT32_BOUND)  # the kernels' float32 is rounded once


def special_values(dtype):
    """(z, tanh(z)): NaN, +-inf, +-0, and subnormals (tanh(z) = z there: z^3/3 is far below their ulp)."""
    tiny = np.finfo(dtype).smallest_subnormal
    z = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, tiny, -tiny, 1000 * tiny, -3 * tiny], dtype)
    expected = np.array([np.nan, 1.0, -1.0, 0.0, -0.0, tiny, -tiny, 1000 * tiny, -3 * tiny], dtype)
    return z, expected


def assert_special_values(engine, path, dtype):
    z, expected = special_values(dtype)
    z, expected = np.resize(z, 16), np.resize(expected, 16)  # 16 values: two rows of 8
    a = tanh_through(engine, path, z)
    np.testing.assert_array_equal(a, expected)  # NaN where NaN; equal values elsewhere
    if path != "training_step":  # there z = x W + b, and a -0 input gives z = +0
        np.testing.assert_array_equal(np.signbit(a), np.signbit(expected), err_msg="the sign of zero")


@pytest.mark.parametrize("path", PATHS)
def test_nan_inf_zeros_and_subnormals(engine, dtype, path):
    assert_special_values(engine, path, dtype)


@pytest.mark.parametrize("path", NUMBA_PATHS)
def test_the_numba_step_kernels(dtype, path):
    """The kernel the numba engine's fused step runs for a hidden layer on BLAS (not an engine method)."""
    engine = get_engine("numba")
    z, exact = inputs_and_exact(dtype.name, SIZES[0])
    assert_within(tanh_through(engine, path, z), z, exact, ULP_BOUND if dtype == np.float64 else NUMBA_FLOAT32_BOUND)
    assert_special_values(engine, path, dtype)
