"""Input checks for every public entry point: each error names the argument, what was
expected and what came. Checks never modify what the user passed in."""

import math
import numbers
from collections.abc import Mapping, Sequence

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def as_float_dtype(dtype, argument="dtype"):
    """Return np.float32 or np.float64 for `dtype`, or raise naming what came."""
    try:
        parsed = np.dtype(dtype)
    except TypeError:
        parsed = None
    if dtype is None or parsed is None or parsed not in FLOAT_DTYPES:
        raise ValueError(f"{argument}: expected float32 or float64, got {dtype!r}")
    return parsed


def check_features(X, argument="X", dtype=None, cast=True):
    """Return X as a finite 2-D float array of shape (m examples, n features).

    float32 and float64 are kept (no copy); other numeric types become float64, or `dtype`.
    With cast=False a float X of another precision than `dtype` is returned uncast (no
    copy), after checking that every value fits `dtype`. Values so large that a layer's
    weighted sum of one row could overflow the dtype are refused.
    """
    X = _numeric_array(X, argument)
    if X.ndim != 2:
        raise ValueError(
            f"{argument}: expected a 2-D array of shape (m examples, n features), "
            f"got an array of shape {X.shape}"
        )
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{argument}: expected at least one example and one feature, got shape {X.shape}")
    target = dtype if dtype is not None else (X.dtype if X.dtype in FLOAT_DTYPES else np.float64)
    if not cast and X.dtype in FLOAT_DTYPES:
        check_scale(X, X, argument, dtype=target)
        return X
    with np.errstate(over="ignore"):  # a value too large for `target` becomes inf: reported below
        converted = np.asarray(X, dtype=target)
    check_scale(converted, X, argument)
    return converted


def check_scale(X, given, argument="X", dtype=None):
    """Raise unless every value of X is finite and max|x| * n_features fits `dtype` (X's by default).

    That product bounds the sum a layer with weights of size 1 forms from one row, so
    beyond it training overflows whatever the learning rate. `given` is X before its
    conversion to this dtype, so a value the conversion overflowed is reported as such.
    """
    dtype = np.dtype(X.dtype if dtype is None else dtype)
    with np.errstate(invalid="ignore"):
        largest = max(abs(float(np.max(X))), abs(float(np.min(X))))  # NaN propagates through both
    limit = float(np.finfo(dtype).max)
    if np.isfinite(largest) and largest * X.shape[1] <= limit:
        return
    finite = np.isfinite(X)
    if not finite.all():
        where = tuple(int(i) for i in np.argwhere(~finite)[0])
        if np.isfinite(given[where]):
            _overflow(given[where], where, dtype, argument)
        check_finite(X, argument)
    if largest > limit:  # X kept uncast: a value `dtype` cannot hold
        where = tuple(int(i) for i in np.argwhere(np.abs(X) > limit)[0])
        _overflow(X[where], where, dtype, argument)
    raise ValueError(
        f"{argument}: values up to {largest:.4g} overflow {dtype}: a layer sums {X.shape[1]} of them "
        f"weighted, which can pass the largest {dtype} ({limit:.4g}); rescale {argument} "
        "(e.g. standardise each column)"
    )


def _overflow(value, where, dtype, argument):
    raise ValueError(
        f"{argument}: the value {value.item()!r} at index {where} overflows {dtype} (largest "
        f"{float(np.finfo(dtype).max):.4g}); use dtype='float64' or rescale {argument}"
    )


def check_labels(y, m, argument="y", dtype=np.float64):
    """Return labels y of shape (m,), (m, 1) or the course's (1, m) as a float column (m, 1) of 0s and 1s."""
    y = _numeric_array(y, argument)
    if y.ndim == 2 and 1 in y.shape:
        y = y.reshape(-1)
    if y.ndim != 1:
        raise ValueError(f"{argument}: expected shape ({m},), ({m}, 1) or (1, {m}), got {y.shape}")
    if y.shape[0] != m:
        raise ValueError(
            f"{argument}: expected {m} labels (one per example, i.e. per row of X), got {y.shape[0]}"
        )
    check_finite(y, argument)
    bad = np.unique(y[(y != 0) & (y != 1)])
    if bad.size:
        shown = ", ".join(repr(v.item()) for v in bad[:5])
        raise ValueError(f"{argument}: labels must be 0 or 1, got other values: {shown} "
                         "(one output unit is a binary classifier; for K classes, end the layers with K)")
    return y.astype(dtype).reshape(m, 1)


def check_targets(y, m, n_outputs, argument="y", dtype=np.float64, classes=None):
    """(Y, classes): the engine's targets for `n_outputs` output units, and the class labels.

    One unit: labels 0/1 as a column (m, 1), classes None (0 and 1). K units: one-hot
    (m, K), labels looked up in `classes` when given (as check_class_targets).
    """
    if n_outputs == 1:
        return check_labels(y, m, argument, dtype=dtype), None
    return check_class_targets(y, m, n_outputs, argument, dtype=dtype, classes=classes)


def check_class_targets(y, m, n_classes, argument="y", dtype=np.float64, classes=None):
    """Return (Y, classes) for a softmax output of K = n_classes units; Y is one-hot (m, K).

    y is one-hot (m, K), whose classes are 0..K-1, or m labels of any kind (numbers,
    strings). Labels are looked up in `classes` when it is given (the notes' class indices
    0..K-1); otherwise `classes` becomes their distinct values, sorted, which must number
    exactly K (as scikit-learn's classes_).
    """
    if np.ndim(y) == 2 and np.shape(y)[1] == n_classes and np.shape(y)[0] == m:
        return _check_one_hot(y, m, n_classes, argument, dtype), np.arange(n_classes)
    labels = check_class_labels(y, m, argument)
    if classes is None:
        classes = check_class_count(_sorted_unique(labels, argument), n_classes, argument)
    codes = np.searchsorted(classes, labels)
    known = (codes < classes.size) & (classes[np.minimum(codes, classes.size - 1)] == labels)
    if not known.all():
        raise ValueError(f"{argument}: labels must be among the {classes.size} classes "
                         f"({_shown(classes)}), got other values: {_shown(np.unique(labels[~known]))}")
    Y = np.zeros((m, n_classes), dtype=dtype)
    Y[np.arange(m), codes] = 1
    return Y, classes


def check_class_count(classes, n_classes, argument="y"):
    """Return `classes` (the distinct labels, sorted) if they number n_classes, at least two; else raise."""
    classes = np.asarray(classes)
    if classes.size < 2:
        raise ValueError(f"{argument}: expected at least two classes, got only one: {_shown(classes)}")
    if classes.size != n_classes:
        raise ValueError(
            f"{argument}: the labels hold {classes.size} classes ({_shown(classes)}), but the output layer "
            f"has {n_classes} units; expected one unit per class (layers ending in {classes.size})"
        )
    return classes


def check_samples_first(X, y):
    """Catch the course's X of shape (n_x, m) given to an estimator, which takes (m, n_x).

    X is 2-D (a NumPy or Dask array); y the labels, (m,), (m, 1), (1, m) or one-hot (m, K).
    """
    # One-hot targets (m, K) count their rows; labels (m,), (m, 1) or the course's (1, m) their size.
    shape = np.shape(y)  # a Dask y's too, without computing it
    labels = shape[0] if len(shape) == 2 and min(shape) > 1 else math.prod(shape)
    m, n = X.shape
    if m != labels and n == labels:
        raise ValueError(
            f"X: looks transposed: it has shape {X.shape} and y has {labels} labels, so its {labels} "
            f"columns are the examples (the course's (n_x, m)); the estimators take samples first, "
            f"X of shape (m, n_features) = ({n}, {m}): pass X.T"
        )


def check_feature_count(X, n_x, argument="X"):
    """Raise unless X (m, n) has the network's n_x features, hinting at X.T when its rows are."""
    if X.shape[1] != n_x:
        hint = f": {argument} looks transposed, pass {argument}.T (samples first)" if X.shape[0] == n_x else ""
        raise ValueError(f"{argument}: expected {n_x} features per example (the network's n_x), "
                         f"got {X.shape[1]}{hint}")


def check_class_labels(y, m, argument="y"):
    """Return m class labels (numbers or strings, NaN refused) as a 1-D array; (m, 1) is flattened."""
    try:
        labels = np.asarray(y)
    except (ValueError, TypeError) as error:
        raise TypeError(f"{argument}: expected an array of labels, could not convert it: {error}") from None
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise ValueError(f"{argument}: expected {m} labels of shape ({m},), or one-hot targets (m, K), got shape {labels.shape}")
    if labels.shape[0] != m:
        raise ValueError(f"{argument}: expected {m} labels (one per example, i.e. per row of X), got {labels.shape[0]}")
    if labels.dtype.kind in "fc":
        check_finite(labels, argument)
    if labels.dtype.kind not in "biufUS":
        raise TypeError(f"{argument}: expected labels that are numbers or strings, got an array of dtype {labels.dtype}")
    if labels.dtype.kind == "f" and not np.array_equal(labels, np.round(labels)):
        # As scikit-learn's classifiers refuse "continuous" targets: 0.5 is no class name.
        fractional = np.unique(labels[labels != np.round(labels)])
        raise ValueError(f"{argument}: class labels must be whole numbers or strings, got fractional values: "
                         f"{_shown(fractional)} (these look like regression targets; fastnn classifies)")
    return labels


def _check_one_hot(y, m, n_classes, argument, dtype):
    """One-hot targets (m, K): finite 0s and 1s with exactly one 1 per row."""
    Y = _numeric_array(y, argument)
    check_finite(Y, argument)
    rows_ok = np.all((Y == 0) | (Y == 1), axis=1) & (np.sum(Y == 1, axis=1) == 1)
    if not rows_ok.all():
        bad = int(np.flatnonzero(~rows_ok)[0])
        raise ValueError(f"{argument}: one-hot targets (m, {n_classes}) must hold a single 1 per row, "
                         f"the rest 0; row {bad} is {Y[bad].tolist()}")
    return Y.astype(dtype)


def _sorted_unique(labels, argument):
    try:
        return np.unique(labels)
    except TypeError as error:
        raise TypeError(f"{argument}: expected labels that can be sorted, got: {error}") from None


def _shown(values, limit=5):
    """Up to `limit` values as text, e.g. "0, 1, 2, ..." for error messages."""
    shown = ", ".join(repr(v.item() if hasattr(v, "item") else v) for v in values[:limit])
    return shown + (", ..." if len(values) > limit else "")


def check_finite(array, argument):
    """Raise if `array` holds NaN or inf, saying how many and where the first one is."""
    # Fast path: a NaN or inf makes the sum non-finite; only then (or on overflow) look closer.
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(array)):
            return
    finite = np.isfinite(array)
    if not finite.all():
        where = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise ValueError(
            f"{argument}: expected finite numbers, got {int((~finite).sum())} NaN or inf "
            f"value(s), the first at index {where}"
        )


def check_positive(value, argument, integer=False):
    """Return `value` if it is a positive (integer when asked) number, else raise."""
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind) or not 0 < value < float("inf"):
        wanted = "a positive integer" if integer else "a positive number"
        raise ValueError(f"{argument}: expected {wanted}, got {value!r}")
    return value


def batch_size_for(batch_size, m):
    """The rows of one mini-batch of m examples: all m for batch_size None (full batch), else at most m."""
    return m if batch_size is None else min(batch_size, m)


def check_seed(seed, argument="seed"):
    """Return `seed` if it is a non-negative integer, a legacy np.random.RandomState, or None
    (fresh entropy): what fastnn.seeding.random_generator accepts."""
    if seed is None or isinstance(seed, np.random.RandomState):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"{argument}: expected a non-negative integer, a np.random.RandomState or None, got {seed!r}")
    return seed


def check_layers(layers, argument="layers"):
    """Return layer sizes [n_x, n_1, ..., K] as a list of positive ints.

    The output size K is 1 for the notes' binary classifier, or the number of classes.
    """
    if isinstance(layers, np.ndarray) and layers.ndim == 1:
        layers = layers.tolist()
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence) or len(layers) < 2:
        raise ValueError(f"{argument}: expected sizes [n_x, n_1, ..., K] (at least two), got {layers!r}")
    for size in layers:
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size <= 0:
            raise ValueError(f"{argument}: expected positive integers, got {layers!r}")
    return [int(size) for size in layers]


def layers_of(parameters, n_x, argument="parameters"):
    """Layer sizes [n_x, n^[1], ..., n^[L]] read off parameters {"W1": ..., "WL": ...}."""
    L = sum(1 for key in parameters if str(key).startswith("W"))
    if L == 0:
        raise ValueError(f"{argument}: expected keys W1, b1, ..., WL, bL, got {sorted(map(str, parameters))}")
    return [n_x] + [(np.shape(parameters.get(f"W{l}", ())) or (0,))[0] for l in range(1, L + 1)]


def check_parameters(parameters, layers, dtype, argument="parameters"):
    """Return copies of W^[l], b^[l] as `dtype` after checking their shapes against `layers`."""
    if not isinstance(parameters, Mapping):
        raise TypeError(f"{argument}: expected a dict {{'W1': ..., 'b1': ..., ...}}, got {type(parameters).__name__} {short_repr(parameters)}")
    expected = {f"{kind}{l}" for l in range(1, len(layers)) for kind in "Wb"}
    unexpected = sorted(set(parameters) - expected)
    if unexpected:
        raise ValueError(f"{argument}: unexpected {', '.join(map(repr, unexpected))} for layers {list(layers)}")
    checked = {}
    for l in range(1, len(layers)):
        for key, shape in ((f"W{l}", (layers[l], layers[l - 1])), (f"b{l}", (layers[l], 1))):
            if key not in parameters:
                raise ValueError(f"{argument}: missing {key!r} (expected keys W1, b1, ..., W{len(layers) - 1}, b{len(layers) - 1})")
            value = _numeric_array(parameters[key], f"{argument}[{key!r}]").astype(dtype)
            if value.shape != shape:
                raise ValueError(f"{argument}[{key!r}]: expected shape {shape}, got {value.shape}")
            check_finite(value, f"{argument}[{key!r}]")
            checked[key] = value
    return checked


def short_repr(value, limit=80):
    """repr(value), cut to `limit` characters for an error message."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _numeric_array(x, argument):
    """np.asarray(x), raising a clear error for non-numeric data (strings, objects)."""
    try:
        array = np.asarray(x)
    except (ValueError, TypeError) as error:
        raise TypeError(f"{argument}: expected a numeric array, could not convert it: {error}") from None
    if array.dtype == bool:
        return array.astype(np.float64)
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise TypeError(f"{argument}: expected real numbers, got an array of dtype {array.dtype}")
    return array
