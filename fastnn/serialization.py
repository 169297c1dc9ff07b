"""Saving a trained network to a portable .npz file (NumPy arrays plus a JSON header)."""

import json
import os

import numpy as np

from ._version import __version__
from .validation import check_layers, check_parameters

FORMAT = "fastnn-network-1"
CLASSES_KEY = "__classes__"


def save_network(path, parameters, layers, activations, model, settings, classes=None):
    """Write W1, b1, ..., WL, bL, the architecture and the estimator's settings; return the path.

    `classes` (the labels of a K-class network) is stored as an array of its own, so its
    dtype (integers, strings) comes back exactly; binary networks store none.

    ".npz" is appended when `path` lacks it (as np.savez does), and the returned path says so.
    """
    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    header = {"format": FORMAT, "fastnn_version": __version__, "model": model, "layers": list(layers),
              "activations": list(activations), "settings": settings}
    extra = {} if classes is None else {CLASSES_KEY: np.asarray(classes)}
    np.savez(path, __header__=np.array(json.dumps(header, default=_json_value)), **extra, **parameters)
    return path


def load_network(path):
    """Return (parameters, layers, activations, model, settings, classes) from a file written by
    save_network; classes is None for a binary network."""
    path = os.fspath(path)
    if not os.path.exists(path) and os.path.exists(path + ".npz"):
        path += ".npz"
    with np.load(path, allow_pickle=False) as data:
        if "__header__" not in data.files:
            raise ValueError(f"path: {path!s} is not a fastnn network file (no header)")
        header = json.loads(str(data["__header__"]))
        if header.get("format") != FORMAT:
            raise ValueError(f"path: expected format {FORMAT!r}, got {header.get('format')!r}")
        layers = check_layers(header["layers"])
        dtype = data["W1"].dtype
        classes = data[CLASSES_KEY] if CLASSES_KEY in data.files else None
        parameters = check_parameters({k: data[k] for k in data.files if k not in ("__header__", CLASSES_KEY)},
                                      layers, dtype)
    return parameters, layers, header["activations"], header["model"], header["settings"], classes


def _json_value(value):
    """NumPy scalars, arrays and dtypes as plain JSON values."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    return np.dtype(value).name
