"""Estimators in the scikit-learn style: DeepNetwork (L layers) and LogisticRegression.

Users pass samples first, X of shape (m, n_features) and y of shape (m,) or (m, 1);
internally each engine keeps examples in rows too, the notes' matrices transposed.
"""

import numpy as np

from .activations import check_activation
from .backends import get_engine
from .errors import TrainingDiverged
from .initializers import INITIALIZERS, default_init, initialize_parameters
from .propagation import forward, from_engine, to_engine
from .serialization import load_network, save_network
from .training import train
from .validation import (
    as_float_dtype,
    check_features,
    check_labels,
    check_layers,
    check_parameters,
    check_positive,
)


class DeepNetwork:
    """A fully connected network [n_x, n^[1], ..., n^[L-1], 1] with a sigmoid output unit.

    `activation` is one name for every hidden layer or a list with one per hidden layer.
    `init` is "small" (the notes' randn * 0.01), "he", "xavier" or "auto" (He for ReLUs,
    Xavier otherwise). `batch_size=None` trains on the full batch; one epoch is then one
    iteration of gradient descent. `dtype=None` keeps X's float32/float64.
    """

    def __init__(self, layers, activation="relu", *, learning_rate=0.01, epochs=100, batch_size=None,
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

    def fit(self, X, y, *, initial_parameters=None, callback=None, progress=False, report_every=None):
        """Train on X (m, n_features) and labels y in {0, 1}; return self.

        `initial_parameters` ({"W1", "b1", ...} in the notes' shapes) replaces the random
        start. `callback(epoch, cost)` runs every `report_every` epochs; return True to stop.
        """
        self._check_hyperparameters()
        X = check_features(X, "X", dtype=None if self.dtype is None else as_float_dtype(self.dtype))
        Y = check_labels(y, X.shape[0], "y", dtype=X.dtype)
        layers = self._layer_sizes(X.shape[1])
        activations = self._activations(layers)
        parameters = self._starting_parameters(layers, activations, initial_parameters, X.dtype)
        engine = get_engine(self.engine)
        weights, biases = to_engine(engine, parameters)
        self.history_ = train(
            engine, weights, biases, activations, engine.asarray(X), engine.asarray(Y),
            learning_rate=self.learning_rate, epochs=self.epochs, batch_size=self.batch_size,
            shuffle=self.shuffle, seed=self.seed, callback=callback, progress=progress,
            report_every=report_every,
        )
        parameters = from_engine(engine, weights, biases)
        if not all(np.isfinite(value).all() for value in parameters.values()):
            raise TrainingDiverged(
                f"training diverged: the weights hold NaN or inf (learning_rate={self.learning_rate}); "
                "try a smaller learning rate"
            )
        self.layers_, self.activations_, self.engine_, self.parameters_ = layers, activations, engine, parameters
        return self

    # -- prediction --------------------------------------------------------------------

    def predict_proba(self, X):
        """Return y_hat = P(y = 1 | x) for each row of X, shape (m,)."""
        parameters = self._fitted_parameters()
        dtype = parameters["W1"].dtype
        X = check_features(X, "X", dtype=dtype)
        if X.shape[1] != self.layers_[0]:
            raise ValueError(f"X: expected {self.layers_[0]} features per example (the network's n_x), got {X.shape[1]}")
        engine = self.engine_
        _, A = forward(engine, *to_engine(engine, parameters), self.activations_, engine.asarray(X))
        return engine.to_numpy(A[-1])[:, 0]

    def predict(self, X, threshold=0.5):
        """Return the predicted labels, 1 where y_hat > threshold, else 0, shape (m,)."""
        return (self.predict_proba(X) > threshold).astype(np.int64)

    def score(self, X, y):
        """Return the accuracy of predict(X) against labels y (a fraction in [0, 1])."""
        return accuracy(y, self.predict(X))

    # -- saving ------------------------------------------------------------------------

    def save(self, path):
        """Write the trained parameters and architecture to a portable .npz file."""
        save_network(path, self._fitted_parameters(), self.layers_, self.activations_[1:])

    @classmethod
    def load(cls, path, engine=None):
        """Return a trained network read from `path`, ready to predict on `engine`."""
        parameters, layers, activations = load_network(path)
        network = cls(layers, activations[:-1] or "relu", engine=engine, dtype=parameters["W1"].dtype)
        network.parameters_, network.layers_ = parameters, layers
        network.activations_ = [None] + activations
        network.history_, network.engine_ = [], get_engine(engine)
        return network

    # -- helpers -----------------------------------------------------------------------

    def _layer_sizes(self, n_features):
        layers = check_layers(self.layers)
        if layers[0] != n_features:
            raise ValueError(
                f"layers: the first size is n_x, the number of features, so expected {n_features} "
                f"(from X's {n_features} columns), got {layers[0]}"
            )
        return layers

    def _activations(self, layers):
        """[None, g^[1], ..., g^[L-1], "sigmoid"]: one per layer, the output always sigmoid."""
        n_hidden = len(layers) - 2
        hidden = [self.activation] * n_hidden if isinstance(self.activation, str) else list(self.activation)
        if len(hidden) != n_hidden:
            raise ValueError(
                f"activation: expected one name or a list of {n_hidden} (one per hidden layer), got {self.activation!r}"
            )
        for name in hidden:
            check_activation(name, "activation")
        return [None] + hidden + ["sigmoid"]

    def _starting_parameters(self, layers, activations, initial_parameters, dtype):
        if initial_parameters is None:
            init = default_init(activations[1:-1]) if self.init == "auto" else self.init
            return initialize_parameters(layers, init, seed=self.seed, dtype=dtype)
        return check_parameters(initial_parameters, layers, dtype, "initial_parameters")

    def _check_hyperparameters(self):
        check_positive(self.learning_rate, "learning_rate")
        check_positive(self.epochs, "epochs", integer=True)
        if self.batch_size is not None:
            check_positive(self.batch_size, "batch_size", integer=True)
        if self.init not in (*INITIALIZERS, "auto"):
            raise ValueError(f"init: expected one of {', '.join(map(repr, (*INITIALIZERS, 'auto')))}, got {self.init!r}")

    def _fitted_parameters(self):
        if not hasattr(self, "parameters_"):
            raise RuntimeError(f"this {type(self).__name__} is not trained yet: call fit(X, y) first")
        return self.parameters_

    def __repr__(self):
        return (f"{type(self).__name__}(layers={self.layers!r}, activation={self.activation!r}, "
                f"learning_rate={self.learning_rate}, epochs={self.epochs}, batch_size={self.batch_size})")


class LogisticRegression(DeepNetwork):
    """Logistic regression: y_hat = sigma(w^T x + b), a network with no hidden layer.

    n_x is taken from the data, so no layer sizes are given.
    """

    def __init__(self, *, learning_rate=0.01, epochs=100, batch_size=None, init="small", shuffle=True,
                 seed=0, engine=None, dtype=None):
        super().__init__(None, "relu", learning_rate=learning_rate, epochs=epochs, batch_size=batch_size,
                         init=init, shuffle=shuffle, seed=seed, engine=engine, dtype=dtype)

    def _layer_sizes(self, n_features):
        return [n_features, 1]

    @property
    def coef_(self):
        """The weights w as a vector of n_x values."""
        return self._fitted_parameters()["W1"][0]

    @property
    def intercept_(self):
        """The bias b."""
        return self._fitted_parameters()["b1"][0, 0]


def accuracy(y_true, y_pred):
    """Return the fraction of labels predicted correctly."""
    y_true, y_pred = np.ravel(y_true), np.ravel(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_pred: expected {y_true.shape[0]} labels like y_true, got {y_pred.shape[0]}")
    return float(np.mean(y_true == y_pred))
