"""Dask inputs: recognising Dask arrays, finding the client, and lining y's blocks up with X's.

Nothing here imports Dask at module level: a Dask array can only exist once the user has
imported dask.array, so ``sys.modules`` tells whether one was passed (as scikit-learn's
array helpers do), and importing fastnn stays free of Dask.
"""

import sys

import numpy as np

from .validation import FLOAT_DTYPES, check_samples_first


def is_dask_array(x):
    """True when `x` is a dask.array.Array (without importing Dask when it is not loaded)."""
    module = sys.modules.get("dask.array")
    return module is not None and isinstance(x, module.Array)


def resolve_client(client):
    """Return the dask.distributed Client to train on: `client`, else the current one, else None.

    None means Dask's local scheduler (threads in this process).
    """
    distributed = sys.modules.get("distributed")
    if client is not None:
        if distributed is None or not isinstance(client, distributed.Client):
            raise TypeError(f"client: expected a dask.distributed.Client or None, got {type(client).__name__} {client!r}")
        if client.status != "running":
            raise ValueError(f"client: expected a running dask.distributed.Client, got one whose status is {client.status!r}")
        return client
    if distributed is None:
        return None
    try:
        return distributed.get_client()
    except ValueError:  # no client has been started in this process
        return None


def aligned_blocks(X, y, dtype=None):
    """Return (X, y) as Dask arrays whose row blocks match: X one column block, y 1-D.

    y may be a NumPy array or a Dask array with other row blocks; it is cut like X. X split
    into several column blocks is rechunked to one (each block must hold whole examples).
    """
    import dask.array as da

    if X.ndim != 2:
        raise ValueError(f"X: expected a 2-D Dask array of shape (m examples, n features), got shape {X.shape}")
    if any(np.isnan(size) for size in X.chunks[0]):
        raise ValueError("X: the sizes of its row blocks are unknown (NaN); call X.compute_chunk_sizes() first")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X: expected at least one example and one feature, got shape {X.shape}")
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool) or np.issubdtype(X.dtype, np.complexfloating):
        raise TypeError(f"X: expected real numbers, got a Dask array of dtype {X.dtype}")
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    if y is None:
        return X, None
    if not is_dask_array(y):
        y = np.asarray(y)
    check_samples_first(X, y)  # before y's shape is refused: the likelier mistake, as in the in-memory fit
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim not in (1, 2) or (y.shape[0] != X.shape[0] and not np.isnan(y.shape[0])):
        raise ValueError(f"y: expected shape ({X.shape[0]},) or ({X.shape[0]}, 1), one label per row of X "
                         f"(or one-hot targets ({X.shape[0]}, K)), got {y.shape}")
    rows = (X.chunks[0],) if y.ndim == 1 else (X.chunks[0], (y.shape[1],))
    if not is_dask_array(y):
        return X, da.from_array(y, chunks=rows)
    if any(np.isnan(size) for size in y.chunks[0]):
        raise ValueError("y: the sizes of its blocks are unknown (NaN); call y.compute_chunk_sizes() first")
    if y.chunks != rows:
        y = y.rechunk(rows)  # labels are small beside X: move them, not X
    return X, y


def class_labels(y, n_outputs):
    """The classes of K output units: 0..K-1 for one-hot y, else y's distinct labels; None for one unit."""
    if n_outputs == 1:
        return None
    if y.ndim == 2:
        return np.arange(n_outputs)
    import dask.array as da

    return np.asarray(da.unique(y).compute())


def training_dtype(X, dtype):
    """The float dtype of training: `dtype` if given, else X's float32/float64, else float64."""
    if dtype is not None:
        return np.dtype(dtype)
    return X.dtype if X.dtype in FLOAT_DTYPES else np.dtype(np.float64)


def block_starts(X):
    """The first row of each row block of X."""
    return np.concatenate([[0], np.cumsum(X.chunks[0])[:-1]]).astype(int).tolist()


def fits_in_memory(client, nbytes, share=0.5):
    """True when `nbytes` of data fits in `share` of the workers' memory (or this machine's)."""
    if client is not None:
        limits = [info.get("memory_limit") or 0 for info in client.scheduler_info()["workers"].values()]
        return 0 < nbytes <= share * sum(limits)
    return nbytes <= share * _available_memory()


def _available_memory():
    try:
        import psutil

        return psutil.virtual_memory().available
    except ImportError:  # POSIX fallback; without either, assume it does not fit and stream
        try:
            import os

            return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return 0


def open_dask_data(path):
    """Return (X, y) Dask arrays from a .zarr group or a folder of X.npy and y.npy, never read whole."""
    import os

    try:
        import dask.array as da
    except ImportError:
        raise ImportError("--data needs Dask: pip install 'fastnn[dask]'") from None
    path = str(path)
    if os.path.isfile(os.path.join(path, "X.npy")) and os.path.isfile(os.path.join(path, "y.npy")):
        X = da.from_array(NpyFile(os.path.join(path, "X.npy")), chunks=("auto", -1))
        y = NpyFile(os.path.join(path, "y.npy"))
        return X, da.from_array(y, chunks=(X.chunks[0],) + (-1,) * (y.ndim - 1))
    try:
        return da.from_zarr(path, component="X"), da.from_zarr(path, component="y")
    except Exception as error:  # zarr's errors differ by version; say what was expected
        raise ValueError(f"--data: expected a .zarr group with arrays X (m, n_x) and y (m,), or a folder holding "
                         f"X.npy and y.npy, got {path!r} ({type(error).__name__}: {error})") from None


class NpyFile:
    """A .npy file that dask.array reads slice by slice: it pickles as its path, so each worker
    maps the file itself instead of receiving its contents."""

    def __init__(self, path):
        self.path = path
        array = np.load(path, mmap_mode="r")
        self.shape, self.dtype, self.ndim = array.shape, array.dtype, array.ndim

    def __getitem__(self, index):
        return np.array(np.load(self.path, mmap_mode="r")[index])


def connect(address):
    """A dask.distributed Client for the scheduler at `address`, or None without one."""
    if address is None:
        return None
    try:
        from distributed import Client
    except ImportError:
        raise ImportError("--scheduler needs dask.distributed: pip install 'fastnn[dask]'") from None
    try:
        return Client(address, timeout="20s")
    except (OSError, TimeoutError) as error:
        raise RuntimeError(f"--scheduler: could not reach a Dask scheduler at {address!r}: {error}") from None
