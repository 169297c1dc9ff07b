"""Work done where a block of rows lives: checks and conversion, gradient sums and predictions for one block.

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


def prepare_block(X, y, index, start, engine_name, dtype, n_outputs=1, classes=None):
    """Return (X, Y, problem) for block `index` (rows from `start`): X in `dtype`, Y the engine's targets.

    Runs once, where the block lives, before training: NaN in a block of a 490 GB array is
    found without moving the block, the labels become targets ((m, 1) or one-hot (m, K)) once
    instead of every step, and it proves the worker has the engine asked for. `problem` is
    what is wrong as a sentence (X and Y are then None), or None.
    """
    where = f"block {index} (rows {start} to {start + X.shape[0] - 1})"
    try:
        get_engine(engine_name)
    except (ValueError, RuntimeError) as error:
        return None, None, f"engine: the Dask worker on {socket.gethostname()} cannot run {engine_name!r}: {error}"
    try:
        X = check_features(np.asarray(X), f"X, {where}", dtype=dtype)
        Y, _ = check_targets(np.asarray(y), X.shape[0], n_outputs, f"y, {where}", dtype=dtype, classes=classes)
    except (ValueError, TypeError) as error:
        return None, None, str(error)
    return X, Y, None


def gradient_sums(block, parameters, activations, engine_name, batch=None):
    """Return (rows, loss sum, {"W1": sum of dW1, "b1": ...}) over the rows of a prepared block.

    `block` is prepare_block's (X, Y, None): checked and converted already, so a step only
    computes. Sums, not means, so that blocks of any size add up to the whole batch's
    gradient. `batch` = (seed, epoch, index, step, steps) picks this block's share of a
    shuffled mini-batch (see batch_rows); None uses every row (full-batch gradient descent).
    """
    engine = get_engine(engine_name)
    X, Y = engine.asarray(block[0]), engine.asarray(block[1])
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


def block_problem(block):
    """The problem prepare_block found in `block` (a sentence), or None."""
    return block[2]


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
