"""describe_machine(): what it reports, and that it imports nothing it only describes."""

import json
import subprocess
import sys
import time

import pytest

from fastnn.machine import describe_machine, format_machine


def _in_fresh_interpreter(code):
    """Run `code` in a new Python (so sys.modules starts empty) and return its stdout."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_describe_machine_does_not_import_cupy_torch_or_numba():
    code = (
        "import sys, json; from fastnn.machine import describe_machine, format_machine\n"
        "d = describe_machine(); format_machine(d)\n"
        "print(json.dumps({'d': d, 'loaded': [m for m in ('cupy', 'torch', 'numba') if m in sys.modules]}))"
    )
    out = json.loads(_in_fresh_interpreter(code))
    assert out["loaded"] == []
    assert out["d"]["gpu"] is None  # not asked, and CuPy was not already imported
    assert out["d"]["numba"] is None and out["d"]["torch"] is None


def test_describe_machine_reports_cpu_versions_and_blas():
    import numpy as np

    d = describe_machine(gpu=False)
    json.dumps(d)  # serialisable as it is
    assert d["cpu"] and d["logical_cores"] >= 1 and d["python"]
    assert d["versions"]["numpy"] == np.__version__
    assert d["gpu"] is None
    # NumPy is imported, so its BLAS is loaded and threadpoolctl sees it.
    assert any(pool["num_threads"] >= 1 for pool in d["blas"])


def test_describe_machine_reads_numba_settings_once_numba_is_imported():
    numba = pytest.importorskip("numba")
    d = describe_machine(gpu=False)
    assert d["numba"]["num_threads"] == numba.config.NUMBA_NUM_THREADS
    assert d["numba"]["threading_layer"]


def test_describe_machine_records_thread_environment(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    env = describe_machine(gpu=False)["environment"]
    assert env["OPENBLAS_CORETYPE"] == "Haswell" and "OMP_NUM_THREADS" not in env


def test_gpu_info_when_asked_says_why_there_is_none_or_describes_it():
    gpu = describe_machine(gpu=True)["gpu"]
    if gpu["available"]:
        assert gpu["device"] and gpu["memory"]["total_bytes"] > 0
    else:
        assert gpu["reason"]


def test_format_machine_is_a_few_short_lines():
    d = describe_machine(gpu=True)
    lines = format_machine(d)
    assert 3 <= len(lines) <= 12
    assert d["cpu"] in lines[0]
    assert any(line.startswith("gpu:") for line in lines)


def test_others_cores_is_the_machines_busy_time_less_ours_per_second():
    from fastnn.machine import others_cores

    # snapshots: (wall seconds, CPU-seconds the machine was busy, CPU-seconds of this process)
    start = (10.0, 100.0, 5.0)
    assert others_cores(start, (12.0, 106.0, 7.0)) == pytest.approx(2.0)  # (6 busy - 2 ours) / 2 s
    assert others_cores(start, (12.0, 106.0, 5.0)) == pytest.approx(3.0)  # all of it others'
    assert others_cores(start, (12.0, 101.0, 7.0)) == 0.0  # tick rounding put ours above the machine's
    assert others_cores(None, start) is None and others_cores(start, None) is None
    assert others_cores(start, start) is None  # no time passed


def test_cpu_snapshot_sees_our_own_work_in_ours_and_the_machines():
    """Linux (where fastnn is tested) has /proc/stat, so the snapshot must be there."""
    from fastnn.machine import cpu_snapshot

    start = cpu_snapshot()
    spin_until = time.process_time() + 0.3
    while time.process_time() < spin_until:  # 0.3 s of this process's own CPU time
        pass
    end = cpu_snapshot()
    ours, machine, wall = end[2] - start[2], end[1] - start[1], end[0] - start[0]
    assert ours >= 0.28  # os.times counts in ticks of 10 ms
    assert machine >= ours - 0.05  # our time is part of the machine's busy time (ticks again)
    assert wall >= ours - 0.02  # one thread cannot use more CPU than wall time
