"""One base class defines the engine interface: engines override, never add public methods."""

import inspect
import json
import subprocess
import sys

import pytest

from fastnn.backends import Engine, engine_class
from fastnn.backends.registry import ENGINE_CLASSES

ENGINE_NAMES = list(ENGINE_CLASSES)


def public_members(cls):
    return {name for name in dir(cls) if not name.startswith("_")}


@pytest.mark.parametrize("name", ENGINE_NAMES)
def test_no_public_method_beyond_the_base_class(name):
    extra = public_members(engine_class(name)) - public_members(Engine)
    assert not extra, f"engine {name!r} adds public members the base Engine lacks: {sorted(extra)}"


@pytest.mark.parametrize("name", ENGINE_NAMES)
def test_overrides_keep_the_base_signatures(name):
    cls = engine_class(name)
    for member in public_members(Engine):
        base, override = inspect.getattr_static(Engine, member), inspect.getattr_static(cls, member)
        if base is override or not callable(getattr(Engine, member)) or isinstance(base, property):
            continue
        assert inspect.signature(getattr(cls, member)) == inspect.signature(getattr(Engine, member)), (
            f"{name}.{member} has signature {inspect.signature(getattr(cls, member))}, "
            f"the base has {inspect.signature(getattr(Engine, member))}"
        )


@pytest.mark.parametrize("name", ENGINE_NAMES)
def test_engine_names_match_the_registry(name):
    assert engine_class(name).name == name


def test_asking_which_engines_run_here_imports_no_peer_and_compiles_nothing():
    """fastnn.engines() may import Numba and CuPy to ask them, but compiles no kernel."""
    code = (
        "import json, sys, fastnn\n"
        "fastnn.engines()\n"
        "kernels, cuda = sys.modules.get('fastnn.kernels.numba_kernels'), sys.modules.get('fastnn.kernels.cuda')\n"
        "print(json.dumps({\n"
        "    'peers': sorted(m for m in ('torch', 'sklearn', 'matplotlib') if m in sys.modules),\n"
        "    'numba kernels compiled': sorted(n for n, f in vars(kernels or {}).items() if getattr(f, 'signatures', None)),\n"
        "    'CUDA modules built': 0 if cuda is None else cuda._module.cache_info().currsize}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == {"peers": [], "numba kernels compiled": [], "CUDA modules built": 0}


def test_plain_import_imports_neither_numba_nor_cupy():
    code = "import sys, fastnn; print([m for m in ('numba', 'cupy') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
