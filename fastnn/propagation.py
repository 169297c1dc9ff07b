"""Forward and backward propagation through an L-layer network, on any engine.

Arrays are in the engines' row layout (examples in rows, see fastnn/backends/base.py);
``fastnn.notes`` offers the same steps in the notes' own (n_x, m) shapes. Lists are
indexed by layer: index 0 holds the input X = A^[0], index l holds layer l.
"""

from .activations import SOFTMAX


class Workspace:
    """Buffers for one batch size, allocated once and reused by every step of that size."""

    def __init__(self, engine, units, m, dtype, X=None, Y=None):
        """`units` is [n_x, n^[1], ..., n^[L]]; X and Y are given when the batch is all the data."""
        empty = engine.empty
        L = len(units) - 1
        self.X = empty((m, units[0]), dtype) if X is None else X
        self.Y = empty((m, units[-1]), dtype) if Y is None else Y  # (m, 1) labels or (m, K) one-hot
        self.Z = [None] + [empty((m, units[l]), dtype) for l in range(1, L + 1)]
        self.A = [None] + [empty((m, units[l]), dtype) for l in range(1, L + 1)]
        self.dZ = [None] + [empty((m, units[l]), dtype) for l in range(1, L + 1)]
        # dA^[l] for hidden layers only: the input layer's gradient is never needed.
        self.dA = [None] + [empty((m, units[l]), dtype) for l in range(1, L)] + [None]
        self.dW = [None] + [empty((units[l], units[l - 1]), dtype) for l in range(1, L + 1)]
        self.db = [None] + [empty((units[l], 1), dtype) for l in range(1, L + 1)]
        self.cost = empty((), dtype)
        self.batch_is_fixed = X is not None  # every step sees the same X and Y: engines may precompute from them
        self.plan = None  # an engine's own arguments for its fused step, made on the first step


def to_engine(engine, parameters):
    """Return (weights, biases): lists indexed from 1 of W^[l] and b^[l] as `engine` arrays.

    `parameters` holds exactly W1, b1, ..., WL, bL (as check_parameters returns them).
    """
    L = len(parameters) // 2
    weights = [None] + [engine.asarray(parameters[f"W{l}"]) for l in range(1, L + 1)]
    biases = [None] + [engine.asarray(parameters[f"b{l}"]) for l in range(1, L + 1)]
    return weights, biases


def from_engine(engine, weights, biases, prefix=""):
    """Return {prefix + "W1": ..., prefix + "b1": ...} as NumPy arrays: the inverse of to_engine."""
    out = {}
    for l in range(1, len(weights)):
        out[f"{prefix}W{l}"], out[f"{prefix}b{l}"] = engine.to_numpy(weights[l]), engine.to_numpy(biases[l])
    return out


def forward(engine, weights, biases, activations, X, workspace=None):
    """Return (Z, A) lists: Z^[l] = W^[l] A^[l-1] + b^[l], A^[l] = g^[l](Z^[l]) for l = 1..L.

    `weights`, `biases` and `activations` are indexed from 1 (index 0 is None).
    """
    L = len(weights) - 1
    Z, A = [None] * (L + 1), [X] + [None] * L
    for l in range(1, L + 1):
        out = None if workspace is None else (workspace.Z[l], workspace.A[l])
        Z[l], A[l] = engine.dense_forward(A[l - 1], weights[l], biases[l], activations[l], out=out)
    return Z, A


def backward(engine, weights, activations, A, Y, workspace=None):
    """Return (dW, db) lists from the forward's A list, starting at dZ^[L] = A^[L] - Y.

    The output's dZ^[L] is the fused gradient of its activation and cross-entropy: sigmoid
    for one unit, softmax for K classes.

    For l = L..1: dW^[l], db^[l], dA^[l-1] from dZ^[l]; then dZ^[l-1] = dA^[l-1] * g'(Z^[l-1]).
    """
    L = len(weights) - 1
    ws = workspace
    dW, db = [None] * (L + 1), [None] * (L + 1)
    output_gradient = (engine.backprop_softmax_cross_entropy if activations[L] == SOFTMAX
                       else engine.backprop_sigmoid_cross_entropy)
    dZ = output_gradient(A[L], Y, out=_buffer(ws, "dZ", L))
    for l in range(L, 0, -1):
        out = None if ws is None else (ws.dW[l], ws.db[l], ws.dA[l - 1])
        dW[l], db[l], dA_prev = engine.backprop_dense(dZ, A[l - 1], weights[l], need_dA_prev=l > 1, out=out)
        if l > 1:
            dZ = engine.backprop_activation(dA_prev, A[l - 1], activations[l - 1], out=_buffer(ws, "dZ", l - 1))
    return dW, db


def _buffer(workspace, name, l):
    """The workspace's buffer `name`[l], or None (allocate) without a workspace."""
    return None if workspace is None else getattr(workspace, name)[l]


def cost_and_gradients(engine, weights, biases, activations, X, Y, workspace=None):
    """Return (cost, dW, db) on the batch (X, Y): forward, the mean cost J, backward.

    The one place a batch's gradient is formed: the training step and the Dask workers'
    per-block sums (fastnn/blocks.py) both go through it. Launches work only.
    """
    Z, A = forward(engine, weights, biases, activations, X, workspace)
    cost = engine.cross_entropy_cost(Z[-1], Y, out=None if workspace is None else workspace.cost)
    dW, db = backward(engine, weights, activations, A, Y, workspace)
    return cost, dW, db


def training_step(engine, weights, biases, activations, learning_rate, workspace):
    """One step of gradient descent on the batch in workspace.X / workspace.Y: engine.training_step.

    Writes the batch cost into workspace.cost; launches work only (no read-back), so a GPU
    engine may capture it as a graph.
    """
    engine.training_step(weights, biases, activations, learning_rate, workspace)
