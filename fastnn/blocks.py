"""Work done where a block of rows lives: checks, gradient sums and predictions for one block.

Each function runs on a Dask worker (or a local thread) on one block of X and y, on the
engine that worker has, through fastnn's shared propagation code; it takes and returns
plain NumPy values and never imports Dask. Parameters travel as {"W1": ..., "b1": ...}.
"""

import functools
import socket

import numpy as np

from .backends import get_engine
from .propagation import cost_and_gradients, forward, to_engine
from .validation import check_features, check_targets


def check_block(X, y, index, start, engine_name, dtype, n_outputs=1, classes=None):
    """Return what is wrong with block `index` (rows from `start`) as a sentence, or None.

    Runs before training where the block lives, so NaN in a block of a 490 GB array is
    found without moving the block; it also proves the worker has the engine asked for.
    """
    where = f"block {index} (rows {start} to {start + X.shape[0] - 1})"
    try:
        get_engine(engine_name)
    except (ValueError, RuntimeError) as error:
        return f"engine: the Dask worker on {socket.gethostname()} cannot run {engine_name!r}: {error}"
    try:
        check_features(np.asarray(X), f"X, {where}", dtype=dtype)
        check_targets(np.asarray(y), X.shape[0], n_outputs, f"y, {where}", classes=classes)
    except (ValueError, TypeError) as error:
        return str(error)
    return None


def gradient_sums(X, y, parameters, activations, engine_name, dtype, batch=None, classes=None):
    """Return (rows, loss sum, {"W1": sum of dW1, "b1": ...}) over the block's rows.

    Sums, not means, so that blocks of any size add up to the whole batch's gradient.
    `batch` = (seed, epoch, index, step, steps) picks this block's share of a shuffled
    mini-batch (see batch_rows); None uses every row (full-batch gradient descent).
    K output units take labels looked up in `classes` (the whole data's), or one-hot y.
    """
    engine = get_engine(engine_name)
    n_outputs = parameters[f"W{len(activations) - 1}"].shape[0]
    Y, _ = check_targets(np.asarray(y), X.shape[0], n_outputs, "y", dtype=dtype, classes=classes)
    X, Y = engine.asarray(X, dtype=dtype), engine.asarray(Y)
    if batch is not None:
        rows = engine.asarray(batch_rows(X.shape[0], *batch))
        X, Y = engine.take_rows(X, rows), engine.take_rows(Y, rows)
    m = X.shape[0]
    if m == 0:
        return 0, 0.0, {key: np.zeros_like(value) for key, value in parameters.items()}
    weights, biases = to_engine(engine, parameters)
    cost, dW, db = cost_and_gradients(engine, weights, biases, activations, X, Y)
    sums = {}
    for l in range(1, len(weights)):
        sums[f"W{l}"], sums[f"b{l}"] = engine.to_numpy(dW[l]) * m, engine.to_numpy(db[l]) * m
    return m, float(engine.to_numpy(cost)) * m, sums


def add_sums(a, b):
    """The sum of two gradient_sums results (one node of the reduction tree)."""
    return a[0] + b[0], a[1] + b[1], {key: a[2][key] + b[2][key] for key in a[2]}


def batch_rows(m, seed, epoch, index, step, steps):
    """Rows of a block of m rows that go into global mini-batch `step` of `steps` this epoch.

    The block's rows are shuffled once per epoch by a generator seeded with (seed, epoch,
    block index), so the choice depends on neither the worker nor the order of tasks (seed
    None keeps the rows in order); step s takes the s-th of `steps` near-equal slices, so
    each block gives every step its share in proportion to its rows.
    """
    order = _epoch_order(m, seed, epoch, index)
    return order[step * m // steps:(step + 1) * m // steps]


@functools.lru_cache(maxsize=64)
def _epoch_order(m, seed, epoch, index):
    # Cached: every step of an epoch asks for the same block's permutation again.
    if seed is None:
        return np.arange(m)
    return np.random.default_rng([seed, epoch, index]).permutation(m)


def predict_proba_block(X, parameters, activations, engine_name, dtype, block_info=None):
    """Return y_hat = A^[L][:, 0] for one block of rows (NumPy blocks give NumPy results)."""
    engine = get_engine(engine_name)
    if isinstance(X, np.ndarray):  # checked where it lives, named by its block index
        index = block_info[0]["chunk-location"][0] if block_info else "?"
        check_features(X, f"X, block {index}", dtype=dtype)
    _, A = forward(engine, *to_engine(engine, parameters), activations, engine.asarray(X, dtype=dtype))
    A = A[-1][:, 0] if A[-1].shape[1] == 1 else A[-1]
    return engine.to_numpy(A) if isinstance(X, np.ndarray) else A
