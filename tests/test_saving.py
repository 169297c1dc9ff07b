"""Saving never destroys a good file; loading trusts nothing; fitted estimators pickle on every engine."""

import copy
import json
import os
import pickle
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest
import sklearn.base

import fastnn
from fastnn import DeepNetwork, InvalidModelFile, LogisticRegression

X, Y = fastnn.datasets.make_flower(m=40)


def trained(layers=(2, 3, 1), **options):
    settings = dict(activation="tanh", epochs=3, engine="numpy")
    settings.update(options)
    return DeepNetwork(list(layers), **settings).fit(X, Y)


def folder_listing(path):
    return sorted(os.listdir(path))


# -- atomic saving ----------------------------------------------------------------------

SAVE_UNDER_A_SIZE_LIMIT = textwrap.dedent("""
    import resource, signal, sys
    import fastnn
    path, limit = sys.argv[1], int(sys.argv[2])
    X, y = fastnn.datasets.make_flower(m=40)
    big = fastnn.DeepNetwork([2, 3000, 1], "tanh", epochs=1, engine="numpy").fit(X, y)  # about 100 kB
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write then fails with EFBIG instead of killing us
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    try:
        big.save(path)
    except OSError as error:
        print(error)
        sys.exit(3)
    print("saved")
""")


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX only")
def test_a_save_that_hits_the_file_size_limit_leaves_the_old_file_intact(tmp_path):
    path = tmp_path / "net.npz"
    good = trained()
    good.save(path)
    before = path.read_bytes()
    limit = len(before) + 4096  # the old file fits, the new one does not
    run = subprocess.run([sys.executable, "-c", SAVE_UNDER_A_SIZE_LIMIT, str(path), str(limit)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 3, run.stdout + run.stderr
    assert f"could not write {str(path)!r}" in run.stdout and "unchanged" in run.stdout
    assert "Traceback" not in run.stderr
    assert path.read_bytes() == before
    assert folder_listing(tmp_path) == ["net.npz"]  # no temporary file left behind
    np.testing.assert_array_equal(fastnn.load(path, engine="numpy").predict_proba(X), good.predict_proba(X))


@pytest.mark.parametrize("failure", [RuntimeError("the disk went away"), KeyboardInterrupt()],
                         ids=["exception", "interrupt"])
def test_an_exception_mid_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch, failure):
    path = tmp_path / "net.npz"
    trained().save(path)
    before = path.read_bytes()
    real_write_array = np.lib.format.write_array
    calls = []

    def write_then_fail(file, array, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # header and W1 are written; fail half-way through b1
            file.write(b"\0" * 64)
            raise failure
        return real_write_array(file, array, *args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", write_then_fail)
    with pytest.raises(type(failure)):
        trained(layers=(2, 5, 1)).save(path)
    assert len(calls) == 3
    assert path.read_bytes() == before
    assert folder_listing(tmp_path) == ["net.npz"]


def test_a_save_replaces_the_old_file_in_one_step(tmp_path):
    path = tmp_path / "net.npz"
    trained().save(path)
    newer = trained(layers=(2, 5, 1))
    assert newer.save(path) == str(path)
    assert fastnn.load(path).layers_ == [2, 5, 1]
    assert folder_listing(tmp_path) == ["net.npz"]


@pytest.mark.parametrize("name, written", [("x.NPZ", "x.NPZ"), ("x.npz", "x.npz"), ("x", "x.npz"), ("x.bin", "x.bin.npz")])
def test_the_extension_is_added_only_when_missing_in_any_case(tmp_path, name, written):
    assert trained().save(tmp_path / name) == str(tmp_path / written)
    assert folder_listing(tmp_path) == [written]
    assert fastnn.load(tmp_path / written).layers_ == [2, 3, 1]


def test_saving_to_a_folder_or_a_missing_folder_is_refused_before_writing(tmp_path):
    net = trained()
    (tmp_path / "taken.npz").mkdir()
    for target, message in [
        (tmp_path, "expected a file name such as 'net.npz', got the folder"),
        (f"{tmp_path}{os.sep}", "got the folder"),
        (tmp_path / "taken", "is a folder"),
        (tmp_path / "missing" / "net.npz", "the folder .* does not exist"),
    ]:
        with pytest.raises(ValueError, match=f"path: .*{message}"):
            net.save(target)
    with pytest.raises(TypeError, match="path: expected a file name"):
        net.save(42)
    assert folder_listing(tmp_path) == ["taken.npz"]


# -- loading trusts nothing ------------------------------------------------------------

def _good_arrays(tmp_path, **options):
    """The arrays and decoded header of a freshly saved network."""
    path = trained(**options).save(tmp_path / "good.npz")
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
    return arrays, json.loads(str(arrays.pop("__header__")))


def _write(path, arrays, header=None):
    extra = {} if header is None else {"__header__": np.array(json.dumps(header))}
    with open(path, "wb") as file:  # the exact name, no extension added
        np.savez(file, **extra, **arrays)


def _edit_header(change):
    def corrupt(path, arrays, header):
        change(header)
        _write(path, arrays, header)
    return corrupt


def _edit_arrays(change):
    def corrupt(path, arrays, header):
        change(arrays)
        _write(path, arrays, header)
    return corrupt


def _raw_bytes(make):
    def corrupt(path, arrays, header):
        good = path.parent / "good.npz"
        path.write_bytes(make(good.read_bytes()))
    return corrupt


def _flip_a_weight_byte(data):
    position = data.index(b"W1.npy") + 300  # inside W1's stored values
    return data[:position] + bytes([data[position] ^ 0xFF]) + data[position + 1:]


CORRUPTIONS = {
    "empty": (_raw_bytes(lambda data: b""), "is empty"),
    "text": (_raw_bytes(lambda data: b"W1 = [[1, 2], [3, 4]]\n"), "is not a .npz archive"),
    "truncated": (_raw_bytes(lambda data: data[:len(data) // 2]), "is damaged"),
    "header cut off": (_raw_bytes(lambda data: data[:40]), "is damaged"),
    "flipped byte": (_raw_bytes(_flip_a_weight_byte), "is damaged"),
    "npy": (lambda path, arrays, header: np.save(open(path, "wb"), arrays["W1"]), "single .npy array"),
    "no header": (lambda path, arrays, header: _write(path, arrays), "no __header__"),
    "header not json": (lambda path, arrays, header: _write(path, {**arrays, "__header__": np.array("{oops")}),
                        "expected JSON"),
    "header a list": (lambda path, arrays, header: _write(path, arrays, [1, 2]), "expected a JSON object"),
    "header numbers": (lambda path, arrays, header: _write(path, {**arrays, "__header__": np.zeros(3)}),
                       "expected one text string"),
    "deep json": (lambda path, arrays, header: _write(path, {**arrays, "__header__": np.array("[" * 100000)}),
                  "expected JSON"),
    "format": (_edit_header(lambda h: h.update(format="fastnn-network-99")), "format: expected 'fastnn-network-1'"),
    "missing key": (_edit_header(lambda h: h.pop("settings")), r"missing \['settings'\]"),
    "unknown key": (_edit_header(lambda h: h.update(colour="red")), r"unknown \['colour'\]"),
    "model": (_edit_header(lambda h: h.update(model="RandomForest")), "model: expected 'DeepNetwork' or"),
    "model not a string": (_edit_header(lambda h: h.update(model=[1])), "model: expected a JSON string"),
    "settings a list": (_edit_header(lambda h: h.update(settings=[])), "settings: expected a JSON object"),
    "layers": (_edit_header(lambda h: h.update(layers="abc")), "layers: expected sizes"),
    "layers a dict": (_edit_header(lambda h: h.update(layers={"a": 1})), "layers: expected sizes"),
    "activations short": (_edit_header(lambda h: h.update(activations=["sigmoid"])),
                          "activations: expected a list of 2 names"),
    "activations name": (_edit_header(lambda h: h.update(activations=["swish", "sigmoid"])),
                         "activations: expected one of"),
    "activations text": (_edit_header(lambda h: h.update(activations="tanh")), "activations: expected a list"),
    "output not sigmoid": (_edit_header(lambda h: h.update(activations=["tanh", "tanh"])),
                           "the last 'sigmoid'"),
    "int64 weights": (_edit_arrays(lambda a: a.update(W1=a["W1"].astype(np.int64))),
                      r"weights\['W1'\]: expected float32 or float64 numbers, got an array of dtype int64"),
    "float16 weights": (_edit_arrays(lambda a: a.update(W2=a["W2"].astype(np.float16))), "dtype float16"),
    "complex weights": (_edit_arrays(lambda a: a.update(b1=a["b1"].astype(complex))), "dtype complex128"),
    "mixed dtypes": (_edit_arrays(lambda a: a.update(b2=a["b2"].astype(np.float32))),
                     "expected one dtype for every array, got float32 and float64"),
    "object array": (_edit_arrays(lambda a: a.update(W1=np.array([None, "x"], dtype=object))),
                     "Object arrays cannot be loaded when allow_pickle=False"),
    "wrong shape": (_edit_arrays(lambda a: a.update(W2=np.zeros((1, 4)))),
                    r"weights\['W2'\]: expected shape \(1, 3\), got \(1, 4\)"),
    "missing bias": (_edit_arrays(lambda a: a.pop("b1")), "missing 'b1'"),
    "extra layer": (_edit_arrays(lambda a: a.update(W3=np.zeros((1, 1)))), "unexpected 'W3'"),
    "NaN weight": (_edit_arrays(lambda a: a["W1"].__setitem__((0, 0), np.nan)), "NaN or inf"),
    "inf bias": (_edit_arrays(lambda a: a["b2"].__setitem__((0, 0), np.inf)), "NaN or inf"),
    "unknown setting": (_edit_header(lambda h: h["settings"].update(colour="red")), "settings: unknown 'colour'"),
    "engine setting": (_edit_header(lambda h: h["settings"].update(engine="numba")), "settings: unknown 'engine'"),
    "bad learning rate": (_edit_header(lambda h: h["settings"].update(learning_rate=-1)),
                          "learning_rate: expected a positive number, got -1"),
    "text epochs": (_edit_header(lambda h: h["settings"].update(epochs="many")), "epochs: expected a positive integer"),
    "bad shuffle": (_edit_header(lambda h: h["settings"].update(shuffle="yes")), "shuffle: expected True or False"),
    "bad init": (_edit_header(lambda h: h["settings"].update(init=[1])), "init: expected one of"),
    "settings layers": (_edit_header(lambda h: h["settings"].update(layers=[2, 4, 1])),
                        "settings: layers .* do not match the weights' layers"),
    "settings activation": (_edit_header(lambda h: h["settings"].update(activation="relu")),
                            "settings: activation 'relu' does not match"),
    "settings dtype": (_edit_header(lambda h: h["settings"].update(dtype="float32")),
                       "settings: dtype 'float32' does not match the weights' float64"),
}


@pytest.mark.parametrize("case", list(CORRUPTIONS))
def test_a_bad_file_raises_one_error_naming_the_path_and_the_fault(tmp_path, case):
    corrupt, fault = CORRUPTIONS[case]
    arrays, header = _good_arrays(tmp_path)
    path = tmp_path / "bad.npz"
    corrupt(path, arrays, header)
    with pytest.raises(InvalidModelFile, match=fault) as error:
        fastnn.load(path)
    assert str(path) in str(error.value)
    assert isinstance(error.value, ValueError) and fastnn.errors.InvalidModelFile is InvalidModelFile
    with pytest.raises(InvalidModelFile):
        DeepNetwork.load(path)


def test_a_logistic_regression_file_with_hidden_layers_is_refused(tmp_path):
    path = tmp_path / "lr.npz"
    arrays, header = _good_arrays(tmp_path)
    header["model"] = "LogisticRegression"
    header["settings"] = {k: v for k, v in header["settings"].items() if k not in ("layers", "activation")}
    _write(path, arrays, header)
    with pytest.raises(InvalidModelFile, match=r"layers None do not match the weights' layers \[2, 3, 1\]"):
        fastnn.load(path)


def test_missing_files_and_folders_say_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="path: no such file"):
        fastnn.load(tmp_path / "nothing.npz")
    with pytest.raises(InvalidModelFile, match="is a folder"):
        fastnn.load(tmp_path)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_good_file_round_trips_with_its_dtype(tmp_path, dtype):
    net = trained(dtype=dtype, layers=(2, 4, 3, 1), activation=["relu", "sigmoid"])
    loaded = fastnn.load(net.save(tmp_path / "net"), engine="numpy")
    assert loaded.parameters_["W1"].dtype == np.dtype(dtype) and loaded.get_params() == net.get_params()
    np.testing.assert_array_equal(loaded.predict_proba(X), net.predict_proba(X))


# -- pickling and copying ----------------------------------------------------------------

def test_a_fitted_network_pickles_and_copies_on_every_engine(engine):
    net = DeepNetwork([2, 4, 1], "tanh", epochs=5, batch_size=16, engine=engine.name).fit(X, Y)
    for copied in (pickle.loads(pickle.dumps(net)), copy.deepcopy(net)):
        assert copied.engine_.name == engine.name and copied.get_params() == net.get_params()
        np.testing.assert_array_equal(copied.predict_proba(X), net.predict_proba(X))
        assert copied.history_ == net.history_ and copied.parameters_ is not net.parameters_


def test_an_engine_instance_as_a_parameter_pickles(engine):
    net = LogisticRegression(epochs=3, engine=engine).fit(X, Y)  # the engine's thread-local buffers now exist
    copied = pickle.loads(pickle.dumps(net))
    assert copied.engine.name == engine.name
    np.testing.assert_array_equal(copied.predict_proba(X), net.predict_proba(X))
    again = pickle.loads(pickle.dumps(engine))
    assert type(again) is type(engine) and again.name == engine.name


def test_a_pickled_network_predicts_the_same_in_another_process(tmp_path):
    net = trained()
    (tmp_path / "net.pickle").write_bytes(pickle.dumps(net))
    np.save(tmp_path / "X.npy", X)
    code = ("import pickle, sys, numpy as np; net = pickle.load(open(sys.argv[1], 'rb'));"
            "np.save(sys.argv[3], net.predict_proba(np.load(sys.argv[2])))")
    subprocess.run([sys.executable, "-c", code, *(str(tmp_path / name) for name in ("net.pickle", "X.npy", "p.npy"))],
                   check=True, timeout=120)
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), net.predict_proba(X))


def test_sklearn_clone_gives_an_unfitted_twin_that_trains_the_same():
    net = trained(seed=3, batch_size=8)
    twin = sklearn.base.clone(net)
    assert type(twin) is DeepNetwork and twin.get_params() == net.get_params()
    assert not hasattr(twin, "parameters_")
    twin.fit(X, Y)
    assert twin.history_ == net.history_
    np.testing.assert_array_equal(twin.predict_proba(X), net.predict_proba(X))


# -- K-class networks store their class labels ------------------------------------------

LABELS = np.array(["cat", "dog", "eel"])[np.arange(40) % 3]


def _softmax_file(tmp_path):
    net = DeepNetwork([2, 4, 3], "tanh", epochs=3, engine="numpy").fit(X, LABELS)
    path = net.save(tmp_path / "k.npz")
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
    return net, path, arrays


def test_a_k_class_network_round_trips_with_its_labels(tmp_path):
    net, path, _ = _softmax_file(tmp_path)
    loaded = fastnn.load(path, engine="numpy")
    assert list(loaded.classes_) == ["cat", "dog", "eel"] and loaded.activations_[-1] == "softmax"
    np.testing.assert_array_equal(loaded.predict(X), net.predict(X))


@pytest.mark.parametrize("change, fault", [
    (lambda a: a.update(__classes__=np.array(["cat", "cat", "eel"])), "__classes__: expected 3 distinct labels"),
    (lambda a: a.update(__classes__=np.array([0.0, 1.0])), "__classes__: expected 3 distinct labels"),
    (lambda a: a.update(__classes__=np.array([0.0, np.nan, 1.0])), "__classes__: expected 3 distinct labels"),
    (lambda a: a.pop("__classes__"), "__classes__: expected 3 distinct labels .* got none"),
])
def test_bad_class_labels_are_refused(tmp_path, change, fault):
    _, path, arrays = _softmax_file(tmp_path)
    change(arrays)
    bad = tmp_path / "bad.npz"
    _write(bad, arrays)
    with pytest.raises(InvalidModelFile, match=fault):
        fastnn.load(bad)


def test_a_binary_file_with_class_labels_is_refused(tmp_path):
    arrays, header = _good_arrays(tmp_path)
    path = tmp_path / "bad.npz"
    _write(path, {**arrays, "__classes__": np.array([0, 1])}, header)
    with pytest.raises(InvalidModelFile, match="one output unit stores no classes"):
        fastnn.load(path)
