"""Initial parameters, drawn on the host from a seeded NumPy generator so that every engine
and both dtypes start from the same values.

With seed=np.random.RandomState(s) the draws are the course's after np.random.seed(s):
randn(n^[l], n^[l-1]) for each layer in layer order, then scaled with the course's own
operation (the planar and 2-layer assignments' * 0.01, the deep one's / sqrt(n^[l-1])).
"""

import numpy as np

from .seeding import random_generator
from .validation import as_float_dtype, check_layers

INITIALIZERS = ("small", "he", "xavier", "zeros")


def scaled_weights(draws, init, n_prev):
    """Scale standard normal draws as the course writes it, so the rounding is the course's:
    "small" draws * 0.01, "he" draws * sqrt(2 / n), "xavier" draws / sqrt(n) (the deep
    application's init), "zeros" zeros (logistic regression's initialize_with_zeros)."""
    # In place: the same products and quotients, without a second weight-sized array.
    if init == "small":
        draws *= 0.01
        return draws
    if init == "he":
        draws *= np.sqrt(2.0 / n_prev)
        return draws
    if init == "xavier":
        draws /= np.sqrt(n_prev)
        return draws
    raise ValueError(f"init: expected one of {', '.join(map(repr, INITIALIZERS))}, got {init!r}")


def initialize_parameters(layer_dims, init="small", seed=0, dtype=np.float64):
    """Return {"W1": ..., "b1": ..., ..., "WL", "bL"}: W^[l] = randn(n^[l], n^[l-1]) scaled, b^[l] = 0.

    `layer_dims` is [n_x, n^[1], ..., n^[L]]; `init` is one of INITIALIZERS, or a list with
    one per layer ("zeros" layers draw nothing). `seed` is an integer (NumPy's default_rng),
    a np.random.RandomState (used and advanced: the course's legacy draws) or None. Weights
    are drawn in float64, then cast, so a float32 run starts from the rounded float64 values.
    """
    layer_dims = check_layers(layer_dims, "layer_dims")
    dtype = as_float_dtype(dtype)
    inits = [init] * (len(layer_dims) - 1) if isinstance(init, str) else init
    if not isinstance(inits, (list, tuple)) or len(inits) != len(layer_dims) - 1:
        raise ValueError(f"init: expected one name or a list of {len(layer_dims) - 1} (one per layer), got {init!r}")
    for name in inits:
        if name not in INITIALIZERS:
            raise ValueError(f"init: expected one of {', '.join(map(repr, INITIALIZERS))}, got {name!r}")
    rng = random_generator(seed) if set(inits) != {"zeros"} else None  # default_rng costs ~70 us
    parameters = {}
    for l in range(1, len(layer_dims)):
        n, n_prev = layer_dims[l], layer_dims[l - 1]
        if inits[l - 1] == "zeros":
            W = np.zeros((n, n_prev))
        else:
            W = scaled_weights(rng.standard_normal((n, n_prev)), inits[l - 1], n_prev)
        parameters[f"W{l}"] = W.astype(dtype, copy=False)  # float64 draws are not copied again
        parameters[f"b{l}"] = np.zeros((n, 1), dtype=dtype)
    return parameters


def default_init(activations):
    """Per layer: He scaling for a ReLU-family layer, Xavier for sigmoid/tanh ones.

    `activations` is [None, g^[1], ..., g^[L]], as the networks keep them.
    """
    return ["he" if name in ("relu", "leaky_relu") else "xavier" for name in activations[1:]]
