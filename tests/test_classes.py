"""K-class networks as a user meets them: labels and classes_, one-hot targets, errors,
saving, the ten-digit data, and the cost and gradient against scikit-learn's log_loss
(PyTorch's CrossEntropyLoss: peers/test_pytorch.py, `python3 tasks.py peers`)."""

import numpy as np
import pytest

import fastnn
from fastnn import DeepNetwork, notes


@pytest.fixture(scope="module")
def digits10():
    return fastnn.datasets.load_digits(classes="all")


def three_blobs(m=90, seed=0):
    """Three well separated clusters in 2-D, labelled 0, 1, 2."""
    rng = np.random.default_rng(seed)
    labels = np.arange(m) % 3
    centres = np.array([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])
    return centres[labels] + rng.standard_normal((m, 2)) * 0.5, labels


def test_the_readme_example_reaches_95_percent_on_ten_digits(engine, digits10):
    net = DeepNetwork([64, 32, 10], "relu", learning_rate=0.5, epochs=300, engine=engine)
    net.fit(digits10.X_train, digits10.y_train)
    assert list(net.classes_) == list(range(10))
    assert net.score(digits10.X_test, digits10.y_test) >= 0.95
    proba = net.predict_proba(digits10.X_test)
    assert proba.shape == (450, 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-12)
    np.testing.assert_array_equal(net.predict(digits10.X_test), np.argmax(proba, axis=1))


def test_any_labels_map_through_classes(engine):
    X, labels = three_blobs()
    names = np.array(["owl", "cat", "emu"])[labels]  # not in sorted order
    net = DeepNetwork([2, 8, 3], "tanh", learning_rate=0.5, epochs=200, engine=engine).fit(X, names)
    assert list(net.classes_) == ["cat", "emu", "owl"]  # sorted, as scikit-learn's classes_
    predicted = net.predict(X)
    assert predicted.dtype.kind == "U" and np.mean(predicted == names) >= 0.95
    proba = net.predict_proba(X)
    np.testing.assert_array_equal(predicted, net.classes_[np.argmax(proba, axis=1)])
    assert net.score(X, names) == np.mean(predicted == names)


def test_one_hot_targets_train_exactly_like_labels(dtype):
    X, labels = three_blobs(m=31)
    X = X.astype(dtype)
    by_label = DeepNetwork([2, 4, 3], epochs=20, batch_size=8, engine="numpy").fit(X, labels + 10)
    one_hot = np.eye(3)[labels]
    by_one_hot = DeepNetwork([2, 4, 3], epochs=20, batch_size=8, engine="numpy").fit(X, one_hot)
    assert list(by_label.classes_) == [10, 11, 12] and list(by_one_hot.classes_) == [0, 1, 2]
    for key, value in by_label.parameters_.items():
        assert value.dtype == dtype
        np.testing.assert_array_equal(by_one_hot.parameters_[key], value)
    assert by_one_hot.score(X, one_hot) == by_label.score(X, labels + 10)


def test_two_classes_may_use_two_softmax_units():
    X, labels = three_blobs()
    keep = labels < 2
    net = DeepNetwork([2, 2], epochs=100, learning_rate=0.5, engine="numpy").fit(X[keep], labels[keep])
    assert net.activations_[-1] == "softmax" and net.predict_proba(X[keep]).shape == (keep.sum(), 2)
    assert net.score(X[keep], labels[keep]) >= 0.95


def test_the_first_cost_is_the_categorical_cross_entropy_of_the_start():
    X, labels = three_blobs(m=40)
    start = fastnn.initialize_parameters([2, 5, 3], "xavier", seed=3)
    net = DeepNetwork([2, 5, 3], "tanh", epochs=1, engine="numpy").fit(X, labels, initial_parameters=start)
    A1 = np.tanh(start["W1"] @ X.T + start["b1"])
    Z2 = start["W2"] @ A1 + start["b2"]
    log_a = Z2 - np.log(np.exp(Z2).sum(axis=0))
    assert net.history_[0] == pytest.approx(-np.mean(log_a[labels, np.arange(40)]), rel=1e-12)


@pytest.mark.parametrize("y, message", [
    (np.zeros(30), r"y: expected at least two classes, got only one: 0.0"),
    (np.arange(30) % 4, r"y: the labels hold 4 classes \(0, 1, 2, 3\), but the output layer has 3 units; "
                        r"expected one unit per class \(layers ending in 4\)"),
    (np.where(np.arange(30) == 7, np.nan, np.arange(30) % 3), r"y: expected finite numbers, got 1 NaN"),
    (np.eye(3)[np.arange(30) % 3] * 2, r"y: one-hot targets \(m, 3\) must hold a single 1 per row, the rest 0; row 0"),
    (np.arange(29) % 3, r"y: expected 30 labels \(one per example, i.e. per row of X\), got 29"),
    (np.zeros((30, 2)), r"y: expected 30 labels of shape \(30,\), or one-hot targets"),
    (np.array([None] * 30), r"y: expected labels that are numbers or strings, got an array of dtype object"),
    (np.arange(30) % 3 + 0.5, r"y: class labels must be whole numbers or strings, got fractional values: 0.5, 1.5, 2.5"),
])
def test_bad_labels_get_clear_errors(y, message):
    X = np.random.default_rng(0).standard_normal((30, 2))
    with pytest.raises((ValueError, TypeError), match=message):
        DeepNetwork([2, 4, 3], epochs=1, engine="numpy").fit(X, y)


def test_three_labels_for_one_output_unit_say_how_to_fix_it():
    X, labels = three_blobs(m=30)
    with pytest.raises(ValueError, match=r"y: labels must be 0 or 1, got other values: 2 .*end the layers with K"):
        DeepNetwork([2, 4, 1], epochs=1, engine="numpy").fit(X, labels)


def test_threshold_is_refused_for_k_classes():
    X, labels = three_blobs(m=30)
    net = DeepNetwork([2, 3], epochs=1, engine="numpy").fit(X, labels)
    with pytest.raises(ValueError, match="threshold: applies to one output unit only; this network has 3 classes"):
        net.predict(X, threshold=0.3)


def test_save_and_load_keep_the_classes(tmp_path, engine):
    X, labels = three_blobs()
    names = np.array(["owl", "cat", "emu"])[labels]
    net = DeepNetwork([2, 6, 3], "relu", learning_rate=0.3, epochs=30, engine="numpy").fit(X, names)
    loaded = fastnn.load(net.save(tmp_path / "k.npz"), engine=engine)
    assert loaded.classes_.dtype == net.classes_.dtype and list(loaded.classes_) == list(net.classes_)
    assert loaded.activations_[-1] == "softmax" and loaded.layers_ == [2, 6, 3]
    np.testing.assert_allclose(loaded.predict_proba(X), net.predict_proba(X), rtol=1e-12)
    np.testing.assert_array_equal(loaded.predict(X), net.predict(X))
    assert loaded.score(X, names) == net.score(X, names)


def test_binary_files_hold_no_classes_entry(tmp_path):
    X, labels = three_blobs()
    net = DeepNetwork([2, 3, 1], epochs=2, engine="numpy").fit(X, labels == 0)
    with np.load(net.save(tmp_path / "b.npz")) as data:
        assert sorted(data.files) == ["W1", "W2", "__header__", "b1", "b2"]


def test_ten_digit_data(digits10):
    assert digits10.X_train.shape == (1347, 64) and digits10.X_test.shape == (450, 64)
    counts = np.bincount(digits10.y_test)
    assert len(counts) == 10 and counts.min() >= 44 and counts.max() <= 46  # stratified: a quarter of each
    pair = fastnn.datasets.load_digits(classes=[1, 7])
    assert set(np.unique(pair.y_train)) == {1, 7}
    with pytest.raises(ValueError, match="classes: expected 'all' or a list of two or more different digits"):
        fastnn.datasets.load_digits(classes=[3])


# -- checks against the world ---------------------------------------------------------------


def _softmax_problem(K=4, m=15, seed=0):
    rng = np.random.default_rng(seed)
    parameters = fastnn.initialize_parameters([6, 5, K], "he", seed=seed)
    parameters["b2"] = rng.standard_normal((K, 1))
    X, labels = rng.standard_normal((6, m)), np.arange(m) % K
    return parameters, X, labels


def test_cost_and_gradient_equal_scikit_learn_log_loss(engine):
    from sklearn.metrics import log_loss

    parameters, X, labels = _softmax_problem()
    AL, caches = notes.forward_propagation(X, parameters, "relu", engine=engine)
    assert notes.compute_cost(AL, labels, engine=engine) == pytest.approx(log_loss(labels, AL.T), rel=1e-12)
    # The output gradient dZ^[L] / m is log_loss's derivative in the logits: centred differences.
    Z = caches[-1]["Z"]
    softmax = lambda logits: np.exp(logits - logits.max(axis=0)) / np.exp(logits - logits.max(axis=0)).sum(axis=0)
    numerical = np.zeros_like(Z)
    for index in np.ndindex(Z.shape):
        step = np.zeros_like(Z)
        step[index] = 1e-6
        numerical[index] = (log_loss(labels, softmax(Z + step).T, labels=range(4))
                            - log_loss(labels, softmax(Z - step).T, labels=range(4))) / 2e-6
    Y = np.eye(4)[labels]
    dZ = engine.to_numpy(engine.backprop_softmax_cross_entropy(engine.asarray(AL.T), engine.asarray(Y))).T
    np.testing.assert_allclose(dZ / X.shape[1], numerical, atol=1e-8)


@pytest.mark.parametrize("batch_size", [5, None], ids=["short-last-batch", "full-batch"])
def test_k_class_fit_matches_the_reference_trainer(engine, dtype, batch_size):
    """fit on every engine ends at the plain notes-style trainer's parameters and epoch costs."""
    import reference_trainer

    rng = np.random.default_rng(3)
    X, labels = rng.standard_normal((23, 4)).astype(dtype), rng.integers(0, 3, 23)
    labels[:3] = [0, 1, 2]  # every class present
    start = {k: v.astype(dtype) for k, v in fastnn.initialize_parameters([4, 5, 3], "xavier", seed=2).items()}
    net = DeepNetwork([4, 5, 3], "tanh", learning_rate=0.5, epochs=6, batch_size=batch_size, seed=7, engine=engine)
    net.fit(X, labels, initial_parameters=start)
    parameters, history = reference_trainer.train(start, X.T, np.eye(3)[labels].T, "tanh", learning_rate=0.5,
                                                  epochs=6, batch_size=batch_size, seed=7)
    tolerance = dict(rtol=2e-4, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(net.history_, history, **tolerance)
    for key, value in parameters.items():
        np.testing.assert_allclose(net.parameters_[key], value, **tolerance, err_msg=key)
