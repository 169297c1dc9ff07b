"""Real data that ships with the install, the course's planar "flower" data, and image helpers.

The real sets are files inside the package (fastnn/data, see its README): the handwritten
digits (8x8 grayscale images, UCI) and the Wisconsin breast-cancer measurements (tabular).
Loading them needs NumPy alone and no network.
"""

from dataclasses import dataclass
from importlib import resources

import numpy as np

from .seeding import random_generator
from .validation import check_class_labels, check_features, check_labels, check_positive


@dataclass
class Dataset:
    """A classification task split into train and test: X is (m, n_features), y is (m,) of labels."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    description: str

    def __repr__(self):
        return (f"Dataset({self.name!r}: {self.X_train.shape[0]} train, {self.X_test.shape[0]} test, "
                f"{self.X_train.shape[1]} features)")


def flatten_images(images, max_value=255.0):
    """Return images (m, height, width, channels) as rows (m, h*w*c) scaled to [0, 1].

    As the course does, x.reshape(m, -1) / 255: each row keeps a pixel's channel values
    together (red, green, blue of the first pixel, then of the second, ...).
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images: expected shape (m, height, width, channels), got {images.shape}")
    check_positive(max_value, "max_value")
    dtype = np.float32 if images.dtype == np.float32 else np.float64  # float32 stays float32
    return images.reshape(images.shape[0], -1).astype(dtype) / dtype(max_value)


def train_test_split(X, y, test_size=0.25, seed=0):
    """Return (X_train, X_test, y_train, y_test), shuffled by `seed`, stratified by label.

    Each class (any labels: 0/1, digits, strings) gives test_size of its examples to the test split.
    """
    X = check_features(X)
    y = check_class_labels(y, X.shape[0])
    if not 0 < test_size < 1:
        raise ValueError(f"test_size: expected a fraction between 0 and 1, got {test_size!r}")
    rng = random_generator(seed)
    test_rows = []
    for label in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == label))
        test_rows.append(rows[: int(round(test_size * rows.size))])
    is_test = np.zeros(X.shape[0], dtype=bool)
    is_test[np.concatenate(test_rows)] = True
    train, test = rng.permutation(np.flatnonzero(~is_test)), rng.permutation(np.flatnonzero(is_test))
    return X[train], X[test], y[train], y[test]


def load_digits(positive=8, negative=3, test_size=0.25, seed=0, *, classes=None):
    """Handwritten digits: is it a `positive` (label 1) or a `negative` (label 0)? 64 pixel features.

    1,797 real 8x8 images ship with fastnn; 357 show a 3 or an 8. Pixels (0..16) are
    flattened with flatten_images and scaled to [0, 1]. `classes="all"` gives the ten-class
    task instead (all 1,797 images, labels 0-9), and a list of digits, such as [1, 7], the
    task of telling those apart (labels are the digits).
    """
    if classes is not None:
        return _digit_classes(classes, test_size, seed)
    if positive == negative or not {positive, negative} <= set(range(10)):
        raise ValueError(f"positive, negative: expected two different digits 0-9, got {positive!r}, {negative!r}")
    digits = _bundled("digits")
    keep = np.isin(digits["target"], (positive, negative))
    X = flatten_images(digits["images"][keep][..., np.newaxis], max_value=16.0)
    y = (digits["target"][keep] == positive).astype(np.int64)
    return Dataset(f"digits-{positive}-vs-{negative}", *_ordered(train_test_split(X, y, test_size, seed)),
                   f"8x8 handwritten digits (UCI): {positive} (1) vs {negative} (0)")


def _digit_classes(classes, test_size, seed):
    """The digits of `classes` ("all" or a list of at least two digits), labelled by their digit."""
    wanted = list(range(10)) if isinstance(classes, str) and classes == "all" else classes
    if isinstance(wanted, str) or not hasattr(wanted, "__iter__") or len(set(wanted)) < 2 \
            or not set(wanted) <= set(range(10)) or len(set(wanted)) != len(wanted):
        raise ValueError(f"classes: expected 'all' or a list of two or more different digits 0-9, got {classes!r}")
    digits = _bundled("digits")
    keep = np.isin(digits["target"], wanted)
    X = flatten_images(digits["images"][keep][..., np.newaxis], max_value=16.0)
    y = digits["target"][keep].astype(np.int64)
    name = "all" if len(wanted) == 10 else "-".join(map(str, sorted(wanted)))
    return Dataset(f"digits-{name}", *_ordered(train_test_split(X, y, test_size, seed)),
                   f"8x8 handwritten digits (UCI): {len(wanted)} classes, the digits {', '.join(map(str, sorted(wanted)))}")


def load_breast_cancer(test_size=0.25, seed=0):
    """Wisconsin breast-cancer tumours: malignant (1) or benign (0) from 30 measurements.

    569 real examples ship with fastnn. Features are standardised with the mean and
    standard deviation of the training split only.
    """
    data = _bundled("breast_cancer")
    y = (data["target"] == 0).astype(np.int64)  # the source codes malignant as 0
    X_train, X_test, y_train, y_test = train_test_split(data["data"], y, test_size, seed)
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    return Dataset("breast-cancer", (X_train - mean) / std, y_train, (X_test - mean) / std, y_test,
                   "Wisconsin diagnostic breast cancer (UCI): malignant (1) vs benign (0)")


def make_flower(m=400, seed=1):
    """The course's planar data: two classes of about m/2 points each, petals of a flower.

    Returns X (m, 2) and y (m,). Each class lies along r = 4 sin(4t) with noise. With
    seed=np.random.RandomState(1) these are the course's 400 points exactly (its X.T and Y).
    """
    check_positive(m, "m", integer=True)
    if m < 2:
        raise ValueError(f"m: expected at least 2 points (one per class), got {m}")
    rng = random_generator(seed)
    radius, parts = 4.0, []
    # The course's order of draws: per class, the angles' noise, then the radii's.
    for label, count in ((0, m // 2), (1, m - m // 2)):
        angle = np.linspace(label * 3.12, (label + 1) * 3.12, count) + rng.standard_normal(count) * 0.2
        r = radius * np.sin(4 * angle) + rng.standard_normal(count) * 0.2
        parts.append(np.column_stack((r * np.sin(angle), r * np.cos(angle))))
    return np.concatenate(parts), np.repeat([0, 1], [m // 2, m - m // 2])


def read_course_h5(path, prefix=None):
    """Return (images, labels, classes) from one of the course's HDF5 files, as stored.

    The layout is the course's: datasets "<prefix>_set_x" (m, h, w, c), "<prefix>_set_y" (m,)
    and "list_classes"; `prefix` ("train" or "test") is found when the file holds one set.
    labels come back as (m,) integers and classes as strings. Needs h5py (fastnn[h5]).
    """
    h5py = _import_h5py()
    try:
        file = h5py.File(path, "r")
    except (OSError, FileNotFoundError) as error:
        raise ValueError(f"path: cannot read {path!s} as an HDF5 file: {error}") from None
    with file:
        found = sorted(key[: -len("_set_x")] for key in file.keys() if key.endswith("_set_x"))
        if prefix is None and len(found) != 1:
            raise ValueError(f"path: expected one '<prefix>_set_x' data set in {path!s} (give prefix=), "
                             f"found {sorted(file.keys())}")
        prefix = prefix or found[0]
        wanted = [f"{prefix}_set_x", f"{prefix}_set_y", "list_classes"]
        missing = [key for key in wanted if key not in file]
        if missing:
            raise ValueError(f"path: expected data sets {wanted} in {path!s}, missing {missing} "
                             f"(found {sorted(file.keys())})")
        images, labels, classes = (file[key][()] for key in wanted)
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"path: {prefix}_set_x in {path!s}: expected shape (m, height, width, channels), "
                         f"got {images.shape}")
    labels = check_labels(np.ravel(labels), images.shape[0], f"{prefix}_set_y")[:, 0].astype(np.int64)
    classes = [c.decode() if isinstance(c, bytes) else str(c) for c in np.ravel(classes)]
    return images, labels, classes


def load_course_images(train_path, test_path):
    """The course's image task from its two HDF5 files (train_set_x/y, test_set_x/y, list_classes).

    Images are flattened as the course does (reshape(m, -1) / 255): X is (m, h*w*c) samples
    first, the course's train_set_x_flatten.T. The classes are in the description.
    """
    train_images, y_train, classes = read_course_h5(train_path, "train")
    test_images, y_test, _ = read_course_h5(test_path, "test")
    return Dataset("course-images", flatten_images(train_images), y_train, flatten_images(test_images), y_test,
                   f"the course's HDF5 images: {' (0) vs '.join(classes)} (1)")


def _import_h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError("reading the course's HDF5 files needs h5py: pip install h5py "
                          "(or install fastnn with the h5 extra, pip install -e '.[h5]')") from None
    return h5py


DATASETS = {"digits": load_digits, "breast_cancer": load_breast_cancer}


def load(name, **options):
    """Load a bundled data set by name: "digits" or "breast_cancer"."""
    if name not in DATASETS:
        raise ValueError(f"dataset: expected one of {', '.join(map(repr, DATASETS))}, got {name!r}")
    return DATASETS[name](**options)


def _ordered(split):
    X_train, X_test, y_train, y_test = split
    return X_train, y_train, X_test, y_test


def _bundled(name):
    """The arrays of fastnn/data/<name>.npz."""
    with resources.files("fastnn.data").joinpath(f"{name}.npz").open("rb") as file:
        with np.load(file, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
