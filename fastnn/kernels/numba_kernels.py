"""Numba kernels of the numba engine: one fused, serial pass per operation.

Every kernel is ``@njit(cache=True)``: nothing compiles at import; the first call for a
dtype compiles (and writes the on-disk cache), later processes load it from the cache.
Each kernel works at the precision of its arrays: constants are made with
``X.dtype.type(...)``, since a bare Python float inside a kernel is a float64 and would
silently upcast float32 arithmetic. None of them uses ``prange`` (see numba_engine.py for
the measurements behind that), and matrix products stay outside, on NumPy's BLAS.

Arrays arrive C-contiguous and of one float dtype; the engine checks this and falls back
to the portable code otherwise. Activation codes are fastnn.activations.activation_code:
0 sigmoid, 1 tanh, 2 relu, 3 leaky_relu.
"""

import math

import numpy as np
from numba import njit

from .numba_math import CONTRACT, exp_nonpositive, tanh

SIGMOID, TANH, RELU, LEAKY_RELU = 0, 1, 2, 3

# NaN and inf mean what they mean in the NumPy engine: each kernel is written so that IEEE
# arithmetic gives NumPy's result (NaN fails every comparison; 0 * inf and 0 * NaN are NaN).

# Partial sums of this many terms keep a float32 cost accurate without a float64
# accumulator: the rounding error grows with BLOCK + n / BLOCK terms instead of n.
_SUM_BLOCK = 128


# error_model="numpy" on the kernels that divide: IEEE division (x / 0 is inf, never an
# exception), so no zero test per element and the loop vectorises (9 us against 40 us for
# 32768 float32 quotients here). No denominator here can be 0 anyway: it is 1 + e^-|z| >= 1.
@njit(cache=True, inline="always", error_model="numpy")
def sigmoid(z, one):
    """1 / (1 + e^-z), as e^min(z, 0) / (1 + e^-|z|): no overflow, full relative accuracy.

    In float64 with numba_math's call-free e^x, so a loop over it vectorises (libm's exp is a
    scalar call), rounded once to the dtype of `one` (1 in z's dtype). NaN fails z < 0 and
    stays NaN.
    """
    x = np.float64(z)
    e = exp_nonpositive(-abs(x))
    return type(one)((e if x < 0.0 else 1.0) / (1.0 + e))


# fastmath=CONTRACT on the kernels that compute tanh and sigmoid: FMAs (see numba_math.CONTRACT).
@njit(cache=True, error_model="numpy", fastmath=CONTRACT)
def bias_activation(Z, b, code, slope, A):
    """Z[i, j] += b[j] and A[i, j] = g(Z[i, j]) in one pass; Z (m, n), b (n,), A (m, n)."""
    t = Z.dtype.type
    zero, one, leak = t(0), t(1), t(slope)
    m, n = Z.shape
    # One loop per activation, so the branch is outside the loop (relu vectorises).
    if code == SIGMOID:
        for i in range(m):
            for j in range(n):
                z = Z[i, j] + b[j]
                Z[i, j] = z
                A[i, j] = sigmoid(z, one)
    elif code == TANH:
        # The bias first, then tanh in a flat loop: vectorised even when n is small.
        for i in range(m):
            for j in range(n):
                Z[i, j] += b[j]
        _tanh_flat(Z.reshape(m * n), A.reshape(m * n))
    elif code == RELU:
        for i in range(m):
            for j in range(n):
                z = Z[i, j] + b[j]
                Z[i, j] = z
                # NaN fails z <= 0 and propagates, and -0 gives +0, as np.maximum(z, 0) does.
                A[i, j] = zero if z <= zero else z
    else:
        for i in range(m):
            for j in range(n):
                z = Z[i, j] + b[j]
                Z[i, j] = z
                A[i, j] = z * leak if z < zero else z


@njit(cache=True, inline="always")
def _tanh_flat(Z, A):
    """A = tanh(Z) on flat arrays (A may be Z), in float64 and rounded once to A's dtype."""
    t = A.dtype.type
    for k in range(Z.shape[0]):
        A[k] = t(tanh(np.float64(Z[k])))


@njit(cache=True, inline="always", error_model="numpy")
def _sigmoid_flat(Z, A, one):
    """A = sigmoid(Z) on flat arrays (A may be Z)."""
    for k in range(Z.shape[0]):
        A[k] = sigmoid(Z[k], one)


@njit(cache=True, error_model="numpy", fastmath=CONTRACT)
def activation(Z, code, slope, A):
    """A = g(Z) elementwise on flat arrays (A may be Z itself), one loop per code so each vectorises."""
    t = Z.dtype.type
    zero, one, leak = t(0), t(1), t(slope)
    # In place, name one array twice: two arguments make LLVM test them for overlap and, as
    # they do overlap, run its scalar loop (tanh: 45 us against 12 us for 1,600 values).
    in_place = Z.ctypes.data == A.ctypes.data
    if code == SIGMOID:
        if in_place:
            _sigmoid_flat(A, A, one)
        else:
            _sigmoid_flat(Z, A, one)
    elif code == TANH:
        if in_place:
            _tanh_flat(A, A)
        else:
            _tanh_flat(Z, A)
    elif code == RELU:
        for k in range(Z.shape[0]):
            z = Z[k]
            A[k] = zero if z <= zero else z
    else:
        for k in range(Z.shape[0]):
            z = Z[k]
            A[k] = z * leak if z < zero else z


@njit(cache=True)
def backprop_activation(dA, A, code, slope, dZ):
    """dZ = dA * g'(Z) through the saved A = g(Z), on flat arrays (dZ may alias dA or A)."""
    t = A.dtype.type
    zero, one, leak = t(0), t(1), t(slope)
    if code == SIGMOID:
        for k in range(A.shape[0]):
            a = A[k]
            dZ[k] = (one - a) * a * dA[k]
    elif code == TANH:
        for k in range(A.shape[0]):
            a = A[k]
            dZ[k] = (one - a * a) * dA[k]
    elif code == RELU:
        for k in range(A.shape[0]):
            d = dA[k]
            # d * 0, not 0: NaN or inf in dA gives NaN, as NumPy's dA * (A > 0) does.
            dZ[k] = d if A[k] > zero else d * zero
    else:
        for k in range(A.shape[0]):
            d = dA[k]
            dZ[k] = d if A[k] > zero else d * leak


@njit(cache=True)
def cross_entropy_sum(Z, Y, softplus):
    """Mean of max(z, 0) - y z + softplus[k], with softplus = log1p(exp(-|z|)) made by NumPy."""
    t = Z.dtype.type
    zero = t(0)
    n = Z.shape[0]
    total = zero
    for start in range(0, n, _SUM_BLOCK):
        partial = zero
        for k in range(start, min(start + _SUM_BLOCK, n)):
            z = Z[k]
            partial += ((z if z > zero else zero) - z * Y[k]) + softplus[k]
        total += partial
    return total / t(n)


@njit(cache=True)
def bias_gradient(dZ, db):
    """db[j] = (1/m) sum_i dZ[i, j]: the row sum over examples fused with the 1/m scaling."""
    m, n = dZ.shape
    inverse_m = dZ.dtype.type(1.0 / m)
    for j in range(n):
        db[j] = dZ[0, j]
    # Rows in order, a vector of n sums at once: the order np.sum(dZ, axis=0) uses.
    for i in range(1, m):
        for j in range(n):
            db[j] += dZ[i, j]
    for j in range(n):
        db[j] *= inverse_m


@njit(cache=True)
def scale(x, factor):
    """x *= factor in place on a flat array, the factor rounded to x's dtype first."""
    f = x.dtype.type(factor)
    for k in range(x.shape[0]):
        x[k] *= f


@njit(cache=True)
def sgd_update(param, grad, learning_rate):
    """param := param - learning_rate * grad in place on flat arrays, no temporary."""
    lr = param.dtype.type(learning_rate)
    for k in range(param.shape[0]):
        param[k] -= lr * grad[k]


# fastmath 'reassoc' (only that flag: no nnan/ninf/contract) lets LLVM split the sum into
# SIMD lanes and several accumulators. Without it, each add waits on the previous one and
# the loop runs about 4x slower (0.82 ms against 0.19 ms on 1e6 float64 here); the result
# differs from strict left-to-right order only by rounding, as np.dot's blocked sum does.
@njit(cache=True, fastmath={"reassoc"})
def dot_loop(w, x):
    """sum_i w[i] x[i] with an explicit for-loop (the notes' vectorisation demo)."""
    acc = w.dtype.type(0)
    for i in range(w.shape[0]):
        acc += w[i] * x[i]
    return acc


@njit(cache=True)
def bias_softmax(Z, b, A, keep_biased):
    """A[i] = softmax(Z[i] + b) one row at a time: max, exp, sum, normalise (A may be Z).

    Z keeps Z + b when `keep_biased` (the forward's Z^[L]); else Z is only read. The row's
    max is subtracted first, so every exponent is <= 0 and nothing overflows. A NaN or
    +inf logit makes its row NaN, as NumPy's max and exp do.
    """
    m, n = Z.shape
    for i in range(m):
        top = Z[i, 0] + b[0]
        for j in range(n):
            z = Z[i, j] + b[j]
            if keep_biased:
                Z[i, j] = z
            if z > top:
                top = z
        total = Z.dtype.type(0)
        for j in range(n):
            # With keep_biased, Z already holds z; else add the bias again (b is zero then).
            e = math.exp((Z[i, j] if keep_biased else Z[i, j] + b[j]) - top)
            A[i, j] = e
            total += e
        for j in range(n):
            A[i, j] = A[i, j] / total


@njit(cache=True)
def softmax_cross_entropy_sum(Z, Y):
    """Mean over rows of sum_k y_k (lse - z_k), lse = log sum_j e^z_j: one row at a time
    (max, exp, sum, log, then the row's loss), partial sums in blocks as cross_entropy_sum."""
    t = Z.dtype.type
    zero = t(0)
    m, n = Z.shape
    total = zero
    for start in range(0, m, _SUM_BLOCK):
        partial = zero
        for i in range(start, min(start + _SUM_BLOCK, m)):
            top = Z[i, 0]
            for j in range(1, n):
                if Z[i, j] > top:
                    top = Z[i, j]
            sum_exp = zero
            for j in range(n):
                sum_exp += math.exp(Z[i, j] - top)
            lse = math.log(sum_exp)
            loss = zero
            for j in range(n):
                loss += Y[i, j] * (lse - (Z[i, j] - top))
            partial += loss
        total += partial
    return total / t(m)
