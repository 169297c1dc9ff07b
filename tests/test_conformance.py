"""The shared conformance suite: every engine, NumPy's included, gives the notes' results.

Expectations are the notes' equations written plainly in this file (notes_activation,
notes_derivative below, and tests/reference_trainer.py for whole networks), computed in
float64 in the notes' layout: never an engine's output, so no engine is compared with itself.
Tolerances: float64 rtol 1e-10 / atol 1e-12; float32 rtol 1e-4 / atol 1e-5 (engines may
fuse or reorder float32 arithmetic; a training run compounds rounding over many steps).
"""

import warnings

import numpy as np
import pytest

import fastnn
import reference_trainer
from fastnn import ACTIVATIONS
from fastnn.propagation import Workspace, backward, forward, to_engine, training_step

TOLERANCE = {np.dtype(np.float32): dict(rtol=1e-4, atol=1e-5), np.dtype(np.float64): dict(rtol=1e-10, atol=1e-12)}
# (m examples, units in, units out): one example, one unit, sizes that no thread count divides.
SHAPES = [(1, 3, 2), (7, 1, 5), (13, 9, 1), (33, 17, 11)]


def assert_same(engine, actual, expected, dtype):
    """Engine result equals the notes' result, with the engine's dtype kept."""
    actual = engine.to_numpy(actual)
    assert actual.dtype == dtype, f"{engine.name} returned {actual.dtype}, expected {dtype}"
    np.testing.assert_allclose(actual, np.asarray(expected), **TOLERANCE[dtype])


def random(rng, shape, dtype, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def notes_dense_forward(A_prev, W, b, activation):
    """(Z, A) in the engines' row layout from Z = W A_prev + b, A = g(Z) in the notes' layout, in float64."""
    Z = W.astype(np.float64) @ A_prev.T.astype(np.float64) + b.astype(np.float64)
    return Z.T, notes_activation(Z, activation).T


def notes_backprop_activation(dA, A, activation):
    """dZ = dA * g'(Z), with g' written from A = g(Z), in float64."""
    return dA.astype(np.float64) * notes_derivative(A.astype(np.float64), activation)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_dense_forward(engine, dtype, activation, shape):
    m, n_in, n_out = shape
    rng = np.random.default_rng(1)
    A_prev, W, b = random(rng, (m, n_in), dtype), random(rng, (n_out, n_in), dtype), random(rng, (n_out, 1), dtype)
    Z_notes, A_notes = notes_dense_forward(A_prev, W, b, activation)
    Z, A = engine.dense_forward(engine.asarray(A_prev), engine.asarray(W), engine.asarray(b), activation)
    assert_same(engine, Z, Z_notes, dtype)
    assert_same(engine, A, A_notes, dtype)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation_values_match_the_notes(engine, activation, dtype):
    z = np.array([[-3.0, -0.5, 0.0, 0.5, 3.0]], dtype=dtype)
    expected = {"sigmoid": 1 / (1 + np.exp(-z)), "tanh": np.tanh(z), "relu": np.maximum(0, z),
                "leaky_relu": np.maximum(0.01 * z, z)}[activation]
    assert_same(engine, engine.activation(engine.asarray(z), activation), expected, dtype)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_backprop_activation(engine, dtype, activation, shape):
    m, _, n = shape
    rng = np.random.default_rng(3)
    A = notes_activation(random(rng, (m, n), np.float64, 2.0), activation).astype(dtype)
    dA = random(rng, (m, n), dtype)
    expected = notes_backprop_activation(dA, A, activation)
    assert_same(engine, engine.backprop_activation(engine.asarray(dA), engine.asarray(A), activation), expected, dtype)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_backprop_activation_is_the_notes_derivative(engine, dtype, activation):
    """g'(z) as the notes write it from z (not from a), through dA = 1."""
    z = np.linspace(-3, 3, 12).reshape(3, 4) + 0.05  # no z exactly at the ReLU kink
    a = notes_activation(z, activation)
    derivative = {"sigmoid": a * (1 - a), "tanh": 1 - np.tanh(z) ** 2, "relu": (z > 0) * 1.0,
                  "leaky_relu": np.where(z > 0, 1.0, 0.01)}[activation]
    dZ = engine.backprop_activation(engine.asarray(np.ones(z.shape, dtype)), engine.asarray(a.astype(dtype)), activation)
    assert_same(engine, dZ, derivative, dtype)


@pytest.mark.parametrize("m", [1, 7, 64])
def test_output_gradient_and_cost(engine, dtype, m):
    rng = np.random.default_rng(4)
    Z = random(rng, (m, 1), dtype, 3.0)
    A = notes_activation(Z.astype(np.float64), "sigmoid").astype(dtype)
    Y = rng.integers(0, 2, (m, 1)).astype(dtype)
    assert_same(engine, engine.backprop_sigmoid_cross_entropy(engine.asarray(A), engine.asarray(Y)), A - Y, dtype)
    cost = engine.cross_entropy_cost(engine.asarray(Z), engine.asarray(Y))
    A = notes_activation(Z.astype(np.float64), "sigmoid")
    notes_cost = -np.mean(Y * np.log(A) + (1 - Y) * np.log(1 - A))
    assert_same(engine, cost, notes_cost, dtype)


def test_cost_is_finite_for_large_logits(engine, dtype):
    Z = np.array([[-1e4], [-60.0], [0.0], [60.0], [1e4]], dtype=dtype)
    Y = np.array([[0], [1], [1], [0], [1]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cost = float(engine.to_numpy(engine.cross_entropy_cost(engine.asarray(Z), engine.asarray(Y))))
        A = engine.to_numpy(engine.activation(engine.asarray(Z), "sigmoid"))
    # losses: 0, 60, log 2, 60, 0 (each max(z,0) - yz + log1p(exp(-|z|)))
    assert cost == pytest.approx((120 + np.log(2)) / 5, rel=1e-5)
    assert np.all((A >= 0) & (A <= 1))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("need_dA_prev", [True, False])
def test_backprop_dense(engine, dtype, shape, need_dA_prev):
    m, n_in, n_out = shape
    rng = np.random.default_rng(5)
    dZ, A_prev, W = random(rng, (m, n_out), dtype), random(rng, (m, n_in), dtype), random(rng, (n_out, n_in), dtype)
    dW, db, dA_prev = engine.backprop_dense(engine.asarray(dZ), engine.asarray(A_prev), engine.asarray(W), need_dA_prev)
    # the notes' equations, in their layout: dZ is (n_out, m), A_prev (n_in, m)
    dz, a_prev = dZ.T.astype(np.float64), A_prev.T.astype(np.float64)
    assert_same(engine, dW, dz @ a_prev.T / m, dtype)
    assert_same(engine, db, np.sum(dz, axis=1, keepdims=True) / m, dtype)
    assert engine.to_numpy(db).shape == (n_out, 1)
    if need_dA_prev:
        assert_same(engine, dA_prev, (W.T.astype(np.float64) @ dz).T, dtype)
    else:
        assert dA_prev is None


def test_non_contiguous_inputs(engine, dtype):
    """Transposed and strided views give the same results as contiguous copies."""
    rng = np.random.default_rng(6)
    big = random(rng, (10, 24), dtype)
    A_prev = big[:, ::2]  # strided columns
    W = random(rng, (12, 5), dtype).T  # a transposed view of shape (5, 12)
    b = random(rng, (5, 1), dtype)
    for activation in ACTIVATIONS:
        _, A_notes = notes_dense_forward(A_prev, W, b, activation)
        Z, A = engine.dense_forward(engine.asarray(A_prev), engine.asarray(W), engine.asarray(b), activation)
        assert_same(engine, A, A_notes, dtype)
        dA = big[:, 1::2][:, :5]
        assert_same(engine, engine.backprop_activation(engine.asarray(dA), A, activation),
                    notes_backprop_activation(dA, engine.to_numpy(A), activation), dtype)


def test_sgd_update_in_place(engine, dtype):
    rng = np.random.default_rng(7)
    params = [random(rng, (4, 3), dtype), random(rng, (4, 1), dtype)]
    grads = [random(rng, (4, 3), dtype), random(rng, (4, 1), dtype)]
    on_engine = [engine.asarray(p.copy()) for p in params]
    engine.sgd_update(on_engine, [engine.asarray(g) for g in grads], 0.1)
    for updated, p, g in zip(on_engine, params, grads):
        assert_same(engine, updated, p - dtype.type(0.1) * g, dtype)


def test_take_rows(engine, dtype):
    X = np.arange(30, dtype=dtype).reshape(10, 3)
    rows = np.array([9, 0, 4])
    assert_same(engine, engine.take_rows(engine.asarray(X), engine.asarray(rows)), X[rows], dtype)


def test_take_rows_casts_into_a_buffer_of_the_other_precision(engine, dtype):
    """A float32 X trained in float64 (or the reverse) is cast batch by batch as take_rows cuts it."""
    X = np.linspace(-1, 1, 30, dtype=dtype).reshape(10, 3)
    other = np.dtype(np.float64 if dtype == np.float32 else np.float32)
    rows = np.array([9, 0, 4])
    out = engine.empty((3, 3), other)
    assert engine.take_rows(engine.asarray(X), engine.asarray(rows), out=out) is out
    assert_same(engine, out, X[rows].astype(other), other)


def test_dot_pair(engine, dtype):
    rng = np.random.default_rng(8)
    w, x = random(rng, (1000,), dtype), random(rng, (1000,), dtype)
    expected = np.dot(w.astype(np.float64), x.astype(np.float64)) + 0.5
    tolerance = dict(rtol=1e-4, atol=1e-3) if dtype == np.float32 else dict(rtol=1e-10)
    for method in (engine.dot_loop, engine.dot_vectorized):
        value = engine.to_numpy(method(engine.asarray(w), engine.asarray(x), 0.5))
        np.testing.assert_allclose(float(value), expected, **tolerance)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_forward_backward_through_a_deep_network(engine, dtype, activation):
    rng = np.random.default_rng(9)
    parameters = fastnn.initialize_parameters([6, 5, 4, 1], "he", seed=3, dtype=dtype)
    X, Y = random(rng, (11, 6), dtype), rng.integers(0, 2, (11, 1)).astype(dtype)
    acts = [None, activation, activation, "sigmoid"]
    weights, biases = to_engine(engine, parameters)
    Z, A = forward(engine, weights, biases, acts, engine.asarray(X))
    dW, db = backward(engine, weights, acts, A, engine.asarray(Y))
    A_notes, _, grads = reference_trainer.propagate(parameters, X.T, Y.T, activation)
    assert_same(engine, A[3], A_notes[3].T, dtype)
    for l in (1, 2, 3):
        assert_same(engine, dW[l], grads[f"dW{l}"], dtype)
        assert_same(engine, db[l], grads[f"db{l}"], dtype)


def test_training_step_with_reused_buffers(engine, dtype):
    """Buffers reused across three steps give the notes' three steps of gradient descent."""
    rng = np.random.default_rng(10)
    parameters = fastnn.initialize_parameters([5, 4, 1], "he", seed=4, dtype=dtype)
    X, Y = random(rng, (8, 5), dtype), rng.integers(0, 2, (8, 1)).astype(dtype)
    weights, biases = to_engine(engine, {k: v.copy() for k, v in parameters.items()})  # updated in place
    workspace = Workspace(engine, [5, 4, 1], 8, dtype, X=engine.asarray(X), Y=engine.asarray(Y))
    notes_parameters = dict(parameters)
    for _ in range(3):
        training_step(engine, weights, biases, [None, "tanh", "sigmoid"], 0.5, workspace)
        notes_cost = reference_trainer.gradient_descent_step(notes_parameters, X.T, Y.T, "tanh", 0.5)
    assert_same(engine, workspace.cost, notes_cost, dtype)  # the last step's cost, before its update
    for l in (1, 2):
        assert_same(engine, weights[l], notes_parameters[f"W{l}"], dtype)
        assert_same(engine, biases[l], notes_parameters[f"b{l}"], dtype)


@pytest.mark.parametrize("batch_size", [None, 16])
def test_training_run_ends_at_the_reference_cost(fast_engine, dtype, batch_size):
    X, y = fastnn.datasets.make_flower(m=120, seed=2)
    X = X.astype(dtype)
    runs = []
    for engine in ("numpy", fast_engine):
        net = fastnn.DeepNetwork([2, 6, 4, 1], "tanh", learning_rate=0.3, epochs=40, batch_size=batch_size,
                                 seed=5, engine=engine)
        runs.append(net.fit(X, y))
    reference_net, engine_net = runs
    np.testing.assert_allclose(engine_net.history_, reference_net.history_, **TOLERANCE[dtype])
    for key, value in reference_net.parameters_.items():
        assert engine_net.parameters_[key].dtype == dtype
        np.testing.assert_allclose(engine_net.parameters_[key], value, **TOLERANCE[dtype])


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("size", [(3, 4), (64, 40)], ids=["small", "large"])
def test_outputs_may_overwrite_their_inputs(engine, dtype, activation, size):
    """out=Z, out=dA and out=A give the same results as fresh outputs."""
    rng = np.random.default_rng(11)
    Z, dA = random(rng, size, dtype, 2.0), random(rng, size, dtype)
    A_notes = notes_activation(Z.astype(np.float64), activation)
    A_in = A_notes.astype(dtype)  # the engine's backward gets A in its own dtype
    dZ_notes = notes_backprop_activation(dA, A_in, activation)
    Z_engine = engine.asarray(Z.copy())
    assert_same(engine, engine.activation(Z_engine, activation, out=Z_engine), A_notes, dtype)
    for overwritten in ("dA", "A"):
        dA_engine, A_engine = engine.asarray(dA.copy()), engine.asarray(A_in.copy())
        out = dA_engine if overwritten == "dA" else A_engine
        assert_same(engine, engine.backprop_activation(dA_engine, A_engine, activation, out=out), dZ_notes, dtype)


def test_integer_labels_keep_the_float_dtype(engine, dtype):
    Z = np.array([[0.5], [-1.0]], dtype=dtype)
    Y = np.array([[1], [0]])
    A = notes_activation(Z.astype(np.float64), "sigmoid").astype(dtype)
    assert engine.to_numpy(engine.cross_entropy_cost(engine.asarray(Z), engine.asarray(Y))).dtype == dtype
    assert engine.to_numpy(engine.backprop_sigmoid_cross_entropy(engine.asarray(A), engine.asarray(Y))).dtype == dtype


# -- non-finite inputs: NumPy's meaning (IEEE arithmetic) on every engine ---------------------
#
# Expectations are the notes' equations written plainly with NumPy below, never an engine's
# output: NaN in gives NaN out, and a product is always taken, so 0 * inf and 0 * NaN are NaN
# (a ReLU's backward turns dA = inf into NaN where the unit is off, as dA * (A > 0) does).

NON_FINITE = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1.5, -2.0, 40.0, -40.0])


def assert_same_meaning(engine, actual, expected, dtype):
    """Same values, NaN where expected has NaN and infinities of the same sign, dtype kept."""
    actual = engine.to_numpy(actual)
    assert actual.dtype == dtype, f"{engine.name} returned {actual.dtype}, expected {dtype}"
    expected = np.asarray(expected)
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected), err_msg="NaN positions differ")
    np.testing.assert_allclose(actual, expected, **TOLERANCE[dtype])


def notes_activation(z, activation):
    """g(z) as the notes write it, with NaN propagated explicitly."""
    with np.errstate(over="ignore"):
        g = {"sigmoid": lambda: 1 / (1 + np.exp(-z)), "tanh": lambda: np.tanh(z),
             "relu": lambda: np.where(z > 0, z, 0.0), "leaky_relu": lambda: np.where(z > 0, z, 0.01 * z)}[activation]()
    return np.where(np.isnan(z), np.nan, g)


def notes_derivative(a, activation):
    """g'(z) through a = g(z): a (1 - a), 1 - a^2, 1 or 0, 1 or 0.01 (a > 0 exactly when z > 0)."""
    return {"sigmoid": a * (1 - a), "tanh": 1 - a * a, "relu": np.where(a > 0, 1.0, 0.0),
            "leaky_relu": np.where(a > 0, 1.0, 0.01)}[activation]


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_non_finite_activation(engine, dtype, activation):
    z = NON_FINITE.astype(dtype).reshape(3, 3)
    expected = notes_activation(z.astype(np.float64), activation)
    assert_same_meaning(engine, engine.activation(engine.asarray(z), activation), expected, dtype)
    Z = engine.asarray(np.zeros((3, 3), dtype))
    A = engine.bias_activation(Z, engine.asarray(z[0].reshape(3, 1)), activation)  # NaN, inf, -inf biases
    assert_same_meaning(engine, A, notes_activation(np.tile(z[0].astype(np.float64), (3, 1)), activation), dtype)


def test_non_finite_softmax_output(engine, dtype):
    """A row with NaN, or with inf, -inf or all -inf (inf - inf in the shift), is NaN throughout."""
    z = np.array([[np.nan, 1, 2], [np.inf, 1, 2], [-np.inf, 1, 2], [-np.inf] * 3, [40, -40, 0]], dtype)
    with np.errstate(invalid="ignore"):
        e = np.exp(z - z.max(axis=1, keepdims=True))  # the notes' softmax, shifted by the row's max
        expected = e / e.sum(axis=1, keepdims=True)
        assert_same_meaning(engine, engine.activation(engine.asarray(z), "softmax"), expected, dtype)
        Y = np.eye(3, dtype=dtype)[[0, 1, 1, 2, 0]]
        assert_same_meaning(engine, engine.backprop_softmax_cross_entropy(engine.asarray(expected.astype(dtype)),
                                                                          engine.asarray(Y)), expected - Y, dtype)
        for rows in ([0], [1], [2], [3], [4]):
            shifted = z[rows].astype(np.float64) - z[rows].max(axis=1, keepdims=True)
            losses = np.sum(Y[rows] * (np.log(np.exp(shifted).sum(axis=1, keepdims=True)) - shifted), axis=1)
            cost = engine.cross_entropy_cost(engine.asarray(z[rows]), engine.asarray(Y[rows]))
            assert_same_meaning(engine, cost, np.mean(losses), dtype)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_non_finite_backprop_activation(engine, dtype, activation):
    values = np.array([np.nan, np.inf, -np.inf, 0.0, 1.0, -0.5, 0.25])
    dA, A = (grid.reshape(-1).astype(dtype) for grid in np.meshgrid(values, values))  # every pair
    with np.errstate(invalid="ignore"):
        expected = dA.astype(np.float64) * notes_derivative(A.astype(np.float64), activation)
        dZ = engine.backprop_activation(engine.asarray(dA.reshape(7, 7)), engine.asarray(A.reshape(7, 7)), activation)
    assert_same_meaning(engine, dZ, expected.reshape(7, 7), dtype)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_relu_backward_keeps_nan_and_turns_inf_into_nan_where_off(engine, dtype, activation):
    """The issue's example: dA = [nan, 2, inf], A = [0, 1, 0] gives [nan, 2, nan] for ReLU."""
    dA, A = np.array([[np.nan, 2, np.inf]], dtype), np.array([[0, 1, 0]], dtype)
    with np.errstate(invalid="ignore"):
        dZ = engine.to_numpy(engine.backprop_activation(engine.asarray(dA), engine.asarray(A), activation))
    expected = [np.nan, 2.0, np.nan] if activation == "relu" else [np.nan, 2.0, np.inf]
    np.testing.assert_array_equal(dZ.reshape(-1), np.array(expected, dtype))


def test_non_finite_cost_and_output_gradient(engine, dtype):
    Z = NON_FINITE.astype(dtype).reshape(-1, 1)
    Y = (np.arange(Z.size) % 2).astype(dtype).reshape(-1, 1)
    assert_same_meaning(engine, engine.backprop_sigmoid_cross_entropy(engine.asarray(Z), engine.asarray(Y)),
                        Z.astype(np.float64) - Y, dtype)
    z, y = Z.astype(np.float64), Y.astype(np.float64)
    with np.errstate(invalid="ignore"):
        losses = np.maximum(z, 0) - y * z + np.log1p(np.exp(-np.abs(z)))  # the README's loss equation
        for rows in ([0], [1], [2], [1, 5], [2, 6], [3, 4, 5, 6]):  # NaN, inf, -inf, finite
            cost = engine.cross_entropy_cost(engine.asarray(Z[rows]), engine.asarray(Y[rows]))
            assert_same_meaning(engine, cost, np.mean(losses[rows]), dtype)


def test_non_finite_dense_forward_and_backward(engine, dtype):
    rng = np.random.default_rng(12)
    A_prev, W, b = random(rng, (4, 3), dtype), random(rng, (2, 3), dtype), random(rng, (2, 1), dtype)
    A_prev[0, 0], A_prev[1, 2], A_prev[2, 1] = np.nan, np.inf, -np.inf
    W[1, 1] = 0.0  # 0 * -inf: NaN in one unit of example 2, -inf in the other
    with np.errstate(invalid="ignore"):
        notes_Z = W.astype(np.float64) @ A_prev.T.astype(np.float64) + b  # Z = W A_prev + b, notes' layout
        Z, A = engine.dense_forward(engine.asarray(A_prev), engine.asarray(W), engine.asarray(b), "relu")
        assert_same_meaning(engine, Z, notes_Z.T, dtype)
        assert_same_meaning(engine, A, notes_activation(notes_Z.T, "relu"), dtype)
        dZ = random(rng, (4, 2), dtype)
        dZ[3, 0] = np.inf
        dW, db, dA_prev = engine.backprop_dense(engine.asarray(dZ), engine.asarray(A_prev), engine.asarray(W))
        dz, a_prev = dZ.T.astype(np.float64), A_prev.T.astype(np.float64)  # the notes' layout
        assert_same_meaning(engine, dW, dz @ a_prev.T / 4, dtype)
        assert_same_meaning(engine, db, dz.sum(axis=1, keepdims=True) / 4, dtype)
        assert_same_meaning(engine, dA_prev, (W.T.astype(np.float64) @ dz).T, dtype)


def test_non_finite_update_rows_and_dot(engine, dtype):
    params = NON_FINITE.astype(dtype).reshape(3, 3)
    grads = NON_FINITE[::-1].astype(dtype).reshape(3, 3)
    on_engine = engine.asarray(params.copy())
    with np.errstate(invalid="ignore"):
        engine.sgd_update([on_engine], [engine.asarray(grads)], 0.5)
        assert_same_meaning(engine, on_engine, params.astype(np.float64) - 0.5 * grads, dtype)
        rows = np.array([2, 0])
        assert_same_meaning(engine, engine.take_rows(engine.asarray(params), engine.asarray(rows)), params[rows], dtype)
        w, x = np.ones(5, dtype), np.array([1.0, 2.0, np.inf, 4.0, 5.0], dtype)
        for method in (engine.dot_loop, engine.dot_vectorized):
            assert engine.to_numpy(method(engine.asarray(w), engine.asarray(x), 0.5)) == np.inf
            x[3] = np.nan
            assert np.isnan(engine.to_numpy(method(engine.asarray(w), engine.asarray(x), 0.5)))
            x[3] = 4.0
