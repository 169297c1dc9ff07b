"""The engine interface: every hot loop of training, written once against ``self.xp``.

Layout. An engine stores examples in rows, so one mini-batch is a contiguous block of
rows: ``A`` here is the notes' A^[l] transposed, shape (m, n^[l]). Parameters keep the
notes' shapes, W^[l]: (n^[l], n^[l-1]) and b^[l]: (n^[l], 1). Every equation below is the
notes' equation transposed, e.g. Z^T = A_prev^T W^T + b^T for Z = W A_prev + b.

A faster engine subclasses :class:`Engine` and overrides only the methods it speeds up;
it never adds public methods of its own (``tests/test_engine_interface.py`` checks this).
Every public method first calls its shape check in :mod:`.shapes`, so a mismatched shape
gets the same clear error on every engine. The checks run once, at the boundary: a method
that has checked its arguments calls the unchecked halves (``_matmul``, ``_bias_activation``,
``_activation``), which are what engines override, never the public methods again.
Code outside the engines (the training loop, the benchmarks) never operates on engine
arrays itself: it calls engine methods, so an engine can run the work where its arrays
live (``tests/test_layering.py`` checks this).
"""

import threading

import numpy as np

from .. import propagation
from ..activations import LEAKY_RELU_SLOPE, SOFTMAX, check_activation, check_output_activation
from . import shapes

# Weight shapes whose update buffer each thread keeps (a network has two per layer).
_MAX_SCRATCH_BUFFERS = 32


class Engine:
    """Base class of all engines; its methods are the portable NumPy-API implementation."""

    name = "base"
    device_kind = "cpu"  # "cpu" or "gpu": where the arrays live (GPU engines' tests carry the gpu marker)

    @classmethod
    def unavailable_reason(cls):
        """Why this engine cannot run here (a sentence saying what to do), or None if it can."""
        return None

    @property
    def xp(self):
        """The array module (numpy, cupy) whose functions this engine's arrays work with."""
        return np

    @property
    def device(self):
        """A short description of where this engine's arrays live."""
        return "cpu"

    def memory_info(self):
        """A dict describing the device memory and what the engine's pool holds (empty on CPUs)."""
        return {}

    def capture_step(self, step):
        """Return a callable that runs `step()`, possibly faster (a CUDA graph on the GPU).

        `step` must only launch work into preallocated buffers: no new arrays, no reading
        results back, same shapes on every call. The base engine simply returns it.
        """
        return step

    def __repr__(self):
        return f"<fastnn engine {self.name!r} on {self.device}>"

    def __reduce__(self):
        """Pickle (and deepcopy) an engine as its name and options: unpickling asks the registry
        for that engine, so thread-local buffers and device handles are never copied."""
        from .registry import engine_by_name

        return engine_by_name, (self.name, self._options())

    def _options(self):
        """The constructor options that make this instance what it is (none for CPU engines)."""
        return {}

    # -- moving data -------------------------------------------------------------------

    def asarray(self, x, dtype=None):
        """Return `x` as this engine's array, keeping a float32/float64 dtype unless `dtype` is given."""
        return self.xp.asarray(x, dtype=dtype)

    def to_numpy(self, x):
        """Return `x` as a NumPy array on the host (a copy only when `x` lives elsewhere)."""
        return np.asarray(x)

    def synchronize(self):
        """Wait until all queued work is done (a no-op for engines that run synchronously)."""

    def empty(self, shape, dtype):
        """Return an uninitialised array, used for buffers reused across training steps."""
        return self.xp.empty(shape, dtype=dtype)

    def training_data(self, X, dtype):
        """Return X as the training loop reads it, in `dtype` or cast to it batch by batch.

        Host engines keep host data in its dtype (rows made contiguous): take_rows casts
        each mini-batch as it cuts it, so a float64 X trained in float32 costs one float32
        batch, not a float32 copy of X. An engine whose arrays live on another device copies X there once, in `dtype`.
        """
        if self.device_kind == "cpu" and isinstance(X, np.ndarray):
            # Rows must be contiguous for the row gathers and fused kernels: a Fortran-ordered
            # X (the course's train_x.T) is copied once, not read with strides every step.
            return np.ascontiguousarray(X)
        return self.asarray(X, dtype=dtype)

    def take_rows(self, X, rows, out=None):
        """Gather examples `rows` of X (a mini-batch), cast to out's dtype; rows are examples, so this copies blocks."""
        shapes.take_rows(X, rows, out)
        if out is not None and out.dtype != X.dtype:  # np.take writes only into its own dtype
            out[...] = self.xp.take(X, rows, axis=0)
            return out
        return self.xp.take(X, rows, axis=0, out=out)

    def copy(self, x, out=None):
        """Return a copy of `x` (written into `out` when given), on this engine's device."""
        shapes.copy(x, out)
        if out is None:
            return self.xp.array(x, copy=True)
        self.xp.copyto(out, x)
        return out

    def store(self, array, index, value):
        """array[index] = value, where both live: a cost into its slot, never read back here."""
        array[index] = value

    def weighted_sum(self, values, weights):
        """Return the sum of values[i] * weights[i] as an engine scalar (an epoch's mean batch cost)."""
        shapes.vector_pair("weighted_sum", values, weights, ("values", "weights"))
        return self.xp.dot(values, weights)

    # -- forward -----------------------------------------------------------------------

    def matmul(self, a, b, out=None):
        """Matrix product a @ b (BLAS on the CPU engines)."""
        shapes.matmul(a, b, out)
        return self._matmul(a, b, out)

    def dense_forward(self, A_prev, W, b, activation, out=None):
        """Return (Z, A): the notes' Z = W A_prev + b and A = g(Z), in the row layout.

        `out` is an optional pair of buffers (Z, A) of shape (m, n^[l]) to write into.
        """
        shapes.dense_forward(A_prev, W, b, out)
        check_output_activation(activation)
        Z, A = out if out is not None else (None, None)
        Z = self._matmul(A_prev, W.T, Z)  # checked above: the unchecked halves from here
        return Z, self._bias_activation(Z, b, activation, A)

    def bias_activation(self, Z, b, activation, out=None):
        """Add the bias to Z in place, then return A = g(Z): the non-matmul half of the forward."""
        check_output_activation(activation)
        shapes.bias_activation(Z, b, out)
        return self._bias_activation(Z, b, activation, out)

    def activation(self, Z, activation, out=None):
        """Return A = g(Z) for one of the notes' activations (sigmoid computed so it cannot overflow).

        "softmax" (the output of K > 1 classes) normalises each row of Z (m, K) instead:
        a_k = e^(z_k - max z) / sum_j e^(z_j - max z). Shifting by the row's max leaves a
        unchanged and makes every exponent <= 0, so no finite logit overflows.
        """
        shapes.activation(Z, out)
        check_output_activation(activation)
        if activation == SOFTMAX:
            _check_rows(Z, "softmax")
        return self._activation(Z, activation, out)

    # -- the unchecked halves: called once the public method has checked the arguments ------

    def _matmul(self, a, b, out):
        """matmul without its shape check."""
        return self.xp.matmul(a, b, out=out)

    def _bias_activation(self, Z, b, activation, out):
        """bias_activation without its checks (shapes and the activation's name)."""
        Z += b.T
        return self._activation(Z, activation, out)

    def _activation(self, Z, activation, out):
        """activation without its checks: Z is (m, n) and `activation` a known name."""
        xp = self.xp
        if activation == SOFTMAX:
            A = xp.subtract(Z, xp.max(Z, axis=1, keepdims=True), out=out)
            xp.exp(A, out=A)
            A /= xp.sum(A, axis=1, keepdims=True)
            return A
        if activation == "sigmoid":
            # 1 / (1 + e^-z) for z >= 0 and e^z / (1 + e^z) for z < 0, as one quotient
            # e^min(z, 0) / (1 + e^-|z|): no exponent is positive, so nothing overflows, and
            # the tail keeps full relative accuracy (tanh(z/2)/2 + 1/2 is 0 from z = -20 in
            # float32). Two exps, not a select: a mask over random signs costs 10x a pass.
            denominator = xp.exp(-xp.abs(Z))  # read Z before `out` (which may be Z) is written
            denominator += 1
            A = xp.minimum(Z, 0, out=out)
            xp.exp(A, out=A)
            return xp.divide(A, denominator, out=A)
        if activation == "tanh":
            return xp.tanh(Z, out=out)
        if activation == "relu":
            return xp.maximum(Z, 0, out=out)
        if activation == "leaky_relu":
            return xp.maximum(Z, LEAKY_RELU_SLOPE * Z, out=out)
        raise AssertionError(f"_activation: {activation!r} was not checked")  # pragma: no cover

    # -- backward ----------------------------------------------------------------------

    def backprop_activation(self, dA, A, activation, out=None):
        """Return dZ = dA * g'(Z), with g'(Z) written through the saved output A = g(Z).

        sigmoid: a (1 - a); tanh: 1 - a^2; relu: 1 if z > 0 else 0; leaky relu: 1 if z > 0
        else 0.01. For both ReLUs, z > 0 exactly when a > 0, so Z need not be kept. The
        product is always taken, so NaN or inf in dA gives NaN even where g'(z) = 0 (IEEE).
        `out` may be dA or A itself: g'(Z) is formed before anything is written.
        """
        shapes.backprop_activation(dA, A, out)
        xp = self.xp
        if activation == "sigmoid":
            derivative = 1 - A
            derivative *= A
        elif activation == "tanh":
            derivative = A * A
            xp.subtract(1, derivative, out=derivative)
        elif activation == "relu":
            derivative = A > 0
        elif activation == "leaky_relu":
            derivative = xp.where(A > 0, A.dtype.type(1), A.dtype.type(LEAKY_RELU_SLOPE))
        else:
            check_activation(activation)
        return xp.multiply(dA, derivative, out=out)

    def backprop_sigmoid_cross_entropy(self, A, Y, out=None):
        """Return the output layer's dZ^[L] = A^[L] - Y (sigmoid and cross-entropy, fused)."""
        shapes.backprop_sigmoid_cross_entropy(A, Y, out)
        return self.xp.subtract(A, self.xp.asarray(Y, dtype=A.dtype), out=out)

    def backprop_softmax_cross_entropy(self, A, Y, out=None):
        """Return the output layer's dZ^[L] = A^[L] - Y (softmax and categorical cross-entropy, fused).

        The softmax's Jacobian and the cost's gradient cancel to the sigmoid's A - Y, so every
        engine's fused subtraction serves both.
        """
        shapes.backprop_sigmoid_cross_entropy(A, Y, out, method="backprop_softmax_cross_entropy")
        return self.backprop_sigmoid_cross_entropy(A, Y, out=out)

    def cross_entropy_cost(self, Z, Y, out=None):
        """Return the cost J = (1/m) sum L(y_hat, y) as a 0-d array, from the logits Z = Z^[L].

        The output's K = Z.shape[1] chooses the cost. K = 1, the notes' sigmoid unit:
        -[y log y_hat + (1 - y) log(1 - y_hat)] equals max(z, 0) - y z + log(1 + e^-|z|),
        which is finite for every finite z. K > 1, softmax over K classes with Y one-hot
        (m, K): -sum_k y_k log a_k = sum_k y_k (lse - z_k), lse = log sum_j e^z_j taken
        with the max shift, so no finite z overflows and a tiny a_k costs no log(0).
        """
        shapes.cross_entropy_cost(Z, Y, out)
        xp = self.xp
        Y = xp.asarray(Y, dtype=Z.dtype)  # labels may come as integers; keep Z's precision
        if Z.ndim == 2 and Z.shape[1] > 1:
            return self._softmax_cross_entropy_cost(Z, Y, out)
        losses = xp.maximum(Z, 0) - Z * Y + xp.log1p(xp.exp(-xp.abs(Z)))
        return xp.mean(losses, out=out)

    def _softmax_cross_entropy_cost(self, Z, Y, out):
        """The K > 1 case of cross_entropy_cost: mean over rows of sum_k y_k (lse - z_k)."""
        xp = self.xp
        if Y.shape != Z.shape:
            raise ValueError(f"cross_entropy_cost: expected one-hot targets Y of shape {Z.shape}, got {Y.shape}")
        shifted = Z - xp.max(Z, axis=1, keepdims=True)
        lse = xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))
        losses = xp.sum(Y * (lse - shifted), axis=1)
        return xp.mean(losses, out=out)

    def backprop_dense(self, dZ, A_prev, W, need_dA_prev=True, out=None):
        """Return (dW, db, dA_prev) for one layer; dA_prev is None when not needed (input layer).

        dW = (1/m) dZ A_prev^T, db = (1/m) sum over examples of dZ, dA_prev = W^T dZ.
        `out` is an optional triple of buffers (dW, db, dA_prev) to write into.
        """
        shapes.backprop_dense(dZ, A_prev, W, need_dA_prev, out)
        dW, db, dA_prev = out if out is not None else (None, None, None)
        inverse_m = 1.0 / dZ.shape[0]
        dW = self._matmul(dZ.T, A_prev, dW)  # shapes checked above
        dW *= inverse_m
        # keepdims gives (1, n); writing through db.T (a view, never a copy) fills db as (n, 1).
        db = self.xp.sum(dZ, axis=0, keepdims=True, out=None if db is None else db.T).T
        db *= inverse_m
        if need_dA_prev:
            dA_prev = self._matmul(dZ, W, dA_prev)
        else:
            dA_prev = None
        return dW, db, dA_prev

    def training_step(self, weights, biases, activations, learning_rate, workspace):
        """One step of gradient descent on the batch in workspace.X / workspace.Y.

        Updates `weights` and `biases` (lists indexed from 1) in place and writes the batch
        cost into workspace.cost. It only launches work into the workspace's buffers (no
        read-back), so a GPU engine may capture it as a graph. Here: forward, cost,
        backward, update, one engine method each; an engine may fuse them, and may defer part
        of the update until finish_training (the numba engine's Gram form of layer 1): until
        then the parameters belong to the steps, to be neither read nor changed.
        """
        _, dW, db = propagation.cost_and_gradients(self, weights, biases, activations, workspace.X, workspace.Y,
                                                   workspace)
        self.sgd_update(weights[1:] + biases[1:], dW[1:] + db[1:], learning_rate)

    def training_steps(self, step, weights, biases, activations, learning_rate, workspace, costs):
        """Run len(costs) steps on the fixed batch in `workspace`, step i's cost into costs[i].

        `step` is this model's training_step on `workspace`, as capture_step returned it:
        full-batch epochs back to back, with no read-back between them. Here: `step` each
        time; an engine may run them all in one call.
        """
        for i in range(costs.shape[0]):
            step()
            self.store(costs, i, workspace.cost)

    def finish_training(self, workspace):
        """Make the parameters hold every step run on `workspace`: an engine that defers part of
        an update (the numba engine's Gram form of layer 1) applies it here. Nothing is deferred here."""

    def sgd_update(self, params, grads, learning_rate):
        """Gradient descent in place, for each pair: param := param - learning_rate * grad."""
        shapes.sgd_update(params, grads)
        for param, grad in zip(params, grads):
            step = self.xp.multiply(grad, learning_rate, out=self._scratch(grad.shape, grad.dtype))
            param -= step

    def _scratch(self, shape, dtype):
        """A buffer reused by every call of this shape and dtype in this thread.

        Fresh temporaries of weight size in each step cost page faults whenever the
        allocator hands the memory back to the system between steps.
        """
        local = self.__dict__.get("_thread_buffers")
        if local is None:
            local = self.__dict__.setdefault("_thread_buffers", threading.local())
        buffers = local.__dict__
        key = (shape, dtype)  # no str(dtype): this runs twice per layer and step
        if key not in buffers:
            if len(buffers) >= _MAX_SCRATCH_BUFFERS:  # a run of many shapes: start afresh
                buffers.clear()
            buffers[key] = self.empty(shape, dtype)
        return buffers[key]

    # -- the notes' vectorisation demo ---------------------------------------------------

    def dot_loop(self, w, x, b):
        """z = w.x + b with an explicit for-loop over the elements, as the notes time it."""
        shapes.vector_pair("dot_loop", w, x, ("w", "x"))
        z = 0.0
        for i in range(w.shape[0]):
            z += w[i] * x[i]
        return z + b

    def dot_vectorized(self, w, x, b):
        """z = w.x + b as one vectorised call (np.dot in the notes)."""
        shapes.vector_pair("dot_vectorized", w, x, ("w", "x"))
        return self.xp.dot(w, x) + b


def _check_rows(Z, what):
    """Softmax works on rows of K class scores: Z must be (m, K)."""
    if getattr(Z, "ndim", None) != 2:
        raise ValueError(f"{what}: expected logits of shape (m examples, K classes), got shape {getattr(Z, 'shape', None)}")
