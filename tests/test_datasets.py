"""Bundled real data, the flower generator, splitting and image flattening."""

import numpy as np
import pytest

from fastnn import datasets


def test_digits_are_real_binary_images():
    data = datasets.load_digits()
    assert data.X_train.shape[1] == 64 and data.X_train.shape[0] + data.X_test.shape[0] == 357
    assert set(np.unique(data.y_train)) == {0, 1}
    assert data.X_train.min() >= 0 and data.X_train.max() <= 1
    again = datasets.load_digits()
    assert np.array_equal(data.X_train, again.X_train)  # the split follows the seed
    other = datasets.load_digits(seed=1)
    assert not np.array_equal(data.X_train, other.X_train)


def test_breast_cancer_is_standardised_on_the_training_split():
    data = datasets.load_breast_cancer()
    assert data.X_train.shape == (427, 30) and data.X_test.shape == (142, 30)
    np.testing.assert_allclose(data.X_train.mean(axis=0), 0, atol=1e-10)
    assert 0.3 < data.y_train.mean() < 0.45  # 212 of 569 tumours are malignant


def test_split_is_stratified_and_disjoint():
    X = np.arange(200, dtype=float).reshape(100, 2)
    y = np.array([0] * 80 + [1] * 20)
    X_train, X_test, y_train, y_test = datasets.train_test_split(X, y, test_size=0.25, seed=3)
    assert len(X_test) == 25 and y_test.sum() == 5
    assert not set(X_train[:, 0]) & set(X_test[:, 0])


def test_flower_has_two_balanced_classes():
    X, y = datasets.make_flower()
    assert X.shape == (400, 2) and y.shape == (400,) and y.sum() == 200
    assert np.abs(X).max() < 5


def test_flatten_images_is_the_courses_reshape_over_255():
    images = np.random.default_rng(0).integers(0, 256, size=(5, 64, 64, 3), dtype=np.uint8)
    expected = images.reshape(images.shape[0], -1) / 255  # the course: x.reshape(m, -1), then / 255.
    flat = datasets.flatten_images(images)
    assert flat.shape == (5, 12288) and np.array_equal(flat, expected)
    pixel = np.zeros((1, 2, 2, 3), dtype=np.uint8)
    pixel[0, 0, 0] = 255, 0, 51  # the first pixel's red, green, blue stay side by side
    np.testing.assert_array_equal(datasets.flatten_images(pixel)[0, :4], [1, 0, 0.2, 0])


def test_bad_dataset_arguments():
    with pytest.raises(ValueError, match=r"images: expected shape \(m, height, width, channels\), got \(2, 2\)"):
        datasets.flatten_images(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="dataset: expected one of 'digits', 'breast_cancer', got 'mnist'"):
        datasets.load("mnist")
    with pytest.raises(ValueError, match="positive, negative: expected two different digits"):
        datasets.load_digits(positive=3, negative=3)


def test_flower_with_an_odd_count_has_no_stray_point():
    X, y = datasets.make_flower(m=401)
    assert X.shape == (401, 2) and np.bincount(y).tolist() == [200, 201]
    assert not np.any(np.all(X == 0, axis=1))
