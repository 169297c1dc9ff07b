"""The direct cuBLAS call of captured steps, checked on the CPU (fastnn/kernels/cublas.py).

cuBLAS is column-major; fastnn's arrays are row-major, some of them transposed views. For
each matrix product the cupy engine makes, the call's arguments (transposes, sizes, leading
dimensions) are fed to a column-major GEMM written plainly in NumPy, reading the operands'
raw buffers exactly as cuBLAS would, and the result is compared with NumPy's row-layout
product. An off-by-one leading dimension or a swapped transpose reads the wrong elements
(or past the buffer) and fails here.
"""

import ctypes

import numpy as np
import pytest

from fastnn.kernels import cublas


def raw(x):
    """The flat memory x views, from its first element on (what cuBLAS gets as a pointer)."""
    base = x
    while base.base is not None:
        base = base.base
    offset = x.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    return base.reshape(-1)[offset // x.itemsize:]


def column_major_gemm(call, alpha, A, B, C):
    """cublas<t>gemm from its documentation: C = alpha op(A) op(B) (beta = 0), matrices column-major.

    Element (i, j) of an R x C matrix with leading dimension ld is buffer[i + j ld].
    """
    def read(buffer, rows, cols, ld):
        assert ld >= max(1, rows), "cuBLAS requires ld >= max(1, rows)"
        return buffer[np.arange(rows)[:, None] + np.arange(cols)[None, :] * ld]  # IndexError past the end

    op_A = read(A, call.m, call.k, call.lda) if call.transa == "N" else read(A, call.k, call.m, call.lda).T
    op_B = read(B, call.k, call.n, call.ldb) if call.transb == "N" else read(B, call.n, call.k, call.ldb).T
    assert call.ldc >= max(1, call.m)
    C[np.arange(call.m)[:, None] + np.arange(call.n)[None, :] * call.ldc] = alpha * (op_A @ op_B)


def run_direct(a, b, c, alpha):
    """What the engine's direct path does: cuBLAS's A is b's buffer, its B is a's."""
    call = cublas.gemm_arguments(a, b, c)
    column_major_gemm(call, alpha, raw(b), raw(a), raw(c))
    return call


def engine_products(m, n_in, n_out, dtype, seed=0):
    """The cupy engine's three products for one layer, as it calls them (alpha, a, b, out).

    dense_forward: Z = A_prev @ W.T; backprop_dense: dW = (1/m) dZ.T @ A_prev, dA_prev = dZ @ W.
    """
    rng = np.random.default_rng(seed)
    A_prev = rng.standard_normal((m, n_in)).astype(dtype)
    W = rng.standard_normal((n_out, n_in)).astype(dtype)
    dZ = rng.standard_normal((m, n_out)).astype(dtype)

    def out(rows, cols):
        return np.full((rows, cols), np.nan, dtype)  # every element must be written

    return {
        "forward Z = A_prev W^T": (1.0, A_prev, W.T, out(m, n_out)),
        "dW = dZ^T A_prev / m": (1.0 / m, dZ.T, A_prev, out(n_out, n_in)),
        "dA_prev = dZ W": (1.0, dZ, W, out(m, n_in)),
    }


SHAPES = [(1, 1, 1), (7, 1, 5), (13, 9, 1), (1, 4, 3), (33, 17, 11), (128, 100, 64)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_each_product_matches_numpy_through_the_column_major_call(shape, dtype):
    for name, (alpha, a, b, c) in engine_products(*shape, dtype).items():
        run_direct(a, b, c, alpha)
        expected = alpha * (a.astype(np.float64) @ b.astype(np.float64))
        tolerance = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(c, expected, **tolerance, err_msg=name)


def test_the_calls_written_out_for_one_layer():
    """m = 33 examples, 17 inputs, 11 units: the arguments derived by hand from the layouts."""
    products = engine_products(33, 17, 11, np.float64)
    calls = {name: cublas.gemm_arguments(a, b, c) for name, (_, a, b, c) in products.items()}
    # Z^T (11 x 33) = W (11 x 17, W^T's buffer read transposed, ld 17) A_prev^T (17 x 33, ld 17)
    assert calls["forward Z = A_prev W^T"] == ("T", "N", 11, 33, 17, 17, 17, 11)
    # dW^T (17 x 11) = A_prev^T (17 x 33, ld 17) dZ (33 x 11: dZ^T's buffer transposed, ld 11)
    assert calls["dW = dZ^T A_prev / m"] == ("N", "T", 17, 11, 33, 17, 11, 17)
    # dA_prev^T (17 x 33) = W^T (17 x 11, ld 17) dZ^T (11 x 33, ld 11)
    assert calls["dA_prev = dZ W"] == ("N", "N", 17, 33, 11, 17, 11, 17)


def test_row_strided_views_keep_their_leading_dimension():
    """A block of rows of a wider array: ld is the parent's row length, not the view's."""
    rng = np.random.default_rng(3)
    parent = rng.standard_normal((6, 10))
    a, b = parent[:, 2:5], rng.standard_normal((4, 3)).T  # (6, 3) with ld 10, and a transposed view
    c = np.full((6, 4), np.nan)
    call = run_direct(a, b, c, 0.5)
    assert call.ldb == 10
    np.testing.assert_allclose(c, 0.5 * a @ b, rtol=1e-12)


def test_layouts_cuBLAS_cannot_read_are_refused():
    x = np.zeros((6, 6))
    with pytest.raises(cublas.UnsupportedLayout, match="neither row-major nor"):
        cublas.gemm_arguments(x[::2, ::2], x[:3, :3], np.zeros((3, 3)))
    with pytest.raises(cublas.UnsupportedLayout, match="out: must be row-major"):
        cublas.gemm_arguments(x[:3, :3], x[:3, :3], np.zeros((3, 3)).T)
    with pytest.raises(ValueError, match="do not match"):
        cublas.gemm_arguments(x[:3, :2], x[:3, :3], np.zeros((3, 3)))


def test_the_library_cupy_loaded_is_found_in_the_process_maps():
    maps = "\n".join([
        "7f00-7f10 r-xp 00000000 08:01 1 /opt/nv/lib/libcublasLt.so.13.0.2",
        "7f10-7f20 r-xp 00000000 08:01 2 /opt/nv/lib/libcublas.so.13",
        "7f20-7f30 r--p 00001000 08:01 2 /opt/nv/lib/libcublas.so.13",
        "7f30-7f40 rw-p 00000000 00:00 0",
        "7f40-7f50 r-xp 00000000 08:01 3 /usr/lib/libcublas_static_helper.so",
    ])
    assert cublas.loaded_paths(maps) == ["/opt/nv/lib/libcublas.so.13"]


def test_library_status_says_where_it_was_found_or_why_not():
    status = cublas.library_status()
    lib, how = cublas.library()
    if lib is None:
        assert status.startswith("unavailable, captured steps use gemm_tiled: libcublas not found: ")
        assert "CuPy's cuBLAS binding" in status or "libcublas.so" in status
    else:
        assert status.startswith("available: ") and "libcublas" in how


class RecordingLibrary:
    """Stands in for libcublas's two GEMM entry points: runs the column-major GEMM on the memory
    the pointers point to, so the order in which Handle.gemm passes its arguments is checked."""

    def __init__(self):
        self.calls = []

    def cublasSgemm_v2(self, *args):
        return self._gemm(np.float32, *args)

    def cublasDgemm_v2(self, *args):
        return self._gemm(np.float64, *args)

    def _gemm(self, dtype, handle, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc):
        ops = {cublas.OP_N: "N", cublas.OP_T: "T"}
        call = cublas.GemmCall(ops[transa], ops[transb], m, n, k, lda, ldb, ldc)
        self.calls.append(call)
        assert beta._obj.value == 0.0

        def memory(pointer, rows, cols, ld):  # exactly the elements cuBLAS may touch
            size = ld * (cols - 1) + rows
            return np.ctypeslib.as_array(ctypes.cast(pointer.value, ctypes.POINTER(np.ctypeslib.as_ctypes_type(dtype))), (size,))

        A_rows, A_cols = (m, k) if call.transa == "N" else (k, m)
        B_rows, B_cols = (k, n) if call.transb == "N" else (n, k)
        column_major_gemm(call, alpha._obj.value, memory(A, A_rows, A_cols, lda), memory(B, B_rows, B_cols, ldb),
                          memory(C, m, n, ldc))
        return 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_handle_passes_b_then_a_with_their_leading_dimensions(dtype):
    """Handle.gemm, as the engine calls it (pointers from the arrays), on a stand-in library."""
    handle = cublas.Handle.__new__(cublas.Handle)
    handle._lib, handle._handle = RecordingLibrary(), ctypes.c_void_p(0)
    for name, (alpha, a, b, c) in engine_products(33, 17, 11, dtype).items():
        call = cublas.gemm_arguments(a, b, c)
        handle.gemm(call, alpha, a.ctypes.data, b.ctypes.data, c.ctypes.data, dtype)
        assert handle._lib.calls[-1] == call
        np.testing.assert_allclose(c, alpha * (a @ b), rtol=1e-5 if dtype == np.float32 else 1e-12, err_msg=name)


def test_a_failed_call_names_its_status():
    with pytest.raises(cublas.CublasError, match="cublasSgemm returned cuBLAS status 7"):
        cublas._check(object(), 7, "cublasSgemm")
    cublas._check(object(), 0, "cublasSgemm")
