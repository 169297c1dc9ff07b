"""Training checkpoints: the parameters, history and epoch count in one .npz, written atomically.

A checkpoint is written to a temporary file beside its target, flushed to disk and then
renamed over the target, so a crash at any moment leaves either the old checkpoint or the
new one, never half of one.
"""

import os
import tempfile
from pathlib import Path

import numpy as np


def save_checkpoint(path, parameters, history):
    """Write `parameters` ({"W1": ..., ...}) and the cost `history` (one per epoch done) to `path`."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(file, history=np.asarray(history, dtype=np.float64),
                     **{f"parameter_{key}": value for key, value in parameters.items()})
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    _sync_directory(path.parent)
    return path


def load_checkpoint(path):
    """Return (parameters, history) from a checkpoint written by save_checkpoint."""
    try:
        with np.load(path, allow_pickle=False) as data:
            parameters = {key[len("parameter_"):]: data[key] for key in data.files if key.startswith("parameter_")}
            history = data["history"].tolist()
    except (OSError, ValueError, KeyError) as error:
        raise ValueError(f"resume: expected a fastnn checkpoint (.npz) written by fit(checkpoint=...), "
                         f"could not read {str(path)!r}: {error}") from None
    return parameters, history


def _sync_directory(directory):
    """Make the rename itself durable (POSIX); where directories cannot be opened, skip it."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
