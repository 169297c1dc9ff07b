"""Arguments that used to slip through or fail deep inside NumPy: each now gets an error that
names the argument, what was expected and what came."""

import numpy as np
import pytest

import fastnn
from fastnn import DeepNetwork, LogisticRegression

X, Y = fastnn.datasets.make_flower(m=40)


def fit(layers=(2, 3, 1), **options):
    settings = dict(epochs=2, engine="numpy")
    settings.update(options)
    return DeepNetwork(layers if isinstance(layers, dict) else list(layers), **settings).fit(X, Y)


@pytest.mark.parametrize("options, error, message", [
    (dict(layers={0: 2, 1: 3, 2: 1}), ValueError, r"layers: expected sizes \[n_x, n_1, ..., K\] \(at least two\), got \{0: 2"),
    (dict(layers=(2, 1), activation="tanh"), ValueError, r"activation: layers \[2, 1\] have no hidden layer, so no activation applies"),
    (dict(layers=(2, 1), activation=["relu"]), ValueError, "have no hidden layer"),
    (dict(epochs=10**30), ValueError, r"epochs: expected at most 100,000,000 \(one cost is kept per epoch\), got 10{30}"),
    (dict(init=np.array(["he", "he"])), ValueError, r"init: expected one of 'small', .*'auto', got array"),
    (dict(init=["he", "he"]), ValueError, r"init: expected one of"),
    (dict(shuffle=np.array([True, False])), ValueError, r"shuffle: expected True or False, got array"),
    (dict(shuffle="no"), ValueError, r"shuffle: expected True or False, got 'no'"),
    (dict(shuffle=1), ValueError, r"shuffle: expected True or False, got 1"),
    (dict(shuffle=None), ValueError, r"shuffle: expected True or False, got None"),
])
def test_bad_constructor_arguments(options, error, message):
    with pytest.raises(error, match=message):
        fit(**options)


def test_the_cases_next_to_them_still_work():
    assert fit(layers=(2, 1)).activations_ == [None, "sigmoid"]           # no hidden layer, no activation
    assert fit(layers=(2, 1), activation=[]).activations_ == [None, "sigmoid"]
    assert fit(layers=(2, 3, 1)).activations_ == [None, "relu", "sigmoid"]  # None means relu
    assert fit(layers=np.array([2, 3, 1]), shuffle=np.True_, batch_size=8).layers_ == [2, 3, 1]
    assert LogisticRegression(epochs=2, engine="numpy").fit(X, Y).activations_ == [None, "sigmoid"]


@pytest.mark.parametrize("threshold", ["a", float("nan"), -0.1, 1.5, None, True, [0.5], float("inf")])
def test_predict_threshold_must_be_a_number_from_0_to_1(threshold):
    with pytest.raises(ValueError, match=r"threshold: expected a number from 0 to 1, got "):
        fit().predict(X, threshold=threshold)


def test_predict_thresholds_at_the_ends_and_numpy_numbers_work():
    net = fit()
    proba = net.predict_proba(X)
    assert net.predict(X, threshold=1).sum() == 0 and net.predict(X, threshold=0).sum() == (proba > 0).sum()
    np.testing.assert_array_equal(net.predict(X, threshold=np.float32(0.4)), (proba > np.float32(0.4)).astype(int))


@pytest.mark.parametrize("initial, error, message", [
    ("W1", TypeError, r"initial_parameters: expected a dict \{'W1': ..., 'b1': ..., ...\}, got str 'W1'"),
    ([("W1", 1)], TypeError, r"initial_parameters: expected a dict"),
    ({"W1": "abc", "b1": 0, "W2": 0, "b2": 0}, TypeError, r"initial_parameters\['W1'\]: expected real numbers, got an array of dtype <U3"),
    ({"W1": np.ones((3, 2)) * 1j, "b1": np.zeros((3, 1)), "W2": np.zeros((1, 3)), "b2": np.zeros((1, 1))},
     TypeError, r"initial_parameters\['W1'\]: expected real numbers, got an array of dtype complex128"),
    ({"W1": [[1, 2]] * 2 + [[1]], "b1": 0, "W2": 0, "b2": 0}, TypeError, r"initial_parameters\['W1'\]: expected a numeric array"),
])
def test_bad_initial_parameters_name_the_argument(initial, error, message):
    with pytest.raises(error, match=message):
        DeepNetwork([2, 3, 1], epochs=1, engine="numpy").fit(X, Y, initial_parameters=initial)


def test_initial_parameters_are_not_modified():
    start = fastnn.initialize_parameters([2, 3, 1], seed=4)
    before = {k: v.copy() for k, v in start.items()}
    DeepNetwork([2, 3, 1], epochs=3, engine="numpy").fit(X, Y, initial_parameters=start)
    for key in before:
        np.testing.assert_array_equal(start[key], before[key])
