"""``fastnn bench`` end to end with tiny n: results, table, JSON, plot and errors.

No timing assertions here: how fast things are is measured in benchmarks/, not tested.
"""

import argparse
import io
import json

import numba
import numpy as np
import pytest

from fastnn import bench
from fastnn.backends import EngineUnavailableError, UnknownEngineError, engine_class

CPU_ENGINES = ["numpy", "numba"]
FAST = dict(repeats=2, pause=0.0)  # tiny runs: no pause between engines needed


@pytest.fixture(scope="module")
def results():
    return bench.compare_dot(n=[1000, 3], engines=CPU_ENGINES, **FAST)


def _rtol(dtype):
    return 1e-4 if dtype == "float32" else 1e-12


def test_every_engine_dtype_and_n_has_one_result(results):
    got = sorted((r.n, r.engine, r.dtype) for r in results)
    assert got == sorted((n, e, d) for n in (1000, 3) for e in CPU_ENGINES for d in ("float64", "float32"))


def test_times_are_positive_and_every_sample_is_kept(results):
    for r in results:
        assert set(r.floor_variants) == {"numba 1-thread streaming read", f"numba {numba.get_num_threads()}-thread streaming read",
                                         "np.dot (BLAS)"} or len(r.floor_variants) == 1
        assert r.floor_samples_s == r.floor_variants[r.floor_method]
        assert r.loop_s > 0 and r.vec_s > 0 and r.loop_first_s > 0 and r.vec_first_s > 0
        assert len(r.loop_samples_s) == len(r.vec_samples_s) == 2
        assert r.floor_s > 0 and r.floor_first_s > 0 and r.floor_samples_s
        assert r.speedup > 0 and r.floor_multiple > 0


def test_loop_and_vectorised_agree_with_np_dot(results):
    for r in results:
        assert r.loop_n == r.n
        assert r.z_loop == pytest.approx(r.z_reference, rel=_rtol(r.dtype))
        assert r.z_vec == pytest.approx(r.z_reference, rel=_rtol(r.dtype))
        # z_reference is an independent float64 np.dot of the same values, plus b.
        rng = np.random.default_rng(0)
        w, x = rng.random(r.n).astype(r.dtype), rng.random(r.n).astype(r.dtype)
        assert r.z_reference == pytest.approx(np.dot(w.astype(float), x.astype(float)) + bench.BIAS, rel=1e-12)


def test_slow_loop_is_timed_on_a_prefix_and_scaled(results):
    (r,) = bench.compare_dot(n=5000, engines=["numpy"], dtypes=["float64"], loop_max=1000, loop_budget=0.0, **FAST)
    assert r.loop_n == 1000
    assert r.loop_s == pytest.approx(np.median(r.loop_samples_s) * 5, rel=1e-12)
    assert r.z_loop == pytest.approx(r.z_loop_reference, rel=1e-12)
    assert r.z_vec == pytest.approx(r.z_reference, rel=1e-12)
    table = bench.format_table([r])
    assert "*" in table and "first 1,000 elements" in table


def test_fast_loop_is_timed_on_all_n_even_above_loop_max():
    (r,) = bench.compare_dot(n=5000, engines=["numpy"], dtypes=["float64"], loop_max=1000, loop_budget=1e9, **FAST)
    assert r.loop_n == 5000
    assert r.z_loop == pytest.approx(r.z_reference, rel=1e-12) and r.z_loop_reference == r.z_reference


def test_table_has_every_engine_and_dtype_and_the_notes_figures(results):
    table = bench.format_table(results)
    rows = table.splitlines()
    for r in results:
        assert any(r.engine in row and r.dtype in row and f"{r.n:,}" in row for row in rows)
    assert "floor" in table and "GB/s" in table
    assert "450 ms" in table and "1.5 ms" in table  # the notes' figures at n = 10^6, scaled
    assert bench.format_time(0.45) == "450 ms" and bench.format_time(0.0015) == "1.5 ms"


def test_device_floor_copies_both_vectors_once():
    """The GPU branch of the floor (a device copy), run by a NumPy engine declared a GPU one."""
    from fastnn.backends.numpy_engine import NumpyEngine

    class StandIn(NumpyEngine):
        device_kind = "gpu"

    w, x = np.arange(4.0), np.arange(4.0, 8.0)
    ((run, method, scale),) = bench._floor_variants(StandIn(), w, x)
    assert "memcpy" in method and scale == 0.5  # a copy reads and writes: half is the read
    np.testing.assert_array_equal(run(), np.concatenate([w, x]))  # both vectors, once


def test_progress_goes_to_the_given_stream():
    stream = io.StringIO()
    bench.compare_dot(n=10, engines=["numpy"], dtypes=["float32"], progress=stream, **FAST)
    assert "first call of dot_loop" in stream.getvalue() and "round 2/2" in stream.getvalue()


def _parse(argv):
    return bench.add_arguments(argparse.ArgumentParser()).parse_args(argv)


def test_command_line_writes_json_with_raw_figures_and_machine(tmp_path, capsys):
    path = tmp_path / "dot.json"
    status = bench.run(_parse(["--n", "1e3", "--engines", *CPU_ENGINES, "--repeats", "2", "--json", str(path)]))
    assert status == 0
    out = capsys.readouterr().out
    assert "numba" in out and "float32" in out
    data = json.loads(path.read_text())
    assert data["machine"]["cpu"] and data["machine"]["versions"]["numpy"]
    assert {(r["engine"], r["dtype"]) for r in data["results"]} == {
        (e, d) for e in CPU_ENGINES for d in ("float64", "float32")}
    for r in data["results"]:
        assert len(r["vec_samples_s"]) == 2 and r["speedup"] > 0 and r["n"] == 1000


def test_command_line_writes_a_plot(tmp_path):
    pytest.importorskip("matplotlib")
    one, several = tmp_path / "one.png", tmp_path / "several.png"
    assert bench.run(_parse(["--n", "100", "--engines", "numpy", "--repeats", "1", "--plot", str(one)])) == 0
    assert bench.run(_parse(["--n", "10", "100", "--engines", "numpy", "--repeats", "1", "--plot", str(several)])) == 0
    assert one.read_bytes()[:8] == several.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("text, value", [("1e6", 10**6), ("10**6", 10**6), ("1_000_000", 10**6), ("1000", 1000)])
def test_counts_accept_the_usual_spellings(text, value):
    assert bench.count(text) == value


@pytest.mark.parametrize("text", ["0", "-5", "1.5", "1e9", "lots"])
def test_bad_counts_are_refused_on_the_command_line(text, capsys):
    with pytest.raises(SystemExit):
        _parse(["--n", text])
    assert "--n" in capsys.readouterr().err


@pytest.mark.parametrize("n", [0, -1, 10**9, 2.5, True])
def test_bad_n_is_refused(n):
    with pytest.raises(ValueError, match="n: expected whole numbers"):
        bench.compare_dot(n=n, engines=["numpy"])


def test_unknown_engine_is_named_in_the_error(capsys):
    with pytest.raises(UnknownEngineError, match="'nope'"):
        bench.compare_dot(n=10, engines=["nope"])
    assert bench.run(_parse(["--n", "10", "--engines", "nope"])) == 2
    assert "error" in capsys.readouterr().err


def test_bad_dtype_and_repeats_are_refused():
    with pytest.raises(ValueError, match="dtypes"):
        bench.compare_dot(n=10, engines=["numpy"], dtypes=["int32"])
    with pytest.raises(ValueError, match="repeats"):
        bench.compare_dot(n=10, engines=["numpy"], repeats=0)


def test_unavailable_engine_asked_for_says_why(capsys):
    reason = engine_class("cupy").unavailable_reason()
    if reason is None:
        pytest.skip("cupy can run here")
    with pytest.raises(EngineUnavailableError, match="cannot run here"):
        bench.compare_dot(n=10, engines=["cupy"])
    assert bench.run(_parse(["--n", "10", "--engines", "cupy"])) == 1  # runtime, not usage: see fastnn.cli
    assert "cannot run here" in capsys.readouterr().err


def test_plot_without_matplotlib_says_how_to_get_it(monkeypatch, results):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(RuntimeError, match="pip install matplotlib"):
        bench.plot(results, "unused.png")


def test_ratios_below_one_are_not_printed_as_zero():
    """A compiled loop faster than the vectorised call reads 0.26x, not 0x."""
    from fastnn.bench import format_ratio

    assert format_ratio(0.2571) == "0.26x"
    assert format_ratio(1.96) == "2x"
    assert format_ratio(12.4) == "12x"
    assert format_ratio(1848.2) == "1,848x"
    assert format_ratio(float("nan")) == "-"
