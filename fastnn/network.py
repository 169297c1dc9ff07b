"""Estimators in the scikit-learn style: DeepNetwork (L layers) and LogisticRegression.

Users pass samples first, X of shape (m, n_features) and y of shape (m,) or (m, 1);
internally each engine keeps examples in rows too, the notes' matrices transposed.
"""

import inspect
import numbers

import numpy as np

from .activations import layer_activations
from .backends import Engine, get_engine
from .dask_inputs import is_dask_array
from .errors import TrainingDiverged
from .initializers import INITIALIZERS, default_init, initialize_parameters
from .propagation import forward, from_engine, to_engine
from .serialization import invalid_file, load_network, save_network
from .training import train
from .validation import (
    as_float_dtype,
    check_class_labels,
    check_class_targets,
    check_feature_count,
    check_features,
    check_labels,
    check_layers,
    check_parameters,
    check_positive,
    check_samples_first,
    check_seed,
    check_targets,
)

# fit keeps one cost per epoch: beyond this, the history alone would need gigabytes.
MAX_EPOCHS = 10**8


class DeepNetwork:
    """A fully connected network [n_x, n^[1], ..., n^[L-1], K]: a classifier.

    K = 1 is the notes' binary classifier, one sigmoid unit, labels 0 and 1. K > 1 is a
    softmax over K classes with the categorical cross-entropy; the labels are any K
    distinct values (classes_ lists them sorted), or one-hot targets (m, K).

    Parameters
    ----------
    layers : list of int
        Layer sizes [n_x, n^[1], ..., K]; n_x must equal the number of features of X.
    activation : str, list of str or None
        "sigmoid", "tanh", "relu" or "leaky_relu": one for every hidden layer, or one each;
        None means "relu". A network without hidden layers takes none (its output unit is
        sigmoid, or softmax for K > 1).
    learning_rate : float
        alpha in W := W - alpha dW.
    epochs : int
        Passes over the data; with the full batch, one epoch is one iteration.
    batch_size : int or None
        Mini-batch size; None trains on the full batch.
    init : str
        "small" (the notes' randn * 0.01), "he" (randn * sqrt(2/n^[l-1])), "xavier"
        (randn / sqrt(n^[l-1]), the course's deep application), "zeros" (the course's
        logistic regression), or "auto": per layer, He for a ReLU layer and Xavier for a
        sigmoid or tanh one.
    shuffle : bool
        Reshuffle the examples before each epoch of mini-batches.
    seed : int, np.random.RandomState or None
        Seeds the initial weights and the shuffling; the same integer gives the same result.
        A legacy np.random.RandomState draws the course's weights: seed=np.random.RandomState(1)
        with init="small" (or "xavier" for the deep application) gives the weights of the
        course's np.random.seed(1). As with scikit-learn's random_state, the RandomState is
        used and advanced: a second fit continues its stream (other weights), so pass a fresh
        one for each fit meant to start as the course does. None draws fresh entropy.
    engine : str, Engine or None
        "numpy", "numba", "cupy", "auto", or None for the current default (fastnn.use).
    dtype : None, "float32" or "float64"
        None keeps X's float32/float64 (other numbers become float64).

    Attributes (after fit)
    ----------------------
    parameters_ : dict of NumPy arrays "W1", "b1", ..., in the notes' shapes
    history_ : list of float, the mean cost of each epoch
    layers_, activations_, engine_, n_features_in_, classes_
    """

    def __init__(self, layers, activation=None, *, learning_rate=0.01, epochs=100, batch_size=None,
                 init="auto", shuffle=True, seed=0, engine=None, dtype=None):
        self.layers = layers
        self.activation = activation
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.init = init
        self.shuffle = shuffle
        self.seed = seed
        self.engine = engine
        self.dtype = dtype

    # -- training ----------------------------------------------------------------------

    def fit(self, X, y, *, initial_parameters=None, callback=None, progress=False, report_every=None,
            client=None, checkpoint=None, checkpoint_every=None, resume=None):
        """Train on X (m, n_features) and labels y (0/1 for one output unit, else K classes); return self.

        `initial_parameters` ({"W1", "b1", ...} in the notes' shapes) replaces the random
        start. Costs are read back from the engine every `report_every` epochs (default:
        1 with a callback, else about 100 times per fit); `callback(epoch, cost)` is then
        called for each of those epochs, and returning True stops training after that read.

        Dask arrays X and y train data-parallel (fastnn/distributed.py) on `client`, a
        dask.distributed Client (default: the current one, else Dask's local scheduler).
        Their fits can write `checkpoint` (a .npz path) every `checkpoint_every` epochs
        (default 10) and `resume` from one.
        """
        self._check_hyperparameters()
        _check_fit_options(callback, report_every)
        if is_dask_array(X):
            from .distributed import fit_dask

            return fit_dask(self, X, y, client=client, initial_parameters=initial_parameters, callback=callback,
                            progress=progress, report_every=report_every, checkpoint=checkpoint,
                            checkpoint_every=checkpoint_every, resume=resume)
        _check_in_memory_options(y, client=client, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                                 resume=resume)
        # A float X of another precision than dtype is kept: training casts each mini-batch.
        X = check_features(X, "X", dtype=None if self.dtype is None else as_float_dtype(self.dtype), cast=False)
        check_samples_first(X, y)
        dtype = X.dtype if self.dtype is None else as_float_dtype(self.dtype)
        layers = self._layer_sizes(X.shape[1])
        Y, classes = check_targets(y, X.shape[0], layers[-1], "y", dtype=dtype)
        activations = self._activations(layers)
        parameters = self._starting_parameters(layers, activations, initial_parameters, dtype)
        engine = get_engine(self.engine)
        weights, biases = to_engine(engine, parameters)
        history = train(
            engine, weights, biases, activations, engine.training_data(X, dtype), engine.asarray(Y),
            learning_rate=self.learning_rate, epochs=self.epochs, batch_size=self.batch_size,
            shuffle=self.shuffle, seed=self.seed, callback=callback, progress=progress,
            report_every=report_every or (1 if callback is not None else None),
        )
        parameters = from_engine(engine, weights, biases)
        self._check_finite_weights(parameters)
        self._set_fitted(parameters, layers, activations, engine, history, classes)
        return self

    # -- prediction --------------------------------------------------------------------

    def predict_proba(self, X):
        """Return the notes' A^[L], one row per example of X.

        One output unit: y_hat = P(y = 1 | x), shape (m,) (scikit-learn's classifiers
        return (m, 2) columns [P(y=0), P(y=1)]; this is the second). K classes: (m, K),
        column k the probability of classes_[k]; each row sums to 1. A Dask array X gives a
        Dask array, computed block by block where the blocks live.
        """
        if is_dask_array(X):
            from .distributed import predict_proba_dask

            return predict_proba_dask(self, X)
        parameters = self._fitted_parameters()
        X = check_features(X, "X", dtype=parameters["W1"].dtype)
        check_feature_count(X, self.layers_[0])
        engine = self.engine_
        _, A = forward(engine, *to_engine(engine, parameters), self.activations_, engine.asarray(X))
        A = engine.to_numpy(A[-1])
        return A[:, 0] if A.shape[1] == 1 else A

    def predict(self, X, threshold=0.5):
        """Return the predicted labels, shape (m,).

        One output unit: 1 where y_hat > threshold (a number from 0 to 1), else 0. K classes:
        the class of highest probability, as classes_ lists it (`threshold` does not apply).
        """
        if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not 0 <= threshold <= 1:
            raise ValueError(f"threshold: expected a number from 0 to 1, got {threshold!r}")
        proba = self.predict_proba(X)
        if proba.ndim == 1:
            return (proba > threshold).astype(np.int64)
        if threshold != 0.5:
            raise ValueError(f"threshold: applies to one output unit only; this network has {proba.shape[1]} classes")
        if is_dask_array(proba):
            from .distributed import predict_classes_dask

            return predict_classes_dask(self, proba)
        return self.classes_[np.argmax(proba, axis=1)]

    def score(self, X, y):
        """Return the accuracy of predict(X) against labels y (a fraction in [0, 1]).

        For K classes, y holds labels as classes_ lists them, or one-hot targets (m, K).
        """
        if is_dask_array(X):
            from .distributed import score_dask

            return score_dask(self, X, y)
        predicted = self.predict(X)
        m = predicted.shape[0]
        if self.layers_[-1] == 1:
            return accuracy(check_labels(y, m, "y")[:, 0], predicted)
        K = len(self.classes_)
        if np.ndim(y) == 2 and np.shape(y)[1] == K:
            Y, _ = check_class_targets(y, m, K, "y")
            return accuracy(self.classes_[np.argmax(Y, axis=1)], predicted)
        return accuracy(check_class_labels(y, m, "y"), predicted)

    # -- scikit-learn's estimator protocol -----------------------------------------------

    def get_params(self, deep=True):
        """The constructor's arguments, as scikit-learn's clone and grid search expect."""
        return {name: getattr(self, name) for name in _init_parameter_names(type(self))}

    def set_params(self, **params):
        """Set constructor arguments by name; return self."""
        valid = _init_parameter_names(type(self))
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"{name}: not a parameter of {type(self).__name__}; expected one of {', '.join(valid)}")
            setattr(self, name, value)
        return self

    # -- saving ------------------------------------------------------------------------

    def save(self, path):
        """Write the trained parameters, architecture and settings to a .npz file; return its path."""
        settings = {k: v for k, v in self.get_params().items() if k != "engine"}
        if isinstance(settings["seed"], np.random.RandomState):
            settings["seed"] = None  # its stream has moved on; a refit of the loaded network draws afresh
        classes = self.classes_ if self.layers_[-1] > 1 else None  # binary files stay as they were
        return save_network(path, self._fitted_parameters(), self.layers_, self.activations_[1:],
                            type(self).__name__, settings, classes=classes)

    @classmethod
    def load(cls, path, engine=None):
        """Return a trained network read from `path`, ready to predict on `engine`.

        Every part of the file is checked first: a file that is not one `save` wrote raises
        fastnn.errors.InvalidModelFile, naming the path and what is wrong.
        """
        return _load(path, engine, expected=cls)

    @classmethod
    def _from_settings(cls, path, settings, layers, activations, dtype):
        """The estimator a file's settings describe, checked as fit checks them and against its weights."""
        try:
            unknown = sorted(set(settings) - (set(_init_parameter_names(cls)) - {"engine"}))
            if unknown:
                raise ValueError(f"settings: unknown {', '.join(map(repr, unknown))} for a {cls.__name__}")
            network = cls(**settings)
            network._check_hyperparameters()
            if network._layer_sizes(layers[0]) != layers:
                raise ValueError(f"settings: layers {network.layers!r} do not match the weights' layers {layers}")
            if network._activations(layers)[1:] != activations:
                raise ValueError(f"settings: activation {network.activation!r} does not match the layers' {activations}")
            if network.dtype is not None and as_float_dtype(network.dtype) != dtype:
                raise ValueError(f"settings: dtype {network.dtype!r} does not match the weights' {dtype}")
        except (ValueError, TypeError) as error:
            raise invalid_file(path, error) from None
        return network

    # -- helpers -----------------------------------------------------------------------

    def _set_fitted(self, parameters, layers, activations, engine, history, classes=None):
        self.parameters_, self.layers_, self.activations_ = parameters, layers, activations
        self.engine_, self.history_ = engine, history
        self.n_features_in_ = layers[0]
        self.classes_ = np.array([0, 1]) if classes is None else np.asarray(classes)

    def _layer_sizes(self, n_features):
        layers = check_layers(self.layers)
        if layers[0] != n_features:
            raise ValueError(
                f"layers: the first size is n_x, the number of features, so expected {n_features} "
                f"(from X's {n_features} columns), got {layers[0]}"
            )
        return layers

    def _activations(self, layers):
        """[None, g^[1], ..., g^[L]] for `layers`; an activation given without a hidden layer is refused."""
        activation = self.activation
        if len(layers) == 2 and not (activation is None or (isinstance(activation, (list, tuple)) and not activation)):
            raise ValueError(
                f"activation: layers {layers} have no hidden layer, so no activation applies (the output "
                f"unit's is fixed); leave it None, got {activation!r}"
            )
        return layer_activations("relu" if activation is None else activation, len(layers) - 2, n_outputs=layers[-1])

    def _starting_parameters(self, layers, activations, initial_parameters, dtype):
        if initial_parameters is None:
            init = default_init(activations) if self.init == "auto" else self.init
            return initialize_parameters(layers, init, seed=self.seed, dtype=dtype)
        return check_parameters(initial_parameters, layers, dtype, "initial_parameters")

    def _check_hyperparameters(self):
        check_positive(self.learning_rate, "learning_rate")
        check_positive(self.epochs, "epochs", integer=True)
        if self.epochs > MAX_EPOCHS:
            raise ValueError(f"epochs: expected at most {MAX_EPOCHS:,} (one cost is kept per epoch), got {self.epochs!r}")
        check_seed(self.seed)
        if self.batch_size is not None:
            check_positive(self.batch_size, "batch_size", integer=True)
        if not isinstance(self.shuffle, (bool, np.bool_)):
            raise ValueError(f"shuffle: expected True or False, got {self.shuffle!r}")
        if self.dtype is not None:
            as_float_dtype(self.dtype)
        if not isinstance(self.init, str) or self.init not in (*INITIALIZERS, "auto"):
            raise ValueError(f"init: expected one of {', '.join(map(repr, (*INITIALIZERS, 'auto')))}, got {self.init!r}")
        if not (self.engine is None or isinstance(self.engine, (str, Engine))):
            raise ValueError(f"engine: expected a name such as 'numba', an Engine or None, got {self.engine!r}")

    def _check_finite_weights(self, parameters):
        if not all(np.isfinite(value).all() for value in parameters.values()):
            raise TrainingDiverged(
                f"training diverged: the weights hold NaN or inf (learning_rate={self.learning_rate}); "
                "try a smaller learning rate"
            )

    def _fitted_parameters(self):
        if not hasattr(self, "parameters_"):
            raise RuntimeError(f"this {type(self).__name__} is not trained yet: call fit(X, y) first")
        return self.parameters_

    def __repr__(self):
        shown = ", ".join(f"{name}={value!r}" for name, value in self.get_params().items())
        return f"{type(self).__name__}({shown})"


class LogisticRegression(DeepNetwork):
    """Logistic regression, y_hat = sigma(w^T x + b): a network with no hidden layer.

    n_x is taken from the data, so no layer sizes are given; the other parameters are
    DeepNetwork's (init defaults to the notes' "small"; the course's is "zeros"). fit's
    initial_parameters may be the course's {"w": (n_x, 1), "b": scalar}. After fit, `coef_`
    is w (n_x values) and `intercept_` is b.
    """

    def __init__(self, *, learning_rate=0.01, epochs=100, batch_size=None, init="small", shuffle=True,
                 seed=0, engine=None, dtype=None):
        super().__init__(None, None, learning_rate=learning_rate, epochs=epochs, batch_size=batch_size,
                         init=init, shuffle=shuffle, seed=seed, engine=engine, dtype=dtype)

    def _layer_sizes(self, n_features):
        return [n_features, 1]

    def _starting_parameters(self, layers, activations, initial_parameters, dtype):
        """Also accept the course's {"w": (n_x, 1), "b": scalar} as initial_parameters."""
        if initial_parameters is not None and set(initial_parameters) == {"w", "b"}:
            initial_parameters = _from_course_logistic(initial_parameters, layers[0])
        return super()._starting_parameters(layers, activations, initial_parameters, dtype)

    @property
    def coef_(self):
        """The weights w as a vector of n_x values."""
        return self._fitted_parameters()["W1"][0]

    @property
    def intercept_(self):
        """The bias b."""
        return self._fitted_parameters()["b1"][0, 0]


MODEL_CLASSES = {cls.__name__: cls for cls in (DeepNetwork, LogisticRegression)}


def load(path, engine=None):
    """Return the network saved at `path` (DeepNetwork or LogisticRegression), ready to predict on `engine`.

    A file that is not one `save` wrote raises fastnn.errors.InvalidModelFile naming the
    path and what is wrong; a missing file raises FileNotFoundError.
    """
    return _load(path, engine)


def _load(path, engine, expected=None):
    """The estimator saved at `path`, every part checked; `expected` is the class it must be."""
    parameters, layers, activations, model, settings, classes = load_network(path)
    if model not in MODEL_CLASSES:
        raise invalid_file(path, f"model: expected {' or '.join(map(repr, MODEL_CLASSES))}, got {model!r}")
    cls = MODEL_CLASSES[model]
    if expected is not None and cls is not expected:
        raise ValueError(f"path: holds a {model}, not a {expected.__name__}: use fastnn.load(path)")
    network = cls._from_settings(path, settings, layers, activations, parameters["W1"].dtype)
    network.engine = engine
    network._set_fitted(parameters, layers, [None] + activations, get_engine(engine), [], classes)
    return network


def accuracy(y_true, y_pred):
    """Return the fraction of labels predicted correctly."""
    y_true, y_pred = np.ravel(y_true), np.ravel(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_pred: expected {y_true.shape[0]} labels like y_true, got {y_pred.shape[0]}")
    return float(np.mean(y_true == y_pred))


def _init_parameter_names(cls):
    """The names of `cls.__init__`'s parameters, self excluded."""
    return [name for name in inspect.signature(cls.__init__).parameters if name != "self"]


def _from_course_logistic(parameters, n_x):
    """The course's {"w": (n_x, 1), "b": scalar} as {"W1": (1, n_x), "b1": (1, 1)} (copies)."""
    w, b = np.asarray(parameters["w"]), np.asarray(parameters["b"])
    if w.shape not in ((n_x, 1), (n_x,)):
        raise ValueError(f"initial_parameters['w']: expected shape ({n_x}, 1), one weight per feature, got {w.shape}")
    if b.size != 1:
        raise ValueError(f"initial_parameters['b']: expected one number (the course's scalar b), got shape {b.shape}")
    return {"W1": w.reshape(1, n_x), "b1": b.reshape(1, 1)}


def _check_fit_options(callback, report_every):
    if callback is not None and not callable(callback):
        raise ValueError(f"callback: expected a function callback(epoch, cost) or None, got {callback!r}")
    if report_every is not None:
        check_positive(report_every, "report_every", integer=True)


def _check_in_memory_options(y, **dask_only):
    """In-memory fits take no Dask options, and a Dask y needs a Dask X."""
    if is_dask_array(y):
        raise TypeError("y: is a Dask array but X is not; pass X as a Dask array too, "
                        "e.g. dask.array.from_array(X, chunks=(y.chunks[0], -1))")
    for name, value in dask_only.items():
        if value is not None:
            raise ValueError(f"{name}: only used when X is a Dask array, got {value!r} with X in memory")
