"""Compile-check fastnn's CUDA source with NVRTC, and check how Python passes its arguments.

None of this needs a GPU: NVRTC compiles without one, so these tests run on every machine
with CuPy and NVRTC installed (they fail, not skip, when NVRTC is missing: the package's
[test] extra installs it).
"""

import re

import numpy as np
import pytest

from fastnn.activations import ACTIVATIONS, LEAKY_RELU_SLOPE, activation_code
from fastnn.kernels import cuda
from stand_ins import OnDevice1, on_device

# The H200 (compute capability 9.0), and a common older GPU, as a portability check.
ARCHES = ("sm_90", "sm_80")


@pytest.fixture(scope="module")
def ptx():
    """The PTX of every kernel for compute_90, split into {lowered name: text}."""
    from cupy_backends.cuda.libs import nvrtc

    program = nvrtc.createProgram(cuda.source(), "fastnn_kernels.cu", (), ())
    try:
        for name in cuda.NAME_EXPRESSIONS:
            nvrtc.addNameExpression(program, name)
        nvrtc.compileProgram(program, (*cuda.NVRTC_CHECK_OPTIONS, "--gpu-architecture=compute_90"))
        lowered = {name: nvrtc.getLoweredName(program, name) for name in cuda.NAME_EXPRESSIONS}
        text = nvrtc.getPTX(program).decode()
    finally:
        nvrtc.destroyProgram(program)
    bodies = {}
    for match in re.finditer(r"\.entry (\w+)\(", text):
        end = text.find("\n}", match.end())
        bodies[match.group(1)] = text[match.start() : end]
    return {name: bodies[lowered[name]] for name in cuda.NAME_EXPRESSIONS}


@pytest.mark.parametrize("arch", ARCHES)
def test_every_kernel_compiles_for_float_and_double(arch):
    lowered = cuda.nvrtc_check(cuda.source(), cuda.NAME_EXPRESSIONS, arch=arch)
    assert set(lowered) == set(cuda.NAME_EXPRESSIONS)
    for kernel in cuda.SIGNATURES:  # every kernel the loader knows, in both dtypes
        for c_type in ("float", "double"):
            assert any(n.startswith(f"{kernel}<{c_type}") for n in lowered)


def test_a_syntax_error_fails_the_check():
    broken = cuda.source().replace("W[i] -= learning_rate * dW[i];", "W[i] -= learning_rate * dW[i]")
    assert broken != cuda.source()
    with pytest.raises(cuda.CudaCompileError, match="error"):
        cuda.nvrtc_check(broken, ["sgd_update<float>"])


def test_a_name_expression_missing_from_the_source_fails_the_check():
    with pytest.raises(cuda.CudaCompileError):
        cuda.nvrtc_check(cuda.source(), ["no_such_kernel<float>"])


def test_a_kernel_that_only_breaks_when_instantiated_fails_the_check():
    # Template bodies are checked only for the types they are instantiated with.
    code = "template <typename T> __global__ void k(T* x) { x[0] = T(1).nonexistent; }"
    cuda.nvrtc_check(code, [])
    with pytest.raises(cuda.CudaCompileError):
        cuda.nvrtc_check(code, ["k<float>"])


def test_name_expressions_cover_every_kernel_of_the_source_and_nothing_else():
    defined = set(re.findall(r"__global__\s+void\s+(\w+)\s*\(", cuda.source()))
    assert defined == set(cuda.SIGNATURES)
    assert cuda.name_expression("gemm_tiled", np.float32) == f"gemm_tiled<float, {cuda.GEMM_TILE}>"
    assert cuda.name_expression("sgd_update", np.float64) == "sgd_update<double>"
    assert len(cuda.NAME_EXPRESSIONS) == 2 * len(cuda.SIGNATURES)


def _declared_parameters(source):
    """{kernel: (parameter kinds)} read from the __global__ declarations of `source`."""
    source = re.sub(r"//[^\n]*|/\*.*?\*/", "", source, flags=re.S)
    kernels = {}
    for name, params in re.findall(r"__global__\s+void\s+(\w+)\s*\(([^)]*)\)", source):
        kinds = []
        for param in params.split(","):
            words = param.replace("*", " * ").replace("__restrict__", "").split()[:-1]  # drop the name
            kinds.append(" ".join(words).replace(" *", "*"))
        kernels[name] = tuple(kinds)
    return kernels


def test_python_signatures_match_the_source_declarations():
    declared = _declared_parameters(cuda.source())
    for kernel, kinds in cuda.SIGNATURES.items():
        assert tuple(k.replace("strided ", "") for k in kinds) == declared[kernel], kernel


def _example_args(kernel, dtype):
    """Arguments as the engine passes them: device stand-ins for arrays, Python numbers for scalars."""
    values = {"T": 0.01, "long long": 7, "int": 3}
    return [on_device(np.zeros(4, dtype)) if "*" in kind else values[kind] for kind in cuda.SIGNATURES[kernel]]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_packed_scalars_have_the_exact_parameter_types(dtype):
    dtype = np.dtype(dtype)
    for kernel, kinds in cuda.SIGNATURES.items():
        packed = cuda.pack_args(kernel, dtype, _example_args(kernel, dtype))
        for kind, arg in zip(kinds, packed):
            if kind == "T":
                assert type(arg) is dtype.type, (kernel, kind)
            elif kind == "long long":
                assert type(arg) is np.int64, (kernel, kind)
            elif kind == "int":
                assert type(arg) is np.int32, (kernel, kind)
    lr = cuda.pack_args("sgd_update", dtype, [on_device(np.zeros(1, dtype)), on_device(np.zeros(1, dtype)), 0.01, 1])[2]
    assert lr == dtype.type(0.01)  # not the low half of a double (0.01 -> 89128.96)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_packed_arguments_have_the_byte_sizes_of_the_compiled_parameters(ptx, dtype):
    """The dtype trap, checked against the compiler: each packed scalar fills its PTX .param."""
    sizes = {"u64": 8, "b64": 8, "s64": 8, "f64": 8, "u32": 4, "b32": 4, "s32": 4, "f32": 4}
    dtype = np.dtype(dtype)
    for kernel in cuda.SIGNATURES:
        body = ptx[cuda.name_expression(kernel, dtype)]
        params = re.findall(r"\.param \.(\w+) \w+_param_\d+", body)
        packed = cuda.pack_args(kernel, dtype, _example_args(kernel, dtype))
        assert len(params) == len(packed), kernel
        for param, arg in zip(params, packed):
            expected = 8 if isinstance(arg, np.ndarray) else arg.dtype.itemsize  # a pointer is 8 bytes
            assert sizes[param] == expected, (kernel, param, type(arg))


def test_float_kernels_compute_in_float(ptx):
    """No float kernel silently promotes to double (e.g. a tanh resolved to the double overload).

    The costs are the exception: they add the losses in double on purpose.
    """
    for kernel in cuda.SIGNATURES:
        body = ptx[cuda.name_expression(kernel, np.float32)]
        if kernel not in ("cross_entropy_cost", "softmax_cross_entropy_cost"):
            assert ".f64" not in body, kernel


def test_pack_args_rejects_wrong_arrays_and_counts():
    f32 = np.dtype(np.float32)
    good = [on_device(np.zeros(4, f32)), on_device(np.zeros(4, f32)), 0.1, 4]
    cuda.pack_args("sgd_update", f32, good)
    with pytest.raises(TypeError):
        cuda.pack_args("sgd_update", f32, good[:3])
    with pytest.raises(TypeError, match="argument 1 .*expected dtype float32, got float64"):
        cuda.pack_args("sgd_update", f32, [good[0], on_device(np.zeros(4)), 0.1, 4])
    strided = on_device(np.zeros((4, 4), f32)).T
    with pytest.raises(ValueError, match="C-contiguous"):  # raw kernels ignore strides
        cuda.pack_args("sgd_update", f32, [strided, on_device(np.zeros((4, 4), f32)), 0.1, 16])
    # ...except where the kernel takes the strides explicitly
    gemm = [strided, strided, on_device(np.zeros((4, 4), f32)), 4, 4, 4, 1, 4, 1, 4, 1.0]
    cuda.pack_args("gemm_tiled", f32, gemm)


@pytest.mark.parametrize("host", [np.zeros(1, np.float32), np.float32(0.0), [0.0]], ids=["size-1 array", "scalar", "list"])
def test_pack_args_refuses_host_data_where_a_kernel_takes_a_pointer(host):
    """CuPy would pass a size-1 NumPy array by value: the kernel would read it as an address."""
    f32 = np.dtype(np.float32)
    with pytest.raises(TypeError, match=r"sgd_update argument 1 \(const T\*\): expected a device array"):
        cuda.pack_args("sgd_update", f32, [on_device(np.zeros(1, f32)), host, 0.1, 1], device_id=0)


def test_pack_args_refuses_an_array_on_another_device():
    f32 = np.dtype(np.float32)
    args = [on_device(np.zeros(1, f32)), on_device(np.zeros(1, f32), OnDevice1), 0.1, 1]
    with pytest.raises(ValueError, match="argument 1 .*expected an array on device 0, got one on device 1"):
        cuda.pack_args("sgd_update", f32, args, device_id=0)
    cuda.pack_args("sgd_update", f32, args)  # no launch device given: any device


def test_launch_checks_arrays_against_its_device_before_launching(monkeypatch):
    launched = []
    monkeypatch.setattr(cuda, "get_kernel", lambda kernel, dtype, device_id: lambda *a, **k: launched.append(a))
    f32 = np.dtype(np.float32)
    W = on_device(np.zeros(1, f32))
    with pytest.raises(ValueError, match="expected an array on device 1, got one on device 0"):
        cuda.launch("sgd_update", f32, 1, (1,), (1,), W, W, 0.1, 1)
    with pytest.raises(TypeError, match="host array"):
        cuda.launch("sgd_update", f32, 0, (1,), (1,), W, np.zeros(1, f32), 0.1, 1)
    assert launched == []
    cuda.launch("sgd_update", f32, 0, (1,), (1,), W, W, 0.1, 1)
    assert len(launched) == 1


def test_activation_codes_and_launch_shapes_match_the_source():
    source = cuda.source()
    for name in ACTIVATIONS:
        assert re.search(rf"ACT_{name.upper()}\s*=\s*{activation_code(name)}\b", source), name
    assert LEAKY_RELU_SLOPE == 0.01
    assert re.search(rf"#define COST_THREADS {cuda.COST_THREADS}\b", source)
    assert re.search(rf"#define WARP {cuda.WARP}\b", source)
    assert cuda.THREADS % cuda.WARP == 0 and cuda.COST_THREADS % cuda.WARP == 0  # whole warps per block
    assert re.search(rf"#define SUM_COLS {cuda.SUM_BLOCK[0]}\b", source)
    assert re.search(rf"#define SUM_ROWS {cuda.SUM_BLOCK[1]}\b", source)
    assert cuda.COST_THREADS & (cuda.COST_THREADS - 1) == 0  # the halving reduction needs 2^k
    assert cuda.SUM_BLOCK[1] & (cuda.SUM_BLOCK[1] - 1) == 0
    assert cuda.SUM_BLOCK[0] * cuda.SUM_BLOCK[1] <= 1024
    assert cuda.GEMM_TILE * cuda.GEMM_TILE <= 1024


def test_blocks_for_caps_the_grid():
    assert cuda.blocks_for(1) == 1
    assert cuda.blocks_for(cuda.THREADS) == 1
    assert cuda.blocks_for(cuda.THREADS + 1) == 2
    assert cuda.blocks_for(10**12) == cuda.MAX_BLOCKS
    assert cuda.blocks_for(0) == 1


def test_importing_the_kernel_module_compiles_nothing():
    import subprocess
    import sys

    code = "import sys, fastnn.kernels.cuda as c; assert 'cupy' not in sys.modules; print(c._module.cache_info().currsize)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "0"
