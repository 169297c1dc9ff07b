"""The notes' steps one by one, in the notes' own shapes, against the notes' equations."""

import numpy as np
import pytest

import fastnn
from fastnn import notes


def flower_columns(m=60):
    X, y = fastnn.datasets.make_flower(m=m, seed=3)
    return X.T, y.reshape(1, -1)


def test_shapes_follow_the_notes():
    X, Y = flower_columns()
    parameters = notes.initialize_parameters([2, 4, 3, 1], "small", seed=1)
    assert [parameters[k].shape for k in ("W1", "b1", "W2", "b2", "W3", "b3")] == [(4, 2), (4, 1), (3, 4), (3, 1), (1, 3), (1, 1)]
    AL, caches = notes.forward_propagation(X, parameters, "relu")
    assert AL.shape == (1, 60) and len(caches) == 3
    assert caches[0]["A_prev"].shape == (2, 60) and caches[1]["Z"].shape == (3, 60)
    grads = notes.backward_propagation(AL, Y, caches)
    for l in (1, 2, 3):
        assert grads[f"dW{l}"].shape == parameters[f"W{l}"].shape
        assert grads[f"db{l}"].shape == parameters[f"b{l}"].shape


def test_small_initialisation_is_the_notes_randn_times_001():
    parameters = notes.initialize_parameters([500, 400, 1], "small", seed=0)
    assert parameters["W1"].std() == pytest.approx(0.01, rel=0.02)
    assert not parameters["b1"].any()
    assert np.unique(parameters["W1"]).size == parameters["W1"].size  # symmetry broken


def test_two_layer_network_by_hand():
    """Every step equals the notes' equations written out directly for a 2-layer tanh net."""
    X, Y = flower_columns(40)
    m = X.shape[1]
    p = notes.initialize_parameters([2, 5, 1], "xavier", seed=7)
    W1, b1, W2, b2 = p["W1"], p["b1"], p["W2"], p["b2"]
    Z1 = W1 @ X + b1
    A1 = np.tanh(Z1)
    Z2 = W2 @ A1 + b2
    A2 = 1 / (1 + np.exp(-Z2))
    J = -np.mean(Y * np.log(A2) + (1 - Y) * np.log(1 - A2))
    dZ2 = A2 - Y
    dW2, db2 = dZ2 @ A1.T / m, np.sum(dZ2, axis=1, keepdims=True) / m
    dZ1 = (W2.T @ dZ2) * (1 - A1 ** 2)
    dW1, db1 = dZ1 @ X.T / m, np.sum(dZ1, axis=1, keepdims=True) / m

    AL, caches = notes.forward_propagation(X, p, "tanh")
    np.testing.assert_allclose(AL, A2, rtol=1e-12)
    np.testing.assert_allclose(caches[0]["Z"], Z1, rtol=1e-12)
    assert notes.compute_cost(AL, Y) == pytest.approx(J, rel=1e-10)
    grads = notes.backward_propagation(AL, Y, caches)
    for name, expected in (("dW1", dW1), ("db1", db1), ("dW2", dW2), ("db2", db2)):
        np.testing.assert_allclose(grads[name], expected, rtol=1e-10, atol=1e-14)
    updated = notes.update_parameters(p, grads, 0.5)
    np.testing.assert_allclose(updated["W1"], W1 - 0.5 * dW1, rtol=1e-12)
    np.testing.assert_allclose(updated["b2"], b2 - 0.5 * db2, rtol=1e-12)
    assert p["W1"] is W1 and np.array_equal(p["W1"], W1)  # input untouched


def test_steps_reproduce_the_network_class_exactly(engine):
    """Twenty full-batch steps by hand end where DeepNetwork.fit ends."""
    X, y = fastnn.datasets.make_flower(m=80, seed=4)
    p = notes.initialize_parameters([2, 4, 1], "xavier", seed=2)
    start = {k: v.copy() for k, v in p.items()}
    for _ in range(20):
        AL, caches = notes.forward_propagation(X.T, p, "tanh", engine=engine)
        p = notes.update_parameters(p, notes.backward_propagation(AL, y[None], caches, engine=engine), 0.8, engine=engine)
    net = fastnn.DeepNetwork([2, 4, 1], "tanh", learning_rate=0.8, epochs=20, engine=engine)
    net.fit(X, y, initial_parameters=start)
    for key in p:
        np.testing.assert_allclose(net.parameters_[key], p[key], rtol=1e-9, atol=1e-12)


def test_compute_cost_is_finite_at_saturated_outputs():
    AL = np.array([[0.0, 1.0, 0.5]])
    Y = np.array([[0, 1, 1]])
    assert notes.compute_cost(AL, Y) == pytest.approx(np.log(2) / 3, rel=1e-6)
    assert np.isfinite(notes.compute_cost(np.array([[1.0, 0.0]]), np.array([[0, 1]])))


def test_logistic_regression_loop_equals_vectorised(engine):
    X, Y = flower_columns(50)
    w, b = np.array([[0.3], [-0.2]]), 0.1
    cost_loop, dw_loop, db_loop = notes.logistic_gradients_loop(w, b, X, Y)
    cost_vec, dw_vec, db_vec = notes.logistic_gradients_vectorized(w, b, X, Y, engine=engine)
    assert cost_vec == pytest.approx(cost_loop, rel=1e-10)
    np.testing.assert_allclose(dw_vec, dw_loop, rtol=1e-10)
    assert db_vec == pytest.approx(db_loop, rel=1e-9)


def test_computation_graph_example():
    J, grads = notes.computation_graph_example(5, 3, 2)
    assert J == 3 * (5 + 3 * 2) == 33
    assert grads == {"a": 3, "b": 3 * 2, "c": 3 * 3}


def test_user_parameters_with_wrong_shapes_are_refused():
    X, _ = flower_columns(10)
    with pytest.raises(ValueError, match=r"parameters\['W1'\]: expected shape \(4, 2\), got \(4, 3\)"):
        notes.forward_propagation(X, {"W1": np.zeros((4, 3)), "b1": np.zeros((4, 1)),
                                      "W2": np.zeros((1, 4)), "b2": np.zeros((1, 1))})
    with pytest.raises(ValueError, match="Y: expected shape \\(1, 10\\)"):
        notes.compute_cost(np.full((1, 10), 0.5), np.zeros((2, 5)))


def test_notes_errors_say_what_to_do():
    X, Y = flower_columns(30)
    p = notes.initialize_parameters([2, 3, 1], seed=0)
    with pytest.raises(ValueError, match=r"X: the notes' functions take X of shape \(n_x, m\).*pass X.T"):
        notes.forward_propagation(X.T, p)
    with pytest.raises(ValueError, match=r"AL: expected probabilities in \[0, 1\]"):
        notes.compute_cost(np.full((1, 30), 1.5), Y)
    with pytest.raises(ValueError, match=r"AL: expected shape \(1, m\)"):
        notes.compute_cost(np.full((1, 2, 15), 0.5), Y)
    AL, caches = notes.forward_propagation(X, p)
    grads = notes.backward_propagation(AL, Y, caches)
    with pytest.raises(ValueError, match="grads: missing 'db1'"):
        notes.update_parameters(p, {k: v for k, v in grads.items() if k != "db1"}, 0.1)
    with pytest.raises(ValueError, match=r"grads\['dW1'\]: expected shape \(3, 2\) \(that of W1\), got \(2, 3\)"):
        notes.update_parameters(p, {**grads, "dW1": grads["dW1"].T}, 0.1)
    with pytest.raises(ValueError, match=r"w: expected shape \(2, 1\)"):
        notes.logistic_gradients_loop(np.zeros(2), 0.0, X, Y)


def test_checking_once_then_check_false_gives_the_same_steps(engine, dtype):
    """check_inputs once, then check=False: every step's result equals the checked call's, bit for bit."""
    X, Y = flower_columns(50)
    start = notes.initialize_parameters([2, 5, 3, 1], "xavier", seed=5, dtype=dtype)
    X_checked, Y_checked, p_fast = notes.check_inputs(X.astype(dtype), Y, start, ["tanh", "relu"])
    assert X_checked.shape == (2, 50) and Y_checked.shape == (1, 50) and Y_checked.dtype == dtype
    p_slow = start
    for _ in range(3):
        AL, caches = notes.forward_propagation(X.astype(dtype), p_slow, ["tanh", "relu"], engine=engine)
        AL_fast, caches_fast = notes.forward_propagation(X_checked, p_fast, ["tanh", "relu"], engine=engine, check=False)
        assert np.array_equal(AL, AL_fast) and AL_fast.dtype == dtype
        assert notes.compute_cost(AL, Y, engine=engine) == notes.compute_cost(AL_fast, Y_checked, engine=engine,
                                                                             check=False)
        grads = notes.backward_propagation(AL, Y, caches, engine=engine)
        grads_fast = notes.backward_propagation(AL_fast, Y_checked, caches_fast, engine=engine, check=False)
        p_slow = notes.update_parameters(p_slow, grads, 0.3, engine=engine)
        p_fast = notes.update_parameters(p_fast, grads_fast, 0.3, engine=engine, check=False)
        for key in p_slow:
            assert np.array_equal(grads["d" + key], grads_fast["d" + key]), key
            assert np.array_equal(p_slow[key], p_fast[key]) and p_fast[key].dtype == dtype, key


def test_update_is_the_notes_w_minus_alpha_dw_bit_for_bit(dtype):
    rng = np.random.default_rng(6)
    p = {"W1": rng.standard_normal((3, 4)).astype(dtype), "b1": rng.standard_normal((3, 1)).astype(dtype)}
    grads = {"dW1": rng.standard_normal((3, 4)).astype(dtype), "db1": rng.standard_normal((3, 1)).astype(dtype)}
    for check in (True, False):
        updated = notes.update_parameters(p, grads, 0.37, check=check)
        for key in p:
            expected = p[key] - 0.37 * grads["d" + key]  # the course's update, in the parameters' dtype
            assert np.array_equal(updated[key], expected) and updated[key].dtype == dtype


def test_check_inputs_names_what_is_wrong():
    X, Y = flower_columns(30)
    p = notes.initialize_parameters([2, 3, 1], seed=0)
    with pytest.raises(ValueError, match=r"this X has shape \(30, 2\), 30 rows, but W1 expects n_x = 2"):
        notes.check_inputs(X.T, Y, p)
    with pytest.raises(ValueError, match=r"Y: labels must be 0 or 1, got other values: 2"):
        notes.check_inputs(X, Y * 2, p)
    with pytest.raises(ValueError, match=r"activations: expected one of .* got 'softmax'"):
        notes.check_inputs(X, Y, p, "softmax")
