"""Saving a trained network to a portable .npz file (NumPy arrays plus a JSON header), and
reading one back without trusting it.

Saving is atomic: the file is written beside the target, flushed and fsynced, then renamed
over it, so a failed save leaves the old file as it was. Loading checks every part (format,
header keys, dtypes, shapes chained layer to layer, activations, finite values) and raises
InvalidModelFile, naming the path and the fault, for anything else than a file save wrote.
"""

import contextlib
import json
import os
import secrets

import numpy as np

from ._version import __version__
from .activations import layer_activations, output_activation
from .errors import InvalidModelFile
from .validation import FLOAT_DTYPES, check_layers, check_parameters, short_repr

FORMAT = "fastnn-network-1"
CLASSES_KEY = "__classes__"
HEADER_KEYS = ("format", "fastnn_version", "model", "layers", "activations", "settings")
_ZIP_MAGIC, _NPY_MAGIC = b"PK\x03\x04", b"\x93NUMPY"


def target_path(path, argument="path"):
    """Return the file save writes for `path`: ".npz" is appended unless the name already ends
    in it (any case). A directory, or a folder that does not exist, is refused before any work."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"{argument}: expected a file name (str or path), got {short_repr(path)}")
    path = os.fsdecode(os.fspath(path))
    if not path or path.endswith(("/", os.sep)) or os.path.isdir(path):
        raise ValueError(f"{argument}: expected a file name such as 'net.npz', got the folder {path!r}")
    if not path.lower().endswith(".npz"):
        path += ".npz"
    if os.path.isdir(path):
        raise ValueError(f"{argument}: {path!r} is a folder; expected a file name such as 'net.npz'")
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise ValueError(f"{argument}: the folder {folder!r} does not exist (for {path!r})")
    return path


def save_network(path, parameters, layers, activations, model, settings, classes=None):
    """Write W1, b1, ..., WL, bL, the architecture and the estimator's settings; return the path written.

    `classes` (the labels of a K-class network) is stored as an array of its own, so its
    dtype (integers, strings) comes back exactly; binary networks store none.
    """
    path = target_path(path)
    header = {"format": FORMAT, "fastnn_version": __version__, "model": model, "layers": list(layers),
              "activations": list(activations), "settings": settings}
    extra = {} if classes is None else {CLASSES_KEY: np.asarray(classes)}
    arrays = {"__header__": np.array(json.dumps(header, default=_json_value)), **extra, **parameters}
    _write_atomically(path, lambda file: np.savez(file, **arrays))
    return path


def _write_atomically(path, write):
    """Call write(file) on a new file beside `path`, fsync it, then rename it over `path`.

    On any failure (disk full, an interrupt) the temporary file is removed and whatever
    was at `path` before is left untouched.
    """
    folder, name = os.path.split(path)
    temporary = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp")
    # O_EXCL: never reuse someone else's file; 0o666 lets the umask decide, as open() would.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(descriptor, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(error, OSError):
            message = f"path: could not write {path!r}: {error.strerror or error}; any file there before is unchanged"
            failure = OSError(error.errno, message) if error.errno else OSError(message)
            raise failure from error
        raise
    _sync_folder(folder or ".")


def _sync_folder(folder):
    """fsync the folder so the rename itself survives a crash (POSIX only; best effort)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def load_network(path):
    """Return (parameters, layers, activations, model, settings, classes) from a file written by save_network.

    `activations` lists one name per layer, the output's last; classes is None for a
    binary network. A file that is not such a file, or is damaged, raises
    InvalidModelFile naming the path and the fault.
    """
    path = _existing_file(path)
    arrays = _read_arrays(path)
    try:
        return _check_contents(arrays)
    except (ValueError, TypeError) as error:
        raise InvalidModelFile(f"path: {path!r} is not a valid fastnn network file: {error}") from None


def invalid_file(path, fault):
    """The InvalidModelFile for `fault` found in the file at `path` (for checks made by the estimators)."""
    return InvalidModelFile(f"path: {_existing_file(path)!r} is not a valid fastnn network file: {fault}")


def _existing_file(path):
    """`path` as a string, with ".npz" added when only that name exists (as save adds it)."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"path: expected a file name (str or path), got {short_repr(path)}")
    path = os.fsdecode(os.fspath(path))
    if not os.path.exists(path) and os.path.exists(path + ".npz"):
        path += ".npz"
    if not os.path.exists(path):
        raise FileNotFoundError(2, f"path: no such file: {path!r}")
    if os.path.isdir(path):
        raise InvalidModelFile(f"path: {path!r} is a folder, not a saved fastnn network")
    return path


def _read_arrays(path):
    """Every array stored in the .npz at `path`, read in full with pickles refused."""
    with open(path, "rb") as file:
        start = file.read(len(_NPY_MAGIC))
        if not start:
            raise InvalidModelFile(f"path: {path!r} is empty, not a saved fastnn network")
        if start.startswith(_NPY_MAGIC):
            raise InvalidModelFile(f"path: {path!r} holds a single .npy array, not a saved fastnn network (.npz)")
        if not start.startswith(_ZIP_MAGIC):
            raise InvalidModelFile(f"path: {path!r} is not a .npz archive (it starts with {start!r}), "
                                   "so not a saved fastnn network")
        file.seek(0)
        try:
            with np.load(file, allow_pickle=False) as data:
                return {name: data[name] for name in data.files}
        # Damaged bytes can make zipfile, zlib or NumPy's reader fail in many ways (BadZipFile,
        # EOFError, zlib.error, ValueError, MemoryError, ...): each means the same thing here.
        except Exception as error:
            raise InvalidModelFile(f"path: {path!r} is damaged or not a saved fastnn network: "
                                   f"{type(error).__name__}: {error}") from None


def _check_contents(arrays):
    """The header and weights in `arrays`, each checked; ValueError or TypeError says what is wrong."""
    header = _check_header(arrays.pop("__header__", None))
    layers = check_layers(header["layers"], "layers")
    activations, output = header["activations"], output_activation(layers[-1])
    if not isinstance(activations, list) or len(activations) != len(layers) - 1 or activations[-1:] != [output]:
        raise ValueError(f"activations: expected a list of {len(layers) - 1} names, one per layer, the last "
                         f"{output!r}, for layers {layers}, got {short_repr(activations)}")
    activations = layer_activations(activations[:-1], len(layers) - 2, "activations", n_outputs=layers[-1])[1:]
    classes = _check_classes(arrays.pop(CLASSES_KEY, None), layers[-1])
    return _check_weights(arrays, layers), layers, activations, header["model"], header["settings"], classes


def _check_header(value):
    """The header as a dict with exactly HEADER_KEYS, of this FORMAT."""
    if value is None:
        raise ValueError("it has no __header__ (it was not written by fastnn's save)")
    if not isinstance(value, np.ndarray) or value.shape != () or value.dtype.kind != "U":
        raise ValueError(f"__header__: expected one text string, got {_describe(value)}")
    try:
        header = json.loads(str(value))
    except (ValueError, RecursionError) as error:
        raise ValueError(f"__header__: expected JSON, could not parse it: {error}") from None
    if not isinstance(header, dict):
        raise ValueError(f"__header__: expected a JSON object, got {type(header).__name__} {short_repr(header)}")
    if header.get("format") != FORMAT:
        raise ValueError(f"format: expected {FORMAT!r}, got {short_repr(header.get('format'))}")
    missing, unknown = sorted(set(HEADER_KEYS) - set(header)), sorted(set(header) - set(HEADER_KEYS))
    if missing or unknown:
        raise ValueError(f"__header__: expected the keys {', '.join(HEADER_KEYS)}; "
                         f"missing {missing or 'none'}, unknown {unknown or 'none'}")
    for key, kind in (("fastnn_version", str), ("model", str), ("settings", dict)):
        if not isinstance(header[key], kind):
            raise ValueError(f"{key}: expected a JSON {'object' if kind is dict else 'string'}, got {short_repr(header[key])}")
    return header


def _check_classes(classes, n_outputs):
    """The K distinct class labels (numbers or text) of a K-class network; None for one output unit."""
    if n_outputs == 1:
        if classes is not None:
            raise ValueError(f"{CLASSES_KEY}: a network with one output unit stores no classes, got {_describe(classes)}")
        return None
    if (not isinstance(classes, np.ndarray) or classes.shape != (n_outputs,) or classes.dtype.kind not in "biufUS"
            or np.unique(classes).size != n_outputs or (classes.dtype.kind == "f" and not np.isfinite(classes).all())):
        raise ValueError(f"{CLASSES_KEY}: expected {n_outputs} distinct labels (numbers or text), one per output "
                         f"unit, got {_describe(classes) if classes is not None else 'none'}")
    return classes


def _check_weights(arrays, layers):
    """W1, b1, ..., WL, bL: float32 or float64 (one dtype for all), shaped for `layers`, finite."""
    for name, value in arrays.items():
        if not isinstance(value, np.ndarray) or value.dtype not in FLOAT_DTYPES:
            raise ValueError(f"weights[{name!r}]: expected float32 or float64 numbers, got {_describe(value)}")
    dtypes = sorted({value.dtype.name for value in arrays.values()})
    if len(dtypes) > 1:
        raise ValueError(f"weights: expected one dtype for every array, got {' and '.join(dtypes)}")
    dtype = np.dtype(dtypes[0]) if dtypes else np.float64
    return check_parameters(arrays, layers, dtype, "weights")


def _describe(value):
    """A short description of a stored value: an array's dtype and shape, else its type."""
    if isinstance(value, np.ndarray):
        return f"an array of dtype {value.dtype} and shape {value.shape}"
    return f"a {type(value).__name__}"


def _json_value(value):
    """NumPy scalars, arrays and dtypes as plain JSON values."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    return np.dtype(value).name
