"""Saving a trained network to a portable .npz file (NumPy arrays plus a JSON header)."""

import json

import numpy as np

from ._version import __version__
from .validation import check_layers, check_parameters

FORMAT = "fastnn-network-1"


def save_network(path, parameters, layers, activations):
    """Write W1, b1, ..., WL, bL and the architecture to `path` (.npz); loadable on any engine."""
    header = {"format": FORMAT, "fastnn_version": __version__, "layers": list(layers),
              "activations": list(activations)}
    np.savez(path, __header__=np.array(json.dumps(header)), **parameters)


def load_network(path):
    """Return (parameters, layers, activations) read back from a file written by save_network."""
    with np.load(path, allow_pickle=False) as data:
        if "__header__" not in data.files:
            raise ValueError(f"path: {path!s} is not a fastnn network file (no header)")
        header = json.loads(str(data["__header__"]))
        if header.get("format") != FORMAT:
            raise ValueError(f"path: expected format {FORMAT!r}, got {header.get('format')!r}")
        layers = check_layers(header["layers"])
        dtype = data["W1"].dtype
        parameters = check_parameters({k: data[k] for k in data.files if k != "__header__"}, layers, dtype)
    return parameters, layers, header["activations"]
