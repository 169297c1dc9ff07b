"""Every engine method refuses mismatched shapes, naming the method, the argument, the expected
and the actual shape, before it computes or modifies anything (fastnn/backends/shapes.py).

The cupy engine runs here too, without a GPU: its arrays are host memory that declares itself
on device 0 (tests/stand_ins.py), and every shape check runs before CuPy is touched.
"""

import inspect
import re

import numpy as np
import pytest

from fastnn.backends import Engine, get_engine
from fastnn.backends import cupy_engine

# Methods that take no arrays to check: moving data in and out, and store's index semantics;
# training_step(s) and finish_training run on a Workspace built for its weights (fit checks those against X and y).
NOT_SHAPE_CHECKED = {"asarray", "to_numpy", "synchronize", "empty", "memory_info", "capture_step",
                     "unavailable_reason", "store", "training_data", "training_step", "training_steps",
                     "finish_training"}


def bad_calls(a):
    """(method, args, kwargs, message) for each mismatch; a(shape) makes an engine array of zeros."""
    m, n, k = 5, 3, 4
    Z, b = a((m, n)), a((n, 1))
    rows = np.zeros(2, np.int64)
    return [
        ("take_rows", (a((m, n)), a((2, 1), np.int64)), {}, r"rows has shape \(2, 1\), expected \(k,\)"),
        ("take_rows", (a((m, n)), a((2,), np.int64)), {"out": a((3, n))}, rf"out has shape \(3, {n}\), expected \(2, {n}\)"),
        ("copy", (Z,), {"out": a((n, m))}, rf"out has shape \({n}, {m}\), expected \({m}, {n}\)"),
        ("weighted_sum", (a((m, 1)), a((m,))), {}, rf"values has shape \({m}, 1\), expected \(n,\)"),
        ("weighted_sum", (a((m,)), a((m - 1,))), {}, rf"weights has shape \({m - 1},\), expected \({m},\)"),
        ("matmul", (a((m,)), a((m, n))), {}, rf"a has shape \({m},\), expected \(m, k\)"),
        ("matmul", (a((m, k)), a((n, k))), {}, rf"b has shape \({n}, {k}\), expected \({k}, n\)"),
        ("matmul", (a((m, k)), a((k, n))), {"out": a((m, k))}, rf"out has shape \({m}, {k}\), expected \({m}, {n}\)"),
        ("dense_forward", (a((k,)), a((n, k)), b, "relu"), {}, rf"A_prev has shape \({k},\), expected \(m examples"),
        ("dense_forward", (a((m, k)), a((n, k + 1)), b, "relu"), {}, rf"W has shape \({n}, {k + 1}\), expected \(n, {k}\)"),
        ("dense_forward", (a((m, k)), a((n, k)), a((1, n)), "relu"), {}, rf"b has shape \(1, {n}\), expected \({n}, 1\)"),
        ("dense_forward", (a((m, k)), a((n, k)), b, "relu"), {"out": (a((m, k)), Z)},
         rf"out\[0\] \(Z\) has shape \({m}, {k}\), expected \({m}, {n}\)"),
        ("dense_forward", (a((m, k)), a((n, k)), b, "relu"), {"out": (Z, a((m,)))},
         rf"out\[1\] \(A\) has shape \({m},\), expected \({m}, {n}\)"),
        ("bias_activation", (a((m * n,)), b, "relu"), {}, rf"Z has shape \({m * n},\), expected \(m examples"),
        ("bias_activation", (Z, a((m, 1)), "relu"), {}, rf"b has shape \({m}, 1\), expected \({n}, 1\)"),
        ("bias_activation", (Z, b, "relu"), {"out": a((n, m))}, rf"out has shape \({n}, {m}\), expected \({m}, {n}\)"),
        ("activation", (Z, "tanh"), {"out": a((m, 1))}, rf"out has shape \({m}, 1\), expected \({m}, {n}\)"),
        ("backprop_activation", (a((n, m)), Z, "tanh"), {}, rf"dA has shape \({n}, {m}\), expected \({m}, {n}\)"),
        ("backprop_activation", (Z, Z, "tanh"), {"out": a((m * n,))}, rf"out has shape \({m * n},\), expected \({m}, {n}\)"),
        # the issue's case: Y (m,) against (m, 1) broadcast silently to (m, m)
        ("backprop_sigmoid_cross_entropy", (a((m, 1)), a((m,))), {}, rf"Y has shape \({m},\), expected \({m}, 1\)"),
        ("backprop_sigmoid_cross_entropy", (a((m, 1)), a((m, 1))), {"out": a((m, m))},
         rf"out has shape \({m}, {m}\), expected \({m}, 1\)"),
        ("backprop_softmax_cross_entropy", (Z, a((m,))), {}, rf"Y has shape \({m},\), expected \({m}, {n}\)"),
        ("cross_entropy_cost", (a((m, n)), a((m, n - 1))), {}, rf"Y has shape \({m}, {n - 1}\), expected \({m}, {n}\)"),
        ("cross_entropy_cost", (a((m, 1)), a((m,))), {}, rf"Y has shape \({m},\), expected \({m}, 1\)"),
        ("cross_entropy_cost", (a((m, 1)), a((m, 1))), {"out": a((1,))}, r"out has shape \(1,\), expected \(\)"),
        ("backprop_dense", (a((m,)), a((m, k)), a((n, k))), {}, rf"dZ has shape \({m},\), expected \(m examples"),
        ("backprop_dense", (Z, a((m + 1, k)), a((n, k))), {}, rf"A_prev has shape \({m + 1}, {k}\), expected \({m}, {k}\)"),
        ("backprop_dense", (Z, a((m, k)), a((k, n))), {}, rf"W has shape \({k}, {n}\), expected \({n}, {k}\)"),
        ("backprop_dense", (Z, a((m, k)), a((n, k))), {"out": (a((k, n)), b, a((m, k)))},
         rf"out\[0\] \(dW\) has shape \({k}, {n}\), expected \({n}, {k}\)"),
        ("backprop_dense", (Z, a((m, k)), a((n, k))), {"out": (a((n, k)), a((n,)), a((m, k)))},
         rf"out\[1\] \(db\) has shape \({n},\), expected \({n}, 1\)"),
        ("backprop_dense", (Z, a((m, k)), a((n, k))), {"out": (a((n, k)), b, a((m, n)))},
         rf"out\[2\] \(dA_prev\) has shape \({m}, {n}\), expected \({m}, {k}\)"),
        ("sgd_update", ([a((n, k)), b], [a((n, k))], 0.1), {}, r"got 1 gradients for 2 parameters"),
        ("sgd_update", ([a((n, k)), b], [a((n, k)), a((1, n))], 0.1), {}, rf"grads\[1\] has shape \(1, {n}\), expected \({n}, 1\)"),
        ("dot_loop", (a((m, 1)), a((m, 1)), 0.5), {}, rf"w has shape \({m}, 1\), expected \(n,\)"),
        ("dot_loop", (a((m,)), a((m + 1,)), 0.5), {}, rf"x has shape \({m + 1},\), expected \({m},\)"),
        ("dot_vectorized", (a((m,)), a((m, 1)), 0.5), {}, rf"x has shape \({m}, 1\), expected \({m},\)"),
    ]


@pytest.fixture(params=["numpy", "numba", "cupy"])
def engine_and_arrays(request, monkeypatch):
    """(engine, a): each engine, and a(shape, dtype) making zeros where that engine's methods take them."""
    if request.param != "cupy":
        return get_engine(request.param), lambda shape, dtype=np.float64: np.zeros(shape, dtype)
    from stand_ins import on_device

    monkeypatch.setattr(cupy_engine, "_probe", lambda: (None, 1))  # one GPU, never asked for
    return cupy_engine.CupyEngine(), lambda shape, dtype=np.float64: on_device(np.zeros(shape, dtype))


def test_every_array_method_of_the_interface_has_a_mismatch_case():
    methods = {n for n, f in inspect.getmembers(Engine, inspect.isfunction) if not n.startswith("_")}
    covered = {call[0] for call in bad_calls(np.zeros)}
    missing = methods - NOT_SHAPE_CHECKED - covered
    assert not missing, (f"engine methods without a shape check case: {sorted(missing)}; give each a check in "
                         "fastnn/backends/shapes.py and a case in bad_calls")


@pytest.mark.parametrize("case", range(len(bad_calls(np.zeros))))
def test_mismatched_shapes_are_refused_naming_the_argument(engine_and_arrays, case):
    engine, a = engine_and_arrays
    method, args, kwargs, message = bad_calls(a)[case]
    before = [np.array(x, copy=True) for x in _arrays(args)]
    with pytest.raises(ValueError, match=rf"^{method}: {message}"):
        getattr(engine, method)(*args, **kwargs)
    for x, was in zip(_arrays(args), before):  # refused before anything was computed or updated
        np.testing.assert_array_equal(np.asarray(x), was)


def _arrays(args):
    """Every array among `args`, lists of arrays included (the parameters of sgd_update)."""
    for x in args:
        if isinstance(x, list):
            yield from x
        elif isinstance(x, np.ndarray):
            yield x


def test_the_issues_broadcast_is_refused_and_the_right_shape_gives_the_right_cost(engine):
    """Y (m,) against Z (m, 1) gave cost 0.805 instead of 0.305 (an (m, m) broadcast)."""
    Z = np.array([[2.0], [-1.0], [0.5], [-3.0]])
    y = np.array([1.0, 0.0, 1.0, 0.0])
    with pytest.raises(ValueError, match=re.escape("cross_entropy_cost: Y has shape (4,), expected (4, 1)")):
        engine.cross_entropy_cost(engine.asarray(Z), engine.asarray(y))
    cost = float(engine.to_numpy(engine.cross_entropy_cost(engine.asarray(Z), engine.asarray(y.reshape(-1, 1)))))
    a = 1 / (1 + np.exp(-Z[:, 0]))
    assert cost == pytest.approx(-np.mean(y * np.log(a) + (1 - y) * np.log(1 - a)), rel=1e-12)


@pytest.mark.parametrize("method", ["dense_forward", "bias_activation", "activation", "backprop_activation"])
def test_an_unknown_activation_is_refused_by_each_public_method_before_anything_changes(engine_and_arrays, method):
    engine, a = engine_and_arrays
    m, n, k = 5, 3, 4
    args = {"dense_forward": (a((m, k)), a((n, k)), a((n, 1))), "bias_activation": (a((m, n)), a((n, 1))),
            "activation": (a((m, n)),), "backprop_activation": (a((m, n)), a((m, n)))}[method]
    for x in _arrays(args):
        x += 0.5  # a bias added to Z in place would show
    before = [np.array(x, copy=True) for x in _arrays(args)]
    with pytest.raises(ValueError, match=r"^activation: expected one of 'sigmoid', 'tanh', 'relu', 'leaky_relu', "
                                         r"got 'swish'"):
        getattr(engine, method)(*args, "swish")
    for x, was in zip(_arrays(args), before):
        np.testing.assert_array_equal(np.asarray(x), was)


@pytest.mark.parametrize("name", ["numpy", "numba"])
@pytest.mark.parametrize("activation", ["tanh", "softmax"])
def test_dense_forward_checks_its_arguments_once_not_again_in_its_inner_steps(monkeypatch, name, activation):
    """The shape check of dense_forward covers the matmul and the bias and activation it runs."""
    from fastnn import activations as names
    from fastnn.backends import shapes

    engine = get_engine(name)
    calls = []
    for module, check in [(shapes, "dense_forward"), (shapes, "matmul"), (shapes, "bias_activation"),
                          (shapes, "activation"), (names, "check_activation")]:
        real = getattr(module, check)
        monkeypatch.setattr(module, check, lambda *a, _real=real, _check=check: calls.append(_check) or _real(*a))
    rng = np.random.default_rng(0)
    A_prev, W, b = rng.normal(size=(6, 4)), rng.normal(size=(3, 4)), rng.normal(size=(3, 1))
    Z, A = engine.dense_forward(A_prev, W, b, activation)
    expected_checks = ["dense_forward"] + (["check_activation"] if activation != "softmax" else [])
    assert sorted(calls) == sorted(expected_checks)
    # Oracle: the notes' Z = W A_prev + b and g(Z), written plainly (transposed to the row layout).
    Z_notes = (W @ A_prev.T + b).T
    np.testing.assert_allclose(Z, Z_notes, rtol=1e-12)
    expected = np.tanh(Z_notes) if activation == "tanh" else np.exp(Z_notes) / np.exp(Z_notes).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(A, expected, rtol=1e-12)
