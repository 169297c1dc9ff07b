#!/usr/bin/env bash
# The one prepared GPU check of fastnn's cupy engine.
#
#   bash benchmarks/gpu_check.sh OUTDIR          (PYTHON=... picks the interpreter; default python3)
#
# Run from the repository checkout on a GPU machine with Python 3.10+, numpy, cupy-cuda13x,
# numba, pytest and pytest-benchmark installed (no pip, no network).
#
# First, before anything else, a preflight: NVRTC must be found and the cupy engine must be
# able to run. If not, the script stops at once with the reason and exit status 2: a run
# in which every GPU test skips would report success while testing nothing.
#
# Then every step runs under `timeout`; the limits add up to under 5 minutes, kill grace
# included (tests/test_gpu_check.py checks the sum). One writer per file: each step's output
# goes to OUTDIR/<step>.log (its tail is echoed), OUTDIR/summary.txt gets one line per step
# (written by this script only), and gpu_bench.py alone writes gpu_bench.json and
# gpu_bench.txt. A failing step does not stop the others (pytest runs with a large
# --maxfail, never -x, so the graph tests at the end still run); the exit status is 1 when
# any step failed.
set -u

OUT=${1:?usage: bash benchmarks/gpu_check.sh OUTDIR}
PYTHON=${PYTHON:-python3}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
# float32 results must not depend on the machine's settings: no TF32 in cuBLAS, whether
# reached through CuPy (CUPY_TF32) or directly (NVIDIA_TF32_OVERRIDE). tests/conftest.py pins
# the same for any pytest run.
export CUPY_TF32=0 NVIDIA_TF32_OVERRIDE=0
: > "$OUT/summary.txt"
failed=0

# step NAME LIMIT_SECONDS COMMAND...: run COMMAND with a time limit, log it, never abort the script.
step() {
    local name=$1 limit=$2
    shift 2
    echo "=== $name (limit ${limit}s): $*"
    local start=$SECONDS
    timeout -k 5 "$limit" "$@" > "$OUT/$name.log" 2>&1
    local rc=$?
    tail -n 30 "$OUT/$name.log"
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then echo "!!! $name TIMED OUT after ${limit}s"; fi
    if [ "$rc" != 0 ]; then failed=1; fi
    echo "$name rc=$rc $((SECONDS - start))s" >> "$OUT/summary.txt"
    echo "$name rc=$rc $((SECONDS - start))s"
}

# 0. Preflight (20 s): NVRTC first, then the engine. Stops the script loudly on failure.
step preflight 20 "$PYTHON" benchmarks/gpu_preflight.py
if [ "$failed" != 0 ]; then
    echo "!!! PREFLIGHT FAILED: nothing else was run (see $OUT/preflight.log)" | tee -a "$OUT/summary.txt"
    exit 2
fi

# 1. The machine (10 s).
step env 10 bash -c '
    nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,compute_cap,clocks.max.sm --format=csv
    "$0" -c "import sys, numpy, cupy; print(sys.version.split()[0], \"numpy\", numpy.__version__, \"cupy\", cupy.__version__, \"cuda runtime\", cupy.cuda.runtime.runtimeGetVersion())"
    "$0" -m pip freeze 2>/dev/null | grep -i -E "^(cupy|torch|numba|nvidia-cuda-nvrtc|nvidia-cublas)" || true
' "$PYTHON"

# 2. The cupy engine's own tests: NVRTC source checks, the GPU kernel tests, the loop's
#    layering (80 s).
step pytest_cupy 80 "$PYTHON" -m pytest tests/test_cuda_sources.py tests/test_cupy_engine.py \
    tests/test_layering.py -q --maxfail=1000 -rs -p no:cacheprovider --junitxml="$OUT/pytest_cupy.xml"

# 3. The shared conformance suite and the K-class (softmax) suites, on cupy (40 s).
step pytest_conformance 40 "$PYTHON" -m pytest tests/test_conformance.py tests/test_softmax.py tests/test_classes.py -k cupy \
    -q --maxfail=1000 -rs -p no:cacheprovider --junitxml="$OUT/pytest_conformance.xml"

# 4. A short training run on bundled data through the CLI (25 s).
step train 25 "$PYTHON" -m fastnn train --engine cupy --dataset digits --epochs 200

# 5. Timings: dot loop vs cuBLAS vs bandwidth, Python loops, training epochs (90 s; the
#    script stops starting new sections after --budget seconds).
step gpu_bench 90 "$PYTHON" benchmarks/gpu_bench.py --out "$OUT/gpu_bench.json" --budget 72

echo "=== summary"
cat "$OUT/summary.txt"
[ -f "$OUT/gpu_bench.txt" ] && cat "$OUT/gpu_bench.txt"
exit "$failed"
