"""The reference engine: the base class's vectorised NumPy code, unchanged."""

from .base import Engine


class NumpyEngine(Engine):
    """Vectorised NumPy on the CPU; every other engine is tested against this one."""

    name = "numpy"
