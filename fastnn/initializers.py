"""Initial parameters, drawn on the host from a seeded NumPy generator so that every engine
and both dtypes start from the same values."""

import numpy as np

from .validation import as_float_dtype, check_layers, check_seed

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

    `layer_dims` is [n_x, n^[1], ..., n^[L]]; `init` is one of INITIALIZERS, or a list with
    one per layer. Weights are drawn in float64, then cast, so a float32 run starts from
    the rounded float64 values.
    """
    layer_dims = check_layers(layer_dims, "layer_dims")
    dtype = as_float_dtype(dtype)
    check_seed(seed)
    inits = [init] * (len(layer_dims) - 1) if isinstance(init, str) else init
    if not isinstance(inits, (list, tuple)) or len(inits) != len(layer_dims) - 1:
        raise ValueError(f"init: expected one name or a list of {len(layer_dims) - 1} (one per layer), got {init!r}")
    rng = np.random.default_rng(seed)
    parameters = {}
    for l in range(1, len(layer_dims)):
        n, n_prev = layer_dims[l], layer_dims[l - 1]
        W = rng.standard_normal((n, n_prev)) * weight_scale(inits[l - 1], n_prev)
        parameters[f"W{l}"] = W.astype(dtype)
        parameters[f"b{l}"] = np.zeros((n, 1), dtype=dtype)
    return parameters


def default_init(activations):
    """Per layer: He scaling for a ReLU-family layer, Xavier for sigmoid/tanh ones.

    `activations` is [None, g^[1], ..., g^[L]], as the networks keep them.
    """
    return ["he" if name in ("relu", "leaky_relu") else "xavier" for name in activations[1:]]
