"""fastnn's CUDA kernels: one source file, compiled lazily by CuPy, launched with typed arguments.

Importing this module imports no CuPy and compiles nothing. The first :func:`launch` of a
kernel compiles the whole of ``fastnn_kernels.cu`` for float and double (one NVRTC call,
cached on disk by CuPy in ``$CUPY_CACHE_DIR``) and needs a GPU. :func:`nvrtc_check` compiles
a source with NVRTC alone, which needs no GPU; the tests use it on every kernel.

Why arguments are packed here: CuPy checks no argument of a raw kernel. It copies a Python
float as a C double and a Python int as a long long, while the kernel reads as many bytes as
its own parameter type. A Python 0.01 sent to a ``float`` parameter arrives as 89128.96.
:data:`SIGNATURES` therefore states each kernel's parameters, and :func:`pack_args` converts
every scalar to exactly that type and checks every array.
"""

import functools
from pathlib import Path

import numpy as np

SOURCE_PATH = Path(__file__).with_name("fastnn_kernels.cu")

# The C type of each supported dtype: the template argument T of every kernel.
C_TYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}

# Launch shapes, matching the #defines and template arguments of the source.
THREADS = 256  # threads per block of the elementwise kernels
MAX_BLOCKS = 4096  # grid-stride loops cover the rest; more blocks would only queue
COST_THREADS = 256  # COST_THREADS in the source: cross_entropy_cost runs one such block
WARP = 32  # WARP in the source: the softmax kernels give each row one warp
SUM_BLOCK = (32, 32)  # (SUM_COLS, SUM_ROWS) in the source: column_sum's block shape
GEMM_TILE = 16  # gemm_tiled<T, GEMM_TILE>: blocks of GEMM_TILE x GEMM_TILE threads
MAX_GRID_Y = 65535  # CUDA's limit on gridDim.y (gemm_tiled strides over the rest)

# Every kernel's parameters, in the source's order. Kinds:
#   "T*", "const T*"   C-contiguous array of dtype T (a raw kernel ignores strides)
#   "strided const T*" array of dtype T read through explicit strides (any layout)
#   "T"                scalar of dtype T          -> np.float32 / np.float64
#   "long long"        size or index              -> np.int64
#   "int"              small code (an activation) -> np.int32
SIGNATURES = {
    "bias_activation": ("T*", "const T*", "T*", "long long", "long long", "int", "T"),
    "activation_forward": ("const T*", "T*", "long long", "int", "T"),
    "activation_backward": ("const T*", "const T*", "T*", "long long", "int", "T"),
    "sigmoid_cross_entropy_backward": ("const T*", "const T*", "T*", "long long"),
    "cross_entropy_cost": ("const T*", "const T*", "T*", "long long"),
    "column_sum": ("const T*", "T*", "long long", "long long", "T"),
    "bias_softmax": ("T*", "const T*", "T*", "long long", "long long", "int"),
    "softmax_cross_entropy_cost": ("const T*", "const T*", "T*", "long long", "long long"),
    "sgd_update": ("T*", "const T*", "T", "long long"),
    "dot_loop": ("const T*", "const T*", "T", "T*", "long long"),
    "gemm_tiled": (
        "strided const T*", "strided const T*", "T*",
        "long long", "long long", "long long",
        "long long", "long long", "long long", "long long", "T",
    ),
}

# Template arguments after T, for kernels that have more than T.
EXTRA_TEMPLATE_ARGS = {"gemm_tiled": (GEMM_TILE,)}

# NVRTC options: CuPy adds the architecture, -ftz=true (float denormals flush to zero) and
# --device-as-default-execution-space itself; -std=c++17 is also its default since v14.
COMPILE_OPTIONS = ("-std=c++17",)
NVRTC_CHECK_OPTIONS = ("-std=c++17", "-ftz=true", "--device-as-default-execution-space")


class CudaCompileError(RuntimeError):
    """A CUDA source that NVRTC rejected; the message is NVRTC's log."""


def name_expression(kernel, dtype):
    """The C++ name of `kernel` instantiated for `dtype`, e.g. ``gemm_tiled<float, 16>``."""
    args = (C_TYPES[np.dtype(dtype)], *map(str, EXTRA_TEMPLATE_ARGS.get(kernel, ())))
    return f"{kernel}<{', '.join(args)}>"


# Every instantiation the module is compiled with (RawModule looks these strings up exactly).
NAME_EXPRESSIONS = tuple(name_expression(k, d) for k in SIGNATURES for d in C_TYPES)


@functools.cache
def source():
    """The text of fastnn_kernels.cu."""
    return SOURCE_PATH.read_text()


def nvrtc_check(code, names=(), arch="sm_90"):
    """Compile `code` with NVRTC as CuPy would, with no GPU; return {name: lowered name}.

    `names` are name expressions (``"sgd_update<float>"``) to instantiate and look up; an
    unknown one or any compile error raises :class:`CudaCompileError` with NVRTC's log.
    The default architecture is the H200's (compute capability 9.0).
    """
    from cupy_backends.cuda.libs import nvrtc

    program = nvrtc.createProgram(code, "fastnn_kernels.cu", (), ())
    try:
        for name in names:
            nvrtc.addNameExpression(program, name)
        try:
            nvrtc.compileProgram(program, (*NVRTC_CHECK_OPTIONS, f"--gpu-architecture={arch}"))
        except nvrtc.NVRTCError as error:
            raise CudaCompileError(f"{error}\n{nvrtc.getProgramLog(program)}") from None
        try:
            return {name: nvrtc.getLoweredName(program, name) for name in names}
        except nvrtc.NVRTCError as error:
            raise CudaCompileError(f"name expression not found: {error}") from None
    finally:
        nvrtc.destroyProgram(program)


# -- packing arguments (pure NumPy: testable without a GPU) ----------------------------------


def check_device_array(x, device_id, what):
    """Raise unless `x` is a device array on device `device_id` (any device when None).

    A host array must never reach a kernel: CuPy would pass a size-1 NumPy array by value,
    which the kernel reads as a pointer (an illegal address that poisons the CUDA context).
    An array on another device is refused too: the kernel would read it over peer access,
    unordered with that device's stream, or fault without it. Needs no CuPy.
    """
    if not hasattr(type(x), "__cuda_array_interface__"):
        kind = "a host array (numpy.ndarray)" if isinstance(x, np.ndarray) else f"a {type(x).__name__}"
        raise TypeError(f"{what}: expected a device array (cupy.ndarray), got {kind}; "
                        "move host data to the device with engine.asarray(...)")
    if device_id is not None:
        on = getattr(getattr(x, "device", None), "id", None)
        if on != device_id:
            raise ValueError(f"{what}: expected an array on device {device_id}, got one on device {on}")
    return x


def _array_packer(contiguous):
    def pack(x, dtype, device_id, what):
        check_device_array(x, device_id, what)
        if x.dtype != dtype:
            raise TypeError(f"{what}: expected dtype {dtype}, got {x.dtype}")
        if contiguous and not x.flags.c_contiguous:
            raise ValueError(f"{what}: expected a C-contiguous array (raw kernels ignore strides)")
        return x

    return pack


_PACKERS = {
    "T*": _array_packer(contiguous=True),
    "const T*": _array_packer(contiguous=True),
    "strided const T*": _array_packer(contiguous=False),
    "T": lambda x, dtype, device_id, what: dtype.type(x),
    "long long": lambda x, dtype, device_id, what: np.int64(x),
    "int": lambda x, dtype, device_id, what: np.int32(x),
}


def pack_args(kernel, dtype, args, device_id=None):
    """Return `args` for `kernel` on `dtype`, each scalar converted to its parameter's exact type.

    Arrays are checked (a device array on `device_id`, dtype T, and C-contiguous unless
    the kernel takes strides), never converted: converting would hide a copy, or lose the
    writes of an output.
    """
    kinds = SIGNATURES[kernel]
    if len(args) != len(kinds):
        raise TypeError(f"{kernel}: expected {len(kinds)} arguments, got {len(args)}")
    dtype = np.dtype(dtype)
    return tuple(_PACKERS[kind](arg, dtype, device_id, f"{kernel} argument {i} ({kind})")
                 for i, (kind, arg) in enumerate(zip(kinds, args)))


def blocks_for(n, threads=THREADS):
    """Blocks for a grid-stride loop over n elements: one per `threads`, at most MAX_BLOCKS."""
    return max(1, min(-(-n // threads), MAX_BLOCKS))


# -- compiling and launching (needs CuPy and a GPU) -------------------------------------------


@functools.cache
def _module(device_id):
    """The RawModule of the whole source for one device (compiled at its first get_function)."""
    import cupy

    return cupy.RawModule(code=source(), options=COMPILE_OPTIONS, name_expressions=NAME_EXPRESSIONS)


@functools.cache
def get_kernel(kernel, dtype, device_id):
    """The compiled `kernel` for `dtype` on device `device_id` (the first call compiles)."""
    import cupy

    with cupy.cuda.Device(device_id):
        return _module(device_id).get_function(name_expression(kernel, np.dtype(dtype)))


def launch(kernel, dtype, device_id, grid, block, *args, shared_mem=0):
    """Launch `kernel`<dtype> on the current stream with `args` packed by :func:`pack_args`."""
    get_kernel(kernel, np.dtype(dtype), device_id)(
        grid, block, pack_args(kernel, dtype, args, device_id), shared_mem=shared_mem
    )
