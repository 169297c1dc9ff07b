"""Softmax over K classes with the categorical cross-entropy, on every engine.

Every engine result is checked against an oracle written plainly here, one example at a
time with Python's math in float64 (max shift, exp, fsum, log): never an engine against
another. K covers 2, 3, 10 and 300 (more than a 32-thread warp and a 256-thread block).
"""

import math
import warnings

import numpy as np
import pytest

import fastnn
from fastnn import notes

KS = (2, 3, 10, 300)
# The engines may sum a row in another order: float32 gets a few roundings of slack.
TOLERANCE = {np.dtype(np.float32): dict(rtol=2e-5, atol=1e-6), np.dtype(np.float64): dict(rtol=1e-12, atol=1e-15)}


def oracle_softmax_row(z):
    """a_k = e^(z_k - max z) / sum_j e^(z_j - max z), in float64, one example."""
    top = max(z)
    exps = [math.exp(v - top) for v in z]
    total = math.fsum(exps)
    return [e / total for e in exps]


def oracle_loss_row(z, k):
    """-log a_k = log sum_j e^z_j - z_k, with the max shift, in float64."""
    top = max(z)
    return top + math.log(math.fsum(math.exp(v - top) for v in z)) - z[k]


def oracle(Z, labels):
    """(A, J, dZ): softmax of each row, the mean loss, and A - Y, from Z (m, K) and class indices."""
    rows = [list(map(float, row)) for row in np.asarray(Z, dtype=np.float64)]
    A = np.array([oracle_softmax_row(z) for z in rows])
    J = math.fsum(oracle_loss_row(z, k) for z, k in zip(rows, labels)) / len(rows)
    dZ = A.copy()
    for i, k in enumerate(labels):
        dZ[i, k] -= 1.0
    return A, J, dZ


def one_hot(labels, K, dtype):
    Y = np.zeros((len(labels), K), dtype=dtype)
    Y[np.arange(len(labels)), labels] = 1
    return Y


def problem(K, m, dtype, scale=3.0, seed=0):
    rng = np.random.default_rng(seed + K)
    Z = (rng.standard_normal((m, K)) * scale).astype(dtype)
    labels = rng.integers(0, K, m)
    return Z, labels


# -- the engine operations -----------------------------------------------------------------


@pytest.mark.parametrize("K", KS)
@pytest.mark.parametrize("m", [1, 7, 33])
def test_softmax_cost_and_gradient_match_the_oracle(engine, dtype, K, m):
    Z, labels = problem(K, m, dtype)
    Y = one_hot(labels, K, dtype)
    A_expected, J_expected, dZ_expected = oracle(Z, labels)
    A = engine.activation(engine.asarray(Z), "softmax")
    J = engine.cross_entropy_cost(engine.asarray(Z), engine.asarray(Y))
    dZ = engine.backprop_softmax_cross_entropy(A, engine.asarray(Y))
    for actual, expected in ((A, A_expected), (J, J_expected), (dZ, dZ_expected)):
        actual = engine.to_numpy(actual)
        assert actual.dtype == dtype
        np.testing.assert_allclose(actual, expected, **TOLERANCE[dtype])
    np.testing.assert_allclose(engine.to_numpy(A).sum(axis=1), 1, rtol=K * np.finfo(dtype).eps)


@pytest.mark.parametrize("K", KS)
def test_bias_softmax_adds_the_bias_into_z(engine, dtype, K):
    """The forward's fused bias + softmax: Z keeps Z + b, A is the softmax of it."""
    Z, _ = problem(K, 9, dtype, seed=1)
    b = np.linspace(-2, 2, K).reshape(K, 1).astype(dtype)
    Z_engine = engine.asarray(Z.copy())
    A = engine.bias_activation(Z_engine, engine.asarray(b), "softmax")
    biased = Z.astype(np.float64) + b.T
    np.testing.assert_allclose(engine.to_numpy(Z_engine), biased, **TOLERANCE[dtype])
    expected = np.array([oracle_softmax_row(list(row)) for row in biased.astype(dtype).astype(np.float64)])
    np.testing.assert_allclose(engine.to_numpy(A), expected, **TOLERANCE[dtype])


@pytest.mark.parametrize("K", KS)
def test_large_logits_neither_overflow_nor_take_log_of_zero(engine, dtype, K):
    """Logits of +-3e4 (e^z overflows float64 from 710): probabilities stay exact, the cost finite."""
    Z, labels = problem(K, 5, dtype, scale=1e4, seed=2)
    Y = one_hot(labels, K, dtype)
    A_expected, J_expected, _ = oracle(Z, labels)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow, no division by zero, no log(0)
        A = engine.to_numpy(engine.activation(engine.asarray(Z), "softmax"))
        J = float(engine.to_numpy(engine.cross_entropy_cost(engine.asarray(Z), engine.asarray(Y))))
    assert np.isfinite(A).all() and np.isfinite(J)
    np.testing.assert_allclose(A, A_expected, **TOLERANCE[dtype])
    assert J == pytest.approx(J_expected, rel=1e-6)


def test_the_cost_of_a_tiny_probability_is_exact(engine, dtype):
    """a = e^-200 / (1 + e^-200) underflows float32 to 0, yet -log a = 200 + log(1 + e^-200)."""
    Z = np.array([[0.0, -200.0], [-200.0, 0.0], [5.0, -95.0]], dtype=dtype)
    Y = np.array([[0, 1], [1, 0], [0, 1]], dtype=dtype)
    J = float(engine.to_numpy(engine.cross_entropy_cost(engine.asarray(Z), engine.asarray(Y))))
    assert J == pytest.approx((200 + 200 + 100 + math.log1p(math.exp(-100))) / 3, rel=1e-6)


def test_a_nan_logit_makes_its_row_nan_on_every_engine(engine, dtype):
    Z = np.array([[0.0, np.nan, 1.0], [1.0, 2.0, 3.0]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        A = engine.to_numpy(engine.activation(engine.asarray(Z), "softmax"))
    assert np.isnan(A[0]).all()
    np.testing.assert_allclose(A[1], oracle_softmax_row([1.0, 2.0, 3.0]), **TOLERANCE[dtype])


def test_softmax_may_overwrite_its_input(engine, dtype):
    Z, labels = problem(10, 6, dtype, seed=3)
    Z_engine = engine.asarray(Z.copy())
    A = engine.activation(Z_engine, "softmax", out=Z_engine)
    np.testing.assert_allclose(engine.to_numpy(A), oracle(Z, labels)[0], **TOLERANCE[dtype])


def test_one_training_step_follows_the_notes_equations(engine, dtype):
    """A [5, 4, 3] tanh network: forward, cost and every gradient written out as in the notes."""
    rng = np.random.default_rng(4)
    p = fastnn.initialize_parameters([5, 4, 3], "xavier", seed=4, dtype=dtype)
    X, labels = rng.standard_normal((5, 11)).astype(dtype), rng.integers(0, 3, 11)
    Y = one_hot(labels, 3, np.float64).T  # the notes' (K, m)
    W1, b1, W2, b2 = (p[k].astype(np.float64) for k in ("W1", "b1", "W2", "b2"))
    A1 = np.tanh(W1 @ X + b1)
    Z2 = W2 @ A1 + b2
    A2 = np.exp(Z2) / np.exp(Z2).sum(axis=0)
    J = -np.sum(Y * np.log(A2)) / 11
    dZ2 = A2 - Y
    dW2, db2 = dZ2 @ A1.T / 11, dZ2.sum(axis=1, keepdims=True) / 11
    dZ1 = (W2.T @ dZ2) * (1 - A1 ** 2)
    dW1, db1 = dZ1 @ X.T.astype(np.float64) / 11, dZ1.sum(axis=1, keepdims=True) / 11

    AL, caches = notes.forward_propagation(X, p, "tanh", engine=engine)
    assert AL.shape == (3, 11) and AL.dtype == dtype
    tolerance = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(AL, A2, **tolerance)
    assert notes.compute_cost(AL, Y, engine=engine) == pytest.approx(J, rel=tolerance["rtol"])
    assert notes.compute_cost(AL, labels.reshape(1, -1), engine=engine) == pytest.approx(J, rel=tolerance["rtol"])
    grads = notes.backward_propagation(AL, Y, caches, engine=engine)
    for name, expected in (("dW1", dW1), ("db1", db1), ("dW2", dW2), ("db2", db2)):
        np.testing.assert_allclose(grads[name], expected, **tolerance)


@pytest.mark.parametrize("K", (3, 10))
def test_gradient_check_covers_the_softmax_output(K):
    rng = np.random.default_rng(K)
    parameters = fastnn.initialize_parameters([4, 5, K], "he", seed=K)
    parameters["b1"] = rng.uniform(0.1, 0.5, (5, 1))  # away from the ReLU kink
    X, y = rng.standard_normal((13, 4)), rng.integers(0, K, 13)
    assert fastnn.gradient_check(parameters, X, y, "relu") < 1e-7


def test_gradient_check_catches_a_wrong_softmax_gradient():
    from fastnn.backends.numpy_engine import NumpyEngine

    class HalfGradient(NumpyEngine):
        def backprop_softmax_cross_entropy(self, A, Y, out=None):
            return (A - Y) * 0.5

    rng = np.random.default_rng(0)
    parameters = fastnn.initialize_parameters([4, 3], "he", seed=0)
    X, y = rng.standard_normal((9, 4)), rng.integers(0, 3, 9)
    assert fastnn.gradient_check(parameters, X, y, [], engine=HalfGradient()) > 1e-3


def test_notes_softmax_works_on_columns():
    Z = np.array([[1.0, -2.0], [2.0, 0.0], [3.0, 1000.0]])
    A = notes.softmax(Z)
    for column in range(2):
        np.testing.assert_allclose(A[:, column], oracle_softmax_row(list(Z[:, column])), rtol=1e-13)


def test_the_notes_fast_path_gives_the_checked_results_for_k_classes():
    """check_inputs once, then check=False steps: the same AL, cost and gradients as checked steps."""
    rng = np.random.default_rng(5)
    p = fastnn.initialize_parameters([4, 6, 3], "he", seed=5)
    X, labels = rng.standard_normal((4, 21)), rng.integers(0, 3, 21)
    X_checked, Y, p_checked = notes.check_inputs(X, labels.reshape(1, -1), p, "relu")
    assert Y.shape == (3, 21)
    np.testing.assert_array_equal(Y, one_hot(labels, 3, np.float64).T)
    AL, caches = notes.forward_propagation(X, p, "relu")
    AL_fast, caches_fast = notes.forward_propagation(X_checked, p_checked, "relu", check=False)
    np.testing.assert_array_equal(AL_fast, AL)
    assert notes.compute_cost(AL_fast, Y, check=False) == notes.compute_cost(AL, labels)
    fast = notes.backward_propagation(AL_fast, Y, caches_fast, check=False)
    for key, value in notes.backward_propagation(AL, labels, caches).items():
        np.testing.assert_array_equal(fast[key], value)
