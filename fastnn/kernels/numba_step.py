"""Numba kernels of the numba engine's fused training step (NumbaEngine.training_step).

A step is split at the last layer whose matrix products are large enough for BLAS. The
layers up to there (the "head") use NumPy's BLAS from Python with one kernel per layer
for everything else; the small layers after it (the "tail", always holding the output
layer) run forward, cost, backward and update in ONE call of :func:`tail_step`. For a
network as small as the course's [2, 4, 1], the tail is the whole step. The tail keeps its
activations and gradients in the notes' layout, (units, m), so that every inner loop runs
along the examples and vectorises; only its input and the head's dZ cross between layouts.

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

from .numba_kernels import _SUM_BLOCK, LEAKY_RELU, RELU, SIGMOID, TANH, activation  # noqa: F401 (the codes are this module's too)
from .numba_math import CONTRACT, exp_nonpositive, log1p_unit



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
@njit(cache=True, error_model="numpy", fastmath=CONTRACT)
def tail_step(X, Xt, copy_input, Y, Ws, bs, As, dZs, codes, scale, slope, head_dZ, head_dZt, head_b, head_code, cost):
    """One gradient step through the tail layers; writes the batch cost into cost[0].

    X (m, k): the tail's input (the batch, or the head's last A), copied into Xt (k, m)
    when copy_input is True (a fixed batch's Xt is made once, by the engine).
    Ws[t], bs[t]: W (n, k) and b (n, 1) of tail layer t; As[t], dZs[t]: (n, m) buffers in
    the notes' layout, examples along rows, so every inner loop runs over the m examples
    and vectorises; codes[t]: its activation, the last one the sigmoid output of one unit.
    `scale` is learning_rate / m. When head_dZ has m rows, the head's last layer gets
    dZ = (dZ_tail W) * g'(X) written into head_dZ (m, k) through head_dZt (k, m), and its
    bias head_b updated; otherwise there is no head.
    """
    T = len(Ws)
    m, k = X.shape
    if copy_input:
        for c in range(k):
            for i in range(m):
                Xt[c, i] = X[i, c]
    for t in range(T):
        _forward(Xt if t == 0 else As[t - 1], Ws[t], bs[t], codes[t] if t < T - 1 else -1, slope, As[t])
    cost[0] = _output_gradient(As[T - 1].reshape((m, 1)), Y, scale, dZs[T - 1].reshape((m, 1)))
    has_head = head_dZ.shape[0] == m
    for t in range(T - 1, -1, -1):
        A_prev = Xt if t == 0 else As[t - 1]
        if t > 0:
            _backprop_into(dZs[t], Ws[t], As[t - 1], codes[t - 1], slope, dZs[t - 1])
        elif has_head:
            _backprop_into(dZs[t], Ws[t], Xt, head_code, slope, head_dZt)
        _update_weights(Ws[t], dZs[t], A_prev)
        _update_bias_rows(bs[t], dZs[t])
    if has_head:
        _update_bias_rows(head_b, head_dZt)
        for i in range(m):
            for c in range(k):
                head_dZ[i, c] = head_dZt[c, i]


@njit(cache=True, error_model="numpy", fastmath=CONTRACT)
def tail_steps(costs, X, Xt, copy_input, Y, Ws, bs, As, dZs, codes, scale, slope, head_dZ, head_dZt, head_b,
               head_code, cost):
    """len(costs) tail steps back to back, step i's cost into costs[i]: the epochs of a network
    that is all tail, on a fixed batch, without returning to Python between them."""
    for i in range(costs.shape[0]):
        tail_step(X, Xt, copy_input, Y, Ws, bs, As, dZs, codes, scale, slope, head_dZ, head_dZt, head_b, head_code,
                  cost)
        costs[i] = cost[0]


@njit(cache=True, inline="always")
def _forward(A_prev, W, b, code, slope, A):
    """A = g(W A_prev + b), all (units, m); with code -1 (the output layer) A holds the logits z.

    Each row of A gathers its k products one input row at a time, then the activation is a
    flat pass (numba_kernels.activation): both run along the examples, so both vectorise.
    """
    for j in range(W.shape[0]):
        row = A[j]
        _combine_rows(W[j], A_prev, row)
        bias = b[j, 0]
        for i in range(row.shape[0]):
            row[i] += bias
    if code >= 0:
        flat = A.reshape(A.size)
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
    # Flat views: their unit stride is known when compiling, so the pass vectorises (an
    # (m, 1) array's row stride is not: indexed as such, this loop took 4x as long).
    z_flat, y_flat, dz_flat = Z.reshape(m), Y.reshape(m), dZ.reshape(m)
    # One pass with no reduction (it vectorises): Z's column becomes the losses.
    for i in range(m):
        z, y = z_flat[i], y_flat[i]
        e64 = exp_nonpositive(-abs(np.float64(z)))
        e = t(e64)
        a = (e if z < zero else one) / (one + e)
        dz_flat[i] = (a - y) * s
        z_flat[i] = ((z if z > zero else zero) - z * y) + t(log1p_unit(e64))
    total = zero
    for start in range(0, m, _SUM_BLOCK):
        partial = zero
        for i in range(start, min(start + _SUM_BLOCK, m)):
            partial += z_flat[i]
        total += partial
    return total / t(m)


@njit(cache=True, inline="always")
def _combine_rows(weights, rows, out):
    """out = sum over c of weights[c] rows[c]: one row of a small product, computed along the examples."""
    w = weights[0]
    source = rows[0]
    for i in range(out.shape[0]):
        out[i] = w * source[i]
    for c in range(1, weights.shape[0]):
        w = weights[c]
        source = rows[c]
        for i in range(out.shape[0]):
            out[i] += w * source[i]


@njit(cache=True, inline="always")
def _backprop_into(dZ, W, A_prev, code, slope, dZ_prev):
    """dZ_prev = (W^T dZ) * g'(A_prev), all (units, m): the previous layer's gradient, W not yet updated."""
    for c in range(W.shape[1]):
        row = dZ_prev[c]
        _combine_rows(W[:, c], dZ, row)
        a = A_prev[c]
        for i in range(row.shape[0]):
            row[i] *= _derivative(a[i], code, slope)


@njit(cache=True, inline="always")
def _update_weights(W, dZ, A_prev):
    """W := W - dZ A_prev^T (dZ (n, m), A_prev (k, m)): each entry a dot product along the examples."""
    n, k = W.shape
    for j in range(n):
        for c in range(k):
            W[j, c] -= _dot(dZ[j], A_prev[c])


# reassoc: these sums may run in SIMD lanes (partial sums), an order as good as the serial one;
# no other fast-math flag, so NaN and inf still propagate. Not inlined into the callers, so
# the flag stays on these instructions only.
@njit(cache=True, fastmath={"reassoc", "contract"})
def _dot(a, b):
    """sum over i of a[i] b[i]."""
    acc = a.dtype.type(0)
    for i in range(a.shape[0]):
        acc += a[i] * b[i]
    return acc


@njit(cache=True, fastmath={"reassoc"})
def _sum(a):
    """sum over i of a[i]."""
    acc = a.dtype.type(0)
    for i in range(a.shape[0]):
        acc += a[i]
    return acc


@njit(cache=True, inline="always")
def _update_bias_rows(b, dZ):
    """b := b - dZ's row sums, dZ (n, m) in the tail's layout (dZ already carries learning_rate / m)."""
    for j in range(dZ.shape[0]):
        b[j, 0] -= _sum(dZ[j])


# Sums over examples in the head's (m, n) layout run in four interleaved partial sums (rows
# 0, 1, 2, 3 mod 4): one running sum waits on its previous add for every row.
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
def _update_bias(b, dZ):
    """b := b - sum over examples of dZ (dZ already carries learning_rate / m)."""
    for j in range(dZ.shape[1]):
        b[j, 0] -= _column_sum(dZ, j)


@njit(cache=True, error_model="numpy", fastmath=CONTRACT)
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
