"""Benchmark fixtures: contestants as data, and sizes that shrink when benchmarking is off.

``pytest benchmarks`` measures at full size. ``pytest benchmarks --benchmark-disable``
(CI) runs every benchmark body exactly once, on small inputs, so the suite only checks
that each benchmark still runs. Only the GPU engine skips (with the reason) on a machine
without a GPU; peers (torch, scikit-learn) join only where their package is installed.
"""

import importlib.util

import pytest

from fastnn.testing import ENGINE_NAMES, engine_or_skip, engine_params

PEERS = ("torch", "sklearn")


def benchmarking(config):
    """True when pytest-benchmark is timing; False under --benchmark-disable (one quick run each)."""
    return not config.getoption("benchmark_disable", default=False)


@pytest.fixture
def full_size(request):
    """True: benchmark at the sizes in the test's docstring; False: a small smoke-test size."""
    return benchmarking(request.config)


@pytest.fixture(params=engine_params(ENGINE_NAMES))
def engine(request):
    """Each engine in turn (numpy, numba, cupy)."""
    return engine_or_skip(request.param)


def installed_peers():
    """The peers whose package is installed here (pip install '.[peers]' adds them)."""
    return tuple(name for name in PEERS if importlib.util.find_spec(name) is not None)


# Peers are not engines: only engine names go through engine_params (which looks them up).
@pytest.fixture(params=engine_params(ENGINE_NAMES) + [pytest.param(peer, id=peer) for peer in installed_peers()])
def contestant(request):
    """Each engine name, then each installed peer ("torch", "sklearn")."""
    name = request.param
    if name not in PEERS:
        engine_or_skip(name)
    return name


def pytest_report_header(config):
    mode = "timing" if benchmarking(config) else "disabled: each benchmark runs once, at small sizes"
    peers = ", ".join(installed_peers()) or "none installed (pip install '.[peers]')"
    return [f"fastnn benchmarks: {mode}", f"peers: {peers}"]
