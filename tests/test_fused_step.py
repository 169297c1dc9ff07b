"""The numba engine's fused training step against the notes' step written out plainly.

The fused step splits a network into a BLAS head and a compiled tail (see
fastnn/kernels/numba_step.py); the cases below put the split everywhere it can be: the
whole network in the tail, hidden layers of every activation in the head, and a large
output layer in the head. The oracle is the notes' gradient-descent step in the notes'
shapes, W^[l] (n^[l], n^[l-1]) and X (n_x, m), in plain NumPy float64.
"""

import numpy as np
import pytest

import fastnn
from fastnn.activations import ACTIVATIONS, LEAKY_RELU_SLOPE
from fastnn.backends import get_engine
from fastnn.propagation import Workspace, to_engine

pytest.importorskip("numba")

TOLERANCE = {np.dtype(np.float32): dict(rtol=2e-4, atol=2e-6),
             np.dtype(np.float64): dict(rtol=1e-10, atol=1e-13)}


def g(Z, name):
    return {"sigmoid": lambda: 1 / (1 + np.exp(-Z)), "tanh": lambda: np.tanh(Z),
            "relu": lambda: np.maximum(Z, 0), "leaky_relu": lambda: np.where(Z > 0, Z, LEAKY_RELU_SLOPE * Z)}[name]()


def g_prime(Z, name):
    s = 1 / (1 + np.exp(-Z))
    return {"sigmoid": lambda: s * (1 - s), "tanh": lambda: 1 - np.tanh(Z) ** 2,
            "relu": lambda: (Z > 0) * 1.0, "leaky_relu": lambda: np.where(Z > 0, 1.0, LEAKY_RELU_SLOPE)}[name]()


def notes_step(params, X, Y, activations, learning_rate):
    """The notes: Z = W A + b, A = g(Z); J = -(1/m) sum(Y log A + (1-Y) log(1-A)); dZ^[L] = A - Y;
    dW = (1/m) dZ A_prev^T, db = (1/m) sum dZ, dZ_prev = W^T dZ * g'(Z_prev); W := W - alpha dW."""
    L, m = len(activations) - 1, X.shape[1]
    A, Z = [X], [None]
    for l in range(1, L + 1):
        Z.append(params[f"W{l}"] @ A[-1] + params[f"b{l}"])
        A.append(g(Z[-1], activations[l]))
    cost = -np.mean(Y * np.log(A[L]) + (1 - Y) * np.log(1 - A[L]))
    dZ, new = A[L] - Y, {}
    for l in range(L, 0, -1):
        new[f"W{l}"] = params[f"W{l}"] - learning_rate * (dZ @ A[l - 1].T) / m
        new[f"b{l}"] = params[f"b{l}"] - learning_rate * dZ.sum(axis=1, keepdims=True) / m
        if l > 1:
            dZ = (params[f"W{l}"].T @ dZ) * g_prime(Z[l - 1], activations[l - 1])
    return new, cost


# (layers, m, the last layer on BLAS): the split at every place it can be.
CASES = {
    "all in the tail": ([3, 4, 1], 9, 0),
    "hidden head, tail": ([40, 30, 5, 1], 50, 1),
    "two head layers": ([50, 40, 30, 1], 40, 2),
    "output on BLAS": ([400, 1], 100, 1),
    # small products, but 1,200 values of the activation: in the tail for every activation (the
    # call-free SIMD tanh and sigmoid of kernels/numba_math.py), as for the ReLUs
    "many activation values": ([2, 40, 1], 30, 0),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_fused_step_is_the_notes_step(case, activation, dtype):
    layers, m, head = CASES[case]
    head = head[activation] if isinstance(head, dict) else head
    engine, dtype = get_engine("numba"), np.dtype(dtype)
    rng = np.random.default_rng(len(layers) + m)
    X = rng.standard_normal((m, layers[0])).astype(dtype)
    Y = rng.integers(0, 2, (m, 1)).astype(dtype)
    acts = [None] + [activation] * (len(layers) - 2) + ["sigmoid"]
    params = fastnn.initialize_parameters(layers, "xavier", seed=1, dtype=dtype)
    expected = {k: v.astype(np.float64) for k, v in params.items()}
    weights, biases = to_engine(engine, {k: v.copy() for k, v in params.items()})
    workspace = Workspace(engine, layers, m, dtype, X=X, Y=Y)
    for _ in range(3):
        engine.training_step(weights, biases, acts, 0.7, workspace)
        expected, cost = notes_step(expected, X.T.astype(np.float64), Y.T.astype(np.float64), acts, 0.7)
        np.testing.assert_allclose(workspace.cost, cost, **TOLERANCE[dtype])
    assert workspace.plan.head == head, "the case no longer exercises the split it names"
    for l in range(1, len(layers)):
        for name, actual in ((f"W{l}", weights[l]), (f"b{l}", biases[l])):
            assert actual.dtype == dtype
            np.testing.assert_allclose(actual, expected[name], **TOLERANCE[dtype], err_msg=name)


def test_a_changed_model_makes_a_new_plan():
    """A workspace reused with other parameter arrays or another learning rate follows them."""
    engine = get_engine("numba")
    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((6, 3)), rng.integers(0, 2, (6, 1)).astype(np.float64)
    acts = [None, "tanh", "sigmoid"]
    workspace = Workspace(engine, [3, 2, 1], 6, np.float64, X=X, Y=Y)
    params = fastnn.initialize_parameters([3, 2, 1], "xavier", seed=2)
    for learning_rate in (0.5, 0.1):
        weights, biases = to_engine(engine, {k: v.copy() for k, v in params.items()})
        engine.training_step(weights, biases, acts, learning_rate, workspace)
        expected, _ = notes_step(params, X.T, Y.T, acts, learning_rate)
        np.testing.assert_allclose(weights[1], expected["W1"], rtol=1e-12)


@pytest.mark.parametrize("source", [np.float64, np.float32])
def test_take_rows_gathers_and_casts(source):
    engine = get_engine("numba")
    X = np.random.default_rng(4).standard_normal((20, 7)).astype(source)
    rows = np.array([5, 0, 19, 5], dtype=np.int64)
    out = np.empty((4, 7), np.float32)
    assert engine.take_rows(X, rows, out=out) is out
    np.testing.assert_array_equal(out, X[rows].astype(np.float32))
    with pytest.raises(IndexError, match="out of range"):
        engine.take_rows(X, np.array([0, 20], dtype=np.int64), out=out[:2])


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("engine_name", ["numpy", "numba"])
def test_training_steps_are_that_many_notes_steps(engine_name, dtype):
    """Full-batch epochs back to back (one compiled call on numba when the network is all
    tail): each step's cost in its slot, the parameters after the last step the notes' own."""
    engine, dtype = get_engine(engine_name), np.dtype(dtype)
    rng = np.random.default_rng(11)
    layers, m, acts = [2, 4, 1], 40, [None, "tanh", "sigmoid"]
    X, Y = rng.standard_normal((m, 2)).astype(dtype), rng.integers(0, 2, (m, 1)).astype(dtype)
    params = fastnn.initialize_parameters(layers, "xavier", seed=3, dtype=dtype)
    weights, biases = to_engine(engine, {k: v.copy() for k, v in params.items()})
    workspace = Workspace(engine, layers, m, dtype, X=X, Y=Y)
    step = engine.capture_step(lambda: engine.training_step(weights, biases, acts, 0.9, workspace))
    step()  # the first step makes the numba engine's plan
    costs = np.full(25, np.nan, dtype)
    engine.training_steps(step, weights, biases, acts, 0.9, workspace, costs)
    if engine_name == "numba":
        assert workspace.plan.head == 0, "the network no longer runs all in the compiled tail"
    expected = {k: v.astype(np.float64) for k, v in params.items()}
    expected, _ = notes_step(expected, X.T.astype(np.float64), Y.T.astype(np.float64), acts, 0.9)
    for i in range(costs.shape[0]):
        expected, cost = notes_step(expected, X.T.astype(np.float64), Y.T.astype(np.float64), acts, 0.9)
        np.testing.assert_allclose(costs[i], cost, **TOLERANCE[dtype], err_msg=f"step {i}")
    for l in (1, 2):
        np.testing.assert_allclose(weights[l], expected[f"W{l}"], **TOLERANCE[dtype], err_msg=f"W{l}")
        np.testing.assert_allclose(biases[l], expected[f"b{l}"], **TOLERANCE[dtype], err_msg=f"b{l}")


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_wide_data_takes_the_gram_form_and_finish_writes_every_step(dtype):
    """16 examples of 2,400 features, full batch: layer 1 switches to its Gram form, 150 steps
    (two refreshes and 20 pending) end, after finish_training, at the notes' parameters."""
    engine, dtype = get_engine("numba"), np.dtype(dtype)
    rng = np.random.default_rng(6)
    layers, m, acts = [2400, 5, 3, 1], 16, [None, "relu", "tanh", "sigmoid"]
    X, Y = rng.standard_normal((m, 2400)).astype(dtype), rng.integers(0, 2, (m, 1)).astype(dtype)
    params = fastnn.initialize_parameters(layers, "xavier", seed=4, dtype=dtype)
    weights, biases = to_engine(engine, {k: v.copy() for k, v in params.items()})
    workspace = Workspace(engine, layers, m, dtype, X=X, Y=Y)
    expected = {k: v.astype(np.float64) for k, v in params.items()}
    for i in range(150):
        engine.training_step(weights, biases, acts, 0.05, workspace)
        expected, cost = notes_step(expected, X.T.astype(np.float64), Y.T.astype(np.float64), acts, 0.05)
        np.testing.assert_allclose(workspace.cost, cost, **TOLERANCE[dtype], err_msg=f"step {i}")
    assert workspace.plan.gram is not None, "layer 1 never took the Gram form"
    engine.finish_training(workspace)
    for l in range(1, len(layers)):
        np.testing.assert_allclose(weights[l], expected[f"W{l}"], **TOLERANCE[dtype], err_msg=f"W{l}")
        np.testing.assert_allclose(biases[l], expected[f"b{l}"], **TOLERANCE[dtype], err_msg=f"b{l}")


@pytest.mark.parametrize("dtype, spoil", [(np.float64, "nan"), (np.float32, "huge")])
def test_the_gram_form_is_kept_from_data_whose_gram_matrix_is_not_finite(dtype, spoil):
    """G = X X^T would spread one example's NaN (or its overflowing square: 1e20 in float32) to every
    example: such data keeps the direct form, and trains as the numpy engine trains it."""
    X = np.random.default_rng(7).standard_normal((16, 2400)).astype(dtype)
    if spoil == "nan":
        X[3, 5] = np.nan
    else:
        X *= dtype(1e20)
    Y = np.ones((16, 1), dtype)
    params = fastnn.initialize_parameters([2400, 1], "zeros", dtype=dtype)
    acts, learning_rate = [None, "sigmoid"], 1e-42 if spoil == "huge" else 0.1
    runs = {}
    for name in ("numba", "numpy"):
        engine = get_engine(name)
        weights, biases = to_engine(engine, {k: v.copy() for k, v in params.items()})
        workspace = Workspace(engine, [2400, 1], 16, dtype, X=X, Y=Y)
        with np.errstate(all="ignore"):
            for _ in range(10):
                engine.training_step(weights, biases, acts, learning_rate, workspace)
        runs[name] = (weights[1], workspace)
    assert runs["numba"][1].plan.gram is None and runs["numba"][1].plan.gram_countdown is None
    np.testing.assert_allclose(runs["numba"][0], runs["numpy"][0], **TOLERANCE[np.dtype(dtype)])


@pytest.mark.parametrize("engine_name", ["numpy", "numba"])
def test_a_fortran_ordered_X_trains_as_its_row_major_copy(engine_name):
    """The course's train_x.T is Fortran-ordered: fit copies it into rows once, so it takes the
    same path (the fused step and Gram form on numba) and gives the same run, bit for bit."""
    rng = np.random.default_rng(8)
    X = np.asfortranarray(rng.standard_normal((16, 2400)))
    y = (rng.random(16) < 0.5).astype(np.float64)
    runs = [fastnn.DeepNetwork([2400, 7, 1], "relu", epochs=20, init="xavier", seed=1, engine=engine_name).fit(data, y)
            for data in (X, np.ascontiguousarray(X))]
    assert runs[0].history_ == runs[1].history_
    for name, value in runs[1].parameters_.items():
        np.testing.assert_array_equal(runs[0].parameters_[name], value, err_msg=name)
