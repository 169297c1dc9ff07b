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
    with pytest.raises(fastnn.InvalidModelFile, match="not a valid fastnn network file: it has no __header__"):
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


def test_logistic_regression_saves_and_loads_as_itself(tmp_path):
    data = fastnn.datasets.load_breast_cancer()
    model = LogisticRegression(learning_rate=0.5, epochs=50, engine="numpy").fit(data.X_train, data.y_train)
    path = model.save(tmp_path / "lr")  # no extension: .npz is added and returned
    assert str(path).endswith("lr.npz")
    for loaded in (fastnn.load(tmp_path / "lr"), LogisticRegression.load(path)):
        assert type(loaded) is LogisticRegression and loaded.learning_rate == 0.5 and loaded.epochs == 50
        np.testing.assert_array_equal(loaded.coef_, model.coef_)
        assert loaded.score(data.X_test, data.y_test) == model.score(data.X_test, data.y_test)


def test_stopping_early_keeps_history_and_weights_in_step():
    X, y = fastnn.datasets.make_flower(m=100)
    start = fastnn.initialize_parameters([2, 4, 1], "xavier", seed=1)
    stopped = DeepNetwork([2, 4, 1], "tanh", epochs=300, engine="numpy")
    stopped.fit(X, y, initial_parameters=start, report_every=10, callback=lambda epoch, cost: epoch == 3)
    assert len(stopped.history_) == 10  # the callback saw epoch 3 at the read after epoch 10
    ten = DeepNetwork([2, 4, 1], "tanh", epochs=10, engine="numpy").fit(X, y, initial_parameters=start)
    np.testing.assert_array_equal(stopped.parameters_["W1"], ten.parameters_["W1"])
    once = DeepNetwork([2, 4, 1], "tanh", epochs=300, engine="numpy")
    once.fit(X, y, initial_parameters=start, callback=lambda epoch, cost: epoch == 3)
    assert len(once.history_) == 3  # with a callback, costs are read every epoch by default


def test_auto_init_scales_each_layer_by_its_own_activation():
    X, y = fastnn.datasets.make_flower(m=20)
    net = DeepNetwork([2, 400, 400, 1], ["tanh", "relu"], epochs=1, learning_rate=1e-9, engine="numpy").fit(X, y)
    assert net.parameters_["W1"].std() == pytest.approx(np.sqrt(1 / 2), rel=0.05)  # Xavier for tanh
    assert net.parameters_["W2"].std() == pytest.approx(np.sqrt(2 / 400), rel=0.05)  # He for relu


def test_scikit_learn_style_parameters():
    net = DeepNetwork([2, 3, 1], "tanh", learning_rate=0.3)
    params = net.get_params()
    assert params["layers"] == [2, 3, 1] and params["learning_rate"] == 0.3 and "seed" in params
    copy = DeepNetwork(**params).set_params(epochs=7)
    assert copy.epochs == 7 and copy.activation == "tanh"
    with pytest.raises(ValueError, match="momentum: not a parameter of DeepNetwork"):
        net.set_params(momentum=0.9)
    assert repr(LogisticRegression(epochs=5)).startswith("LogisticRegression(learning_rate=0.01, epochs=5")


def test_score_checks_the_labels():
    X, y = fastnn.datasets.make_flower(m=40)
    net = DeepNetwork([2, 3, 1], epochs=2, engine="numpy").fit(X, y)
    with pytest.raises(ValueError, match="y: labels must be 0 or 1"):
        net.score(X, y * 2)
    with pytest.raises(ValueError, match=r"y: expected 40 labels"):
        net.score(X, y[:-1])
    assert net.n_features_in_ == 2 and list(net.classes_) == [0, 1]


def test_saving_works_for_layers_given_as_an_array(tmp_path):
    X, y = fastnn.datasets.make_flower(m=40)
    net = DeepNetwork(np.array([2, 3, 1]), epochs=2, engine="numpy").fit(X, y)
    loaded = fastnn.load(net.save(tmp_path / "net.npz"), engine="numpy")
    np.testing.assert_array_equal(loaded.predict_proba(X), net.predict_proba(X))
    with pytest.raises(ValueError, match="path: holds a DeepNetwork, not a LogisticRegression"):
        LogisticRegression.load(tmp_path / "net.npz")
