"""Sigmoid keeps full relative accuracy wherever its value is a normal float, on every engine.

The oracle is the notes' 1 / (1 + e^-z) evaluated in 40-digit decimal arithmetic (Python's
decimal module, correctly rounded exp), so it is independent of any float library. Bounds:
4 ulp in float32 and 3 ulp in float64 (measured worst cases: 3.5 and 2.3, NumPy's SIMD exp).
The old tanh(z/2)/2 + 1/2 was exactly 0 from z = -20 in float32 and z = -40 in float64.
"""

import decimal
import warnings

import numpy as np
import pytest
from ulp import ulp_errors

ULP_BOUND = {np.dtype(np.float32): 4.0, np.dtype(np.float64): 3.0}
# Sizes that take each path of every engine: numba's fused scalar kernel (<= 1024 elements)
# and its NumPy-exp passes (more), the cupy kernels, the NumPy reference.
SIZES = (1000, 4000)


def sigmoid_oracle(z):
    """sigma(z) = 1 / (1 + e^-z) for each z, to 40 significant digits, as Decimals."""
    with decimal.localcontext() as context:
        context.prec = 40
        return [1 / (1 + (-decimal.Decimal(float(x))).exp()) for x in z]


def normal_range(dtype, size):
    """`size` logits from where sigma(z) is the smallest normal float up to 1 - eps/4, and near 0."""
    lowest = np.log(np.finfo(dtype).tiny) + 0.01
    rng = np.random.default_rng(0)
    spread = np.linspace(lowest, -np.log(np.finfo(dtype).eps / 4), size - size // 4)
    return np.concatenate([spread, rng.uniform(-4, 4, size // 4)]).astype(dtype)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("through", ["activation", "bias_activation"])
def test_sigmoid_is_within_a_few_ulp_where_the_result_is_normal(engine, dtype, through, size):
    z = normal_range(dtype, size)
    Z = engine.asarray(z.reshape(-1, 8).copy())
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        if through == "activation":
            A = engine.activation(Z, "sigmoid")
        else:
            A = engine.bias_activation(Z, engine.asarray(np.zeros((8, 1), dtype)), "sigmoid")
    a = engine.to_numpy(A).reshape(-1)
    assert a.dtype == dtype
    errors = ulp_errors(a, sigmoid_oracle(z), dtype)
    worst = int(np.argmax(errors))
    assert errors[worst] <= ULP_BOUND[dtype], f"{errors[worst]:.2f} ulp at z = {z[worst]!r}"


def test_the_tail_is_not_zero(engine, dtype):
    """Where the old tanh form gave exactly 0, sigmoid(z) ~ e^z, a normal float."""
    z = np.array([[-17.0], [-20.0], [-40.0], [-80.0]], dtype=dtype)
    a = engine.to_numpy(engine.activation(engine.asarray(z), "sigmoid"))
    np.testing.assert_allclose(a, np.exp(z.astype(np.float64)), rtol=1e-6)


def test_no_overflow_for_huge_logits(engine, dtype):
    z = np.array([[-1e30], [-1e4], [-800.0], [800.0], [1e4], [1e30]], dtype=dtype)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        a = engine.to_numpy(engine.activation(engine.asarray(z), "sigmoid"))
    assert a.reshape(-1).tolist() == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
