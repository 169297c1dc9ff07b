"""fastnn: the first course of deep learning, exactly, on swappable NumPy, Numba and CuPy engines.

    >>> import fastnn
    >>> data = fastnn.datasets.load_digits()
    >>> net = fastnn.DeepNetwork([64, 16, 8, 1], "relu", learning_rate=0.1, epochs=200)
    >>> net.fit(data.X_train, data.y_train).score(data.X_test, data.y_test)  # doctest: +SKIP

Importing fastnn imports neither Numba nor CuPy and compiles nothing; engines load when
first asked for.
"""

from . import datasets, notes
from ._version import __version__
from .activations import ACTIVATIONS
from .backends import (
    Engine,
    EngineUnavailableError,
    UnknownEngineError,
    engines,
    get_engine,
    use,
    using,
)
from . import errors
from .errors import InvalidModelFile, TrainingDiverged
from .gradcheck import gradient_check
from .initializers import initialize_parameters
from .network import DeepNetwork, LogisticRegression, accuracy, load

__all__ = [
    "ACTIVATIONS",
    "DeepNetwork",
    "Engine",
    "EngineUnavailableError",
    "InvalidModelFile",
    "LogisticRegression",
    "TrainingDiverged",
    "UnknownEngineError",
    "__version__",
    "accuracy",
    "datasets",
    "engines",
    "errors",
    "get_engine",
    "gradient_check",
    "initialize_parameters",
    "load",
    "notes",
    "use",
    "using",
]

