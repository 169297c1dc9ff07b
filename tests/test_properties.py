"""Property-based tests (hypothesis): random shapes, dtypes, hyperparameters and corrupted
files raise only fastnn's own clear errors, each naming what is wrong, or work."""

import io
import json
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastnn
from fastnn import ACTIVATIONS, DeepNetwork, InvalidModelFile, TrainingDiverged

# Modest example counts, no deadline: each test takes a few seconds, and JIT compiles do not flake.
QUICK = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WIDER = settings(QUICK, max_examples=150)  # tiny fits: one bad argument each, so more examples

# An error is "clear" when it starts with the name of what is wrong, as every fastnn check does.
ARGUMENT = re.compile(r"^(X|y|layers|activation|learning_rate|epochs|batch_size|init|shuffle|seed|engine|dtype|"
                      r"threshold|initial_parameters(\['\w+'\])?|report_every|callback|training diverged)[: ]")


def assert_clear(error):
    assert isinstance(error, (ValueError, TypeError, TrainingDiverged)), repr(error)
    assert ARGUMENT.match(str(error)), f"unclear message: {error}"


def junk():
    return st.sampled_from([None, "x", -1, 0, 1.5, float("nan"), float("inf"), 10**30, [1], {"a": 1},
                            np.array([1, 0]), True, np.float32(2)])


def features():
    """X of 1-12 rows and 1-4 columns: float32/float64/int64, sometimes with NaN, inf or huge values."""
    dtypes = st.sampled_from([np.float32, np.float64, np.int64])
    shapes = st.tuples(st.integers(1, 12), st.integers(1, 4))
    return dtypes.flatmap(lambda dtype: hnp.arrays(
        dtype, shapes,
        elements=(st.integers(-5, 5) if dtype is np.int64 else
                  st.one_of(st.floats(-10, 10, width=32), st.sampled_from([np.nan, np.inf, 1e38, -3e38])))))


ARGUMENTS = ["activation", "learning_rate", "epochs", "batch_size", "init", "shuffle", "dtype", "seed", "threshold",
             "hidden", "outputs", "labels"]


@WIDER
@given(X=features(), labels=st.lists(st.sampled_from([0, 1]), min_size=1, max_size=12),
       hidden=st.lists(st.integers(1, 4), max_size=2), activation=st.sampled_from([None, *ACTIVATIONS]),
       learning_rate=st.floats(1e-3, 1e3), epochs=st.integers(1, 4), batch_size=st.one_of(st.none(), st.integers(1, 5)),
       init=st.sampled_from(["auto", "small", "he", "xavier", "zeros"]), shuffle=st.booleans(),
       dtype=st.sampled_from([None, "float32", "float64"]), engine=st.sampled_from(["numpy", "numba"]),
       threshold=st.floats(0, 1), bad=st.one_of(st.none(), st.sampled_from(ARGUMENTS)), bad_value=junk())
def test_random_estimators_either_work_or_fail_clearly(X, labels, hidden, activation, learning_rate, epochs,
                                                        batch_size, init, shuffle, dtype, engine, threshold, bad,
                                                        bad_value):
    """Valid settings, with at most one argument (`bad`) replaced by junk."""
    options = dict(activation=activation, learning_rate=learning_rate, epochs=epochs, batch_size=batch_size,
                   init=init, shuffle=shuffle, dtype=dtype, seed=0, threshold=threshold, hidden=hidden,
                   outputs=1, labels=labels)
    if bad is not None:
        options[bad] = bad_value
    hidden, outputs, labels, threshold = (options.pop(k) for k in ("hidden", "outputs", "labels", "threshold"))
    if len(hidden if isinstance(hidden, list) else [0]) == 0 and bad != "activation":
        options["activation"] = None  # a network without hidden layers takes no activation
    X_before = X.copy()
    try:
        y = np.resize(np.asarray(labels), X.shape[0])
        layers = [X.shape[1], *(hidden if isinstance(hidden, list) else [hidden]), outputs]
        net = DeepNetwork(layers, engine=engine, **options).fit(X, y)
        assert all(np.isfinite(value).all() for value in net.parameters_.values())
        assert np.isfinite(net.predict_proba(X)).all()
        net.predict(X, threshold=threshold)
    except AssertionError:
        raise
    except Exception as error:  # noqa: BLE001 - the property is about which errors come
        assert_clear(error)
    np.testing.assert_array_equal(X, X_before)  # nothing the user passed in is modified


# -- corrupted files -------------------------------------------------------------------

X_SMALL, Y_SMALL = fastnn.datasets.make_flower(m=20)


def _saved_bytes(layers, dtype):
    buffer = io.BytesIO()
    net = DeepNetwork(layers, "tanh", epochs=2, dtype=dtype, engine="numpy").fit(X_SMALL, Y_SMALL)
    arrays = {"__header__": None, **net.parameters_}
    header = {"format": "fastnn-network-1", "fastnn_version": fastnn.__version__, "model": "DeepNetwork",
              "layers": layers, "activations": net.activations_[1:],
              "settings": {k: v for k, v in net.get_params().items() if k != "engine"}}
    arrays["__header__"] = np.array(json.dumps(header))
    np.savez(buffer, **arrays)
    return buffer.getvalue(), header, net.parameters_


GOOD = {dtype: _saved_bytes([2, 3, 1], dtype) for dtype in ("float32", "float64")}


def _load_or_clear_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("files") / "net.npz"
    path.write_bytes(data)
    try:
        loaded = fastnn.load(path, engine="numpy")
    except InvalidModelFile as error:
        assert str(path) in str(error)
        return None
    assert np.isfinite(loaded.predict_proba(X_SMALL)).all()  # whatever loads, works
    return loaded


@QUICK
@given(dtype=st.sampled_from(["float32", "float64"]), cut=st.integers(0, 5000),
       flips=st.lists(st.tuples(st.integers(0, 5000), st.integers(1, 255)), max_size=4),
       insert=st.binary(max_size=8))
def test_damaged_bytes_raise_invalid_model_file_or_load_a_working_network(tmp_path_factory, dtype, cut, flips, insert):
    data = bytearray(GOOD[dtype][0])
    for position, mask in flips:
        data[position % len(data)] ^= mask
    cut %= len(data) + 1
    data = bytes(data[:cut]) + insert + bytes(data[cut:]) if insert else bytes(data[:max(cut, 1)])
    _load_or_clear_error(tmp_path_factory, data)


json_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-5, 10**20), st.floats(),
                                     st.text(max_size=6)),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                       max_size=3),
                           max_leaves=8)
weight_dtypes = st.sampled_from([np.float32, np.float64, np.float16, np.int64, np.complex128, np.bool_, "U2"])


@QUICK
@given(dtype=st.sampled_from(["float32", "float64"]), key=st.sampled_from(
           ["format", "fastnn_version", "model", "layers", "activations", "settings", "extra",
            "settings.learning_rate", "settings.epochs", "settings.layers", "settings.activation", "settings.seed",
            "settings.shuffle", "settings.init", "settings.dtype", "settings.batch_size", "settings.colour"]),
       value=json_values, array_key=st.sampled_from([None, "W1", "b1", "W2", "b2", "W3", "__classes__"]),
       array_dtype=weight_dtypes, array_shape=st.one_of(st.none(), hnp.array_shapes(min_dims=0, max_dims=3, max_side=4)),
       keep_header=st.booleans())
def test_hostile_headers_and_arrays_raise_invalid_model_file(tmp_path_factory, dtype, key, value, array_key,
                                                             array_dtype, array_shape, keep_header):
    """One header field replaced by random JSON (or kept), one array by another dtype or shape."""
    _, header, parameters = GOOD[dtype]
    header = json.loads(json.dumps(header))
    if not keep_header:
        target, _, field = key.partition(".")
        (header[target] if field else header)[field or target] = value
    arrays = dict(parameters)
    if array_key is not None:
        shape = parameters.get(array_key, np.zeros(2)).shape if array_shape is None else array_shape
        arrays[array_key] = np.ones(shape, dtype=array_dtype)
    buffer = io.BytesIO()
    np.savez(buffer, __header__=np.array(json.dumps(header)), **arrays)
    loaded = _load_or_clear_error(tmp_path_factory, buffer.getvalue())
    if loaded is not None:  # what loads is exactly what was stored: no silent casts
        assert set(loaded.parameters_) == set(arrays)
        for name, array in arrays.items():
            assert loaded.parameters_[name].dtype == array.dtype and np.array_equal(loaded.parameters_[name], array)
