"""Gradient checking: backpropagation's gradients against centred finite differences."""

import numpy as np

from .activations import layer_activations
from .backends import get_engine
from .propagation import backward, forward, from_engine, to_engine
from .validation import (
    check_class_targets,
    check_features,
    check_labels,
    check_parameters,
    check_positive,
    layers_of,
)


def gradient_check(parameters, X, y, activations="relu", epsilon=1e-7, engine="numpy"):
    """Return ||grad - approx|| / (||grad|| + ||approx||) over all parameters.

    approx_i = (J(theta_i + eps) - J(theta_i - eps)) / (2 eps), in float64; X is (m, n_x)
    with samples first and y has m labels: 0/1 for one output unit, class indices 0..K-1
    (or one-hot (m, K)) for a softmax output of K units. As the course reads it: about 1e-7 or less,
    backpropagation is right; around 1e-5, look closer; above 1e-3, there is a bug.
    """
    check_positive(epsilon, "epsilon")
    engine = get_engine(engine)
    X = check_features(X, "X", dtype=np.float64)
    layers = layers_of(parameters, X.shape[1])
    L, K = len(layers) - 1, layers[-1]
    Y = (check_labels(y, X.shape[0], "y") if K == 1
         else check_class_targets(y, X.shape[0], K, "y", classes=np.arange(K))[0])
    theta = check_parameters(parameters, layers, np.float64)
    keys = [f"{kind}{l}" for l in range(1, L + 1) for kind in "Wb"]
    acts = layer_activations(activations, L - 1, "activations", n_outputs=K)
    grads = _backprop_gradients(engine, theta, acts, X, Y)
    approx = _numerical_gradients(engine, theta, acts, X, Y, keys, epsilon)
    grad = np.concatenate([grads[key].ravel() for key in keys])
    numerical = np.concatenate([approx[key].ravel() for key in keys])
    return float(np.linalg.norm(grad - numerical) / (np.linalg.norm(grad) + np.linalg.norm(numerical)))


def _cost(engine, theta, acts, X, Y):
    """J(theta) through the engine's forward pass and cost."""
    weights, biases = to_engine(engine, theta)
    Z, _ = forward(engine, weights, biases, acts, engine.asarray(X))
    return float(engine.to_numpy(engine.cross_entropy_cost(Z[-1], engine.asarray(Y))))


def _backprop_gradients(engine, theta, acts, X, Y):
    """{"W1": dW1, "b1": db1, ...} from one forward and backward pass."""
    weights, biases = to_engine(engine, theta)
    _, A = forward(engine, weights, biases, acts, engine.asarray(X))
    dW, db = backward(engine, weights, acts, A, engine.asarray(Y))
    return from_engine(engine, dW, db)


def _numerical_gradients(engine, theta, acts, X, Y, keys, epsilon):
    """Centred differences, one parameter at a time."""
    approx = {}
    for key in keys:
        approx[key] = np.zeros_like(theta[key])
        for index in np.ndindex(theta[key].shape):
            original = theta[key][index]
            theta[key][index] = original + epsilon
            J_plus = _cost(engine, theta, acts, X, Y)
            theta[key][index] = original - epsilon
            J_minus = _cost(engine, theta, acts, X, Y)
            theta[key][index] = original
            approx[key][index] = (J_plus - J_minus) / (2 * epsilon)
    return approx
