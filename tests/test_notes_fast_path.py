"""The notes' steps against the notes' equations written plainly, for every activation and K,
on every engine, on both of their paths (host arrays, and an engine that keeps its own),
and check=False against the checked steps bit for bit."""

import numpy as np
import pytest

from fastnn import notes
from fastnn.activations import ACTIVATIONS, LEAKY_RELU_SLOPE
from fastnn.backends.numpy_engine import NumpyEngine

TOLERANCE = {np.dtype(np.float32): dict(rtol=2e-4, atol=1e-6), np.dtype(np.float64): dict(rtol=1e-10, atol=1e-13)}


class DeviceLikeEngine(NumpyEngine):
    """The NumPy engine declared as one whose arrays live on a device: the notes take the
    path that keeps every array operation inside engine methods, as they do for CuPy."""

    device_kind = "gpu"


def g(Z, activation):
    if activation == "sigmoid":
        return 1 / (1 + np.exp(-Z))
    if activation == "tanh":
        return np.tanh(Z)
    if activation == "relu":
        return np.maximum(Z, 0)
    return np.where(Z > 0, Z, LEAKY_RELU_SLOPE * Z)


def g_prime_from_a(A, activation):
    return {"sigmoid": A * (1 - A), "tanh": 1 - A ** 2, "relu": (A > 0) * 1.0,
            "leaky_relu": np.where(A > 0, 1.0, LEAKY_RELU_SLOPE)}[activation]


def softmax_columns(Z):
    E = np.exp(Z - Z.max(axis=0, keepdims=True))
    return E / E.sum(axis=0, keepdims=True)


def notes_equations(X, Y, p, activation, learning_rate):
    """The notes' forward, cost, backward and update for an L-layer net, in float64."""
    L, m = len(p) // 2, X.shape[1]
    A, Zs, As = X, [None], [X]
    for l in range(1, L + 1):
        Z = p[f"W{l}"] @ A + p[f"b{l}"]
        A = (softmax_columns(Z) if Z.shape[0] > 1 else g(Z, "sigmoid")) if l == L else g(Z, activation)
        Zs.append(Z)
        As.append(A)
    if A.shape[0] > 1:
        J = -np.sum(Y * np.log(A)) / m
    else:
        J = -np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A)) / m
    grads, dZ = {}, A - Y
    for l in range(L, 0, -1):
        grads[f"dW{l}"] = dZ @ As[l - 1].T / m
        grads[f"db{l}"] = np.sum(dZ, axis=1, keepdims=True) / m
        if l > 1:
            dZ = (p[f"W{l}"].T @ dZ) * g_prime_from_a(As[l - 1], activation)
    updated = {key: p[key] - learning_rate * grads["d" + key] for key in p}
    return A, Zs, J, grads, updated


def network(K, dtype, seed=3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((3, 40))
    classes = rng.integers(0, max(K, 2), 40)
    Y = np.eye(K)[classes].T if K > 1 else classes.reshape(1, -1).astype(float)
    p = notes.initialize_parameters([3, 5, 4, K], "xavier", seed=seed, dtype=dtype)
    for l in (1, 2, 3):
        p[f"b{l}"] = (0.1 * rng.standard_normal((p[f"W{l}"].shape[0], 1))).astype(dtype)
    return X.astype(dtype), Y, classes, p


@pytest.mark.parametrize("K", [1, 3])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_step_follows_the_notes_equations(engine, dtype, activation, K):
    assert_steps_follow_the_notes_equations(engine, dtype, activation, K)


@pytest.mark.parametrize("K", [1, 3])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_the_device_path_follows_the_notes_equations(dtype, activation, K):
    """The path a GPU engine takes (its own arrays, engine methods only), run on the host."""
    assert_steps_follow_the_notes_equations(DeviceLikeEngine(), dtype, activation, K)


def assert_steps_follow_the_notes_equations(engine, dtype, activation, K):
    X, Y, _, p = network(K, dtype)
    as64 = {key: value.astype(np.float64) for key, value in p.items()}
    A, Zs, J, grads, updated = notes_equations(X.astype(np.float64), Y, as64, activation, 0.7)
    X, Y, p = notes.check_inputs(X, Y, p, activation)
    for check in (True, False):
        AL, caches = notes.forward_propagation(X, p, activation, engine=engine, check=check)
        assert AL.dtype == dtype and AL.shape == (K, 40)
        np.testing.assert_allclose(AL, A, **TOLERANCE[dtype])
        for l, cache in enumerate(caches, start=1):
            np.testing.assert_allclose(cache["Z"], Zs[l], **TOLERANCE[dtype])
        assert notes.compute_cost(AL, Y, engine=engine, check=check) == pytest.approx(J, rel=TOLERANCE[dtype]["rtol"])
        got = notes.backward_propagation(AL, Y, caches, engine=engine, check=check)
        assert list(got) == [f"{d}{l}" for l in (1, 2, 3) for d in ("dW", "db")]
        for key, expected in grads.items():
            assert got[key].dtype == dtype and got[key].shape == expected.shape, key
            np.testing.assert_allclose(got[key], expected, **TOLERANCE[dtype], err_msg=key)
        new = notes.update_parameters(p, got, 0.7, engine=engine, check=check)
        for key, expected in updated.items():
            assert new[key].dtype == dtype, key
            np.testing.assert_allclose(new[key], expected, **TOLERANCE[dtype], err_msg=key)


@pytest.mark.parametrize("K", [1, 3])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_check_false_gives_the_checked_steps_bit_for_bit(engine, dtype, activation, K):
    """check_inputs once, then check=False: the same AL, caches, cost, gradients and update as
    the checked steps given the raw inputs (labels as class indices for K classes)."""
    X, Y, classes, p = network(K, dtype, seed=8)
    raw_Y = classes.reshape(1, -1)
    X_fast, Y_fast, p_fast = notes.check_inputs(X, raw_Y, p, activation)
    for _ in range(2):
        AL, caches = notes.forward_propagation(X, p, activation, engine=engine)
        AL_fast, caches_fast = notes.forward_propagation(X_fast, p_fast, activation, engine=engine, check=False)
        np.testing.assert_array_equal(AL_fast, AL)
        for cache, cache_fast in zip(caches, caches_fast):
            np.testing.assert_array_equal(cache_fast["Z"], cache["Z"])
            np.testing.assert_array_equal(cache_fast["A_prev"], cache["A_prev"])
        assert notes.compute_cost(AL_fast, Y_fast, engine=engine, check=False) == notes.compute_cost(
            AL, raw_Y, engine=engine)
        grads = notes.backward_propagation(AL, raw_Y, caches, engine=engine)
        grads_fast = notes.backward_propagation(AL_fast, Y_fast, caches_fast, engine=engine, check=False)
        p = notes.update_parameters(p, grads, 0.3, engine=engine)
        p_fast = notes.update_parameters(p_fast, grads_fast, 0.3, engine=engine, check=False)
        for key in p:
            np.testing.assert_array_equal(grads_fast["d" + key], grads["d" + key], err_msg=key)
            np.testing.assert_array_equal(p_fast[key], p[key], err_msg=key)


def test_update_keeps_each_parameters_dtype_whatever_the_rate_and_gradients():
    """A float64 rate, float64 gradients of float32 parameters, integer parameters: the
    gradient is taken in the parameter's dtype, the step rounded to it, as before."""
    rng = np.random.default_rng(2)
    W32, dW32 = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal((3, 4)).astype(np.float32)
    dW64 = rng.standard_normal((3, 4))
    rate = np.float64(0.3)
    for check in (True, False):
        new = notes.update_parameters({"W1": W32}, {"dW1": dW32}, rate, check=check)["W1"]
        assert new.dtype == np.float32
        np.testing.assert_array_equal(new, W32 - (dW32.astype(np.float64) * 0.3).astype(np.float32))
        new = notes.update_parameters({"W1": W32}, {"dW1": dW64}, 0.3, check=check)["W1"]
        assert new.dtype == np.float32
        np.testing.assert_array_equal(new, W32 - np.float32(0.3) * dW64.astype(np.float32))
        new = notes.update_parameters({"b1": np.array([[2], [3]])}, {"db1": np.array([[1.0], [-1.0]])}, 0.5,
                                      check=check)["b1"]
        assert new.dtype == np.float64  # as np.result_type(int64, float32) says
        np.testing.assert_array_equal(new, [[1.5], [3.5]])


def test_the_cost_stays_exact_for_confident_outputs():
    """log(1 - a) for a tiny a is -a, not 0: the cost of near-perfect outputs keeps its digits."""
    AL = np.array([[1e-12, 3e-13]])
    Y = np.array([[0, 0]])
    expected = -(np.log1p(-1e-12) + np.log1p(-3e-13)) / 2
    assert notes.compute_cost(AL, Y) == pytest.approx(expected, rel=1e-9, abs=0)
    assert notes.compute_cost(AL, Y.astype(float), check=False) == pytest.approx(expected, rel=1e-9, abs=0)


def test_the_steps_never_modify_their_inputs(engine):
    X, Y, _, p = network(1, np.dtype(np.float64))
    X, Y, p = notes.check_inputs(X, Y, p, "tanh")
    before = {key: value.copy() for key, value in p.items()}
    X_before = X.copy()
    AL, caches = notes.forward_propagation(X, p, "tanh", engine=engine, check=False)
    saved = [{key: cache[key].copy() for key in ("A_prev", "Z")} for cache in caches]
    grads = notes.backward_propagation(AL, Y, caches, engine=engine, check=False)
    grads_before = {key: value.copy() for key, value in grads.items()}
    notes.update_parameters(p, grads, 0.5, engine=engine, check=False)
    np.testing.assert_array_equal(X, X_before)
    for key in p:
        np.testing.assert_array_equal(p[key], before[key])
        np.testing.assert_array_equal(grads["d" + key], grads_before["d" + key])
    for cache, copy in zip(caches, saved):
        for key in copy:
            np.testing.assert_array_equal(cache[key], copy[key])
