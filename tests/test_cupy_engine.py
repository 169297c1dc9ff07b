"""The cupy engine: availability and import hygiene (run everywhere), and its kernels on a GPU.

The GPU tests call ``engine_or_skip("cupy")``, which skips them, with the reason, when no
usable GPU is present. Everything above the "GPU" line runs on any machine.
"""

import inspect
import subprocess
import sys

import numpy as np
import pytest

import fastnn
from fastnn.backends import Engine, EngineUnavailableError, cupy_engine, get_engine
from fastnn.backends.cupy_engine import CupyEngine
from fastnn.backends.numpy_engine import NumpyEngine
from fastnn.propagation import Workspace, to_engine, training_step
from fastnn.testing import engine_or_skip

ACTIVATION_NAMES = ("sigmoid", "tanh", "relu", "leaky_relu")


@pytest.fixture
def fake_gpus(monkeypatch):
    """Pretend CuPy found `count` GPUs, without touching CuPy (returns a setter)."""

    def set_count(count):
        monkeypatch.setattr(cupy_engine, "_probe", lambda: (None, count))

    return set_count


# -- no GPU needed -------------------------------------------------------------------------


def test_importing_the_engine_does_not_import_cupy():
    code = (
        "import sys, fastnn.backends.cupy_engine as m; "
        "assert 'cupy' not in sys.modules, 'cupy imported'; "
        "assert m._probe.cache_info().currsize == 0"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)


def test_unavailable_reason_is_a_clear_sentence_or_none():
    reason = CupyEngine.unavailable_reason()
    assert reason is None or (isinstance(reason, str) and reason)
    assert CupyEngine.unavailable_reason() == reason  # cached, stable
    if reason is not None:
        prefixes = ("CuPy is not installed", "CuPy failed to import", "no usable CUDA GPU",
                    "device ", "CuPy cannot load NVRTC")
        assert reason.startswith(prefixes), reason


def test_get_engine_raises_the_reason_when_unavailable():
    reason = CupyEngine.unavailable_reason()
    if reason is None:
        assert get_engine("cupy").name == "cupy"
        return
    with pytest.raises(EngineUnavailableError, match="cupy") as caught:
        get_engine("cupy")
    assert reason in str(caught.value)


def test_reason_when_cupy_is_not_installed(monkeypatch):
    cupy_engine._probe.cache_clear()
    monkeypatch.setattr(cupy_engine.importlib.util, "find_spec", lambda name: None)
    try:
        assert CupyEngine.unavailable_reason() == cupy_engine.NOT_INSTALLED
        assert "pip install cupy-cuda12x" in cupy_engine.NOT_INSTALLED
    finally:
        cupy_engine._probe.cache_clear()


def test_reason_when_cupy_fails_to_import(monkeypatch):
    def broken():
        raise ImportError("libcudart.so.12: cannot open shared object file")

    cupy_engine._probe.cache_clear()
    monkeypatch.setattr(cupy_engine, "_cupy", broken)
    try:
        reason = CupyEngine.unavailable_reason()
    finally:
        cupy_engine._probe.cache_clear()
    assert reason.startswith("CuPy failed to import: ImportError: libcudart.so.12")


def test_reason_never_raises(monkeypatch):
    def explode():
        raise RuntimeError("boom")

    monkeypatch.setattr(cupy_engine, "_probe", explode)
    assert "boom" in CupyEngine.unavailable_reason()


def test_reason_names_a_missing_device(monkeypatch, fake_gpus):
    fake_gpus(2)
    monkeypatch.setenv("FASTNN_CUDA_DEVICE", "5")
    assert CupyEngine.unavailable_reason() == "device 5 does not exist (found 2)"
    monkeypatch.setenv("FASTNN_CUDA_DEVICE", "1")
    assert CupyEngine.unavailable_reason() is None
    monkeypatch.setenv("FASTNN_CUDA_DEVICE", "gpu1")
    assert "FASTNN_CUDA_DEVICE" in CupyEngine.unavailable_reason()


def test_device_index_from_argument_then_environment_then_zero(monkeypatch, fake_gpus):
    fake_gpus(4)
    monkeypatch.delenv("FASTNN_CUDA_DEVICE", raising=False)
    assert CupyEngine()._device == 0
    monkeypatch.setenv("FASTNN_CUDA_DEVICE", "2")
    assert CupyEngine()._device == 2
    assert CupyEngine(device=3)._device == 3
    assert CupyEngine(device=np.int64(1))._device == 1
    with pytest.raises(EngineUnavailableError, match=r"device 4 does not exist \(found 4\)"):
        CupyEngine(device=4)
    for bad in (-1, 1.5, True, "cuda:1"):
        with pytest.raises(ValueError, match="device"):
            CupyEngine(device=bad)
    with pytest.raises(ValueError, match="graph"):
        CupyEngine(graph="yes")


def test_capture_step_is_eager_unless_graphs_are_asked_for(fake_gpus):
    fake_gpus(1)
    calls = []
    for graph, reason in ((None, "graph=None"), (False, "graph=False")):
        step = CupyEngine(graph=graph).capture_step(lambda: calls.append(1))
        step()
        step()
        assert step.mode == "eager" and step.reason.startswith(reason)
    assert len(calls) == 4
    assert CupyEngine(graph=True).capture_step(lambda: None).mode == "pending"


def test_no_public_methods_beyond_the_engine_interface():
    base = {n for n in dir(Engine) if not n.startswith("_")}
    assert {n for n in dir(CupyEngine) if not n.startswith("_")} <= base


def test_overrides_keep_the_base_signatures():
    for name, member in vars(CupyEngine).items():
        if name.startswith("_") or not hasattr(Engine, name):
            continue
        base_member = inspect.getattr_static(Engine, name)
        if isinstance(member, property) or isinstance(base_member, property):
            assert isinstance(member, property) and isinstance(base_member, property), name
            continue
        if not callable(getattr(CupyEngine, name)):
            continue
        assert inspect.signature(getattr(CupyEngine, name)) == inspect.signature(
            getattr(Engine, name)
        ), name


# The host/device rule: every method that takes arrays refuses host data and other devices
# before it touches CUDA, so it is checked here without a GPU.
_MOVING_DATA = {"asarray", "to_numpy", "synchronize", "empty", "memory_info", "capture_step", "unavailable_reason",
                "training_data", "training_step", "training_steps", "finish_training"}  # only checked methods touch their arrays


def _calls_with(make):
    """Each array-taking engine method with arguments built by make(shape, dtype=float64)."""
    h, col, vec = make((2, 2)), make((2, 1)), make((2,))
    return {
        "take_rows": (h, make((2,), np.int64)), "copy": (h,), "store": (vec, 0, 1.0),
        "weighted_sum": (vec, vec), "matmul": (h, h), "dense_forward": (h, h, col, "relu"),
        "bias_activation": (h, col, "relu"), "activation": (h, "relu"),
        "backprop_activation": (h, h, "relu"), "backprop_sigmoid_cross_entropy": (col, col),
        "backprop_softmax_cross_entropy": (h, h),
        "cross_entropy_cost": (col, col), "backprop_dense": (h, h, h), "sgd_update": ([h], [h], 0.1),
        "dot_loop": (vec, vec, 0.5), "dot_vectorized": (vec, vec, 0.5),
    }


def test_the_rule_covers_every_array_method_of_the_interface():
    methods = {n for n, m in inspect.getmembers(Engine, inspect.isfunction) if not n.startswith("_")}
    assert set(_calls_with(np.zeros)) == methods - _MOVING_DATA


@pytest.mark.parametrize("name", sorted(_calls_with(np.zeros)))
def test_every_method_refuses_host_arrays_naming_the_argument(fake_gpus, name):
    fake_gpus(1)
    args = _calls_with(np.zeros)[name]
    with pytest.raises(TypeError, match=rf"^{name}: \w+(\[0\])?: expected a device array \(cupy.ndarray\), "
                                        r"got a host array \(numpy.ndarray\); move host data"):
        getattr(CupyEngine(), name)(*args)


@pytest.mark.parametrize("name", sorted(_calls_with(np.zeros)))
def test_every_method_refuses_arrays_on_another_device(fake_gpus, name):
    from stand_ins import OnDevice1, on_device

    fake_gpus(2)
    args = _calls_with(lambda shape, dtype=np.float64: on_device(np.zeros(shape, dtype), OnDevice1))[name]
    with pytest.raises(ValueError, match=rf"^{name}: .*expected an array on device 0, got one on device 1"):
        getattr(CupyEngine(device=0), name)(*args)


def test_lists_of_numbers_and_out_buffers_are_checked_too(fake_gpus):
    from stand_ins import on_device

    fake_gpus(1)
    gpu, h = CupyEngine(), on_device(np.zeros((2, 2)))
    with pytest.raises(TypeError, match="cross_entropy_cost: Y: expected device arrays, got a list of numbers"):
        gpu.cross_entropy_cost(on_device(np.zeros((2, 1))), [0.0, 1.0])
    with pytest.raises(TypeError, match=r"activation: out: expected a device array.*host array"):
        gpu.activation(h, "relu", out=np.zeros((2, 2)))
    with pytest.raises(TypeError, match=r"backprop_dense: out\[1\]: expected a device array"):
        gpu.backprop_dense(h, h, h, out=(h, np.zeros((2, 1)), h))
    with pytest.raises(TypeError, match=r"sgd_update: grads\[1\]: expected a device array"):
        gpu.sgd_update([h, h], [h, np.zeros((2, 2))], 0.1)


def test_asarray_refuses_an_array_on_another_device(fake_gpus):
    from stand_ins import OnDevice1, on_device

    fake_gpus(2)
    with pytest.raises(ValueError, match="asarray: x: expected an array on device 0, got one on device 1"):
        CupyEngine(device=0).asarray(on_device(np.zeros(3), OnDevice1))


def test_captured_steps_fall_back_to_gemm_tiled_with_the_reason(fake_gpus, monkeypatch):
    from fastnn.kernels import cublas

    fake_gpus(1)
    monkeypatch.setenv("FASTNN_GRAPH_GEMM", "tiled")
    assert CupyEngine()._graph_gemm() == ("tiled", "gemm_tiled ($FASTNN_GRAPH_GEMM=tiled)")
    monkeypatch.delenv("FASTNN_GRAPH_GEMM")
    monkeypatch.setattr(cublas, "library", lambda: (None, "libcublas not found: (the reason)"))
    mode, why = CupyEngine()._graph_gemm()
    assert mode == "tiled" and why == "gemm_tiled (direct cuBLAS unavailable: libcublas not found: (the reason))"


# -- GPU -----------------------------------------------------------------------------------


@pytest.fixture
def cupy_engine_():
    return engine_or_skip("cupy")


def _tolerance(dtype):
    return {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-13}


def _random(shape, dtype, seed=0, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


@pytest.mark.gpu
def test_device_and_memory_info(cupy_engine_):
    assert cupy_engine_.device.startswith("cuda:0 (")
    info = cupy_engine_.memory_info()
    assert set(info) == {"device", "total_bytes", "free_bytes", "pool_used_bytes", "pool_total_bytes"}
    assert 0 < info["free_bytes"] <= info["total_bytes"]


@pytest.mark.gpu
def test_asarray_keeps_the_dtype_and_round_trips(cupy_engine_, dtype):
    x = _random((5, 3), dtype)
    d = cupy_engine_.asarray(x)
    assert isinstance(d, cupy_engine_.xp.ndarray) and d.dtype == dtype
    np.testing.assert_array_equal(cupy_engine_.to_numpy(d), x)


@pytest.mark.gpu
@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
@pytest.mark.parametrize("shape", [(1, 1), (37, 5), (130, 257)])
def test_forward_kernels_match_numpy(cupy_engine_, dtype, activation, shape):
    ref, gpu = NumpyEngine(), cupy_engine_
    Z = _random(shape, dtype, scale=4.0)
    Z[0, 0] = -1000.0  # the sigmoid must not overflow
    b = _random((shape[1], 1), dtype, seed=1)
    A_ref = ref.activation(Z, activation)
    np.testing.assert_allclose(gpu.to_numpy(gpu.activation(gpu.asarray(Z), activation)), A_ref, **_tolerance(dtype))
    Zr, Zg = Z.copy(), gpu.asarray(Z)
    A_ref = ref.bias_activation(Zr, b, activation)
    A_gpu = gpu.bias_activation(Zg, gpu.asarray(b), activation)
    np.testing.assert_allclose(gpu.to_numpy(A_gpu), A_ref, **_tolerance(dtype))
    np.testing.assert_allclose(gpu.to_numpy(Zg), Zr, **_tolerance(dtype))  # Z biased in place
    assert np.isfinite(gpu.to_numpy(A_gpu)).all()


@pytest.mark.gpu
@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_backward_kernels_match_numpy(cupy_engine_, dtype, activation):
    ref, gpu = NumpyEngine(), cupy_engine_
    A = ref.activation(_random((33, 17), dtype), activation)
    dA = _random((33, 17), dtype, seed=2)
    expected = ref.backprop_activation(dA, A, activation)
    got = gpu.backprop_activation(gpu.asarray(dA), gpu.asarray(A), activation)
    np.testing.assert_allclose(gpu.to_numpy(got), expected, **_tolerance(dtype))
    dA_gpu = gpu.asarray(dA)  # out= an input
    gpu.backprop_activation(dA_gpu, gpu.asarray(A), activation, out=dA_gpu)
    np.testing.assert_allclose(gpu.to_numpy(dA_gpu), expected, **_tolerance(dtype))


@pytest.mark.gpu
@pytest.mark.parametrize("m", [1, 7, 128, 5000])
def test_output_layer_cost_and_gradient_match_numpy(cupy_engine_, dtype, m):
    ref, gpu = NumpyEngine(), cupy_engine_
    Z = _random((m, 1), dtype, scale=5.0)
    Z[0, 0] = 800.0 if m > 1 else -800.0  # finite cost for huge logits
    Y = (np.random.default_rng(3).random((m, 1)) < 0.5).astype(dtype)
    cost = gpu.cross_entropy_cost(gpu.asarray(Z), gpu.asarray(Y))
    assert cost.shape == () and cost.dtype == dtype and isinstance(cost, gpu.xp.ndarray)
    np.testing.assert_allclose(gpu.to_numpy(cost), ref.cross_entropy_cost(Z, Y), rtol=2e-6 if dtype == np.float32 else 1e-12)
    again = gpu.cross_entropy_cost(gpu.asarray(Z), gpu.asarray(Y))
    assert gpu.to_numpy(again).tobytes() == gpu.to_numpy(cost).tobytes()  # deterministic
    out = gpu.empty((), dtype)
    assert gpu.cross_entropy_cost(gpu.asarray(Z), gpu.asarray(Y), out=out) is out
    A = ref.activation(Z, "sigmoid")
    dZ = gpu.backprop_sigmoid_cross_entropy(gpu.asarray(A), gpu.asarray(Y))
    np.testing.assert_allclose(gpu.to_numpy(dZ), ref.backprop_sigmoid_cross_entropy(A, Y), **_tolerance(dtype))


@pytest.mark.gpu
@pytest.mark.parametrize("m,n_in,n_out", [(1, 1, 1), (32, 784, 64), (129, 65, 1), (128, 256, 128)])
@pytest.mark.parametrize("gemm", [None, "cublas", "tiled"], ids=["cupy.matmul", "direct cublas", "gemm_tiled"])
def test_dense_layer_matches_numpy(cupy_engine_, dtype, m, n_in, n_out, gemm):
    ref, gpu = NumpyEngine(), cupy_engine_
    A_prev, W, b = _random((m, n_in), dtype), _random((n_out, n_in), dtype, 1), _random((n_out, 1), dtype, 2)
    dZ = _random((m, n_out), dtype, 3)
    tol = {"rtol": 2e-4, "atol": 2e-5} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-12}
    with gpu.xp.cuda.Device(gpu._device):
        stream = gpu._graph_stream()  # the direct handle's stream: run everything there
        if gemm == "cublas":
            assert gpu._graph_gemm()[0] == "cublas", gpu._graph_gemm()[1]
        gpu.synchronize()
        gpu._local.gemm = gemm
        try:
            with stream:
                Z_gpu, _ = gpu.dense_forward(gpu.asarray(A_prev), gpu.asarray(W), gpu.asarray(b), "relu")
                grads = gpu.backprop_dense(gpu.asarray(dZ), gpu.asarray(A_prev), gpu.asarray(W))
            stream.synchronize()
        finally:
            gpu._local.gemm = None
    Z_ref, _ = ref.dense_forward(A_prev, W, b, "relu")
    np.testing.assert_allclose(gpu.to_numpy(Z_gpu), Z_ref, **tol)
    for got, expected in zip(grads, ref.backprop_dense(dZ, A_prev, W)):
        assert got.shape == expected.shape
        np.testing.assert_allclose(gpu.to_numpy(got), expected, **tol)


@pytest.mark.gpu
def test_gemm_tiled_handles_strides_and_edges(cupy_engine_, dtype):
    gpu = cupy_engine_
    for M, K, N in [(1, 1, 1), (15, 17, 16), (33, 1, 47), (200, 31, 3), (5, 0, 4)]:
        a, b = _random((M, K), dtype), _random((K, N), dtype, 1)
        for a_view, b_view, a_host, b_host in [
            (gpu.asarray(a), gpu.asarray(b), a, b),
            (gpu.asarray(np.ascontiguousarray(a.T)).T, gpu.asarray(np.ascontiguousarray(b.T)).T, a, b),
        ]:
            got = gpu._gemm_tiled(a_view, b_view, None, 0.5)
            np.testing.assert_allclose(gpu.to_numpy(got), 0.5 * (a_host @ b_host), rtol=1e-4, atol=1e-5)


@pytest.mark.gpu
def test_sgd_update_uses_a_correctly_typed_learning_rate(cupy_engine_, dtype):
    gpu = cupy_engine_
    W = gpu.asarray(np.ones((3, 4), dtype))
    b = gpu.asarray(np.ones((3, 1), dtype))
    gpu.sgd_update([W, b], [gpu.asarray(np.full((3, 4), 2, dtype)), gpu.asarray(np.ones((3, 1), dtype))], 0.5)
    np.testing.assert_array_equal(gpu.to_numpy(W), np.zeros((3, 4), dtype))  # 1 - 0.5 * 2, not garbage
    np.testing.assert_array_equal(gpu.to_numpy(b), np.full((3, 1), 0.5, dtype))


@pytest.mark.gpu
def test_dot_loop_and_dot_vectorized_agree(cupy_engine_, dtype):
    gpu = cupy_engine_
    w, x = _random(1000, dtype), _random(1000, dtype, 1)
    expected = float(np.dot(w.astype(np.float64), x.astype(np.float64)) + 0.25)
    for z in (gpu.dot_loop(gpu.asarray(w), gpu.asarray(x), 0.25), gpu.dot_vectorized(gpu.asarray(w), gpu.asarray(x), 0.25)):
        assert isinstance(z, gpu.xp.ndarray) and z.dtype == dtype
        np.testing.assert_allclose(float(gpu.to_numpy(z)), expected, rtol=1e-4 if dtype == np.float32 else 1e-12)


@pytest.mark.gpu
def test_take_rows_gathers_examples(cupy_engine_, dtype):
    gpu = cupy_engine_
    X = _random((10, 3), dtype)
    rows = np.array([7, 0, 3])
    out = gpu.empty((3, 3), dtype)
    assert gpu.take_rows(gpu.asarray(X), gpu.asarray(rows), out=out) is out
    np.testing.assert_array_equal(gpu.to_numpy(out), X[rows])
    with pytest.raises(TypeError, match="take_rows: rows: expected a device array"):
        gpu.take_rows(gpu.asarray(X), rows)  # host indices: the one rule, no silent upload


def _training_step(engine, X, Y, layers, dtype, learning_rate=0.1, seed=0):
    """One fixed-shape training step (fastnn.propagation) into preallocated buffers: (step, params, cost)."""
    weights, biases = to_engine(engine, fastnn.initialize_parameters(layers, "xavier", seed=seed, dtype=dtype))
    activations = [None] + ["relu"] * (len(layers) - 2) + ["sigmoid"]
    workspace = Workspace(engine, layers, X.shape[0], dtype, X=X, Y=Y)

    def step():
        training_step(engine, weights, biases, activations, learning_rate, workspace)

    return step, weights[1:] + biases[1:], workspace.cost


@pytest.mark.gpu
@pytest.mark.parametrize("gemm", ["cublas", "tiled"])
def test_graph_mode_trains_like_numpy(cupy_engine_, dtype, gemm, monkeypatch):
    if gemm == "tiled":
        monkeypatch.setenv("FASTNN_GRAPH_GEMM", "tiled")  # the fallback, when libcublas cannot be opened
    gpu = CupyEngine(device=cupy_engine_._device, graph=True)
    rng = np.random.default_rng(5)
    X = rng.standard_normal((64, 20)).astype(dtype)
    Y = (rng.random((64, 1)) < 0.5).astype(dtype)
    layers = [20, 16, 8, 1]
    ref_step, ref_params, _ = _training_step(NumpyEngine(), X, Y, layers, dtype)
    step, params, cost = _training_step(gpu, gpu.asarray(X), gpu.asarray(Y), layers, dtype)
    captured = gpu.capture_step(step)
    for _ in range(5):
        captured()
        ref_step()
    assert captured.mode == "graph", captured.reason
    expected_gemm = "cuBLAS called directly" if gemm == "cublas" else "gemm_tiled"
    assert captured.gemm.startswith(expected_gemm), captured.gemm
    tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-12}
    for got, expected in zip(params, ref_params):
        np.testing.assert_allclose(gpu.to_numpy(got), expected, **tol)
    assert np.isfinite(gpu.to_numpy(cost))


@pytest.mark.gpu
def test_graph_mode_falls_back_to_eager_with_the_reason(cupy_engine_):
    gpu = CupyEngine(device=cupy_engine_._device, graph=True)
    cp = gpu.xp
    a = gpu.asarray(np.ones((4, 4), np.float32))
    out = gpu.empty((4, 4), np.float32)
    calls = []

    def uses_cublas():  # cupy.matmul, not engine.matmul: cuBLAS cannot be captured in CuPy 14
        calls.append(1)
        cp.matmul(a, a, out=out)

    step = gpu.capture_step(uses_cublas)
    step()
    step()
    assert step.mode == "eager" and "capture failed" in step.reason, step.reason
    assert len(calls) == 3  # warm-up, failed recording, one eager call
    np.testing.assert_array_equal(gpu.to_numpy(out), np.full((4, 4), 4, np.float32))

    def allocates():
        a * 2  # a temporary: its memory would be reused behind the graph's back

    step = gpu.capture_step(allocates)
    step()
    assert step.mode == "eager" and "allocated" in step.reason, step.reason


# -- GPU: the review's bugs ------------------------------------------------------------------


def _fit(engine, X, y, dtype, **fit_options):
    net = fastnn.DeepNetwork([X.shape[1], 6, 1], "tanh", learning_rate=0.5, epochs=5, batch_size=16,
                             engine=engine, dtype=dtype)
    return net.fit(X, y, **fit_options)


def _data(dtype, m=50, n=4):
    rng = np.random.default_rng(11)
    X = rng.standard_normal((m, n)).astype(dtype)
    return X, (X[:, 0] + X[:, 1] > 0).astype(np.int64)


@pytest.mark.gpu
def test_training_on_a_second_device_runs_there(cupy_engine_, dtype):
    """Bug 1: the epoch costs were written and summed on the current device (0)."""
    cupy = cupy_engine_.xp
    if cupy.cuda.runtime.getDeviceCount() < 2:
        pytest.skip("needs two GPUs (this machine has one): the CPU check is tests/test_layering.py")
    X, y = _data(dtype)
    expected = _fit("numpy", X, y, dtype)
    with cupy.cuda.Device(0):  # device 0 current, as in a user's program
        got = _fit(CupyEngine(device=1), X, y, dtype)
    tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-12}
    np.testing.assert_allclose(got.history_, expected.history_, **tol)
    for key, value in expected.parameters_.items():
        np.testing.assert_allclose(got.parameters_[key], value, **tol)


@pytest.mark.gpu
def test_loop_methods_match_numpy(cupy_engine_, dtype):
    gpu = cupy_engine_
    costs = gpu.empty((3,), dtype)
    for i, value in enumerate((0.5, 1.5, 2.5)):
        gpu.store(costs, i, gpu.asarray(np.asarray(value, dtype)))
    fractions = gpu.asarray(np.array([0.25, 0.25, 0.5], dtype))
    total = gpu.weighted_sum(costs, fractions)
    assert total.dtype == dtype
    np.testing.assert_allclose(float(gpu.to_numpy(total)), 0.5 * 0.25 + 1.5 * 0.25 + 2.5 * 0.5, rtol=1e-6)
    out = gpu.empty((3,), dtype)
    assert gpu.copy(costs, out=out) is out
    np.testing.assert_array_equal(gpu.to_numpy(out), np.array([0.5, 1.5, 2.5], dtype))


@pytest.mark.gpu
def test_host_arrays_never_reach_a_kernel_and_the_context_survives(cupy_engine_):
    """Bug 2: a size-1 NumPy array went to a kernel by value and was read as a pointer."""
    gpu = cupy_engine_
    Z = gpu.asarray(np.zeros((1, 1), np.float32))
    with pytest.raises(TypeError, match="bias_activation: b: expected a device array"):
        gpu.bias_activation(Z, np.ones((1, 1), np.float32), "relu")
    W = gpu.asarray(np.ones((1, 1), np.float32))
    with pytest.raises(TypeError, match=r"sgd_update: grads\[0\]: expected a device array"):
        gpu.sgd_update([W], [np.ones((1, 1), np.float32)], 0.5)
    with pytest.raises(TypeError, match="backprop_dense: A_prev: expected a device array"):  # bug 4
        gpu.backprop_dense(gpu.asarray(np.ones((2, 1), np.float32)), np.ones((2, 3), np.float32), W)
    gpu.sgd_update([W], [gpu.asarray(np.ones((1, 1), np.float32))], 0.5)
    np.testing.assert_array_equal(gpu.to_numpy(W), [[0.5]])  # the CUDA context still works


@pytest.mark.gpu
def test_fortran_ordered_initial_parameters_train_on_cupy(cupy_engine_, dtype):
    """Bug 3: they failed with "parameters must be C-contiguous" on cupy only."""
    X, y = _data(dtype)
    start = fastnn.initialize_parameters([4, 6, 1], "xavier", seed=3, dtype=dtype)
    fortran = {key: np.asfortranarray(value) for key, value in start.items()}
    assert not fortran["W1"].flags.c_contiguous
    expected = _fit("numpy", X, y, dtype, initial_parameters=start)
    got = _fit(cupy_engine_, X, y, dtype, initial_parameters=fortran)
    tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-12}
    np.testing.assert_allclose(got.history_, expected.history_, **tol)
    assert cupy_engine_.asarray(fortran["W1"]).flags.c_contiguous
