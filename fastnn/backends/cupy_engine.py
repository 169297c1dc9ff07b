"""The cupy engine: the same interface on an NVIDIA GPU, through CuPy, cuBLAS and fastnn's kernels.

Importing this module imports no CuPy, compiles nothing and touches no GPU: CuPy is imported
by the first method that needs it, and ``fastnn_kernels.cu`` is compiled at the first kernel
launch (fastnn/kernels/cuda.py). All work runs under ``with cupy.cuda.Device(...)`` on the
current stream, and no step method waits for the GPU or reads a result back: the cost stays a
device scalar until the caller asks for it.

Host and device: one rule for every method. ``asarray`` is the only way in (host data is
copied to the engine's device, C-contiguous) and ``to_numpy`` the only way out. Every other
method takes its arrays on the engine's device and refuses, before any work, a host array
(TypeError) or an array on another device (ValueError), naming the argument. Scalars
(learning rate, bias of the dot demo, an index) are plain numbers.

Matrix products use cuBLAS through ``cupy.matmul``, except while a training step is captured
into a CUDA graph (:meth:`CupyEngine.capture_step`): CuPy 14 refuses its cuBLAS wrappers
during capture, so captured steps call cuBLAS directly through a handle of the engine's own
(fastnn/kernels/cublas.py), or, when that library cannot be opened (or
``FASTNN_GRAPH_GEMM=tiled``), fastnn's tiled GEMM kernel ``gemm_tiled``.
"""

import functools
import importlib.util
import inspect
import os
import threading

import numpy as np

from ..activations import ACTIVATION_CODES, LEAKY_RELU_SLOPE, SOFTMAX, activation_code
from ..errors import EngineUnavailableError
from ..kernels import cublas
from ..kernels import cuda as kernels
from ..validation import FLOAT_DTYPES
from . import shapes
from .base import Engine

DEVICE_VARIABLE = "FASTNN_CUDA_DEVICE"
GRAPH_GEMM_VARIABLE = "FASTNN_GRAPH_GEMM"  # "tiled" makes captured steps use gemm_tiled
NO_GPU_ADVICE = "on this machine use engine 'numba' or 'numpy', or install an NVIDIA driver"
NOT_INSTALLED = "CuPy is not installed: pip install cupy-cuda12x (or cupy-cuda13x for a CUDA 13 driver)"


@functools.cache
def _cupy():
    """The cupy module, imported on first use (slow, and it needs CUDA libraries)."""
    import cupy

    return cupy


@functools.cache
def _probe():
    """Return (reason, device_count): why CuPy cannot run here (None if it can). Never raises."""
    if importlib.util.find_spec("cupy") is None:
        return NOT_INSTALLED, 0
    try:
        cupy = _cupy()
    except Exception as error:  # a broken install: missing CUDA libraries, two cupy wheels...
        return f"CuPy failed to import: {type(error).__name__}: {error}", 0
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as error:  # cudaErrorInsufficientDriver, cudaErrorNoDevice, ...
        return f"no usable CUDA GPU ({error}); {NO_GPU_ADVICE}", 0
    if count == 0:
        return f"no usable CUDA GPU (the CUDA driver reports no device); {NO_GPU_ADVICE}", 0
    try:
        cupy.cuda.nvrtc.getVersion()
    except Exception as error:
        return f"CuPy cannot load NVRTC, which compiles fastnn's kernels: {error}", count
    return None, count


def _device_index(device):
    """The device index: `device`, else $FASTNN_CUDA_DEVICE, else 0 (ValueError if not an index)."""
    if device is None:
        device = os.environ.get(DEVICE_VARIABLE, "").strip() or "0"
    index = None
    if isinstance(device, str) and device.strip().isdigit():
        index = int(device)
    elif isinstance(device, (int, np.integer)) and not isinstance(device, bool) and device >= 0:
        index = int(device)
    if index is None:
        raise ValueError(
            f"device: expected a CUDA device index >= 0 (also ${DEVICE_VARIABLE}), got {device!r}"
        )
    return index


def _check_argument(value, device, what):
    """Refuse host data or an array on another device where `value` should be on `device`."""
    if value is None or isinstance(value, (str, bool, int, float, np.generic)):
        return  # options and scalars
    if isinstance(value, (list, tuple)):
        if any(isinstance(v, (int, float, np.generic)) for v in value):
            raise TypeError(f"{what}: expected device arrays, got a {type(value).__name__} of numbers (host data); "
                            "move it to the device with engine.asarray(...)")
        for i, v in enumerate(value):
            _check_argument(v, device, f"{what}[{i}]")
        return
    kernels.check_device_array(value, device, what)


def _device_arrays(method):
    """Check every array argument of `method` against the engine's device before it runs."""
    names = tuple(inspect.signature(method).parameters)[1:]

    @functools.wraps(method)
    def checked(self, *args, **kwargs):
        for name, value in zip(names, args):
            _check_argument(value, self._device, f"{method.__name__}: {name}")
        for name, value in kwargs.items():
            _check_argument(value, self._device, f"{method.__name__}: {name}")
        return method(self, *args, **kwargs)

    return checked


@functools.cache
def _allocation_counter_class():
    """A CuPy memory hook that counts the arrays allocated while it is active (defined lazily)."""

    class AllocationCounter(_cupy().cuda.MemoryHook):
        name = "fastnn_allocation_counter"

        def __init__(self):
            self.count = 0

        def malloc_preprocess(self, **kwargs):
            self.count += 1

    return AllocationCounter


class _CapturedStep:
    """A training step replayed as a CUDA graph; the engine's `capture_step` returns one.

    The first call runs the step for real (the warm-up: it compiles the kernels and sizes
    the memory pool), then records it on a non-blocking stream without running it. Later
    calls replay the graph on the current stream, so they stay ordered with the caller's
    other work (copying the next batch into the step's input buffers, reading results).
    If recording fails, the step runs eagerly from then on and `reason` says why.

    Attributes: `mode` is "graph", "eager" or "pending" (before the first call); `reason`
    explains an eager mode; `gemm` says how the recorded step multiplies matrices.
    """

    def __init__(self, engine, step, use_graph, reason=None):
        self._engine = engine
        self._step = step
        self._graph = None
        self.mode = "pending" if use_graph else "eager"
        self.reason = reason
        self.gemm = "cupy.matmul (cuBLAS through CuPy)"

    def __call__(self):
        if self._graph is not None:
            with _cupy().cuda.Device(self._engine._device):
                self._graph.launch(_cupy().cuda.get_current_stream())
        elif self.mode == "pending":
            self.mode = "eager"  # stays so if the warm-up or the capture raises
            self._warm_up_and_capture()
        else:
            self._step()

    def _warm_up_and_capture(self):
        cupy = _cupy()
        engine = self._engine
        with cupy.cuda.Device(engine._device), engine._capture_lock:
            stream = engine._graph_stream()
            engine._local.gemm, self.gemm = engine._graph_gemm()
            try:
                # The capture stream does not wait for the current (legacy) stream: finish what
                # was queued before (the batch copies), then warm up on the capture stream, where
                # the direct cuBLAS handle is bound, with the same GEMM path as the recording.
                engine.synchronize()
                with stream:
                    try:
                        self._step()
                    except cublas.CublasError as error:
                        # Refused before anything was queued: the step reruns whole, tiled.
                        engine._cublas = (None, f"a call failed in the warm-up: {error}")
                        engine._local.gemm, self.gemm = engine._graph_gemm()
                        self._step()
                stream.synchronize()
                self._graph, self.reason = _capture(self._step, stream)
            finally:
                engine._local.gemm = None
        self.mode = "graph" if self._graph is not None else "eager"
        engine._graph_status = (self.mode, self.reason, self.gemm)


def _capture(step, stream):
    """Record `step()` on `stream`; return (graph, None), or (None, why) if it cannot be a graph."""
    cupy = _cupy()
    counter = _allocation_counter_class()()
    with stream:
        try:
            stream.begin_capture()
        except Exception as error:
            return None, f"could not start a capture, running eagerly: {type(error).__name__}: {error}"
        try:
            with counter:
                step()
        except Exception as error:  # e.g. NotImplementedError: cuBLAS called during capture
            try:
                stream.end_capture()
            except Exception:
                pass  # the capture was already invalidated; nothing was run
            return None, f"capture failed, running eagerly: {type(error).__name__}: {error}"
        try:
            graph = stream.end_capture()
        except cupy.cuda.runtime.CUDARuntimeError as error:
            return None, f"capture was invalidated, running eagerly: {error}"
    if counter.count:
        # A graph keeps the addresses it was recorded with; a temporary array is freed after
        # the step and its memory handed to another array, which the replay would overwrite.
        return None, (
            f"the step allocated {counter.count} array(s) while being recorded; a graph needs "
            "preallocated buffers (out=...), running eagerly"
        )
    graph.upload(stream)
    stream.synchronize()
    return graph, None


class CupyEngine(Engine):
    """CuPy on one NVIDIA GPU: cuBLAS for products, fastnn's CUDA kernels for the rest.

    Parameters
    ----------
    device : int, optional
        CUDA device index; default ``$FASTNN_CUDA_DEVICE``, else 0.
    graph : bool, optional
        Whether :meth:`capture_step` records training steps as CUDA graphs. None (default)
        runs them eagerly until graphs are measured faster on a GPU; True or False forces.
    """

    name = "cupy"
    device_kind = "gpu"

    def __init__(self, device=None, graph=None):
        if graph not in (None, True, False):
            raise ValueError(f"graph: expected None, True or False, got {graph!r}")
        self._device = _device_index(device)
        reason, count = _probe()
        if reason is not None:
            raise EngineUnavailableError(f"engine 'cupy' cannot run here: {reason}")
        if self._device >= count:
            raise EngineUnavailableError(
                f"engine 'cupy' cannot run here: device {self._device} does not exist (found {count})"
            )
        self._graph = graph
        self._name = None  # the device's name, asked for on first use
        self._graph_status = None  # (mode, reason, gemm) of the last captured step, for benchmarks
        self._local = threading.local()  # gemm: "cublas" or "tiled" while this thread records a graph
        self._capture_lock = threading.Lock()
        self._stream = None  # the non-blocking stream every graph is recorded on, made once
        self._cublas = None  # (cublas.Handle bound to that stream, its workspace) or (None, why not)

    def _options(self):
        return {"device": self._device, "graph": self._graph}

    @classmethod
    def unavailable_reason(cls):
        """Why CuPy cannot run here (a sentence saying what to do), or None if it can."""
        try:
            reason, count = _probe()
            if reason is not None:
                return reason
            try:
                device = _device_index(None)
            except ValueError as error:
                return str(error)
            if device >= count:
                return f"device {device} does not exist (found {count})"
            return None
        except Exception as error:  # never raise from an availability check
            return f"CuPy availability check failed: {type(error).__name__}: {error}"

    @property
    def xp(self):
        """The cupy module."""
        return _cupy()

    @property
    def device(self):
        """Where the arrays live, e.g. ``"cuda:0 (NVIDIA H200)"``."""
        return f"cuda:{self._device} ({self._device_name()})"

    def memory_info(self):
        """Device name, total and free device memory, and what CuPy's memory pool holds (bytes)."""
        cupy = _cupy()
        with cupy.cuda.Device(self._device):
            free, total = cupy.cuda.runtime.memGetInfo()
            pool = cupy.get_default_memory_pool()
            return {
                "device": self.device,
                "total_bytes": int(total),
                "free_bytes": int(free),
                "pool_used_bytes": int(pool.used_bytes()),
                "pool_total_bytes": int(pool.total_bytes()),
            }

    def capture_step(self, step):
        """Return a callable running `step()`; with ``graph=True``, replayed as a CUDA graph.

        The first call runs `step` for real, then records it (see :class:`_CapturedStep`).
        `step` must only launch work into preallocated buffers (out=...), use the same shapes
        and scalars every call (the learning rate is frozen into the graph), and read nothing
        back. If it cannot be recorded, it runs eagerly and the returned object's `reason`
        says why.
        """
        if self._graph:
            return _CapturedStep(self, step, use_graph=True)
        why = "graph=False" if self._graph is False else (
            "graph=None: eager by default until graphs are measured faster on a GPU; "
            "CupyEngine(graph=True) forces them"
        )
        return _CapturedStep(self, step, use_graph=False, reason=why)

    # -- moving data -------------------------------------------------------------------

    def asarray(self, x, dtype=None):
        """Copy host data `x` to this engine's device (asynchronously) as a C-contiguous array.

        Keeps the dtype unless `dtype` is given. Fortran-ordered input (parameters from
        elsewhere) becomes C-contiguous here, as the kernels need; a C-contiguous array
        already on this device is returned as it is; one on another device is refused.
        """
        cupy = _cupy()
        if hasattr(type(x), "__cuda_array_interface__"):
            kernels.check_device_array(x, self._device, "asarray: x")
        with cupy.cuda.Device(self._device):
            return cupy.asarray(x, dtype=dtype, order="C")

    def to_numpy(self, x):
        """Return `x` as a NumPy array on the host (waits for the GPU when `x` lives there).

        The copy is queued on the stream of the device `x` lives on, after the work there.
        """
        cupy = _cupy()
        if not isinstance(x, cupy.ndarray):
            return np.asarray(x)
        with x.device:
            return cupy.asnumpy(x)

    def synchronize(self):
        """Wait until all work queued on this engine's device is done."""
        cupy = _cupy()
        cupy.cuda.Device(self._device).synchronize()

    def empty(self, shape, dtype):
        """Return an uninitialised device array, for buffers reused across training steps."""
        cupy = _cupy()
        with cupy.cuda.Device(self._device):
            return cupy.empty(shape, dtype=dtype)

    @_device_arrays
    def take_rows(self, X, rows, out=None):
        """Gather examples `rows` (a device array of indices) of X into a mini-batch."""
        shapes.take_rows(X, rows, out)
        cupy = _cupy()
        with cupy.cuda.Device(self._device):
            return cupy.take(X, rows, axis=0, out=out)

    @_device_arrays
    def copy(self, x, out=None):
        """Return a copy of `x` (into `out` when given) on this engine's device: a memcpy when contiguous."""
        shapes.copy(x, out)
        cupy = _cupy()
        with cupy.cuda.Device(self._device):
            if out is None:
                return cupy.array(x, copy=True)
            cupy.copyto(out, x)
            return out

    @_device_arrays
    def store(self, array, index, value):
        """array[index] = value on this engine's device and stream (a device-to-device copy)."""
        with _cupy().cuda.Device(self._device):
            array[index] = value

    @_device_arrays
    def weighted_sum(self, values, weights):
        """Return the sum of values[i] * weights[i] as a 0-d device array (cuBLAS dot)."""
        shapes.vector_pair("weighted_sum", values, weights, ("values", "weights"))
        cupy = _cupy()
        with cupy.cuda.Device(self._device):
            return cupy.dot(values, weights)

    # -- forward -----------------------------------------------------------------------

    @_device_arrays
    def matmul(self, a, b, out=None):
        """Matrix product a @ b: cuBLAS, or gemm_tiled while a CUDA graph is being recorded."""
        return super().matmul(a, b, out=out)

    def _matmul(self, a, b, out):
        """matmul once its arguments are checked (here, in dense_forward or backprop_dense)."""
        cupy = _cupy()
        with cupy.cuda.Device(self._device):
            return self._gemm(a, b, out, 1.0)

    @_device_arrays
    def dense_forward(self, A_prev, W, b, activation, out=None):
        """Return (Z, A): Z = A_prev W^T by cuBLAS, then the bias and g(Z) in one kernel."""
        return super().dense_forward(A_prev, W, b, activation, out=out)

    @_device_arrays
    def bias_activation(self, Z, b, activation, out=None):
        """Add the bias to Z in place, then return A = g(Z), in one kernel (after the base's checks)."""
        return super().bias_activation(Z, b, activation, out=out)

    def _bias_activation(self, Z, b, activation, out):
        """bias_activation once its arguments are checked (here or in dense_forward)."""
        if activation == SOFTMAX:
            return self._bias_softmax(Z, b, out, "bias_activation")
        code = ACTIVATION_CODES[activation]
        cupy = _cupy()
        with cupy.cuda.Device(self._device):
            dtype = self._float_dtype(Z)
            if not Z.flags.c_contiguous:
                raise ValueError("bias_activation: Z is updated in place and must be C-contiguous")
            units = Z.shape[1]
            b = self._input(b, dtype)
            A = self._output(out, Z.shape, dtype, "bias_activation")
            if Z.size:
                kernels.launch(
                    "bias_activation", dtype, self._device, (kernels.blocks_for(Z.size),),
                    (kernels.THREADS,), Z, b, A, Z.size, units, code, LEAKY_RELU_SLOPE,
                )
            return A

    @_device_arrays
    def activation(self, Z, activation, out=None):
        """Return A = g(Z) (sigmoid as the base class computes it: no overflow, no loss in the tail)."""
        return super().activation(Z, activation, out=out)

    def _activation(self, Z, activation, out):
        """activation once its arguments are checked."""
        if activation == SOFTMAX:
            return self._bias_softmax(Z, None, out, "activation")
        code = ACTIVATION_CODES[activation]
        cupy = _cupy()
        with cupy.cuda.Device(self._device):
            dtype = self._float_dtype(Z)
            Z = self._input(Z, dtype)
            A = self._output(out, Z.shape, dtype, "activation")
            if Z.size:
                kernels.launch(
                    "activation_forward", dtype, self._device, (kernels.blocks_for(Z.size),),
                    (kernels.THREADS,), Z, A, Z.size, code, LEAKY_RELU_SLOPE,
                )
            return A

    # -- backward ----------------------------------------------------------------------

    @_device_arrays
    def backprop_activation(self, dA, A, activation, out=None):
        """Return dZ = dA * g'(Z), with g'(Z) written through the saved output A = g(Z)."""
        code = activation_code(activation)
        shapes.backprop_activation(dA, A, out)
        cupy = _cupy()
        with cupy.cuda.Device(self._device):
            dtype = self._float_dtype(A)
            A = self._input(A, dtype)
            dA = self._input(dA, dtype)
            dZ = self._output(out, A.shape, dtype, "backprop_activation")
            if A.size:
                kernels.launch(
                    "activation_backward", dtype, self._device, (kernels.blocks_for(A.size),),
                    (kernels.THREADS,), dA, A, dZ, A.size, code, LEAKY_RELU_SLOPE,
                )
            return dZ

    @_device_arrays
    def backprop_sigmoid_cross_entropy(self, A, Y, out=None):
        """Return dZ^[L] = A^[L] - Y (Y is cast to A's dtype)."""
        shapes.backprop_sigmoid_cross_entropy(A, Y, out)
        cupy = _cupy()
        with cupy.cuda.Device(self._device):
            dtype = self._float_dtype(A)
            A = self._input(A, dtype)
            Y = self._input(Y, dtype)
            dZ = self._output(out, A.shape, dtype, "backprop_sigmoid_cross_entropy")
            if A.size:
                kernels.launch(
                    "sigmoid_cross_entropy_backward", dtype, self._device,
                    (kernels.blocks_for(A.size),), (kernels.THREADS,), A, Y, dZ, A.size,
                )
            return dZ

    @_device_arrays
    def backprop_softmax_cross_entropy(self, A, Y, out=None):
        """Return dZ^[L] = A^[L] - Y: the sigmoid's fused kernel, the same subtraction."""
        return super().backprop_softmax_cross_entropy(A, Y, out=out)

    @_device_arrays
    def cross_entropy_cost(self, Z, Y, out=None):
        """Return J = (1/m) sum of max(z, 0) - y z + log(1 + e^-|z|) as a 0-d device array.

        One block adds the losses in a fixed order (the same bits every run); nothing is
        read back to the host.
        """
        shapes.cross_entropy_cost(Z, Y, out)
        cupy = _cupy()
        with cupy.cuda.Device(self._device):
            dtype = self._float_dtype(Z)
            Z = self._input(Z, dtype)
            Y = self._input(Y, dtype)
            cost = self._output(out, (), dtype, "cross_entropy_cost")
            if Z.ndim == 2 and Z.shape[1] > 1:  # softmax over K classes: one warp per row
                kernels.launch(
                    "softmax_cross_entropy_cost", dtype, self._device, (1,), (kernels.COST_THREADS,),
                    Z, Y, cost, Z.shape[0], Z.shape[1],
                )
                return cost
            kernels.launch(
                "cross_entropy_cost", dtype, self._device, (1,), (kernels.COST_THREADS,),
                Z, Y, cost, Z.size,
            )
            return cost

    @_device_arrays
    def backprop_dense(self, dZ, A_prev, W, need_dA_prev=True, out=None):
        """Return (dW, db, dA_prev): dW = (1/m) dZ^T A_prev, db = (1/m) column sums of dZ, dA_prev = dZ W."""
        shapes.backprop_dense(dZ, A_prev, W, need_dA_prev, out)
        dW, db, dA_prev = out if out is not None else (None, None, None)
        cupy = _cupy()
        with cupy.cuda.Device(self._device):
            dtype = self._float_dtype(dZ)
            dZ = self._input(dZ, dtype)
            m, units = dZ.shape
            inverse_m = 1.0 / m
            dW = self._gemm(dZ.T, A_prev, dW, inverse_m)
            db = self._output(db, (units, 1), dtype, "backprop_dense db")
            kernels.launch(
                "column_sum", dtype, self._device,
                (max(1, min(-(-units // kernels.SUM_BLOCK[0]), kernels.MAX_BLOCKS)),),
                kernels.SUM_BLOCK, dZ, db, m, units, inverse_m,
            )
            dA_prev = self._gemm(dZ, W, dA_prev, 1.0) if need_dA_prev else None
            return dW, db, dA_prev

    @_device_arrays
    def sgd_update(self, params, grads, learning_rate):
        """Gradient descent in place, one kernel per pair: param := param - learning_rate * grad."""
        shapes.sgd_update(params, grads)
        cupy = _cupy()
        with cupy.cuda.Device(self._device):
            for param, grad in zip(params, grads):
                dtype = self._float_dtype(param)
                if not param.flags.c_contiguous:
                    raise ValueError("sgd_update: parameters are updated in place and must be C-contiguous")
                grad = self._input(grad, dtype)
                if param.size:
                    kernels.launch(
                        "sgd_update", dtype, self._device, (kernels.blocks_for(param.size),),
                        (kernels.THREADS,), param, grad, learning_rate, param.size,
                    )

    # -- the notes' vectorisation demo ---------------------------------------------------

    @_device_arrays
    def dot_loop(self, w, x, b):
        """z = w.x + b with the notes' for-loop, run by ONE GPU thread; a 0-d device array."""
        shapes.vector_pair("dot_loop", w, x, ("w", "x"))
        cupy = _cupy()
        with cupy.cuda.Device(self._device):
            dtype = self._float_dtype(w)
            w = self._input(w, dtype)
            x = self._input(x, dtype)
            z = cupy.empty((), dtype=dtype)
            kernels.launch("dot_loop", dtype, self._device, (1,), (1,), w, x, b, z, w.size)
            return z

    @_device_arrays
    def dot_vectorized(self, w, x, b):
        """z = w.x + b with cupy.dot (cuBLAS); a 0-d device array."""
        shapes.vector_pair("dot_vectorized", w, x, ("w", "x"))
        cupy = _cupy()
        with cupy.cuda.Device(self._device):
            return cupy.dot(w, x) + b

    # -- helpers -----------------------------------------------------------------------

    def _bias_softmax(self, Z, b, out, what):
        """A = softmax(Z + b) per row, one warp a row; Z keeps Z + b unless b is None (then Z is only read)."""
        cupy = _cupy()
        keep_biased = b is not None
        with cupy.cuda.Device(self._device):
            dtype = self._float_dtype(Z)
            if Z.ndim != 2 or Z.shape[1] == 0:
                raise ValueError(f"{what}: softmax expects logits of shape (m examples, K classes), got shape {Z.shape}")
            rows, units = Z.shape
            if b is None:
                Z, b = self._input(Z, dtype), cupy.zeros(units, dtype=dtype)
            else:
                if not Z.flags.c_contiguous:
                    raise ValueError(f"{what}: Z is updated in place and must be C-contiguous")
                b = self._input(b, dtype)
                if b.size != units:
                    raise ValueError(f"{what}: b has {b.size} elements for {units} units")
            A = self._output(out, Z.shape, dtype, what)
            if rows:
                kernels.launch(
                    "bias_softmax", dtype, self._device, (kernels.blocks_for(rows * kernels.WARP),),
                    (kernels.THREADS,), Z, b, A, rows, units, int(keep_biased),
                )
            return A

    def _device_name(self):
        if self._name is None:
            name = _cupy().cuda.runtime.getDeviceProperties(self._device)["name"]
            self._name = name.decode() if isinstance(name, bytes) else str(name)
        return self._name

    @staticmethod
    def _float_dtype(x):
        dtype = np.dtype(getattr(x, "dtype", np.float64))
        if dtype not in FLOAT_DTYPES:
            raise TypeError(f"expected a float32 or float64 array, got dtype {dtype}")
        return dtype

    @staticmethod
    def _input(x, dtype):
        """Device array `x` as a C-contiguous array of `dtype` (a device-side copy only when it is not one)."""
        cupy = _cupy()
        if isinstance(x, cupy.ndarray) and x.dtype == dtype and x.flags.c_contiguous:
            return x
        return cupy.ascontiguousarray(cupy.asarray(x), dtype=dtype)

    @staticmethod
    def _output(out, shape, dtype, what):
        """`out` checked against (dtype, C-contiguous, and `shape` exactly), or a new array when it is None."""
        cupy = _cupy()
        if out is None:
            return cupy.empty(shape, dtype=dtype)
        if not isinstance(out, cupy.ndarray) or out.dtype != dtype or not out.flags.c_contiguous:
            raise ValueError(f"{what}: out must be a C-contiguous device array of dtype {dtype}")
        if out.shape != tuple(shape):
            raise ValueError(f"{what}: out has shape {out.shape}, expected {tuple(shape)}")
        return out

    def _gemm(self, a, b, out, alpha):
        """out = alpha * a @ b: cuBLAS through CuPy eagerly; while recording a graph, cuBLAS
        called directly, or gemm_tiled (also for layouts the direct call cannot read)."""
        mode = getattr(self._local, "gemm", None)
        if mode is None:
            cupy = _cupy()
            C = cupy.matmul(a, b, out=out)
            if alpha != 1.0:
                cupy.multiply(C, C.dtype.type(alpha), out=C)
            return C
        dtype, C = self._gemm_output(a, b, out)
        if mode == "cublas" and C.size and a.shape[1]:  # no K = 0 product: gemm_tiled writes its zeros
            try:
                call = cublas.gemm_arguments(a, b, C)
            except cublas.UnsupportedLayout:
                return self._gemm_tiled(a, b, C, alpha)
            self._cublas[0].gemm(call, alpha, a.data.ptr, b.data.ptr, C.data.ptr, dtype)
            return C
        return self._gemm_tiled(a, b, C, alpha)

    def _gemm_output(self, a, b, out):
        """(dtype, C) for a @ b after checking the factors: 2-D, sizes that multiply, one dtype."""
        cupy = _cupy()
        if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not multiply")
        dtype = self._float_dtype(a)
        if b.dtype != dtype or not isinstance(a, cupy.ndarray) or not isinstance(b, cupy.ndarray):
            raise TypeError("matmul: while recording a CUDA graph, both factors must be device arrays of one dtype")
        return dtype, self._output(out, (a.shape[0], b.shape[1]), dtype, "matmul")

    def _graph_stream(self):
        """The non-blocking stream graphs are recorded on: one per engine, so the cuBLAS handle's stream is set once."""
        if self._stream is None:
            self._stream = _cupy().cuda.Stream(non_blocking=True)
        return self._stream

    def _graph_gemm(self):
        """("cublas" or "tiled", description): how steps recorded now multiply matrices.

        The direct cuBLAS handle is made on first use, bound to the graph stream, with a
        workspace of its own so that recording allocates nothing.
        """
        if os.environ.get(GRAPH_GEMM_VARIABLE, "").strip().lower() == "tiled":
            return "tiled", f"gemm_tiled (${GRAPH_GEMM_VARIABLE}=tiled)"
        if self._cublas is None:
            library, how = cublas.library()
            self._cublas = (None, how)
            if library is not None:
                workspace = _cupy().empty(cublas.WORKSPACE_BYTES, dtype=np.uint8)
                try:
                    handle = cublas.Handle(self._graph_stream().ptr, workspace.data.ptr, workspace.nbytes)
                    self._cublas = (handle, workspace)
                except cublas.CublasError as error:
                    self._cublas = (None, str(error))
        handle, detail = self._cublas
        if handle is None:
            return "tiled", f"gemm_tiled (direct cuBLAS unavailable: {detail})"
        return "cublas", f"cuBLAS called directly ({handle.library})"

    def _gemm_tiled(self, a, b, out, alpha):
        """out = alpha * a @ b with the tiled GEMM kernel; transposed views cost nothing."""
        dtype, C = self._gemm_output(a, b, out)
        M, K = a.shape
        N = b.shape[1]
        if M and N:
            tile = kernels.GEMM_TILE
            grid = (min(-(-N // tile), kernels.MAX_BLOCKS), min(-(-M // tile), kernels.MAX_GRID_Y))
            size = dtype.itemsize
            kernels.launch(
                "gemm_tiled", dtype, self._device, grid, (tile, tile), a, b, C, M, N, K,
                a.strides[0] // size, a.strides[1] // size,
                b.strides[0] // size, b.strides[1] // size, alpha,
            )
        return C
