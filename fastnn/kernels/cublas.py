"""cuBLAS called directly through ctypes, so that captured CUDA graphs can use it.

Why: CuPy 14 refuses every cuBLAS call during stream capture. The guard is CuPy's own, in
``cublas.setStream`` of ``cupy_backends.cuda.libs.cublas``, which all of CuPy's cuBLAS
wrappers call first (CuPy issue #6290); cuBLAS itself supports capture. A handle of our
own, its stream set once, a workspace of our own given with ``cublasSetWorkspace`` (after
``cublasSetStream``, which resets the workspace) so that capture allocates nothing, and
``cublasSgemm``/``cublasDgemm`` called on it, need nothing CuPy refuses.

Finding the library (:func:`library_status` says which way worked, or why none did):

1. the libcublas that CuPy already loaded: importing CuPy's binding
   ``cupy_backends.cuda.libs.cublas`` makes the dynamic linker load the libcublas it was
   linked against (``libcublas.so.12`` for cupy-cuda12x, ``.so.13`` for cupy-cuda13x,
   wherever CuPy found it: NVIDIA's wheels, a toolkit); its path is read from
   ``/proc/self/maps`` and ctypes opens that same copy;
2. else the soname ``libcublas.so.<CUDA major of CuPy's runtime>``, then ``libcublas.so``;
3. else ``cuda.pathfinder`` (which CuPy 14 itself uses to find NVIDIA's libraries).

Layout: fastnn's arrays are row-major, cuBLAS is column-major. A row-major matrix X (R, C)
with row stride ld is, read column-major, X^T (C, R) with leading dimension ld; its
transposed view X.T (strides swapped) is X itself read column-major. So C = a @ b, with C
row-major (M, N), is computed as the column-major C^T (N, M) = b^T a^T: cuBLAS's first
operand is our `b`, its second our `a`, m = N, n = M, k = K (:func:`gemm_arguments`).

Importing this module imports no CuPy and loads no library.
"""

import ctypes
import functools
import os
import re
from typing import NamedTuple

import numpy as np

WORKSPACE_BYTES = 32 * 1024 * 1024  # cuBLAS asks for 32 MiB on Hopper (4 MiB before): one per engine
OP_N, OP_T = 0, 1  # cublasOperation_t
DEFAULT_MATH = 0  # cublasMath_t: no TF32 (what CUPY_TF32=0 gives through CuPy)
POINTER_MODE_HOST = 0  # alpha and beta are host scalars, read when the call is made (captured by value)
_INT_MAX = 2**31 - 1  # the classic API's sizes are C ints


class UnsupportedLayout(ValueError):
    """A product whose operands cuBLAS cannot read in place (the tiled GEMM takes it instead)."""


class GemmCall(NamedTuple):
    """The arguments of cublas<t>gemm for C = a @ b in fastnn's row layout (cuBLAS's A is b, its B is a)."""

    transa: str  # "N" or "T", applied to b's buffer
    transb: str  # applied to a's buffer
    m: int
    n: int
    k: int
    lda: int  # of b's buffer
    ldb: int  # of a's buffer
    ldc: int


def _layout(x, what):
    """("row", ld) if x is row-major with row stride ld, ("col", ld) if it is a transposed view."""
    rows, cols = x.shape
    size = x.dtype.itemsize
    if any(s % size for s in x.strides):
        raise UnsupportedLayout(f"{what}: strides {x.strides} are not whole elements")
    s0, s1 = (s // size for s in x.strides)
    if (cols == 1 or s1 == 1) and (rows == 1 or s0 >= cols):
        return "row", s0 if rows > 1 else max(cols, 1)
    if (rows == 1 or s0 == 1) and (cols == 1 or s1 >= rows):
        return "col", s1 if cols > 1 else max(rows, 1)
    raise UnsupportedLayout(f"{what}: strides {x.strides} are neither row-major nor a transposed row-major view")


def gemm_arguments(a, b, c):
    """The cublas<t>gemm arguments computing c = a @ b for 2-D row-layout arrays (any with shape, strides, dtype).

    Raises UnsupportedLayout for operands cuBLAS cannot read in place, or sizes past a C int.
    """
    (M, K), (K2, N) = a.shape, b.shape
    if K != K2 or c.shape != (M, N):
        raise ValueError(f"matmul: shapes {a.shape} @ {b.shape} -> {c.shape} do not match")
    a_layout, ldb = _layout(a, "a")
    b_layout, lda = _layout(b, "b")
    c_layout, ldc = _layout(c, "out")
    if c_layout != "row" and M > 1:
        raise UnsupportedLayout("out: must be row-major")
    if c_layout != "row":  # a single row: its elements are one stride apart, like a row-major row
        ldc = max(N, 1)
    call = GemmCall("N" if b_layout == "row" else "T", "N" if a_layout == "row" else "T",
                    N, M, K, lda, ldb, ldc)
    if max(call[2:]) > _INT_MAX:
        raise UnsupportedLayout(f"sizes {call[2:]} exceed the 32-bit API")
    return call


# -- finding and opening the library ---------------------------------------------------------


def loaded_paths(maps_text, stem="libcublas"):
    """Paths of the shared objects named `stem`.so* in a /proc/<pid>/maps text (not libcublasLt)."""
    found = []
    for line in maps_text.splitlines():
        path = line.split(maxsplit=5)[5].strip() if len(line.split(maxsplit=5)) == 6 else ""
        if re.fullmatch(rf"{re.escape(stem)}\.so(\.\d+)*", os.path.basename(path)) and path not in found:
            found.append(path)
    return found


def _open_library():
    """(ctypes.CDLL, how it was found) or (None, why not), trying each way in turn."""
    tried = []
    try:
        import cupy_backends.cuda.libs.cublas  # noqa: F401  (loads CuPy's libcublas)
    except Exception as error:  # a missing libcublas.so.N, or no CuPy
        tried.append(f"CuPy's cuBLAS binding did not load ({type(error).__name__}: {error})")
    try:
        with open("/proc/self/maps") as maps:
            paths = loaded_paths(maps.read())
    except OSError:
        paths = []
    names = [*paths, *_sonames()]
    for name in names:
        try:
            return ctypes.CDLL(name), f"{name} ({'loaded by CuPy' if name in paths else 'by soname'})"
        except OSError as error:
            tried.append(f"{name}: {error}")
    try:
        from cuda.pathfinder import load_nvidia_dynamic_lib

        path = load_nvidia_dynamic_lib("cublas").abs_path
        return ctypes.CDLL(path), f"{path} (cuda.pathfinder)"
    except Exception as error:
        tried.append(f"cuda.pathfinder: {type(error).__name__}: {error}")
    return None, "libcublas not found: " + "; ".join(tried)


def _sonames():
    """libcublas.so.<major> for the CUDA major of CuPy's runtime (when known), then libcublas.so."""
    names = []
    try:
        import cupy

        names.append(f"libcublas.so.{cupy.cuda.runtime.runtimeGetVersion() // 1000}")
    except Exception:
        pass
    return [*names, "libcublas.so"]


@functools.cache
def library():
    """(ctypes.CDLL with the prototypes set, description), or (None, why it was not found)."""
    lib, how = _open_library()
    if lib is None:
        return None, how
    try:
        _declare(lib)
    except AttributeError as error:  # a libcublas without the _v2 entry points we call
        return None, f"{how} lacks a function fastnn calls: {error}"
    return lib, how


def library_status():
    """One line: where the direct cuBLAS library was found, or why captured steps use the tiled GEMM."""
    lib, how = library()
    return f"available: {how}" if lib is not None else f"unavailable, captured steps use gemm_tiled: {how}"


def _declare(lib):
    p, i = ctypes.c_void_p, ctypes.c_int
    signatures = {
        "cublasCreate_v2": [ctypes.POINTER(p)],
        "cublasSetStream_v2": [p, p],
        "cublasSetWorkspace_v2": [p, p, ctypes.c_size_t],
        "cublasSetMathMode": [p, i],
        "cublasSetPointerMode_v2": [p, i],
        "cublasSgemm_v2": [p, i, i, i, i, i, ctypes.POINTER(ctypes.c_float), p, i, p, i,
                           ctypes.POINTER(ctypes.c_float), p, i],
        "cublasDgemm_v2": [p, i, i, i, i, i, ctypes.POINTER(ctypes.c_double), p, i, p, i,
                           ctypes.POINTER(ctypes.c_double), p, i],
    }
    for name, argtypes in signatures.items():
        function = getattr(lib, name)
        function.argtypes, function.restype = argtypes, ctypes.c_int


class CublasError(RuntimeError):
    """A cuBLAS call returned an error status."""


def _check(lib, status, call):
    """Raise CublasError naming the status (cublasGetStatusName where the library has it)."""
    if status == 0:
        return
    name = getattr(lib, "cublasGetStatusName", None)
    if name is not None:
        name.argtypes, name.restype = [ctypes.c_int], ctypes.c_char_p
        raise CublasError(f"{call} returned {name(status).decode()} ({status})")
    raise CublasError(f"{call} returned cuBLAS status {status}")


class Handle:
    """A cuBLAS handle on the current device, bound once to `stream_ptr` with a workspace of our own.

    Create it with the device current. `workspace_ptr` must stay allocated as long as the
    handle, and every graph recorded with it, lives. The handle is never destroyed: one per
    engine, and cublasDestroy at interpreter exit may find the CUDA context gone.
    """

    def __init__(self, stream_ptr, workspace_ptr, workspace_bytes):
        lib, how = library()
        if lib is None:
            raise CublasError(how)
        self._lib, self.library = lib, how
        self._handle = ctypes.c_void_p()
        _check(lib, lib.cublasCreate_v2(ctypes.byref(self._handle)), "cublasCreate")
        _check(lib, lib.cublasSetStream_v2(self._handle, ctypes.c_void_p(stream_ptr)), "cublasSetStream")
        # After setStream: it resets the workspace to cuBLAS's own pool, which allocates.
        _check(lib, lib.cublasSetWorkspace_v2(self._handle, ctypes.c_void_p(workspace_ptr), workspace_bytes),
               "cublasSetWorkspace")
        _check(lib, lib.cublasSetMathMode(self._handle, DEFAULT_MATH), "cublasSetMathMode")
        _check(lib, lib.cublasSetPointerMode_v2(self._handle, POINTER_MODE_HOST), "cublasSetPointerMode")

    def gemm(self, call, alpha, a_ptr, b_ptr, c_ptr, dtype):
        """Queue C = alpha * a @ b (beta = 0) on the handle's stream, with `call` from gemm_arguments."""
        if np.dtype(dtype) == np.float32:
            function, scalar = self._lib.cublasSgemm_v2, ctypes.c_float
        else:
            function, scalar = self._lib.cublasDgemm_v2, ctypes.c_double
        ops = {"N": OP_N, "T": OP_T}
        alpha, beta = scalar(alpha), scalar(0.0)
        _check(self._lib, function(self._handle, ops[call.transa], ops[call.transb], call.m, call.n, call.k,
                        ctypes.byref(alpha), ctypes.c_void_p(b_ptr), call.lda, ctypes.c_void_p(a_ptr), call.ldb,
                        ctypes.byref(beta), ctypes.c_void_p(c_ptr), call.ldc),
               "cublasSgemm" if scalar is ctypes.c_float else "cublasDgemm")
