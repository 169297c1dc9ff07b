"""Numba-specific behaviour of the numba engine: dtypes, layouts, odd shapes, lazy compiling.

The shared conformance suite (tests/test_conformance.py) compares every engine with NumPy;
these tests pin what only the numba engine can get wrong: a float64 constant upcasting a
float32 kernel, a strided view handed to a kernel, a fallback that forgets to return.
"""

import subprocess
import sys
import warnings

import numpy as np
import pytest

from fastnn.activations import ACTIVATIONS
from fastnn.backends import get_engine

pytest.importorskip("numba")

SHAPES = [(128, 256), (1, 7), (7, 1), (1, 1), (33, 65), (40, 40)]  # 1600 > the scalar-math cut
TOLERANCE = {np.dtype(np.float32): dict(rtol=1e-5, atol=1e-6),
             np.dtype(np.float64): dict(rtol=1e-12, atol=1e-12)}


@pytest.fixture(scope="module")
def numba_engine():
    return get_engine("numba")


@pytest.fixture(scope="module")
def numpy_engine():
    return get_engine("numpy")


def _random(rng, shape, dtype, scale=3.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def _assert_close(actual, expected, dtype):
    assert isinstance(actual, np.ndarray) and actual.dtype == dtype
    np.testing.assert_allclose(actual, expected, **TOLERANCE[np.dtype(dtype)])


def _strided(x):
    """A non-contiguous view holding the same values as `x`."""
    wide = np.empty((x.shape[0], 2 * x.shape[1]), x.dtype)
    wide[:, ::2] = x
    view = wide[:, ::2]
    assert not view.flags.c_contiguous or x.shape[1] == 1
    return view


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_bias_activation_matches_numpy(numba_engine, numpy_engine, dtype, shape, activation):
    rng = np.random.default_rng(0)
    Z = _random(rng, shape, dtype)
    b = _random(rng, (shape[1], 1), dtype)
    Z_numba, Z_numpy = Z.copy(), Z.copy()
    A = numba_engine.bias_activation(Z_numba, b, activation)
    _assert_close(A, numpy_engine.bias_activation(Z_numpy, b, activation), dtype)
    _assert_close(Z_numba, Z_numpy, dtype)  # the bias is added to Z in place


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_bias_activation_writes_into_out(numba_engine, numpy_engine, dtype, activation):
    rng = np.random.default_rng(1)
    Z, b = _random(rng, (64, 48), dtype), _random(rng, (48, 1), dtype)
    out = np.full((64, 48), np.nan, dtype)
    A = numba_engine.bias_activation(Z.copy(), b, activation, out=out)
    assert A is out
    _assert_close(out, numpy_engine.bias_activation(Z.copy(), b, activation), dtype)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_bias_activation_on_strided_inputs(numba_engine, numpy_engine, dtype, activation):
    rng = np.random.default_rng(2)
    Z, b = _random(rng, (20, 12), dtype), _random(rng, (12, 1), dtype)
    Z_view, b_view = _strided(Z), _strided(np.tile(b, (1, 3)))[:, :1]
    A = numba_engine.bias_activation(Z_view, b_view, activation)
    expected_Z = Z.copy()
    _assert_close(A, numpy_engine.bias_activation(expected_Z, b, activation), dtype)
    _assert_close(np.ascontiguousarray(Z_view), expected_Z, dtype)
    A_t = numba_engine.bias_activation(Z.T.copy().T, b, activation)  # Fortran order
    _assert_close(A_t, numpy_engine.activation(expected_Z, activation), dtype)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("shape", [(3, 5), (64, 64)], ids=str)
def test_activation_matches_numpy_and_accepts_views(numba_engine, numpy_engine, dtype,
                                                     activation, shape):
    rng = np.random.default_rng(3)
    Z = _random(rng, shape, dtype)
    expected = numpy_engine.activation(Z, activation)
    _assert_close(numba_engine.activation(Z, activation), expected, dtype)
    _assert_close(numba_engine.activation(Z.T, activation), expected.T, dtype)
    in_place = Z.copy()
    assert numba_engine.activation(in_place, activation, out=in_place) is in_place
    _assert_close(in_place, expected, dtype)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_backprop_activation_matches_numpy(numba_engine, numpy_engine, dtype, shape, activation):
    rng = np.random.default_rng(4)
    A = numpy_engine.activation(_random(rng, shape, dtype), activation)
    dA = _random(rng, shape, dtype, scale=1.0)
    expected = numpy_engine.backprop_activation(dA, A, activation)
    _assert_close(numba_engine.backprop_activation(dA, A, activation), expected, dtype)
    _assert_close(numba_engine.backprop_activation(dA.T.copy().T, _strided(A), activation),
                  expected, dtype)
    out = dA.copy()  # dZ may overwrite dA
    assert numba_engine.backprop_activation(out, A, activation, out=out) is out
    _assert_close(out, expected, dtype)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_unknown_activation_raises(numba_engine, activation):
    Z = np.zeros((2, 2))
    with pytest.raises(ValueError, match="activation"):
        numba_engine.bias_activation(Z, np.zeros((2, 1)), activation + "x")
    with pytest.raises(ValueError, match="activation"):
        numba_engine.backprop_activation(Z, Z, "softmax")


@pytest.mark.parametrize("m", [1, 5, 128, 1024, 1025, 5000])
def test_cross_entropy_cost_matches_numpy(numba_engine, numpy_engine, dtype, m):
    rng = np.random.default_rng(5)
    Z = _random(rng, (m, 1), dtype)
    Y = (rng.random((m, 1)) > 0.5).astype(dtype)
    cost = numba_engine.cross_entropy_cost(Z, Y)
    assert cost.shape == ()
    _assert_close(cost, numpy_engine.cross_entropy_cost(Z, Y), dtype)
    _assert_close(numba_engine.cross_entropy_cost(_strided(Z), Y.astype(bool)), cost, dtype)
    out = np.zeros((), dtype)
    assert numba_engine.cross_entropy_cost(Z, Y, out=out) is out
    _assert_close(out, cost, dtype)


@pytest.mark.parametrize("m", [4, 3000])
def test_large_logits_neither_overflow_nor_warn(numba_engine, dtype, m):
    Z = np.where(np.arange(m) % 2 == 0, 1000.0, -1000.0).astype(dtype).reshape(m, 1)
    Y = (np.arange(m) % 4 < 2).astype(dtype).reshape(m, 1)  # half right, half wrong
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cost = numba_engine.cross_entropy_cost(Z, Y)
        A = numba_engine.bias_activation(Z.copy(), np.zeros((1, 1), dtype), "sigmoid")
        A_large = numba_engine.bias_activation(np.tile(Z, (1, 2)), np.zeros((2, 1), dtype),
                                               "sigmoid")
    assert cost.dtype == dtype and np.isfinite(cost)
    np.testing.assert_allclose(cost, 500.0, rtol=1e-6)  # the wrong half costs 1000 each
    for a in (A, A_large):
        assert a.dtype == dtype and np.all(np.isfinite(a))
        np.testing.assert_array_equal(a[::2], 1.0)
        np.testing.assert_array_equal(a[1::2], 0.0)


@pytest.mark.parametrize("shape", [(128, 256, 256), (209, 20, 12), (1, 3, 4), (5, 1, 1),
                                   (3, 4, 1)], ids=str)
def test_backprop_dense_matches_numpy(numba_engine, numpy_engine, dtype, shape):
    m, n, n_prev = shape
    rng = np.random.default_rng(6)
    dZ, A_prev = _random(rng, (m, n), dtype), _random(rng, (m, n_prev), dtype)
    W = _random(rng, (n, n_prev), dtype)
    expected = numpy_engine.backprop_dense(dZ, A_prev, W)
    for args in [(dZ, A_prev, W), (dZ.T.copy().T, _strided(A_prev), W.T.copy().T)]:
        dW, db, dA_prev = numba_engine.backprop_dense(*args)
        assert dW.shape == (n, n_prev) and db.shape == (n, 1) and dA_prev.shape == (m, n_prev)
        for actual, wanted in zip((dW, db, dA_prev), expected):
            _assert_close(actual, wanted, dtype)
    buffers = (np.empty((n, n_prev), dtype), np.empty((n, 1), dtype), np.empty((m, n_prev), dtype))
    result = numba_engine.backprop_dense(dZ, A_prev, W, out=buffers)
    assert all(r is b for r, b in zip(result, buffers))
    dW, db, dA_prev = numba_engine.backprop_dense(dZ, A_prev, W, need_dA_prev=False)
    assert dA_prev is None
    _assert_close(db, expected[1], dtype)


def test_backprop_dense_fills_a_strided_db_buffer(numba_engine, numpy_engine, dtype):
    rng = np.random.default_rng(7)
    dZ, A_prev, W = _random(rng, (6, 4), dtype), _random(rng, (6, 3), dtype), _random(rng, (4, 3), dtype)
    db = np.zeros((4, 2), dtype)[:, :1]
    _, returned, _ = numba_engine.backprop_dense(dZ, A_prev, W, out=(None, db, None))
    assert returned is db
    _assert_close(db, numpy_engine.backprop_dense(dZ, A_prev, W)[1], dtype)


@pytest.mark.parametrize("shape", [(300, 200), (64, 1), (1, 1), (50, 100)], ids=str)
def test_sgd_update_in_place(numba_engine, numpy_engine, dtype, shape):
    rng = np.random.default_rng(8)
    params = [_random(rng, shape, dtype), _random(rng, (shape[0], 1), dtype)]
    grads = [_random(rng, p.shape, dtype) for p in params]
    expected = [p.copy() for p in params]
    numpy_engine.sgd_update(expected, grads, 0.05)
    originals = [id(p) for p in params]
    numba_engine.sgd_update(params, [grads[0].T.copy().T, grads[1]], 0.05)
    assert [id(p) for p in params] == originals
    for p, e in zip(params, expected):
        _assert_close(p, e, dtype)
    strided = _strided(params[0])
    numba_engine.sgd_update([strided], [grads[0]], 0.05)
    _assert_close(strided, params[0] - np.asarray(0.05, dtype) * grads[0], dtype)


@pytest.mark.parametrize("n", [1, 3, 17, 1_000_000])
def test_dot_loop_matches_dot_vectorized_and_np_dot(numba_engine, dtype, n):
    rng = np.random.default_rng(9)
    w, x = rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)
    loop, vectorized = numba_engine.dot_loop(w, x, 0.5), numba_engine.dot_vectorized(w, x, 0.5)
    reference = np.dot(w.astype(np.float64), x.astype(np.float64)) + 0.5
    assert np.asarray(loop).dtype == dtype and np.asarray(vectorized).dtype == dtype
    # Sums are compared against the size of the terms, the bound for any summation order.
    bound = np.finfo(dtype).eps * (np.abs(w.astype(np.float64)) @ np.abs(x) + 1) * 8
    assert abs(loop - reference) <= bound * np.sqrt(n)
    assert abs(loop - vectorized) <= bound * np.sqrt(n)
    assert numba_engine.dot_loop(w[::-1], x[::-1], 0.5) == pytest.approx(loop, rel=1e-4, abs=bound * np.sqrt(n))


def test_methods_fall_back_for_other_dtypes(numba_engine, numpy_engine):
    Z = np.arange(-3, 3, dtype=np.float16).reshape(2, 3)
    A = numba_engine.activation(Z, "relu")
    assert A is not None and A.dtype == np.float16
    np.testing.assert_array_equal(A, numpy_engine.activation(Z, "relu"))
    params, grads = [np.ones((2, 2), np.float16)], [np.ones((2, 2), np.float16)]
    numba_engine.sgd_update(params, grads, 0.5)
    np.testing.assert_array_equal(params[0], 0.5)


def _run(code):
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_importing_compiles_nothing_and_fastnn_does_not_import_numba():
    out = _run(
        "import sys, fastnn, fastnn.backends\n"
        "print('numba' in sys.modules)\n"
        "from fastnn.backends import numba_engine\n"
        "from fastnn.kernels import numba_kernels as k\n"
        "from numba.core.registry import CPUDispatcher\n"
        "ds = [v for v in vars(k).values() if isinstance(v, CPUDispatcher)]\n"
        "print(len(ds), sum(len(d.signatures) for d in ds))\n"
        "import numpy as np\n"
        "numba_engine.NumbaEngine().activation(np.ones((2, 2), np.float32), 'relu')\n"
        "print(sum(len(d.signatures) for d in ds))\n"
    )
    imported, counts, after_call = out.split("\n")[:3]
    assert imported == "False"
    n_dispatchers, n_signatures = map(int, counts.split())
    assert n_dispatchers >= 8 and n_signatures == 0
    assert int(after_call) == 1  # compiling is lazy: one kernel, one dtype


def test_unavailable_reason_without_numba():
    out = _run(
        "import sys\n"
        "sys.modules['numba'] = None  # makes 'import numba' raise ImportError\n"
        "from fastnn.backends import engine_class, engines\n"
        "reason = engine_class('numba').unavailable_reason()\n"
        "print(reason)\n"
        "print([e.available for e in engines() if e.name == 'numba'])\n"
    )
    reason, available = out.split("\n")[:2]
    assert "pip install" in reason and "umba" in reason
    assert available == "[False]"


def test_unavailable_reason_is_none_here(numba_engine):
    assert type(numba_engine).unavailable_reason() is None
    assert numba_engine.name == "numba"


def test_mixed_dtypes_fall_back_with_the_original_arrays(numba_engine, numpy_engine):
    Z = np.linspace(-2, 2, 6, dtype=np.float32).reshape(2, 3)
    b64 = np.ones((3, 1))
    A = numba_engine.bias_activation(Z.copy(), b64, "relu")
    np.testing.assert_array_equal(A, numpy_engine.bias_activation(Z.copy(), b64, "relu"))
    dA64 = np.ones((2, 3))
    np.testing.assert_array_equal(numba_engine.backprop_activation(dA64, Z, "leaky_relu"),
                                  numpy_engine.backprop_activation(dA64, Z, "leaky_relu"))
    w = np.ones(4, np.float32)
    assert numba_engine.dot_loop(w, np.ones(4), 1.0) == 5.0
