"""Choosing an engine: use(), using(), FASTNN_ENGINE, "auto", and the errors for bad choices."""

import subprocess
import sys
import threading

import pytest

import fastnn
from fastnn.backends import (
    EngineUnavailableError,
    UnknownEngineError,
    engine_class,
    get_engine,
    registry,
)


@pytest.fixture(autouse=True)
def no_global_choice(monkeypatch):
    """Each test starts with no global engine chosen, and the choice before it comes back after.

    (fastnn.use returns the engine it sets, not the one before, so a test cannot undo
    itself with it.)
    """
    monkeypatch.setattr(registry, "_global_choice", None)


def test_engines_lists_every_engine_with_a_reason_when_unavailable():
    rows = {row.name: row for row in fastnn.engines()}
    assert set(rows) == {"numpy", "numba", "cupy"}
    assert rows["numpy"].available and rows["numpy"].reason is None
    assert rows["numba"].available  # numba is a core dependency
    if not rows["cupy"].available:
        assert isinstance(rows["cupy"].reason, str) and len(rows["cupy"].reason) > 10


def test_unknown_engine_names_the_choices():
    with pytest.raises(UnknownEngineError, match=r"engine: expected one of 'numpy', 'numba', 'cupy', 'auto', got 'tensorflow'"):
        get_engine("tensorflow")


def test_unavailable_engine_says_why():
    reason = engine_class("cupy").unavailable_reason()
    if reason is None:
        pytest.skip("cupy engine is available here: nothing to refuse")
    with pytest.raises(EngineUnavailableError, match="cupy") as error:
        get_engine("cupy")
    assert reason in str(error.value)


def test_auto_prefers_the_gpu_then_numba():
    expected = "cupy" if engine_class("cupy").unavailable_reason() is None else "numba"
    assert get_engine("auto").name == expected


def test_use_sets_the_global_engine_and_using_overrides_it_locally():
    assert fastnn.use("numpy") is get_engine("numpy")
    assert get_engine().name == "numpy"
    with fastnn.using("numba") as engine:
        assert engine.name == "numba" and get_engine().name == "numba"
        with fastnn.using("numpy"):
            assert get_engine().name == "numpy"
        assert get_engine().name == "numba"
    assert get_engine().name == "numpy"
    fastnn.use("numba")
    assert get_engine().name == "numba"


def test_using_is_local_to_its_thread():
    fastnn.use("numpy")
    seen = {}
    inside, release = threading.Event(), threading.Event()

    def other_thread():
        inside.wait()
        seen["other"] = get_engine().name
        release.set()

    thread = threading.Thread(target=other_thread)
    thread.start()
    with fastnn.using("numba"):
        inside.set()
        release.wait(10)
        seen["main"] = get_engine().name
    thread.join()
    assert seen == {"main": "numba", "other": "numpy"}


def test_environment_variable_chooses_the_default():
    code = "import fastnn; print(fastnn.get_engine().name)"
    for name in ("numpy", "numba"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**__import__("os").environ, "FASTNN_ENGINE": name}).stdout
        assert out.strip() == name


def test_environment_variable_with_an_unknown_name_fails_clearly():
    code = "import fastnn; fastnn.get_engine()"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**__import__("os").environ, "FASTNN_ENGINE": "jax"})
    assert result.returncode != 0 and "got 'jax'" in result.stderr


def test_the_same_engine_instance_is_shared():
    assert get_engine("numpy") is get_engine("numpy")
    assert get_engine(get_engine("numba")) is get_engine("numba")


def test_the_environment_variable_is_named_when_wrong(monkeypatch):
    monkeypatch.setenv("FASTNN_ENGINE", "bogus")
    fastnn.use(None)
    with pytest.raises(UnknownEngineError, match="FASTNN_ENGINE: expected one of"):
        get_engine()
    monkeypatch.setenv("FASTNN_ENGINE", "")  # empty means unset
    assert get_engine().name in ("numba", "cupy")


def test_use_none_forgets_the_global_choice(monkeypatch):
    monkeypatch.setenv("FASTNN_ENGINE", "numpy")
    fastnn.use("numba")
    assert get_engine().name == "numba"
    assert fastnn.use(None) is None
    assert get_engine().name == "numpy"


def test_options_an_engine_does_not_take():
    with pytest.raises(ValueError, match="engine 'numpy' does not take the options {'device': 1}"):
        get_engine("numpy", device=1)
