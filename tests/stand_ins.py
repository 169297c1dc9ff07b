"""Device-array stand-ins for checks that read only an array's type and device, never its memory.

Without a GPU, a kernel's argument packer and the cupy engine's host/device rule still run:
they look at ``type(x).__cuda_array_interface__`` and ``x.device.id`` before touching CUDA.
"""

import types

import numpy as np


class DeviceStandIn(np.ndarray):
    """Host memory that declares itself a device array on device 0."""

    __cuda_array_interface__ = property(lambda self: {})
    device = types.SimpleNamespace(id=0)


class OnDevice1(DeviceStandIn):
    """The same, on device 1."""

    device = types.SimpleNamespace(id=1)


def on_device(x, cls=DeviceStandIn):
    """A view of host array `x` that declares itself on a device."""
    return np.asarray(x).view(cls)
