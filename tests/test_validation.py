"""Bad input gets an error naming the argument, what was expected and what came."""

import numpy as np
import pytest

import fastnn
from fastnn import DeepNetwork

X_GOOD = np.random.default_rng(0).standard_normal((10, 3))
Y_GOOD = np.array([0, 1] * 5)


def fit(X=X_GOOD, y=Y_GOOD, **options):
    settings = dict(layers=[3, 2, 1], epochs=2, engine="numpy")
    settings.update(options)
    return DeepNetwork(**settings).fit(X, y)


@pytest.mark.parametrize("X, error, message", [
    (np.zeros(10), ValueError, r"X: expected a 2-D array of shape \(m examples, n features\), got an array of shape \(10,\)"),
    (np.zeros((0, 3)), ValueError, r"X: expected at least one example and one feature, got shape \(0, 3\)"),
    (np.array([["a", "b", "c"]] * 10), TypeError, r"X: expected real numbers, got an array of dtype <U1"),
    (np.where(np.eye(10, 3) > 0, np.nan, 1.0), ValueError, r"X: expected finite numbers, got 3 NaN or inf value\(s\), the first at index \(0, 0\)"),
    (np.full((10, 3), np.inf), ValueError, r"X: expected finite numbers, got 30 NaN or inf"),
])
def test_bad_features(X, error, message):
    with pytest.raises(error, match=message):
        fit(X=X)


@pytest.mark.parametrize("y, message", [
    (np.array([0, 1, 2] * 3 + [1]), r"y: labels must be 0 or 1, got other values: 2"),
    (np.array([0, 1] * 4), r"y: expected 10 labels \(one per example, i.e. per row of X\), got 8"),
    (np.zeros((10, 2)), r"y: expected shape \(10,\), \(10, 1\) or \(1, 10\), got \(10, 2\)"),
    (np.array([0, 1, -1.5] + [0] * 7), r"y: labels must be 0 or 1, got other values: -1.5"),
])
def test_bad_labels(y, message):
    with pytest.raises(ValueError, match=message):
        fit(y=y)


@pytest.mark.parametrize("options, message", [
    (dict(learning_rate=0), r"learning_rate: expected a positive number, got 0"),
    (dict(learning_rate=-0.1), r"learning_rate: expected a positive number, got -0.1"),
    (dict(batch_size=0), r"batch_size: expected a positive integer, got 0"),
    (dict(batch_size=2.5), r"batch_size: expected a positive integer, got 2.5"),
    (dict(epochs=0), r"epochs: expected a positive integer, got 0"),
    (dict(learning_rate=float("inf")), r"learning_rate: expected a positive number, got inf"),
    (dict(dtype="bogus"), r"dtype: expected float32 or float64, got 'bogus'"),
    (dict(activation=5), r"activation: expected a name or a list of 1 names, got 5"),
    (dict(layers=[4, 2, 1]), r"layers: the first size is n_x, the number of features, so expected 3 \(from X's 3 columns\), got 4"),
    (dict(layers=[3, 2, 3]), r"y: the labels hold 2 classes \(0, 1\), but the output layer has 3 units; "
                             r"expected one unit per class \(layers ending in 2\)"),
    (dict(layers=[3]), r"layers: expected sizes \[n_x, n_1, ..., K\]"),
    (dict(layers=[3, 0, 1]), r"layers: expected positive integers"),
    (dict(activation="softmax"), r"activation: expected one of 'sigmoid', 'tanh', 'relu', 'leaky_relu', got 'softmax'"),
    (dict(layers=[3, 2, 2, 1], activation=["relu"]), r"activation: expected one name or a list of 2"),
    (dict(init="ones"), r"init: expected one of 'small', 'he', 'xavier', 'zeros', 'auto', got 'ones'"),
    (dict(dtype="int32"), r"dtype: expected float32 or float64, got 'int32'"),
])
def test_bad_hyperparameters(options, message):
    with pytest.raises(ValueError, match=message):
        fit(**options)


def test_unknown_engine_in_fit():
    with pytest.raises(fastnn.UnknownEngineError, match="got 'torch'"):
        fit(engine="torch")


def test_predict_with_the_wrong_feature_count():
    net = fit()
    with pytest.raises(ValueError, match=r"X: expected 3 features per example \(the network's n_x\), got 4"):
        net.predict(np.zeros((2, 4)))


def test_initial_parameters_are_checked():
    bad = fastnn.initialize_parameters([3, 2, 1], seed=0)
    bad["W2"] = np.zeros((1, 5))
    with pytest.raises(ValueError, match=r"initial_parameters\['W2'\]: expected shape \(1, 2\), got \(1, 5\)"):
        DeepNetwork([3, 2, 1], epochs=1).fit(X_GOOD, Y_GOOD, initial_parameters=bad)
    del bad["W2"]
    with pytest.raises(ValueError, match="initial_parameters: missing 'W2'"):
        DeepNetwork([3, 2, 1], epochs=1).fit(X_GOOD, Y_GOOD, initial_parameters=bad)


def test_integer_and_boolean_inputs_are_accepted_as_numbers():
    net = fit(X=(X_GOOD > 0).astype(int), y=Y_GOOD.astype(bool))
    assert net.parameters_["W1"].dtype == np.float64


@pytest.mark.parametrize("seed", [-1, "a", 1.5, True])
def test_bad_seeds_are_named(seed):
    with pytest.raises(ValueError, match=r"seed: expected a non-negative integer"):
        fit(seed=seed)


@pytest.mark.parametrize("name", [["numpy"], {}, 3])
def test_engine_names_that_are_not_strings(name):
    with pytest.raises(fastnn.UnknownEngineError, match="engine: expected one of"):
        fastnn.get_engine(name)


def test_flatten_images_keeps_float32():
    assert fastnn.datasets.flatten_images(np.zeros((2, 4, 4, 3), np.float32), 1.0).dtype == np.float32
    assert fastnn.datasets.flatten_images(np.zeros((2, 4, 4, 3), np.uint8)).dtype == np.float64
