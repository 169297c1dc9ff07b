"""The numba engine: NumPy arrays, elementwise steps fused into compiled passes, BLAS matmuls.

Threads: every kernel is serial and matrix products stay on NumPy's BLAS, called from
Python. On this 2-core machine a ``prange`` ReLU after each 128x256 matmul took 8.6 ms a
step against 0.22 ms serial (Numba's OpenMP pool and OpenBLAS spin-wait on each other's
cores), and np.dot inside njit (SciPy's second OpenBLAS pool) made backprop_dense 16 ms
against 0.63 ms, so no kernel starts threads and NUMBA_NUM_THREADS has nothing to limit.
Even dot_loop stays serial: a prange sum matched 2-thread np.dot alone (0.099 against
0.092 ms on 1e6 float64) but took 4 ms a call when alternated with np.dot.

Kernels live in fastnn.kernels.numba_kernels and compile on first use, once per dtype,
into Numba's disk cache; importing this module compiles nothing.
"""

import numpy as np

from ..activations import ACTIVATION_CODES, LEAKY_RELU_SLOPE, SOFTMAX, activation_code
from ..validation import FLOAT_DTYPES
from . import gram, shapes
from .base import Engine

try:
    from ..kernels import numba_kernels as _kernels
    from ..kernels import numba_step as _step
except Exception as error:  # ImportError, or a Numba that rejects this NumPy or CPU
    _kernels = _step = None
    _import_error = error
else:
    _import_error = None


# Above this many elements, tanh leaves its work to NumPy, whose SIMD passes then beat one
# fused kernel pass. Sigmoid never does: its kernel is call-free (numba_math.exp_nonpositive)
# and beats NumPy's exp at every size (activation of n values, kernel against the three
# passes around np.exp, quiet machine, us: float64 3.6/10.9 at 1,600, 42/65 at 16,384,
# 594/2,875 at 262,144; float32 3.2/8.8, 30/38, 500/612). tanh's kernel is call-free and
# vectorised too (kernels/numba_math.py), yet about 2x NumPy's float64 np.tanh per
# value and 4-6x its float32 one: A = tanh(Z + b^T), kernel against np.add + np.tanh
# (benchmarks/tanh_kernel.py, thread time, busy machine), float64 3.0/4.2 us at 256 values,
# 8.7/9.0 at 1,024, 13/12 at 1,600, 24/13 at 4,096; float32 1.9/1.9, 5.4/3.6, 9.0/5.0, 20/4.9.
_SCALAR_MATH_MAX = 1024
# Softmax and its cost use the row kernels up to this many classes K; above it NumPy's SIMD
# exp wins despite its extra passes. Measured at m = 128, float32 (microseconds, kernel
# against NumPy): softmax 28/90 at K = 16, 80/109 at K = 32, 148/132 at K = 64, 299/160 at
# K = 128; the cost 14/131, 82/148, 149/178, 314/220.
_SOFTMAX_KERNEL_MAX_K = 48
# Below this many elements the SGD step stays in NumPy: a kernel call costs more than it saves.
_SGD_KERNEL_MIN = 4096
# A layer joins the fused step's compiled tail when its products take at most this many
# multiply-adds (m n^[l] n^[l-1]): there a plain compiled loop beats three BLAS calls and
# the Python calls around them.
_TAIL_MAX_MACS = 32768


def _ready(dtype, *arrays):
    """True when `dtype` is float32/float64 and every array given (None skipped) is a
    C-contiguous ndarray of that dtype: what a kernel may read and write directly."""
    if dtype not in FLOAT_DTYPES:
        return False
    for a in arrays:
        if a is not None and not (
            isinstance(a, np.ndarray) and a.dtype == dtype and a.flags.c_contiguous
        ):
            return False
    return True


def _softmax_fits(Z, out):
    """True when the softmax kernel can take Z (m, K >= 1) of a float dtype and `out`."""
    dtype = getattr(Z, "dtype", None)
    return (dtype in FLOAT_DTYPES and getattr(Z, "ndim", None) == 2 and 0 < Z.shape[1] <= _SOFTMAX_KERNEL_MAX_K
            and _ready(dtype, out) and (out is None or out.shape == Z.shape))


def _contiguous(x, dtype):
    """`x` as a C-contiguous plain ndarray of `dtype` (a copy only when needed);
    None when `x` is an array of another dtype (the caller then falls back)."""
    if isinstance(x, np.ndarray) and x.dtype == dtype:
        return np.ascontiguousarray(x)
    return None


class NumbaEngine(Engine):
    """NumPy arrays on the CPU, elementwise work in fused serial Numba kernels, BLAS matmuls."""

    name = "numba"

    @classmethod
    def unavailable_reason(cls):
        """Why Numba cannot run here (a sentence saying what to do), or None if it can."""
        if _import_error is None:
            return None
        return (
            f"Numba could not be imported ({type(_import_error).__name__}: {_import_error}); "
            "install a Numba that matches this NumPy: pip install -U numba"
        )

    def take_rows(self, X, rows, out=None):
        """Gather examples `rows` of X (a mini-batch), cast to out's dtype, in one compiled pass."""
        if not (out is not None and _ready(getattr(out, "dtype", None), out) and isinstance(X, np.ndarray)
                and X.dtype in FLOAT_DTYPES and X.ndim == 2 and X.flags.c_contiguous
                and isinstance(rows, np.ndarray) and rows.dtype == np.int64 and rows.ndim == 1
                and out.shape == (rows.shape[0], X.shape[1])):
            return super().take_rows(X, rows, out=out)
        _step.gather_rows(X, rows, out)
        return out

    def training_step(self, weights, biases, activations, learning_rate, workspace):
        """One step of gradient descent on the batch in workspace.X / workspace.Y, fused.

        BLAS products for the large layers, one kernel per layer for the rest of their
        work, and the small layers at the end (the output layer at least) in one compiled
        call: about 3 calls per layer instead of 12 (see fastnn/kernels/numba_step.py).
        """
        plan = workspace.plan
        if not (isinstance(plan, _Plan) and plan.fits(weights, biases, activations, learning_rate)):
            self.finish_training(workspace)  # the old plan's deferred update, before it is dropped
            plan = workspace.plan = _FusedStep.make(weights, biases, activations, learning_rate, workspace)
        if not isinstance(plan, _FusedStep):
            return super().training_step(weights, biases, activations, learning_rate, workspace)
        plan.run()

    def training_steps(self, step, weights, biases, activations, learning_rate, workspace, costs):
        """Run len(costs) full-batch steps; a network that is all compiled tail runs them in one call."""
        plan = workspace.plan
        if (isinstance(plan, _FusedStep) and plan.head == 0 and plan.fits(weights, biases, activations, learning_rate)
                and _ready(plan.dtype, costs) and costs.ndim == 1):
            _step.tail_steps(costs, *plan.tail_args)
            return
        super().training_steps(step, weights, biases, activations, learning_rate, workspace, costs)

    def finish_training(self, workspace):
        """Apply layer 1's pending update when the fused step runs it in the Gram form (gram.py)."""
        if isinstance(workspace.plan, _Plan):
            workspace.plan.finish()

    # -- forward -----------------------------------------------------------------------

    def _bias_activation(self, Z, b, activation, out):
        """Add the bias to Z in place, then return A = g(Z); the base's public method checked the arguments."""
        if activation == SOFTMAX:
            dtype = getattr(Z, "dtype", None)
            bias = None
            if _softmax_fits(Z, out) and _ready(dtype, Z) and Z.flags.writeable:  # b's shape: checked by the caller
                bias = _contiguous(b, dtype)
            if bias is None:  # not a kernel's arrays, or a bias of another dtype
                return super()._bias_activation(Z, b, activation, out)
            return self._softmax_kernel(Z, bias.reshape(-1), out, keep_biased=True)
        code = ACTIVATION_CODES[activation]
        dtype = getattr(Z, "dtype", None)
        # tanh on a large array: NumPy's two passes (bias add, SIMD tanh) are already best.
        if not (_ready(dtype, Z, out) and Z.flags.writeable
                and (code != _kernels.TANH or Z.size <= _SCALAR_MATH_MAX)):
            return super()._bias_activation(Z, b, activation, out)
        bias = _contiguous(b, dtype)
        if bias is None:  # a bias of another dtype: NumPy's casting rules decide
            return super()._bias_activation(Z, b, activation, out)
        A = np.empty(Z.shape, dtype) if out is None else out
        _kernels.bias_activation(Z, bias.reshape(-1), code, LEAKY_RELU_SLOPE, A)
        return A

    def _activation(self, Z, activation, out):
        """Return A = g(Z) (sigmoid computed so it cannot overflow); the base's public method checked the arguments."""
        if activation == SOFTMAX:
            rows = _contiguous(Z, Z.dtype) if _softmax_fits(Z, out) else None
            if rows is None:
                return super()._activation(Z, activation, out)
            # Z is the caller's: read only (keep_biased=False), with a zero bias.
            return self._softmax_kernel(rows, np.zeros(Z.shape[1], Z.dtype), out, keep_biased=False)
        code = ACTIVATION_CODES[activation]
        dtype = getattr(Z, "dtype", None)
        if not (_ready(dtype, out) and (code != _kernels.TANH or Z.size <= _SCALAR_MATH_MAX)):
            return super()._activation(Z, activation, out)
        Z = _contiguous(Z, dtype)
        A = np.empty(Z.shape, dtype) if out is None else out
        _kernels.activation(Z.reshape(-1), code, LEAKY_RELU_SLOPE, A.reshape(-1))
        return A

    # -- backward ----------------------------------------------------------------------

    def backprop_activation(self, dA, A, activation, out=None):
        """Return dZ = dA * g'(Z), with g'(Z) written through the saved output A = g(Z)."""
        code = activation_code(activation)
        shapes.backprop_activation(dA, A, out)
        dtype = getattr(A, "dtype", None)
        if not _ready(dtype, out):
            return super().backprop_activation(dA, A, activation, out=out)
        grad, saved = _contiguous(dA, dtype), _contiguous(A, dtype)
        if grad is None:  # dA of another dtype: NumPy's casting rules decide
            return super().backprop_activation(dA, A, activation, out=out)
        dZ = np.empty(A.shape, dtype) if out is None else out
        _kernels.backprop_activation(grad.reshape(-1), saved.reshape(-1), code,
                                     LEAKY_RELU_SLOPE, dZ.reshape(-1))
        return dZ

    # backprop_sigmoid_cross_entropy is not overridden: np.subtract is already one SIMD
    # pass, and a kernel call measured slower (6.1 us against 4.1 us at 128x256).

    def cross_entropy_cost(self, Z, Y, out=None):
        """Return the cost J = (1/m) sum L(y_hat, y) as a 0-d array, from the logits Z = Z^[L]."""
        shapes.cross_entropy_cost(Z, Y, out)
        dtype = getattr(Z, "dtype", None)
        if not (dtype in FLOAT_DTYPES and type(Y) is np.ndarray and Z.size):
            return super().cross_entropy_cost(Z, Y, out=out)
        if Z.ndim == 2 and Z.shape[1] > 1:  # softmax over K classes: one pass per row
            if Z.shape[1] > _SOFTMAX_KERNEL_MAX_K:
                return super().cross_entropy_cost(Z, Y, out=out)
            cost = _kernels.softmax_cross_entropy_sum(_contiguous(Z, dtype), np.ascontiguousarray(Y, dtype=dtype))
            return _cost_out(cost, dtype, out)
        Z = _contiguous(Z, dtype).reshape(-1)
        # Labels are 0 or 1, exact in Z's dtype even when they come as integers or booleans.
        Y = np.ascontiguousarray(Y, dtype=dtype).reshape(-1)
        # log(1 + e^-|z|) by NumPy's SIMD exp and log1p (no SVML for a Numba loop), the rest in one pass
        softplus = np.abs(Z, out=self._scratch(Z.shape, dtype))  # reused: no allocation per step
        np.negative(softplus, out=softplus)
        np.exp(softplus, out=softplus)
        np.log1p(softplus, out=softplus)
        cost = _kernels.cross_entropy_sum(Z, Y, softplus)
        return _cost_out(cost, dtype, out)

    def backprop_dense(self, dZ, A_prev, W, need_dA_prev=True, out=None):
        """Return (dW, db, dA_prev) for one layer; dA_prev is None when not needed (input layer)."""
        shapes.backprop_dense(dZ, A_prev, W, need_dA_prev, out)
        dW, db, dA_prev = out if out is not None else (None, None, None)
        dtype = getattr(dZ, "dtype", None)
        if not (_ready(dtype, dW) and dZ.shape[0]
                and (db is None or (type(db) is np.ndarray and db.dtype == dtype))):
            return super().backprop_dense(dZ, A_prev, W, need_dA_prev=need_dA_prev, out=out)
        # The matmuls stay on NumPy's BLAS, called from Python: np.dot inside njit goes to
        # SciPy's own OpenBLAS, whose threads then fight NumPy's (16 ms against 0.63 ms).
        dW = np.matmul(dZ.T, A_prev, out=dW)
        if dW.dtype == dtype:
            _kernels.scale(dW.reshape(-1), 1.0 / dZ.shape[0])
        else:  # A_prev or W of a wider dtype: scale the way the portable code does
            dW *= 1.0 / dZ.shape[0]
        sums = db if _ready(dtype, db) and db is not None else np.empty((dZ.shape[1], 1), dtype)
        _kernels.bias_gradient(_contiguous(dZ, dtype), sums.reshape(-1))
        if db is None:
            db = sums
        elif sums is not db:  # a strided buffer: filled through a contiguous one
            db[...] = sums.reshape(db.shape)
        dA_prev = np.matmul(dZ, W, out=dA_prev) if need_dA_prev else None
        return dW, db, dA_prev

    def sgd_update(self, params, grads, learning_rate):
        """Gradient descent in place, for each pair: param := param - learning_rate * grad."""
        shapes.sgd_update(params, grads)
        for param, grad in zip(params, grads):
            if param.size >= _SGD_KERNEL_MIN and _ready(param.dtype, param, grad):
                _kernels.sgd_update(param.reshape(-1), grad.reshape(-1), float(learning_rate))
            else:
                super().sgd_update([param], [grad], learning_rate)

    # -- helpers -----------------------------------------------------------------------

    @staticmethod
    def _softmax_kernel(Z, bias, out, keep_biased):
        """A = softmax(Z + bias) per row in one kernel; Z keeps Z + bias when `keep_biased`."""
        A = np.empty(Z.shape, Z.dtype) if out is None else out
        _kernels.bias_softmax(Z, bias, A, keep_biased)
        return A

    # -- the notes' vectorisation demo ---------------------------------------------------

    def dot_loop(self, w, x, b):
        """z = w.x + b with an explicit for-loop over the elements, as the notes time it."""
        shapes.vector_pair("dot_loop", w, x, ("w", "x"))
        dtype = getattr(w, "dtype", None)
        if dtype not in FLOAT_DTYPES:
            return super().dot_loop(w, x, b)
        w_c, x_c = _contiguous(w, dtype), _contiguous(x, dtype)
        if x_c is None:  # x of another dtype: the plain Python loop
            return super().dot_loop(w, x, b)
        # The kernel returns a Python float; a float32 sum converts back exactly.
        return dtype.type(_kernels.dot_loop(w_c, x_c)) + b


def _cost_out(cost, dtype, out):
    """The kernel's cost as a 0-d array of `dtype`, written into `out` when given."""
    if out is None:
        return np.asarray(cost, dtype=dtype)  # a float32 sum converts back exactly
    out[...] = cost
    return out


class _Plan:
    """The model a workspace's step was planned for: the plan is made again only if the model changes.

    This one says that the model does not fit the fused kernels, so the portable step runs.
    """

    def __init__(self, weights, biases, activations, learning_rate):
        self.model = (weights, biases, activations, learning_rate)
        self.arrays = (*weights[1:], *biases[1:])

    def fits(self, weights, biases, activations, learning_rate):
        """True when this plan was made for exactly these parameter arrays and settings."""
        model = self.model
        if not (weights is model[0] and biases is model[1] and activations is model[2]
                and learning_rate == model[3]):
            return False
        return all(a is b for a, b in zip(self.arrays, (*weights[1:], *biases[1:])))

    def finish(self):
        """Apply any update the plan deferred (none here)."""


class _FusedStep(_Plan):
    """The arguments of the numba engine's fused step for one workspace and one model, made once.

    Layers 1..head run on BLAS (called from Python) plus one kernel each; layers head+1..L
    run in one tail_step call. The lists are read again only if the model changes.
    """

    @classmethod
    def make(cls, weights, biases, activations, learning_rate, workspace):
        """A fused plan, or a plain _Plan when the step does not fit the kernels (the portable step runs)."""
        ws, L = workspace, len(weights) - 1
        dtype = getattr(weights[1], "dtype", None)
        arrays = [ws.X, ws.Y, *weights[1:], *biases[1:]]
        if not (_ready(dtype, *arrays) and activations[L] == "sigmoid" and weights[L].shape[0] == 1
                and ws.Y.shape == (ws.X.shape[0], 1) and ws.X.shape[0]
                and all(b.shape == (W.shape[0], 1) for W, b in zip(weights[1:], biases[1:]))):
            return _Plan(weights, biases, activations, learning_rate)
        return cls(weights, biases, activations, learning_rate, workspace)

    def __init__(self, weights, biases, activations, learning_rate, workspace):
        ws, L = workspace, len(weights) - 1
        m = ws.X.shape[0]
        super().__init__(weights, biases, activations, learning_rate)
        self.dtype = weights[1].dtype
        codes = [None] + [activation_code(a) for a in activations[1:]]
        head = L
        # Every activation is call-free in the tail: tanh's cost there is small beside the tail's
        # other loops (per step of [2, 4, 1], thread time, busy machine, us, tanh against relu in
        # the tail, then on NumPy: 400 rows 44.0/35.7, 38.7/33.5; 1,600 rows 187/163, 142/135).
        # Where the tail loses, it loses for relu too (_TAIL_MAX_MACS's matter).
        while head > 0 and m * weights[head].size <= _TAIL_MAX_MACS:
            head -= 1
        self.head = head
        self.scale = learning_rate / m
        self.cost = ws.cost.reshape(1)  # a view: the kernels write the cost through it
        self.codes = codes
        self.A = [ws.X] + ws.A[1:]
        # The workspace's lists, not the workspace: it holds this plan, and a cycle would keep
        # its batch (for a full batch, a cast copy of X) alive after fit until a collection.
        self.Y, self.Z, self.dZ, self.dW = ws.Y, ws.Z, ws.dZ, ws.dW
        self.weights, self.biases, self.activations = weights, biases, activations
        # Wide data on a fixed batch: layer 1 switches to the Gram form after a few direct steps.
        self.gram = None
        self.gram_countdown = (gram.steps_before_switching(ws.X, weights[1])
                               if head >= 1 and gram.worth_it(ws.X, ws.batch_is_fixed) else None)
        if head < L:
            self.tail_args = self._tail_arguments(ws, head, L)

    def _tail_arguments(self, ws, head, L):
        """tail_step's arguments. The tail's buffers are (units, m), the notes' layout, so its
        loops run along the examples; the workspace's A^[l] and dZ^[l] of tail layers become their
        transposed views (still (m, units)). Input and the head's dZ cross over through Xt and head_dZt."""
        weights, biases = self.weights, self.biases
        tail = range(head + 1, L + 1)
        dtype = weights[1].dtype
        m, k = self.A[head].shape
        for l in tail:
            ws.A[l] = np.empty((weights[l].shape[0], m), dtype).T
            ws.dZ[l] = np.empty((weights[l].shape[0], m), dtype).T
        none = np.zeros((0, 1), dtype)
        fixed_input = head == 0 and ws.batch_is_fixed
        Xt = np.ascontiguousarray(ws.X.T) if fixed_input else np.empty((k, m), dtype)
        return (
            self.A[head], Xt, not fixed_input, ws.Y, tuple(weights[l] for l in tail),
            tuple(biases[l] for l in tail), tuple(ws.A[l].T for l in tail), tuple(ws.dZ[l].T for l in tail),
            np.array([self.codes[l] for l in tail], np.int64), self.scale, LEAKY_RELU_SLOPE,
            ws.dZ[head] if head else none, np.empty((k, m), dtype) if head else none,
            biases[head] if head else np.zeros((1, 1), dtype), self.codes[head] if head else 0, self.cost)

    def run(self):
        """Forward, cost, backward and update: BLAS for the head, one call for the tail."""
        A, W, b, codes, head, dZ = self.A, self.weights, self.biases, self.codes, self.head, self.dZ
        L = len(W) - 1
        if self.gram_countdown == 0:  # made when a step is to use it: a fit that ends here never pays for G
            self.gram, self.gram_countdown = gram.GramLayer.make(A[0], W[1], self.dW[1]), None
        for l in range(1, head + 1):
            product = self.Z[l] if l == L else A[l]
            if l == 1 and self.gram is not None:
                self.gram.forward(product)
            else:
                np.matmul(A[l - 1], W[l].T, out=product)
            if l == L:  # a large output layer: its product on BLAS, the rest in one kernel
                _step.output_step(self.Z[l], b[l], self.Y, self.scale, dZ[l], self.cost)
                break
            if codes[l] != _kernels.TANH or A[l].size <= _SCALAR_MATH_MAX:
                _step.bias_activation(A[l], b[l], codes[l], LEAKY_RELU_SLOPE)
            else:  # NumPy's SIMD tanh beats the kernel's on many values
                np.add(A[l], b[l].T, out=A[l])
                np.tanh(A[l], out=A[l])
        if head < L:
            _step.tail_step(*self.tail_args)
        for l in range(head, 0, -1):
            if l > 1:  # dA^[l-1] = dZ W, before W changes, straight into dZ^[l-1]
                np.matmul(dZ[l], W[l], out=dZ[l - 1])
            if l == 1 and self.gram is not None:
                self.gram.update(dZ[1])
            else:
                np.matmul(dZ[l].T, A[l - 1], out=self.dW[l])  # already learning_rate * dW
                np.subtract(W[l], self.dW[l], out=W[l])
            if l > 1:
                _step.backprop_bias(dZ[l - 1], A[l - 1], codes[l - 1], LEAKY_RELU_SLOPE, b[l - 1])
        if self.gram_countdown:
            self.gram_countdown -= 1

    def finish(self):
        """Apply what the Gram form of layer 1 has not yet written into W^[1]."""
        if self.gram is not None:
            self.gram.flush()
