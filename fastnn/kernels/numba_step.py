"""Numba kernels of the numba engine's fused training step (NumbaEngine.training_step).

A step is split at the last layer whose matrix products are large enough for BLAS. The
layers up to there (the "head") use NumPy's BLAS from Python with one kernel per layer
for everything else; the small layers after it (the "tail", always holding the output
layer) run forward, cost, backward and update in ONE call of :func:`tail_step`. For a
network as small as the course's [2, 4, 1], the tail is the whole step.

Gradients carry the factor learning_rate / m from the output layer on, so
dZ^[L] = (lr / m)(A^[L] - Y) and every later product is already the update itself:
W := W - dZ^T A_prev and b := b - sum(dZ) need no scaling pass and no gradient buffers
beyond one row. This is the notes' update, reassociated (a rounding-level difference).

Tuples of arrays (Ws, bs, As, dZs) are Numba UniTuples: indexed by a runtime layer
number, one compiled version per tail length and dtype. Arrays arrive C-contiguous and of
one dtype; the engine checks this. None of these kernels starts threads (see
numba_engine.py) and every constant is made in the arrays' dtype, so float32 stays
float32. Activation codes are fastnn.activations.activation_code: 0 sigmoid, 1 tanh,
2 relu, 3 leaky_relu.
"""

import numpy as np
from numba import njit

from .numba_kernels import activation
from .numba_math import exp_nonpositive, log1p_unit

SIGMOID, TANH, RELU, LEAKY_RELU = 0, 1, 2, 3

# Partial sums of this many terms keep a float32 cost accurate without a float64 accumulator.
_SUM_BLOCK = 128


@njit(cache=True, inline="always")
def _derivative(a, code, slope):
    """g'(z) written through a = g(z): a(1 - a), 1 - a^2, or the ReLUs' step (z > 0 iff a > 0).

    Callers always multiply by it, so NaN or inf in the gradient stays NaN where g' = 0."""
    t = type(a)
    one = t(1)
    if code == SIGMOID:
        return (one - a) * a
    if code == TANH:
        return one - a * a
    if code == RELU:
        return one if a > t(0) else t(0)
    return one if a > t(0) else t(slope)


# error_model="numpy": IEEE division, no zero test per element (see numba_kernels.sigmoid).
@njit(cache=True, error_model="numpy")
def tail_step(X, Y, Ws, bs, As, dZs, codes, scale, slope, head_dZ, head_b, head_code, cost):
    """One gradient step through the tail layers; writes the batch cost into cost[0].

    X (m, k): the tail's input (the batch, or the head's last A). Ws[t], bs[t]: W (n, k)
    and b (n, 1) of tail layer t; As[t], dZs[t]: (m, n) buffers; codes[t]: its activation,
    the last one the sigmoid output of one unit. `scale` is learning_rate / m. When
    head_dZ has m rows, the head's last layer gets dZ = (dZ_tail W) * g'(X) written into
    head_dZ and its bias head_b updated; otherwise there is no head.
    """
    T = len(Ws)
    for t in range(T):
        _forward(X if t == 0 else As[t - 1], Ws[t], bs[t], codes[t] if t < T - 1 else -1, slope, As[t])
    cost[0] = _output_gradient(As[T - 1], Y, scale, dZs[T - 1])
    has_head = head_dZ.shape[0] == X.shape[0]
    for t in range(T - 1, -1, -1):
        A_prev = X if t == 0 else As[t - 1]
        if t > 0:
            _backprop_into(dZs[t], Ws[t], As[t - 1], codes[t - 1], slope, dZs[t - 1])
        elif has_head:
            _backprop_into(dZs[t], Ws[t], X, head_code, slope, head_dZ)
        _update_weights(Ws[t], dZs[t], A_prev)
        _update_bias(bs[t], dZs[t])
    if has_head:
        _update_bias(head_b, head_dZ)


@njit(cache=True, error_model="numpy")
def tail_steps(costs, X, Y, Ws, bs, As, dZs, codes, scale, slope, head_dZ, head_b, head_code, cost):
    """len(costs) tail steps back to back, step i's cost into costs[i]: the epochs of a network
    that is all tail, on a fixed batch, without returning to Python between them."""
    for i in range(costs.shape[0]):
        tail_step(X, Y, Ws, bs, As, dZs, codes, scale, slope, head_dZ, head_b, head_code, cost)
        costs[i] = cost[0]


@njit(cache=True, inline="always")
def _forward(A_prev, W, b, code, slope, A):
    """A = g(A_prev W^T + b^T); with code -1 (the output layer) A holds the logits z.

    The activation is a second, flat pass over A (numba_kernels.activation, one loop per
    activation code): inside the i/j loops, with the code tested per element, it would not vectorise.
    """
    m, n = A.shape
    k = W.shape[1]
    zero = A.dtype.type(0)
    for i in range(m):
        for j in range(n):
            acc = zero
            for c in range(k):
                acc += A_prev[i, c] * W[j, c]
            A[i, j] = acc + b[j, 0]
    if code >= 0:
        flat = A.reshape(m * n)
        activation(flat, code, slope, flat)


@njit(cache=True, inline="always")
def _output_gradient(Z, Y, scale, dZ):
    """From the logits Z (m, 1): return the mean cross-entropy cost, write dZ = scale (sigma(z) - y).

    One e^-|z| serves both: sigma(z) = e^min(z, 0) / (1 + e^-|z|), as the engines compute it,
    and the loss max(z, 0) - y z + log(1 + e^-|z|), finite for every finite z.
    """
    t = Z.dtype.type
    zero, one, s = t(0), t(1), t(scale)
    m = Z.shape[0]
    # One pass with no reduction (it vectorises): Z's column becomes the losses.
    for i in range(m):
        z, y = Z[i, 0], Y[i, 0]
        e64 = exp_nonpositive(-abs(np.float64(z)))
        e = t(e64)
        a = (e if z < zero else one) / (one + e)
        dZ[i, 0] = (a - y) * s
        Z[i, 0] = ((z if z > zero else zero) - z * y) + t(log1p_unit(e64))
    total = zero
    for start in range(0, m, _SUM_BLOCK):
        partial = zero
        for i in range(start, min(start + _SUM_BLOCK, m)):
            partial += Z[i, 0]
        total += partial
    return total / t(m)


@njit(cache=True, inline="always")
def _backprop_into(dZ, W, A_prev, code, slope, dZ_prev):
    """dZ_prev = (dZ W) * g'(A_prev): the previous layer's gradient, W not yet updated.

    Each element's sum stays in a register and is written once (7.3 -> 4.6 us for the
    planar network's 400 x 4, busy machine, against += into dZ_prev)."""
    m, n = dZ.shape
    k = W.shape[1]
    zero = dZ.dtype.type(0)
    for i in range(m):
        for c in range(k):
            acc = zero
            for j in range(n):
                acc += dZ[i, j] * W[j, c]
            dZ_prev[i, c] = acc * _derivative(A_prev[i, c], code, slope)


# The sums over examples below run in four interleaved partial sums (rows 0, 1, 2, 3 mod 4):
# one running sum waits on its previous add for every row. For the planar network's
# 400 rows (busy machine): W^[1] 6.0 -> 1.9 us, W^[2] 2.1 -> 1.1 us, b^[1] 1.4 -> 0.8 us.
@njit(cache=True, inline="always")
def _column_dot(dZ, j, A, c):
    """sum over examples i of dZ[i, j] A[i, c]."""
    m = dZ.shape[0]
    s0 = s1 = s2 = s3 = dZ.dtype.type(0)
    end = m - m % 4
    for i in range(0, end, 4):
        s0 += dZ[i, j] * A[i, c]
        s1 += dZ[i + 1, j] * A[i + 1, c]
        s2 += dZ[i + 2, j] * A[i + 2, c]
        s3 += dZ[i + 3, j] * A[i + 3, c]
    for i in range(end, m):
        s0 += dZ[i, j] * A[i, c]
    return (s0 + s1) + (s2 + s3)


@njit(cache=True, inline="always")
def _column_sum(dZ, j):
    """sum over examples i of dZ[i, j]."""
    m = dZ.shape[0]
    s0 = s1 = s2 = s3 = dZ.dtype.type(0)
    end = m - m % 4
    for i in range(0, end, 4):
        s0 += dZ[i, j]
        s1 += dZ[i + 1, j]
        s2 += dZ[i + 2, j]
        s3 += dZ[i + 3, j]
    for i in range(end, m):
        s0 += dZ[i, j]
    return (s0 + s1) + (s2 + s3)


@njit(cache=True, inline="always")
def _update_weights(W, dZ, A_prev):
    """W := W - dZ^T A_prev, each sum made apart first so W's rounding does not swallow it."""
    n, k = W.shape
    for j in range(n):
        for c in range(k):
            W[j, c] -= _column_dot(dZ, j, A_prev, c)


@njit(cache=True, inline="always")
def _update_bias(b, dZ):
    """b := b - sum over examples of dZ (dZ already carries learning_rate / m)."""
    for j in range(dZ.shape[1]):
        b[j, 0] -= _column_sum(dZ, j)


@njit(cache=True, error_model="numpy")
def output_step(Z, b, Y, scale, dZ, cost):
    """The output layer after its BLAS product: z += b, cost into cost[0], dZ = scale (sigma(z) - y), b -= sum dZ."""
    bias = b[0, 0]
    for i in range(Z.shape[0]):
        Z[i, 0] += bias
    cost[0] = _output_gradient(Z, Y, scale, dZ)
    _update_bias(b, dZ)


@njit(cache=True, error_model="numpy")
def bias_activation(A, b, code, slope):
    """A = g(A + b^T) in place: a head layer's forward after its BLAS product."""
    m, n = A.shape
    for i in range(m):
        for j in range(n):
            A[i, j] += b[j, 0]
    flat = A.reshape(m * n)
    activation(flat, code, slope, flat)


@njit(cache=True)
def backprop_bias(dZ, A, code, slope, b):
    """dZ *= g'(A) in place (dZ holds dZ_next W), then b := b - sum over examples of dZ."""
    m, n = dZ.shape
    for i in range(m):
        for j in range(n):
            dZ[i, j] *= _derivative(A[i, j], code, slope)
    _update_bias(b, dZ)


@njit(cache=True)
def gather_rows(X, rows, out):
    """out[i] = X[rows[i]], converting to out's dtype: a mini-batch cut (and cast) in one pass."""
    t = out.dtype.type
    for i in range(rows.shape[0]):
        r = rows[i]
        if r < 0 or r >= X.shape[0]:
            raise IndexError("take_rows: a row index is out of range")
        for c in range(X.shape[1]):
            out[i, c] = t(X[r, c])
