"""Backpropagation checked against centred finite differences, for every activation."""

import numpy as np
import pytest

import fastnn
from fastnn import ACTIVATIONS
from fastnn.backends.numpy_engine import NumpyEngine


def problem(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((12, 4))
    y = rng.integers(0, 2, 12)
    parameters = fastnn.initialize_parameters([4, 5, 3, 1], "he", seed=seed)
    # Non-zero biases keep every z away from the ReLU kink at exactly 0, where the
    # derivative does not exist and finite differences see half a slope.
    for key in ("b1", "b2", "b3"):
        parameters[key] = rng.uniform(0.1, 0.5, parameters[key].shape)
    return parameters, X, y


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_backprop_matches_finite_differences(activation):
    parameters, X, y = problem()
    assert fastnn.gradient_check(parameters, X, y, activation) < 1e-7


def test_mixed_activations_per_layer(engine):
    parameters, X, y = problem(1)
    assert fastnn.gradient_check(parameters, X, y, ["tanh", "leaky_relu"], engine=engine) < 1e-7


class WrongDerivative(NumpyEngine):
    """An engine with a deliberately wrong tanh derivative (1 - a instead of 1 - a^2)."""

    def backprop_activation(self, dA, A, activation, out=None):
        if activation == "tanh":
            return dA * (1 - A)
        return super().backprop_activation(dA, A, activation, out)


def test_a_wrong_derivative_is_caught():
    parameters, X, y = problem(2)
    assert fastnn.gradient_check(parameters, X, y, "tanh", engine=WrongDerivative()) > 1e-3


def test_gradient_check_leaves_parameters_untouched():
    parameters, X, y = problem(3)
    before = {k: v.copy() for k, v in parameters.items()}
    fastnn.gradient_check(parameters, X, y, "relu")
    for key in before:
        assert np.array_equal(parameters[key], before[key])
