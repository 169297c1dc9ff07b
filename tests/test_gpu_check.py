"""benchmarks/gpu_check.sh: it parses, fits in 5 minutes, and fails loudly when it would test nothing.

The script is run for real, with an engine that cannot start ($FASTNN_CUDA_DEVICE names a
device that exists nowhere), so this runs the same way with or without a GPU.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.sh"


def test_the_script_parses():
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)


def test_time_limits_add_up_to_under_five_minutes_with_kill_grace():
    text = SCRIPT.read_text()
    grace = int(re.search(r"timeout -k (\d+)", text).group(1))
    limits = [int(limit) for limit in re.findall(r"^step \w+ (\d+) ", text, flags=re.M)]
    assert len(limits) >= 6  # preflight, env, two pytest runs, train, bench
    assert sum(limits) + grace * len(limits) < 300, limits


def test_pytest_steps_see_every_failure_with_tf32_off():
    text = SCRIPT.read_text()
    runs = re.findall(r'-m pytest[^\n]*\n[^\n]*', text)
    assert runs and all("--maxfail=1000" in run and " -x" not in run for run in runs)
    assert re.search(r"^export CUPY_TF32=0 NVIDIA_TF32_OVERRIDE=0$", text, flags=re.M)


def test_each_file_has_one_writer():
    """Step logs are <step>.log; gpu_bench.py alone writes gpu_bench.json and gpu_bench.txt."""
    text = SCRIPT.read_text()
    assert '> "$OUT/$name.log"' in text
    written_by_bench = {"gpu_bench.json", "gpu_bench.txt"}
    steps = set(re.findall(r"^step (\w+) ", text, flags=re.M))
    assert not {f"{step}.log" for step in steps} & written_by_bench
    assert not re.search(r">>? ?\"\$OUT/gpu_bench\.(txt|json)\"", text)


def test_an_engine_that_cannot_run_stops_the_script_first_thing(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "FASTNN_CUDA_DEVICE": "4096"}
    result = subprocess.run(["bash", str(SCRIPT), str(tmp_path)], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "PREFLIGHT FAILED: the cupy engine cannot run here" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["preflight.log", "summary.txt"]  # nothing else ran
    summary = (tmp_path / "summary.txt").read_text()
    assert summary.startswith("preflight rc=1") and "PREFLIGHT FAILED: nothing else was run" in summary
    reason = (tmp_path / "preflight.log").read_text()
    assert "NVRTC" in reason and "found" in reason  # NVRTC is checked before the engine
    assert "device 4096 does not exist" in reason or "no usable CUDA GPU" in reason or "CuPy" in reason
