"""The course's assignments reproduced from fastnn's API alone, against the course's own
recipes written out plainly here: its legacy np.random draws, its planar data, its image
flattening and HDF5 files, its zero-initialised logistic regression and its shapes."""

import numpy as np
import pytest

import fastnn
from fastnn import datasets, notes

h5py = pytest.importorskip("h5py", reason="h5py is in the test extra: pip install -e '.[test]'")


# -- the course's code, as the assignments write it ------------------------------------------

def course_planar_data():
    """The planar assignment's load_planar_dataset(), returning X (2, 400) and Y (1, 400)."""
    np.random.seed(1)
    m, N, D, a = 400, 200, 2, 4
    X = np.zeros((m, D))
    Y = np.zeros((m, 1), dtype="uint8")
    for j in range(2):
        ix = range(N * j, N * (j + 1))
        t = np.linspace(j * 3.12, (j + 1) * 3.12, N) + np.random.randn(N) * 0.2
        r = a * np.sin(4 * t) + np.random.randn(N) * 0.2
        X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        Y[ix] = j
    return X.T, Y.T


def course_two_layer_init(n_x, n_h, n_y, seed):
    np.random.seed(seed)
    W1 = np.random.randn(n_h, n_x) * 0.01
    b1 = np.zeros((n_h, 1))
    W2 = np.random.randn(n_y, n_h) * 0.01
    b2 = np.zeros((n_y, 1))
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}


def course_deep_init(layer_dims):
    """The deep application's initialize_parameters_deep (scaled by 1 / sqrt(n^[l-1]))."""
    np.random.seed(1)
    parameters = {}
    for l in range(1, len(layer_dims)):
        parameters["W" + str(l)] = np.random.randn(layer_dims[l], layer_dims[l - 1]) / np.sqrt(layer_dims[l - 1])
        parameters["b" + str(l)] = np.zeros((layer_dims[l], 1))
    return parameters


def course_sigmoid(Z):
    return 1 / (1 + np.exp(-Z))


def course_cost(AL, Y):
    m = Y.shape[1]
    return np.squeeze((-1 / m) * np.sum(np.multiply(Y, np.log(AL)) + np.multiply(1 - Y, np.log(1 - AL))))


def course_planar_step(parameters, X, Y, learning_rate):
    """One iteration of the planar assignment's nn_model: forward, cost, backward, update."""
    W1, b1, W2, b2 = parameters["W1"], parameters["b1"], parameters["W2"], parameters["b2"]
    m = X.shape[1]
    Z1 = np.dot(W1, X) + b1
    A1 = np.tanh(Z1)
    Z2 = np.dot(W2, A1) + b2
    A2 = course_sigmoid(Z2)
    cost = course_cost(A2, Y)
    dZ2 = A2 - Y
    dW2 = 1 / m * np.dot(dZ2, A1.T)
    db2 = 1 / m * np.sum(dZ2, axis=1, keepdims=True)
    dZ1 = np.dot(W2.T, dZ2) * (1 - np.power(A1, 2))
    dW1 = 1 / m * np.dot(dZ1, X.T)
    db1 = 1 / m * np.sum(dZ1, axis=1, keepdims=True)
    updated = {"W1": W1 - learning_rate * dW1, "b1": b1 - learning_rate * db1,
               "W2": W2 - learning_rate * dW2, "b2": b2 - learning_rate * db2}
    return updated, cost


def course_logistic(X, Y, num_iterations, learning_rate):
    """The logistic regression assignment's model: zeros, then propagate / optimize."""
    w, b = np.zeros((X.shape[0], 1)), 0.0
    m, costs = X.shape[1], []
    for _ in range(num_iterations):
        A = course_sigmoid(np.dot(w.T, X) + b)
        costs.append(-1 / m * np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A)))
        dw = 1 / m * np.dot(X, (A - Y).T)
        db = 1 / m * np.sum(A - Y)
        w = w - learning_rate * dw
        b = b - learning_rate * db
    return w, b, costs


def write_course_h5(path, prefix, images, labels, classes=(b"non-cat", b"cat")):
    """A file in the course's layout: <prefix>_set_x (m, h, w, c) uint8, <prefix>_set_y, list_classes."""
    with h5py.File(path, "w") as file:
        file.create_dataset(f"{prefix}_set_x", data=images)
        file.create_dataset(f"{prefix}_set_y", data=labels)
        file.create_dataset("list_classes", data=np.array(classes))
    return path


def synthetic_course_images(m, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(m, 64, 64, 3), dtype=np.uint8), rng.integers(0, 2, size=m, dtype=np.int64)


# -- the course's random numbers -----------------------------------------------------------

@pytest.mark.parametrize("layer_dims, init, seed, course", [
    ([2, 4, 1], "small", 2, lambda: course_two_layer_init(2, 4, 1, 2)),           # planar
    ([12288, 7, 1], "small", 1, lambda: course_two_layer_init(12288, 7, 1, 1)),   # 2-layer app
    ([12288, 20, 7, 5, 1], "xavier", 1, lambda: course_deep_init([12288, 20, 7, 5, 1])),  # L-layer app
])
def test_a_legacy_random_state_gives_the_courses_weights_bit_for_bit(layer_dims, init, seed, course):
    expected = course()
    got = fastnn.initialize_parameters(layer_dims, init, seed=np.random.RandomState(seed))
    assert got.keys() == expected.keys()
    for key in expected:
        assert np.array_equal(got[key], expected[key]), key


def test_every_engine_starts_an_estimator_from_the_courses_weights(engine, dtype):
    """A fit seeded with RandomState(2) ends exactly where a fit from the course's weights ends."""
    X, Y = course_planar_data()
    options = dict(learning_rate=1.2, epochs=5, init="small", engine=engine, dtype=dtype)
    seeded = fastnn.DeepNetwork([2, 4, 1], "tanh", seed=np.random.RandomState(2), **options).fit(X.T, Y)
    given = fastnn.DeepNetwork([2, 4, 1], "tanh", **options).fit(
        X.T, Y, initial_parameters=course_two_layer_init(2, 4, 1, 2))
    for key in given.parameters_:
        assert np.array_equal(seeded.parameters_[key], given.parameters_[key]), key
    assert seeded.history_ == given.history_


def test_a_random_state_seed_is_used_and_advanced_as_scikit_learn_does():
    X, Y = course_planar_data()
    state = np.random.RandomState(2)
    net = fastnn.DeepNetwork([2, 4, 1], "tanh", learning_rate=1.2, epochs=3, init="small", seed=state)
    first = net.fit(X.T, Y).parameters_["W1"]
    assert net.get_params()["seed"] is state
    second = net.fit(X.T, Y).parameters_["W1"]  # the stream went on: other starting weights
    assert not np.array_equal(first, second)
    net.set_params(seed=np.random.RandomState(2))
    assert np.array_equal(net.fit(X.T, Y).parameters_["W1"], first)  # a fresh one starts over


# -- the planar data and the planar assignment -------------------------------------------------

def test_make_flower_with_random_state_1_is_the_courses_400_points():
    X_course, Y_course = course_planar_data()
    X, y = datasets.make_flower(seed=np.random.RandomState(1))
    assert np.array_equal(X, X_course.T)
    assert np.array_equal(y, Y_course[0])


def test_the_planar_assignment_step_by_step(engine):
    """Ten iterations of the course's nn_model, against fastnn given only seeds and names."""
    X, Y = course_planar_data()
    parameters, costs = course_two_layer_init(2, 4, 1, 2), []
    for _ in range(10):
        parameters, cost = course_planar_step(parameters, X, Y, 1.2)
        costs.append(cost)
    X_fastnn, y_fastnn = datasets.make_flower(seed=np.random.RandomState(1))
    net = fastnn.DeepNetwork([2, 4, 1], "tanh", learning_rate=1.2, epochs=10, init="small",
                             seed=np.random.RandomState(2), engine=engine).fit(X_fastnn, y_fastnn)
    np.testing.assert_allclose(net.history_, costs, rtol=1e-12)
    for key in parameters:
        np.testing.assert_allclose(net.parameters_[key], parameters[key], rtol=1e-10, atol=1e-14)


# -- the 2-layer image network, from the course's HDF5 files --------------------------------------

def test_the_two_layer_image_networks_first_cost(tmp_path, engine):
    """The course's procedure on synthetic images of its shape: HDF5 files, flatten, seed, cost."""
    train_images, train_labels = synthetic_course_images(209, seed=0)
    test_images, test_labels = synthetic_course_images(50, seed=1)
    write_course_h5(tmp_path / "train_catvnoncat.h5", "train", train_images, train_labels)
    write_course_h5(tmp_path / "test_catvnoncat.h5", "test", test_images, test_labels)

    # The course: train_x = train_x_orig.reshape(m, -1).T / 255., then the 2-layer model.
    train_x = train_images.reshape(train_images.shape[0], -1).T / 255.
    train_y = train_labels.reshape(1, -1)
    p = course_two_layer_init(12288, 7, 1, 1)
    A1 = np.maximum(0, np.dot(p["W1"], train_x) + p["b1"])
    A2 = course_sigmoid(np.dot(p["W2"], A1) + p["b2"])
    first_cost = course_cost(A2, train_y)

    data = datasets.load_course_images(tmp_path / "train_catvnoncat.h5", tmp_path / "test_catvnoncat.h5")
    net = fastnn.DeepNetwork([12288, 7, 1], "relu", learning_rate=0.0075, epochs=1, init="small",
                             seed=np.random.RandomState(1), engine=engine).fit(data.X_train, data.y_train)
    np.testing.assert_allclose(net.history_[0], first_cost, rtol=1e-12)


def test_the_course_h5_layout_round_trips(tmp_path):
    images, labels = synthetic_course_images(12, seed=2)
    path = write_course_h5(tmp_path / "train.h5", "train", images, labels)
    got_images, got_labels, classes = datasets.read_course_h5(path)
    assert np.array_equal(got_images, images) and got_images.dtype == np.uint8
    assert np.array_equal(got_labels, labels) and classes == ["non-cat", "cat"]
    test_path = write_course_h5(tmp_path / "test.h5", "test", images[:4], labels[:4])
    data = datasets.load_course_images(path, test_path)
    assert np.array_equal(data.X_train, images.reshape(12, -1) / 255)
    assert np.array_equal(data.y_test, labels[:4]) and "non-cat (0) vs cat (1)" in data.description


def test_course_h5_errors_name_the_file_and_what_is_missing(tmp_path, monkeypatch):
    images, labels = synthetic_course_images(3, seed=3)
    with h5py.File(tmp_path / "partial.h5", "w") as file:
        file.create_dataset("train_set_x", data=images)
    with pytest.raises(ValueError, match=r"path: expected data sets \['train_set_x', 'train_set_y', "
                                         r"'list_classes'\] in .*partial.h5, missing \['train_set_y', 'list_classes'\]"):
        datasets.read_course_h5(tmp_path / "partial.h5")
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(ValueError, match=r"path: cannot read .*text.h5 as an HDF5 file"):
        datasets.read_course_h5(tmp_path / "text.h5")
    write_course_h5(tmp_path / "bad.h5", "train", images, np.array([0, 2, 1]))
    with pytest.raises(ValueError, match=r"train_set_y: labels must be 0 or 1, got other values: 2"):
        datasets.read_course_h5(tmp_path / "bad.h5")
    monkeypatch.setitem(__import__("sys").modules, "h5py", None)  # as if h5py were not installed
    with pytest.raises(ImportError, match=r"needs h5py: pip install h5py"):
        datasets.read_course_h5(tmp_path / "bad.h5")


# -- logistic regression as the course writes it ---------------------------------------------------

def test_logistic_regression_with_zeros_is_the_courses_model(engine):
    images, labels = synthetic_course_images(30, seed=4)
    X = images[:, :8, :8].reshape(30, -1).T / 255.  # the course's (n_x, m), small images
    Y = labels.reshape(1, -1)
    w, b, costs = course_logistic(X, Y, num_iterations=40, learning_rate=0.005)
    net = fastnn.LogisticRegression(init="zeros", learning_rate=0.005, epochs=40, engine=engine).fit(X.T, Y)
    np.testing.assert_allclose(net.history_, costs, rtol=1e-12)
    np.testing.assert_allclose(net.coef_, w[:, 0], rtol=1e-10, atol=1e-15)
    assert net.intercept_ == pytest.approx(b, rel=1e-10)
    start = {"w": np.zeros((X.shape[0], 1)), "b": 0.0}  # the course's initialize_with_zeros
    again = fastnn.LogisticRegression(learning_rate=0.005, epochs=40, engine=engine).fit(
        X.T, Y, initial_parameters=start)
    assert np.array_equal(again.coef_, net.coef_) and not start["w"].any()


def test_the_courses_w_and_b_with_the_wrong_shapes_are_named():
    X = np.zeros((5, 3))
    with pytest.raises(ValueError, match=r"initial_parameters\['w'\]: expected shape \(3, 1\), .* got \(1, 3\)"):
        fastnn.LogisticRegression().fit(X, np.zeros(5), initial_parameters={"w": np.zeros((1, 3)), "b": 0.0})
    with pytest.raises(ValueError, match=r"initial_parameters\['b'\]: expected one number"):
        fastnn.LogisticRegression().fit(X, np.zeros(5), initial_parameters={"w": np.zeros((3, 1)), "b": [0, 0]})


# -- the course's shapes ---------------------------------------------------------------------------

def test_estimators_accept_the_courses_label_row_and_name_a_transposed_X():
    X, Y = course_planar_data()  # X (2, 400), Y (1, 400)
    options = dict(learning_rate=1.2, epochs=3, init="small", seed=2)
    row = fastnn.DeepNetwork([2, 4, 1], "tanh", **options).fit(X.T, Y)
    flat = fastnn.DeepNetwork([2, 4, 1], "tanh", **options).fit(X.T, Y[0])
    assert np.array_equal(row.parameters_["W1"], flat.parameters_["W1"])
    assert row.score(X.T, Y) == flat.score(X.T, Y[0])
    images = np.zeros((12288, 209))
    with pytest.raises(ValueError, match=r"X: looks transposed: it has shape \(12288, 209\) and y has 209 labels.*"
                                         r"X of shape \(m, n_features\) = \(209, 12288\): pass X.T"):
        fastnn.LogisticRegression().fit(images, np.zeros((1, 209)))
    with pytest.raises(ValueError, match=r"X: expected 2 features per example .*got 400: X looks transposed"):
        row.predict(X)


def test_notes_name_a_samples_first_X_with_its_own_shape():
    X, _ = course_planar_data()
    parameters = notes.initialize_parameters([2, 4, 1], "small", seed=np.random.RandomState(2))
    with pytest.raises(ValueError, match=r"this X has shape \(400, 2\), 400 rows, but W1 expects n_x = 2 rows"):
        notes.forward_propagation(X.T, parameters, "tanh")


def test_a_network_seeded_with_a_random_state_saves_and_loads(tmp_path):
    X, Y = course_planar_data()
    net = fastnn.DeepNetwork([2, 4, 1], "tanh", epochs=2, seed=np.random.RandomState(2)).fit(X.T, Y)
    loaded = fastnn.load(net.save(tmp_path / "planar"))
    assert loaded.seed is None  # the RandomState's stream moved on: a refit draws afresh
    assert np.array_equal(loaded.predict_proba(X.T), net.predict_proba(X.T))
