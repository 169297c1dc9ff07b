"""Layering: code outside the engines operates on engine arrays only through engine methods.

A GPU engine runs each method on its own device (``with cupy.cuda.Device(...)``); an array
operation made by the training loop itself would run on whatever device is current, so
training on device 1 would run part of every step on device 0. Here a NumPy engine whose
arrays record every operation made on them outside an engine method trains a network,
and the modules outside fastnn/backends are read for any use of an engine's array module.
"""

import ast
import functools
import inspect
from pathlib import Path

import numpy as np
import pytest

import fastnn
from fastnn.backends import Engine
from fastnn.backends.numpy_engine import NumpyEngine
from fastnn.testing import ENGINE_NAMES, is_gpu_engine

PACKAGE = Path(fastnn.__file__).parent
_depth = [0]  # engine methods running now (they call each other)
_outside = []  # operations made on engine arrays while no engine method ran
_inside = [0]  # operations made inside engine methods: proof the recording works


def _note(operation):
    if _depth[0]:
        _inside[0] += 1
    else:
        _outside.append(operation)


def _plain(arrays):
    return tuple(a.view(np.ndarray) if isinstance(a, Tracked) else a for a in arrays)


class Tracked(np.ndarray):
    """A NumPy array that notes every computing operation made on it (views are free)."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        _note(f"np.{ufunc.__name__}.{method}")
        if "out" in kwargs:
            kwargs["out"] = _plain(kwargs["out"])
        return getattr(ufunc, method)(*_plain(inputs), **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        _note(f"np.{func.__name__}")
        return super().__array_function__(func, types, args, kwargs)

    def __setitem__(self, key, value):
        _note("__setitem__")
        super().__setitem__(key, value)


def _noting(name):
    def method(self, *args, **kwargs):
        _note(f"ndarray.{name}")
        return getattr(np.ndarray, name)(self, *args, **kwargs)

    return method


# ndarray methods that compute or read values without going through a ufunc or a NumPy function.
for _name in ("dot", "fill", "copy", "astype", "take", "put", "item", "tolist", "__float__", "__bool__"):
    setattr(Tracked, _name, _noting(_name))

# Engine methods whose results are host values, not engine arrays.
_HOST_RESULTS = {"to_numpy", "memory_info", "capture_step"}


def _track(value):
    """Engine arrays come out of engine methods as Tracked arrays (numpy scalars as 0-d ones)."""
    if isinstance(value, (tuple, list)):
        return type(value)(_track(v) for v in value)
    if isinstance(value, (np.ndarray, np.generic)) and not isinstance(value, Tracked):
        return np.asarray(value).view(Tracked)
    return value


def _engine_method(name, method):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        _depth[0] += 1
        try:
            result = method(self, *args, **kwargs)
        finally:
            _depth[0] -= 1
        return result if name in _HOST_RESULTS else _track(result)

    return wrapper


def _public_methods():
    for name, member in inspect.getmembers(Engine):
        if not name.startswith("_") and inspect.isfunction(member):
            yield name, getattr(NumpyEngine, name)


RecordingEngine = type("RecordingEngine", (NumpyEngine,), {
    name: _engine_method(name, method) for name, method in _public_methods()})


@pytest.fixture
def recording():
    _outside.clear()
    _inside[0] = 0
    yield RecordingEngine()
    _outside.clear()


@pytest.mark.parametrize("batch_size", [None, 7, 64], ids=["full batch", "mini-batches", "batch > m"])
def test_training_operates_on_engine_arrays_only_through_engine_methods(recording, batch_size):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    net = fastnn.DeepNetwork([4, 5, 3, 1], "tanh", learning_rate=0.1, epochs=6, batch_size=batch_size,
                             engine=recording).fit(X, y, report_every=4)
    assert len(net.history_) == 6 and all(np.isfinite(net.history_))
    assert _inside[0] > 100, "the recording engine noted nothing: the check would pass vacuously"
    assert _outside == [], f"array operations made outside engine methods: {sorted(set(_outside))}"


def test_the_recording_catches_an_operation_outside_an_engine_method(recording):
    """The check above can fail: the operations the loop used to make itself are noted."""
    costs, fractions = recording.empty((3,), np.float64), recording.asarray(np.full(3, 1 / 3))
    recording.store(costs, 0, 1.0)
    assert _outside == []
    costs[1] = 2.0
    np.dot(costs, fractions)
    costs.sum()
    assert _outside == ["__setitem__", "np.dot", "np.add.reduce"]


def _modules_outside_the_engines():
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.parent.name not in ("backends", "kernels"):
            yield path


def test_no_module_outside_the_engines_uses_an_engine_array_module():
    """`engine.xp.dot(...)` or `engine.xp is np` outside fastnn/backends: use an engine method."""
    offenders = []
    for path in _modules_outside_the_engines():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr == "xp":
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == [], f"engine.xp used outside the engines: {offenders}"


def test_device_kind_is_declared_once_on_each_engine_class():
    from fastnn.backends import engine_class

    kinds = {name: engine_class(name).device_kind for name in ENGINE_NAMES}
    assert kinds == {"numpy": "cpu", "numba": "cpu", "cupy": "gpu"}
    assert [name for name in ENGINE_NAMES if is_gpu_engine(name)] == ["cupy"]


def test_error_classes_live_in_errors_and_stay_importable_from_the_old_places():
    from fastnn import backends, errors
    from fastnn.backends import registry

    for name in ("UnknownEngineError", "EngineUnavailableError"):
        cls = getattr(errors, name)
        assert cls.__module__ == "fastnn.errors"
        assert getattr(fastnn, name) is getattr(backends, name) is getattr(registry, name) is cls
