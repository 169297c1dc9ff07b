"""One base class defines the engine interface: engines override, never add public methods."""

import inspect
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


def test_importing_fastnn_imports_no_optional_package_and_compiles_nothing():
    code = (
        "import sys, fastnn, fastnn.backends.numpy_engine;"
        "fastnn.engines();"  # asking what is available may import, but must not compile
        "print(sorted(m for m in ('cupy', 'torch', 'sklearn', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() != "" and "torch" not in out and "sklearn" not in out and "matplotlib" not in out


def test_plain_import_imports_neither_numba_nor_cupy():
    code = "import sys, fastnn; print([m for m in ('numba', 'cupy') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
