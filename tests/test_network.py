"""DeepNetwork and LogisticRegression: learning, reproducibility, dtypes, saving, divergence."""

import numpy as np
import pytest

import fastnn
from fastnn import DeepNetwork, LogisticRegression, TrainingDiverged


@pytest.fixture(scope="module")
def digits():
    return fastnn.datasets.load_digits()


def test_deep_network_learns_real_digits(engine, digits):
    net = DeepNetwork([64, 16, 8, 1], "relu", learning_rate=0.1, epochs=300, engine=engine)
    net.fit(digits.X_train, digits.y_train)
    assert net.history_[-1] < 0.1 * net.history_[0]
    assert net.score(digits.X_test, digits.y_test) >= 0.93


def test_mini_batches_learn_the_flower(engine):
    X, y = fastnn.datasets.make_flower()
    net = DeepNetwork([2, 8, 1], "tanh", learning_rate=0.5, epochs=300, batch_size=64, engine=engine)
    assert net.fit(X, y).score(X, y) >= 0.85


def test_logistic_regression_on_breast_cancer(engine):
    data = fastnn.datasets.load_breast_cancer()
    model = LogisticRegression(learning_rate=0.5, epochs=300, engine=engine).fit(data.X_train, data.y_train)
    assert model.score(data.X_test, data.y_test) >= 0.93
    assert model.coef_.shape == (30,) and np.isscalar(model.intercept_)


def test_same_seed_same_result_and_another_seed_differs(engine, dtype):
    X, y = fastnn.datasets.make_flower(m=100)
    X = X.astype(dtype)

    def run(seed):
        net = DeepNetwork([2, 5, 1], "relu", learning_rate=0.2, epochs=5, batch_size=32, seed=seed, engine=engine)
        return net.fit(X, y)

    first, again, other = run(1), run(1), run(2)
    assert first.history_ == again.history_
    assert all(np.array_equal(first.parameters_[k], again.parameters_[k]) for k in first.parameters_)
    assert not np.array_equal(first.parameters_["W1"], other.parameters_["W1"])


def test_dtype_is_preserved(engine, dtype):
    X, y = fastnn.datasets.make_flower(m=40)
    net = DeepNetwork([2, 3, 1], "sigmoid", epochs=3, engine=engine).fit(X.astype(dtype), y)
    assert all(value.dtype == dtype for value in net.parameters_.values())
    assert net.predict_proba(X).dtype == dtype
    forced = DeepNetwork([2, 3, 1], epochs=2, dtype="float32", engine=engine).fit(X, y)
    assert forced.parameters_["W1"].dtype == np.float32


def test_inputs_are_never_modified(engine):
    X, y = fastnn.datasets.make_flower(m=64)
    X_before, y_before = X.copy(), y.copy()
    start = fastnn.initialize_parameters([2, 4, 1], "he", seed=1)
    start_before = {k: v.copy() for k, v in start.items()}
    net = DeepNetwork([2, 4, 1], epochs=5, batch_size=16, engine=engine).fit(X, y, initial_parameters=start)
    net.predict(X)
    assert np.array_equal(X, X_before) and np.array_equal(y, y_before)
    assert all(np.array_equal(start[k], start_before[k]) for k in start)


def test_predictions_have_sample_first_shapes(digits):
    net = DeepNetwork([64, 4, 1], epochs=20, engine="numpy").fit(digits.X_train, digits.y_train.reshape(-1, 1))
    proba, labels = net.predict_proba(digits.X_test), net.predict(digits.X_test)
    assert proba.shape == labels.shape == (digits.X_test.shape[0],)
    assert np.all((proba >= 0) & (proba <= 1)) and set(np.unique(labels)) <= {0, 1}
    assert net.score(digits.X_test, digits.y_test) == fastnn.accuracy(digits.y_test, labels)


def test_history_is_the_mean_cost_per_epoch_and_callbacks_can_stop():
    X, y = fastnn.datasets.make_flower(m=100)
    seen = []
    net = DeepNetwork([2, 4, 1], "tanh", learning_rate=0.5, epochs=50, engine="numpy")
    net.fit(X, y, callback=lambda epoch, cost: seen.append((epoch, cost)) or epoch == 10, report_every=1)
    assert [epoch for epoch, _ in seen] == list(range(1, 11))
    assert net.history_ == [cost for _, cost in seen]


def test_cost_history_matches_a_fresh_forward_pass():
    """Full batch: each recorded cost is J of the parameters before that epoch's update."""
    X, y = fastnn.datasets.make_flower(m=50)
    start = fastnn.initialize_parameters([2, 3, 1], "xavier", seed=9)
    net = DeepNetwork([2, 3, 1], "tanh", epochs=1, engine="numpy").fit(X, y, initial_parameters=start)
    AL, _ = fastnn.notes.forward_propagation(X.T, start, "tanh")
    assert net.history_[0] == pytest.approx(fastnn.notes.compute_cost(AL, y[None]), rel=1e-9)


def test_save_and_load_round_trip_on_another_engine(tmp_path, digits):
    net = DeepNetwork([64, 6, 3, 1], ["tanh", "leaky_relu"], epochs=30, engine="numpy").fit(digits.X_train, digits.y_train)
    path = tmp_path / "net.npz"
    net.save(path)
    loaded = fastnn.load(path, engine="numba")
    assert loaded.layers_ == [64, 6, 3, 1] and loaded.activations_ == net.activations_
    np.testing.assert_allclose(loaded.predict_proba(digits.X_test), net.predict_proba(digits.X_test), rtol=1e-12)


def test_loading_a_foreign_file_fails_clearly(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, W1=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="not a fastnn network file"):
        fastnn.load(path)


def test_divergence_stops_with_an_error(engine):
    X, y = fastnn.datasets.make_flower(m=100)
    X = X * 1e150  # finite, but the cost overflows within a few steps
    net = DeepNetwork([2, 4, 1], "relu", learning_rate=1e5, epochs=20, init="he", engine=engine)
    with pytest.raises(TrainingDiverged, match="smaller learning rate"):
        net.fit(X, y)
    assert not hasattr(net, "parameters_")


def test_predict_before_fit_says_what_to_do():
    with pytest.raises(RuntimeError, match="not trained yet: call fit"):
        DeepNetwork([2, 1]).predict(np.zeros((1, 2)))
