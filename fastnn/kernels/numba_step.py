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

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from .numba_kernels import sigmoid

SIGMOID, TANH, RELU, LEAKY_RELU = 0, 1, 2, 3

# Partial sums of this many terms keep a float32 cost accurate without a float64 accumulator.
_SUM_BLOCK = 128


@njit(cache=True, inline="always")
def _activate(z, code, slope):
    """g(z) for one element (a negative code: z itself), NaN and inf as NumPy treats them."""
    t = type(z)
    zero = t(0)
    if code < 0:
        return z
    if code == SIGMOID:
        return sigmoid(z, t(1))
    if code == TANH:
        return math.tanh(z)
    if code == RELU:
        return zero if z <= zero else z  # NaN propagates and -0 gives +0, as np.maximum does
    return z * t(slope) if z < zero else z


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
    """A = g(A_prev W^T + b^T); with code -1 (the output layer) A holds the logits z."""
    m, n = A.shape
    k = W.shape[1]
    zero = A.dtype.type(0)
    for i in range(m):
        for j in range(n):
            acc = zero
            for c in range(k):
                acc += A_prev[i, c] * W[j, c]
            z = acc + b[j, 0]
            A[i, j] = _activate(z, code, slope)


@intrinsic
def _float64_from_bits(typingctx, bits):
    """The float64 whose IEEE bits are the int64 `bits` (an LLVM bitcast, so loops vectorise)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


_LN2_HI, _LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10
# 1/k! for k = 13 .. 2: exp(r) = 1 + r + r^2 (1/2! + r (1/3! + ...)) on |r| <= ln2 / 2.
_EXP_TAYLOR = (1 / 6227020800, 1 / 479001600, 1 / 39916800, 1 / 3628800, 1 / 362880, 1 / 40320,
               1 / 5040, 1 / 720, 1 / 120, 1 / 24, 1 / 6, 0.5)


@njit(cache=True, inline="always")
def _exp_nonpositive(x):
    """e^x for x <= 0 (NaN stays NaN, -inf gives 0), in float64, written without calls.

    libm's exp is a call a loop cannot vectorise (no SVML here); this is Cody-Waite range
    reduction, x = k ln2 + r, a degree-13 Taylor polynomial (error below 1e-17 relative)
    and 2^k built from its bits, in two halves so results down to the subnormals round right.
    """
    x = x if not x < -1400.0 else -1400.0  # e^-1400 is 0 in float64; keeps 2^k's halves normal
    k = math.floor(x * 1.4426950408889634 + 0.5)
    r = (x - k * _LN2_HI) - k * _LN2_LO
    p = _EXP_TAYLOR[0]
    for c in _EXP_TAYLOR[1:]:
        p = p * r + c
    p = 1.0 + r + r * r * p
    n = np.int64(k) if k == k else np.int64(0)  # NaN: any k, p is NaN already
    half = n // 2
    return p * _float64_from_bits((half + 1023) << 52) * _float64_from_bits((n - half + 1023) << 52)


@njit(cache=True, inline="always")
def _log1p_unit(e):
    """log(1 + e) for e in [0, 1], in float64, without calls: 2 atanh(s), s = e / (2 + e) <= 1/3.

    2 (s + s^3/3 + ... + s^35/35): the next term is below 1e-18, and 1 + e is never
    rounded, so tiny e keeps its full relative accuracy.
    """
    s = e / (2.0 + e)
    s2 = s * s
    acc = 1.0 / 35.0
    for k in range(33, 0, -2):
        acc = acc * s2 + 1.0 / k
    return 2.0 * s * acc


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
        e64 = _exp_nonpositive(-abs(np.float64(z)))
        e = t(e64)
        a = (e if z < zero else one) / (one + e)
        dZ[i, 0] = (a - y) * s
        Z[i, 0] = ((z if z > zero else zero) - z * y) + t(_log1p_unit(e64))
    total = zero
    for start in range(0, m, _SUM_BLOCK):
        partial = zero
        for i in range(start, min(start + _SUM_BLOCK, m)):
            partial += Z[i, 0]
        total += partial
    return total / t(m)


@njit(cache=True, inline="always")
def _backprop_into(dZ, W, A_prev, code, slope, dZ_prev):
    """dZ_prev = (dZ W) * g'(A_prev): the previous layer's gradient, W not yet updated."""
    m, n = dZ.shape
    k = W.shape[1]
    zero = dZ.dtype.type(0)
    for i in range(m):
        for c in range(k):
            dZ_prev[i, c] = zero
        for j in range(n):
            d = dZ[i, j]
            for c in range(k):
                dZ_prev[i, c] += d * W[j, c]
        for c in range(k):
            dZ_prev[i, c] *= _derivative(A_prev[i, c], code, slope)


@njit(cache=True, inline="always")
def _update_weights(W, dZ, A_prev):
    """W := W - dZ^T A_prev, each row summed apart first so W's rounding does not swallow it."""
    m, n = dZ.shape
    k = W.shape[1]
    row = np.empty(k, dtype=W.dtype)
    for j in range(n):
        row[:] = 0
        for i in range(m):
            d = dZ[i, j]
            for c in range(k):
                row[c] += d * A_prev[i, c]
        for c in range(k):
            W[j, c] -= row[c]


@njit(cache=True, inline="always")
def _update_bias(b, dZ):
    """b := b - sum over examples of dZ (dZ already carries learning_rate / m)."""
    m, n = dZ.shape
    for j in range(n):
        acc = dZ.dtype.type(0)
        for i in range(m):
            acc += dZ[i, j]
        b[j, 0] -= acc


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
            A[i, j] = _activate(A[i, j] + b[j, 0], code, slope)


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
