"""The notes' steps one by one, in the notes' own shapes, on any engine.

X is (n_x, m), Y is (1, m) (one-hot (K, m) for K classes), W^[l] is (n^[l], n^[l-1]), b^[l] is (n^[l], 1), and parameters,
caches and gradients are dicts keyed as in the course ("W1", "dW1", ...).

On the host engines (numpy, numba) the forward and backward steps work in these shapes
directly, with NumPy for the products and sums and the engine's own activations and their
derivatives, so a step costs what the course's code costs; an engine whose arrays live
on a device runs them through fastnn.propagation, as training does. Either way they
compute the notes' equations as DeepNetwork does (tests/test_notes*.py hold them to both).
The cost and the update are a few passes over host arrays and run in NumPy.
"""

import functools
import math

import numpy as np

from .activations import SOFTMAX, layer_activations, output_activation
from .backends import get_engine
from .initializers import initialize_parameters
from .propagation import backward, forward, from_engine, to_engine
from .validation import (
    as_float_dtype,
    check_class_targets,
    check_features,
    check_labels,
    check_parameters,
    check_positive,
    layers_of,
)

__all__ = [
    "initialize_parameters",
    "check_inputs",
    "forward_propagation",
    "softmax",
    "compute_cost",
    "backward_propagation",
    "update_parameters",
    "logistic_gradients_loop",
    "logistic_gradients_vectorized",
    "computation_graph_example",
]


def check_inputs(X, Y, parameters, activations="relu"):
    """Check X (n_x, m), Y (1, m), the parameters and the activation names once; return
    (X, Y, parameters) as float arrays of X's dtype, ready for the steps with check=False.
    For K output units, Y comes back one-hot (K, m) (given so or as class indices (1, m)).

    The steps check every input on every call by default; a training loop that calls them
    thousands of times checks once here and passes check=False, as the course's code does.
    """
    X_rows = check_features(np.asarray(X).T, "X (transposed: examples are its columns)")
    _check_orientation(X_rows.T, parameters)
    layers, checked = _checked_parameters(parameters, X_rows.shape[1], X_rows.dtype)
    layer_activations(activations, len(layers) - 2, "activations", n_outputs=layers[-1])
    Y = _targets(Y, X_rows.shape[0], layers[-1], X_rows.dtype).T
    return X_rows.T, Y, checked


def forward_propagation(X, parameters, activations="relu", engine=None, check=True):
    """Return (AL, caches): the output layer's AL, and one cache per layer.

    `activations` is one name for every hidden layer or a list with one per hidden layer.
    The output layer is chosen by its K units: AL = sigma(Z^[L]) of shape (1, m) for K = 1,
    AL = softmax(Z^[L]) of shape (K, m), each column summing to 1, for K > 1. caches[l-1] holds the notes' (A_prev, W, b, Z) of
    layer l plus its activation name, as NumPy arrays of the engine's results.
    check=False skips the input checks (after check_inputs) and uses the parameters as given.
    """
    engine = get_engine(engine)
    if check:
        X_rows = check_features(np.asarray(X).T, "X (transposed: examples are its columns)")
        _check_orientation(X_rows.T, parameters)
        layers, parameters = _checked_parameters(parameters, X_rows.shape[1], X_rows.dtype)
        acts = layer_activations(activations, len(layers) - 2, "activations", n_outputs=layers[-1])
        X = X_rows.T
    else:
        L = len(parameters) // 2
        acts = _activations(activations, L - 1, len(parameters[_keys(L)[-1][0]]))  # len: W^[L]'s K rows
    if engine.device_kind == "cpu":
        return _forward_on_host(engine, X, parameters, acts)
    return _forward_on_device(engine, X, parameters, acts)


def _forward_on_host(engine, X, parameters, acts):
    """The forward on NumPy arrays in the notes' own layout: Z = W A_prev + b, then the engine's g.

    The engines' row layout would cost a strided bias broadcast and the engines' per-call
    checks on every layer, several times the work itself on small layers; g is elementwise
    (softmax per column), so the engine computes it on the notes' layout as it stands.
    """
    A, caches = X, []
    for (W_key, b_key, _, _), activation in zip(_keys(len(acts) - 1), acts[1:]):
        W, b = parameters[W_key], parameters[b_key]
        Z = np.dot(W, A)
        Z += b
        A_next = engine.activation(Z, activation) if activation != SOFTMAX else engine.activation(Z.T, SOFTMAX).T
        caches.append({"A_prev": A, "W": W, "b": b, "Z": Z, "activation": activation})
        A = A_next
    return A, caches


def _forward_on_device(engine, X, parameters, acts):
    """The forward through propagation.forward on the engine's arrays, the results brought back."""
    L = len(acts) - 1
    Z, A = forward(engine, *to_engine(engine, parameters), acts, engine.asarray(X.T))
    to_numpy = engine.to_numpy
    caches = [{"A_prev": to_numpy(A[l - 1]).T, "W": parameters[f"W{l}"], "b": parameters[f"b{l}"],
               "Z": to_numpy(Z[l]).T, "activation": acts[l]} for l in range(1, L + 1)]
    return to_numpy(A[-1]).T, caches


def softmax(Z, engine=None):
    """Return A = softmax(Z) for Z of shape (K, m): a_k = e^(z_k) / sum_j e^(z_j) in each column.

    The engine subtracts each column's max first (the result is the same), so no
    exponent is positive and no finite z overflows.
    """
    engine = get_engine(engine)
    Z_rows = check_features(np.asarray(Z).T, "Z (transposed: examples are its columns)")
    return engine.to_numpy(engine.activation(engine.asarray(Z_rows), "softmax")).T


def compute_cost(AL, Y, engine=None, check=True):
    """Return the cross-entropy cost J of the output layer's AL against Y.

    K = 1 (AL and Y of shape (1, m)): J = -(1/m) sum [y log(a) + (1 - y) log(1 - a)].
    K > 1 (AL of shape (K, m), Y one-hot (K, m) or class indices (1, m)):
    J = -(1/m) sum_i sum_k y_k log a_k. a is clipped one rounding step inside (0, 1) (at
    the smallest normal number for K > 1), so no log is of 0, and log(1 - a) is taken as
    log1p(-a), exact for a small a. check=False skips the checks of AL and Y (then Y is as
    check_inputs returns it). The cost is a few passes over AL on the host, where the
    steps return it: `engine` is accepted for symmetry with the other steps.
    """
    if check:
        get_engine(engine)  # an unknown engine name is still refused here
        AL = np.asarray(AL)
        if AL.ndim != 2:
            raise ValueError(f"AL: expected shape (1, m) or (K, m), the output layer's activations, got {AL.shape}")
        AL = check_features(AL.T, "AL")
        if AL.min() < 0 or AL.max() > 1:
            raise ValueError(f"AL: expected probabilities in [0, 1], got values from {AL.min()} to {AL.max()}")
        Y = _targets(Y, AL.shape[0], AL.shape[1], AL.dtype).T
        AL = AL.T
    tiny, below_one = _clip_limits(AL.dtype)
    m = AL.shape[1]
    if AL.shape[0] > 1:  # softmax: only each example's true class counts
        return -float(np.vdot(Y, np.log(np.maximum(AL, tiny)))) / m
    a = np.minimum(np.maximum(AL, tiny), below_one).reshape(-1)  # np.clip, without its wrapper's cost
    y = np.reshape(Y, -1)
    return -float(np.dot(y, np.log(a)) + np.dot(1 - y, np.log1p(-a))) / m


def backward_propagation(AL, Y, caches, engine=None, check=True):
    """Return grads {"dW1", "db1", ...} from forward_propagation's AL and caches.

    Starts from dZ^[L] = AL - Y (sigmoid or softmax with its cross-entropy: the same
    formula), then the notes' loop for l = L..1; grads has the shapes of the parameters.
    Y is as compute_cost takes it. check=False skips the check of Y.
    """
    engine = get_engine(engine)
    dtype = caches[0]["A_prev"].dtype
    AL = AL if getattr(AL, "ndim", None) == 2 else np.reshape(AL, (1, -1))
    if check:
        Y = _targets(Y, AL.shape[1], AL.shape[0], dtype).T
        caches = [{"A_prev": np.asarray(cache["A_prev"], dtype=dtype), "W": np.asarray(cache["W"], dtype=dtype),
                   "activation": cache["activation"]} for cache in caches]
        AL = np.asarray(AL, dtype=dtype)
    else:
        Y = np.asarray(Y, dtype=dtype)
    if engine.device_kind == "cpu":
        return _backward_on_host(engine, AL, Y, caches)
    return _backward_on_device(engine, AL, Y, caches)


def _backward_on_host(engine, AL, Y, caches):
    """The backward on NumPy arrays in the notes' own layout; the engine computes g'(Z)."""
    L = len(caches)
    inverse_m = 1.0 / AL.shape[1]
    dW, db = [None] * (L + 1), [None] * (L + 1)
    dZ = AL - Y
    for l in range(L, 0, -1):
        A_prev = caches[l - 1]["A_prev"]
        dW[l] = np.dot(dZ, A_prev.T)
        dW[l] *= inverse_m
        db[l] = np.add.reduce(dZ, axis=1, keepdims=True)  # np.sum, without its wrapper's cost
        db[l] *= inverse_m
        if l > 1:
            dA_prev = np.dot(caches[l - 1]["W"].T, dZ)
            dZ = engine.backprop_activation(dA_prev, A_prev, caches[l - 2]["activation"])
    grads = {}
    for l, (_, _, dW_key, db_key) in enumerate(_keys(L), start=1):
        grads[dW_key], grads[db_key] = dW[l], db[l]
    return grads


def _backward_on_device(engine, AL, Y, caches):
    """The backward through propagation.backward on the engine's arrays, the gradients brought back."""
    asarray = engine.asarray
    acts = [None] + [cache["activation"] for cache in caches]
    weights = [None] + [asarray(cache["W"]) for cache in caches]
    A = [asarray(a.T) for a in [cache["A_prev"] for cache in caches] + [AL]]
    dW, db = backward(engine, weights, acts, A, asarray(Y.T))
    return from_engine(engine, dW, db, prefix="d")


def update_parameters(parameters, grads, learning_rate, engine=None, check=True):
    """Return new parameters W := W - alpha dW, b := b - alpha db; the inputs are not modified.

    Each is computed as the course writes it, in the parameter's dtype (integer parameters
    become np.result_type(dtype, float32)). A few passes over host arrays: `engine` is
    accepted for symmetry with the other steps. check=False skips the checks that grads
    match the parameters.
    """
    keys = [key for key in parameters if key[0] in "Wb"]
    if check:
        get_engine(engine)  # an unknown engine name is still refused here
        check_positive(learning_rate, "learning_rate")
        for key in keys:
            if "d" + key not in grads:
                raise ValueError(f"grads: missing 'd{key}' (backward_propagation returns one per parameter)")
            if np.shape(grads["d" + key]) != np.shape(parameters[key]):
                raise ValueError(f"grads['d{key}']: expected shape {np.shape(parameters[key])} (that of {key}), "
                                 f"got {np.shape(grads['d' + key])}")
    return {key: _descend(parameters[key], grads["d" + key], learning_rate) for key in keys}


def _descend(param, grad, learning_rate):
    """param - learning_rate * grad in param's float dtype, as a new array (one, for float arrays)."""
    step = np.multiply(grad, learning_rate)
    if type(param) is np.ndarray and param.dtype == step.dtype and param.dtype.kind == "f":
        return np.subtract(param, step, out=step)  # the common case: two NumPy calls
    param = np.asarray(param)
    if param.dtype.kind != "f":
        param = param.astype(np.result_type(param.dtype, np.float32))
    # grad in param's dtype first, and the product rounded to it (a float64 rate, a wider grad)
    step = np.multiply(np.asarray(grad, dtype=param.dtype), learning_rate, out=np.empty(param.shape, param.dtype))
    return np.subtract(param, step, out=step)


def logistic_gradients_loop(w, b, X, Y):
    """Return (cost, dw, db) for logistic regression with the notes' explicit loop over examples.

    Per example: z = w^T x + b, a = sigma(z), dz = a - y, dw += x dz, db += dz; then / m.
    This is the slow form the notes replace by logistic_gradients_vectorized.
    """
    n_x, m = _check_logistic_shapes(w, X, Y)
    cost, dw, db = 0.0, np.zeros(n_x, dtype=np.result_type(X, w, np.float32)), 0.0
    for i in range(m):
        z = float(np.dot(w[:, 0], X[:, i])) + b
        y = float(Y[0, i])
        # sigma(z) as the engines compute it: no overflow, full relative accuracy for z < 0.
        a = 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))
        cost += max(z, 0.0) - y * z + math.log1p(math.exp(-abs(z)))  # -[y log a + (1-y) log(1-a)]
        dz = a - y
        dw += X[:, i] * dz
        db += dz
    return cost / m, (dw / m).reshape(n_x, 1), db / m


def logistic_gradients_vectorized(w, b, X, Y, engine=None):
    """Return (cost, dw, db) vectorised over all m examples: Z = w^T X + b, A = sigma(Z), dZ = A - Y.

    Logistic regression is the one-layer network, so this is forward_propagation,
    compute_cost and backward_propagation with no hidden layer.
    """
    _check_logistic_shapes(w, X, Y)
    engine = get_engine(engine)
    parameters = {"W1": np.asarray(w).T, "b1": np.reshape(b, (1, 1)).astype(np.asarray(w).dtype)}
    AL, caches = forward_propagation(X, parameters, [], engine)
    grads = backward_propagation(AL, Y, caches, engine)
    Z, Y_column = engine.asarray(caches[-1]["Z"].T), engine.asarray(_label_row(Y, AL.size, AL.dtype))
    cost = float(engine.to_numpy(engine.cross_entropy_cost(Z, Y_column)))  # from z: exact for any z
    return cost, grads["dW1"].T, grads["db1"].item()


def computation_graph_example(a, b, c):
    """The notes' worked example J(a, b, c) = 3(a + bc), forward then backward through its graph.

    Forward: u = bc, v = a + u, J = 3v. Backward, right to left by the chain rule:
    dJ/dv = 3, dJ/da = dJ/dv * dv/da = 3, dJ/du = 3, dJ/db = dJ/du * c, dJ/dc = dJ/du * b.
    Returns (J, {"a": dJ/da, "b": dJ/db, "c": dJ/dc}).
    """
    u = b * c
    v = a + u
    J = 3 * v
    dJ_dv = 3
    dJ_da = dJ_dv * 1
    dJ_du = dJ_dv * 1
    return J, {"a": dJ_da, "b": dJ_du * c, "c": dJ_du * b}


@functools.lru_cache(maxsize=64)
def _clip_limits(dtype):
    """(tiny, 1 - eps/2): AL clipped one rounding step inside (0, 1) so both logs are finite."""
    info = np.finfo(dtype)
    return info.tiny, 1 - info.eps / 2


def _activations(activations, n_hidden, n_outputs):
    """layer_activations without re-checking the names (check_inputs did): (None, g1, ..., g^[L])."""
    if isinstance(activations, str):
        return _named_activations(activations, n_hidden, n_outputs)
    return (None, *activations, output_activation(n_outputs))


@functools.lru_cache(maxsize=64)
def _keys(L):
    """(("W1", "b1", "dW1", "db1"), ...) for L layers: built once, not formatted on every step."""
    return tuple((f"W{l}", f"b{l}", f"dW{l}", f"db{l}") for l in range(1, L + 1))


@functools.lru_cache(maxsize=64)
def _named_activations(activation, n_hidden, n_outputs):
    """_activations for one name: the same few networks' tuples on every step, built once."""
    return (None, *[activation] * n_hidden, output_activation(n_outputs))


def _checked_parameters(parameters, n_x, dtype):
    """Check parameters against X; return (layers, copies of the parameters in `dtype`)."""
    layers = layers_of(parameters, n_x)
    return layers, check_parameters(parameters, layers, as_float_dtype(dtype), "parameters")


def _check_orientation(X, parameters):
    """Catch the most common slip, X given samples first (m, n_x): say so with X's own shape."""
    n_x = np.shape(parameters.get("W1", ()))[-1:] or (None,)
    rows, columns = np.shape(X)
    if n_x[0] not in (None, rows) and n_x[0] == columns:
        raise ValueError(
            f"X: the notes' functions take X of shape (n_x, m), examples as columns; this X has shape "
            f"{(rows, columns)}, {rows} rows, but W1 expects n_x = {n_x[0]} rows (features): it looks "
            f"samples first, pass X.T"
        )


def _check_logistic_shapes(w, X, Y):
    """w must be (n_x, 1) and Y (1, m) for X of (n_x, m); return (n_x, m)."""
    if np.ndim(X) != 2:
        raise ValueError(f"X: expected shape (n_x, m), examples as columns, got {np.shape(X)}")
    n_x, m = np.shape(X)
    if np.shape(w) != (n_x, 1):
        raise ValueError(f"w: expected shape ({n_x}, 1), a column of n_x weights, got {np.shape(w)}")
    if np.shape(Y) != (1, m):
        raise ValueError(f"Y: expected shape (1, {m}), one label per column of X, got {np.shape(Y)}")
    return n_x, m


def _targets(Y, m, K, dtype):
    """The notes' targets as the engines' rows: (m, 1) of 0/1 for K = 1, else one-hot (m, K).

    For K > 1, Y is one-hot (K, m) or class indices 0..K-1 of shape (1, m) or (m,).
    """
    if K == 1:
        return _label_row(Y, m, dtype)
    Y = np.asarray(Y)
    if Y.shape == (K, m):
        return check_class_targets(Y.T, m, K, "Y", dtype=dtype)[0]
    if Y.shape in ((1, m), (m,)):
        return check_class_targets(Y.reshape(m), m, K, "Y", dtype=dtype, classes=np.arange(K))[0]
    raise ValueError(f"Y: expected one-hot targets of shape ({K}, {m}) or class indices of shape (1, {m}), got {Y.shape}")


def _label_row(Y, m, dtype):
    """Labels Y of shape (1, m) (or (m,)) as the engines' column (m, 1)."""
    Y = np.asarray(Y)
    if Y.shape not in ((1, m), (m,)):
        raise ValueError(f"Y: expected shape (1, {m}) (one label per column of X), got {Y.shape}")
    return check_labels(Y.reshape(m), m, "Y", dtype=dtype)
