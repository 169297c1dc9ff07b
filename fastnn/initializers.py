"""Initial parameters, drawn on the host from a seeded NumPy generator so that every engine
and both dtypes start from the same values."""

import numpy as np

from .validation import as_float_dtype, check_layers

INITIALIZERS = ("small", "he", "xavier")


def weight_scale(init, n_prev):
    """The factor on standard normal draws: the notes' 0.01, He's sqrt(2/n), Xavier's sqrt(1/n)."""
    if init == "small":
        return 0.01
    if init == "he":
        return np.sqrt(2.0 / n_prev)
    if init == "xavier":
        return np.sqrt(1.0 / n_prev)
    raise ValueError(f"init: expected one of {', '.join(map(repr, INITIALIZERS))}, got {init!r}")


def initialize_parameters(layer_dims, init="small", seed=0, dtype=np.float64):
    """Return {"W1": ..., "b1": ..., ..., "WL", "bL"}: W^[l] = randn(n^[l], n^[l-1]) * scale, b^[l] = 0.

    `layer_dims` is [n_x, n^[1], ..., n^[L]]. Weights are drawn in float64, then cast, so a
    float32 run starts from the rounded float64 values.
    """
    layer_dims = check_layers(layer_dims, "layer_dims")
    dtype = as_float_dtype(dtype)
    rng = np.random.default_rng(seed)
    parameters = {}
    for l in range(1, len(layer_dims)):
        n, n_prev = layer_dims[l], layer_dims[l - 1]
        W = rng.standard_normal((n, n_prev)) * weight_scale(init, n_prev)
        parameters[f"W{l}"] = W.astype(dtype)
        parameters[f"b{l}"] = np.zeros((n, 1), dtype=dtype)
    return parameters


def default_init(hidden_activations):
    """He scaling for ReLU-family hidden layers, Xavier for sigmoid/tanh (the notes' 0.01 on request)."""
    relu_family = {"relu", "leaky_relu"}
    return "he" if hidden_activations and hidden_activations[0] in relu_family else "xavier"
