#!/usr/bin/env bash
# The one prepared GPU check of fastnn's cupy engine.
#
#   bash benchmarks/gpu_check.sh OUTDIR
#
# Run from the repository checkout on a GPU machine with Python 3.12, numpy, cupy-cuda13x,
# numba, pytest and pytest-benchmark installed (no pip, no network). Every step runs under
# `timeout`, and the limits add up to under 5 minutes, kill grace included. Each step's
# output goes to OUTDIR/<step>.txt (its tail is echoed), and OUTDIR/summary.txt gets one
# line per step with its exit status and duration; a failing step does not stop the others.
set -u

OUT=${1:?usage: bash benchmarks/gpu_check.sh OUTDIR}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
: > "$OUT/summary.txt"

# step NAME LIMIT_SECONDS COMMAND...: run COMMAND with a time limit, log it, never abort the script.
step() {
    local name=$1 limit=$2
    shift 2
    echo "=== $name (limit ${limit}s): $*"
    local start=$SECONDS
    timeout -k 5 "$limit" "$@" > "$OUT/$name.txt" 2>&1
    local rc=$?
    tail -n 30 "$OUT/$name.txt"
    [ "$rc" = 124 ] || [ "$rc" = 137 ] && echo "!!! $name TIMED OUT after ${limit}s"
    echo "$name rc=$rc $((SECONDS - start))s" | tee -a "$OUT/summary.txt"
}

# 1. The machine (10 s).
step env 10 bash -c '
    nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,compute_cap,clocks.max.sm --format=csv
    python3 -c "import sys, numpy, cupy; print(sys.version.split()[0], \"numpy\", numpy.__version__, \"cupy\", cupy.__version__, \"cuda runtime\", cupy.cuda.runtime.runtimeGetVersion())"
    pip freeze 2>/dev/null | grep -i -E "^(cupy|torch|numba|nvidia-cuda-nvrtc)" || true
    python3 -c "from fastnn.backends.cupy_engine import CupyEngine as E; print(\"cupy engine:\", E.unavailable_reason() or \"available\")"
'

# 2. The cupy engine's own tests: NVRTC source checks and the GPU kernel tests (70 s).
step pytest_cupy 70 python3 -m pytest tests/test_cuda_sources.py tests/test_cupy_engine.py \
    -q -x -rs -p no:cacheprovider --junitxml="$OUT/pytest_cupy.xml"

# 3. The shared conformance suite, cupy against numpy (45 s).
if [ -f tests/test_conformance.py ]; then
    step pytest_conformance 45 python3 -m pytest tests/test_conformance.py -k cupy \
        -q -x -rs -p no:cacheprovider --junitxml="$OUT/pytest_conformance.xml"
else
    echo "pytest_conformance skipped: tests/test_conformance.py not found" | tee -a "$OUT/summary.txt"
fi

# 4. A short training run on bundled data through the CLI (30 s).
# >>> THE TRAINING COMMAND: adjust this one line if the CLI's flags differ. <<<
step train 30 python3 -m fastnn train --engine cupy --dataset digits --epochs 200

# 5. Timings: dot loop vs cuBLAS vs bandwidth, Python loops, training epochs (105 s; the
#    script stops starting new sections after --budget seconds).
step gpu_bench 105 python3 benchmarks/gpu_bench.py --out "$OUT/gpu_bench.json" --budget 85

echo "=== summary"
cat "$OUT/summary.txt"
[ -f "$OUT/gpu_bench.txt" ] && cat "$OUT/gpu_bench.txt"
exit 0
