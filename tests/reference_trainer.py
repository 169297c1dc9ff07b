"""A plain mini-batch gradient-descent trainer written from the course notes alone: the oracle.

It uses no fastnn code. Everything is in the notes' layout (X of shape (n_x, m), Y of
(1, m), W^[l] of (n^[l], n^[l-1]), b^[l] of (n^[l], 1)), in float64, with explicit loops
over epochs, mini-batches and layers, so that a reader can check each line against
/work/shared/course-notes.md. The few choices the notes leave open are fastnn's documented
ones (README, "A short tour of the API"):
- the examples are reshuffled before each epoch with `default_rng(seed).permutation(m)`
  (or the legacy `seed.permutation(m)` when `seed` is an np.random.RandomState), one
  permutation per epoch, and cut into batches of `batch_size`, the last one shorter;
- an epoch's cost is the mean of its batches' costs weighted by batch size, each cost
  taken from the forward pass before that batch's update;
- costs are reported every `report_every` epochs (and after the last); `callback(epoch,
  cost)` runs for each epoch reported, and returning True stops training after that
  report, so the epochs already run stay in the history.
"""

import numpy as np

# Each activation g and its derivative g'(z) written, as in the notes, from a = g(z).
ACTIVATIONS = {
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z, a: a * (1 - a)),
    "tanh": (lambda z: (np.exp(z) - np.exp(-z)) / (np.exp(z) + np.exp(-z)), lambda z, a: 1 - a ** 2),
    "relu": (lambda z: np.maximum(0, z), lambda z, a: np.where(z > 0, 1.0, 0.0)),
    "leaky_relu": (lambda z: np.maximum(0.01 * z, z), lambda z, a: np.where(z > 0, 1.0, 0.01)),
}


def train(parameters, X, Y, hidden_activation, *, learning_rate, epochs, batch_size=None, shuffle=True,
          seed=0, report_every=1, callback=None):
    """Return (parameters, history) after mini-batch gradient descent on X (n_x, m), Y (1, m).

    `parameters` is {"W1", "b1", ..., "WL", "bL"} (copied, not modified); every hidden
    layer uses `hidden_activation` and the output unit is a sigmoid; for K > 1 classes, Y is
    one-hot (K, m) and the output layer is a softmax with the categorical cross-entropy. `batch_size` None is
    the full batch.
    """
    parameters = {name: np.array(value, dtype=np.float64) for name, value in parameters.items()}
    X, Y = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64)
    m = X.shape[1]
    batch_size = m if batch_size is None else batch_size
    rng = seed if isinstance(seed, np.random.RandomState) else np.random.default_rng(seed)
    history, reported, stop = [], 0, False
    for epoch in range(1, epochs + 1):
        order = rng.permutation(m) if shuffle else np.arange(m)
        epoch_cost = 0.0
        for start in range(0, m, batch_size):
            columns = order[start:start + batch_size]  # the last batch may be shorter
            X_batch, Y_batch = X[:, columns], Y[:, columns]
            cost = gradient_descent_step(parameters, X_batch, Y_batch, hidden_activation, learning_rate)
            epoch_cost += cost * len(columns) / m
        history.append(epoch_cost)
        if epoch % report_every == 0 or epoch == epochs:
            for reported_epoch in range(reported + 1, epoch + 1):
                if callback is not None and not stop:
                    stop = bool(callback(reported_epoch, history[reported_epoch - 1]))
            reported = epoch
            if stop:
                break
    return parameters, history


def gradient_descent_step(parameters, X, Y, hidden_activation, learning_rate):
    """One step on the batch X, Y: forward, cost, backward, then update; return the cost before the update."""
    _, cost, grads = propagate(parameters, X, Y, hidden_activation)
    # Update: W := W - alpha dW; b := b - alpha db.
    for name in list(parameters):
        parameters[name] = parameters[name] - learning_rate * grads["d" + name]
    return cost


def propagate(parameters, X, Y, hidden_activation):
    """Return (A, cost, grads) for the batch X, Y: A^[l] for l = 0..L, J, and {"dW1", "db1", ...}."""
    L = len(parameters) // 2
    m = X.shape[1]
    W = {l: parameters[f"W{l}"] for l in range(1, L + 1)}
    b = {l: parameters[f"b{l}"] for l in range(1, L + 1)}
    g = {l: ACTIVATIONS[hidden_activation] for l in range(1, L)}
    # The output: a sigmoid unit, or for K > 1 classes a softmax, e^z_k / sum_j e^z_j per column.
    g[L] = ACTIVATIONS["sigmoid"] if Y.shape[0] == 1 else (lambda z: np.exp(z) / np.sum(np.exp(z), axis=0), None)

    # Forward: Z^[l] = W^[l] A^[l-1] + b^[l]; A^[l] = g^[l](Z^[l]).
    A, Z = {0: X}, {}
    for l in range(1, L + 1):
        Z[l] = W[l] @ A[l - 1] + b[l]
        A[l] = g[l][0](Z[l])

    # Cost: J = -(1/m) sum [y log a + (1 - y) log(1 - a)]; for K classes J = -(1/m) sum y log a.
    AL = A[L]
    if Y.shape[0] == 1:
        cost = float(-np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m)
    else:
        cost = float(-np.sum(Y * np.log(AL)) / m)

    # Backward: dZ^[L] = A^[L] - Y (sigmoid or softmax with its cross-entropy alike); dW = (1/m) dZ A_prev^T; db = (1/m) sum dZ; dA_prev = W^T dZ.
    grads = {}
    dZ = AL - Y
    for l in range(L, 0, -1):
        grads[f"dW{l}"] = dZ @ A[l - 1].T / m
        grads[f"db{l}"] = np.sum(dZ, axis=1, keepdims=True) / m
        if l > 1:
            dA_prev = W[l].T @ dZ
            dZ = dA_prev * g[l - 1][1](Z[l - 1], A[l - 1])
    return A, cost, grads
