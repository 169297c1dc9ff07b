"""The numba engine's tanh: its call-free kernel beside NumPy's SIMD np.tanh and a libm loop.

    python benchmarks/tanh_kernel.py [--quick] [--repeats N] [--json FILE]

For each layer shape (m, n) and dtype, one forward tanh layer's non-matmul work, A = tanh(Z + b^T):
  kernel  numba_kernels.bias_activation: bias and fastnn.kernels.numba_math.tanh in one call
  numpy   np.add then np.tanh, the two NumPy passes the engine could use instead
  libm    the same kernel written with math.tanh (what the engine did before numba_math)
The ratios say where the kernel should run (numba_engine.py's thresholds). Then the
course's planar step, [2, 4, 1] tanh on 400 rows: one tail_step call (forward, cost,
backward and update), per dtype.

Timing: round-robin over the contestants; each sample is a warm-up call, then a timed batch
of calls (about a millisecond of work); medians are reported, the first (compiling) call apart.
"""

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from numba import njit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from fastnn.bench import format_ratio, format_time  # noqa: E402
from fastnn.kernels import numba_kernels, numba_step  # noqa: E402
from fastnn.machine import describe_machine, format_machine  # noqa: E402

SHAPES = ((64, 4), (256, 4), (400, 4), (128, 32), (128, 128), (128, 512), (1024, 256), (2048, 512))
QUICK_SHAPES = ((400, 4), (128, 128))
DTYPES = (np.float64, np.float32)


@njit(cache=True)
def libm_bias_tanh(Z, b, A):
    """Z += b^T and A = tanh(Z) with libm's scalar tanh: the kernel as it was."""
    m, n = Z.shape
    for i in range(m):
        for j in range(n):
            z = Z[i, j] + b[j]
            Z[i, j] = z
            A[i, j] = math.tanh(z)


def layer_contestants(shape, dtype):
    """{name: a call doing A = tanh(Z + b^T)} on fresh arrays of `shape` and `dtype` (b = 0: Z keeps its values)."""
    rng = np.random.default_rng(0)
    Z = rng.uniform(-3, 3, shape).astype(dtype)
    b, A = np.zeros(shape[1], dtype), np.empty(shape, dtype)
    b_column = b.reshape(1, -1)

    def numpy_passes():
        np.add(Z, b_column, out=Z)
        np.tanh(Z, out=A)

    return {"kernel": lambda: numba_kernels.bias_activation(Z, b, numba_kernels.TANH, 0.01, A),
            "numpy": numpy_passes, "libm": lambda: libm_bias_tanh(Z, b, A)}


def planar_step(dtype, m=400):
    """A call of one planar training step: [2, 4, 1], tanh then sigmoid, m rows, the whole step in tail_step."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(m, 2)).astype(dtype)
    Y = (rng.random((m, 1)) < 0.5).astype(dtype)
    Ws = ((rng.normal(size=(4, 2)) * 0.01).astype(dtype), (rng.normal(size=(1, 4)) * 0.01).astype(dtype))
    bs = (np.zeros((4, 1), dtype), np.zeros((1, 1), dtype))
    As = (np.empty((4, m), dtype), np.empty((1, m), dtype))  # the tail's layout: (units, m)
    dZs = (np.empty((4, m), dtype), np.empty((1, m), dtype))
    none = np.zeros((0, 1), dtype)
    args = (X, np.empty((2, m), dtype), True, Y, Ws, bs, As, dZs,
            np.array([numba_kernels.TANH, numba_kernels.SIGMOID], np.int64), 1.2 / m, 0.01,
            none, none, np.zeros((1, 1), dtype), 0, np.zeros(1, dtype))
    return lambda: numba_step.tail_step(*args)


def time_round_robin(calls, repeats):
    """{name: (first call s, median s per call)}: round-robin samples of a warm-up call then a timed batch."""
    first = {}
    for name, call in calls.items():
        start = time.perf_counter()
        call()
        first[name] = time.perf_counter() - start
    batch = {}
    for name, call in calls.items():  # enough calls for about 1 ms a sample
        start = time.perf_counter()
        call()
        batch[name] = max(1, int(1e-3 / max(time.perf_counter() - start, 1e-7)))
    samples = {name: [] for name in calls}
    for r in range(repeats):
        names = list(calls)
        for name in names[r % len(names):] + names[:r % len(names)]:
            call = calls[name]
            call()  # warm-up right before the timed sample
            start = time.perf_counter()
            for _ in range(batch[name]):
                call()
            samples[name].append((time.perf_counter() - start) / batch[name])
    return {name: (first[name], statistics.median(samples[name])) for name in calls}


def measure(shapes, repeats):
    """Rows of per-call medians: one per (shape, dtype) for the layer, then the planar step per dtype."""
    rows = []
    for dtype in DTYPES:
        for shape in shapes:
            times = time_round_robin(layer_contestants(shape, dtype), repeats)
            rows.append(dict(what="tanh layer", shape=list(shape), dtype=np.dtype(dtype).name,
                             **{f"{name}_s": t for name, (_, t) in times.items()},
                             **{f"{name}_first_s": f for name, (f, _) in times.items()}))
        (first, step), = time_round_robin({"step": planar_step(dtype)}, repeats).values()
        rows.append(dict(what="planar step", shape=[400, 4], dtype=np.dtype(dtype).name, step_s=step, step_first_s=first))
    return rows


def format_results(rows):
    """Two tables: the layer's contestants with ratios to the kernel, then the planar step."""
    table = [("shape", "dtype", "kernel", "numpy", "libm", "numpy / kernel", "libm / kernel")]
    for row in (r for r in rows if r["what"] == "tanh layer"):
        k = row["kernel_s"]
        table.append((f"{row['shape'][0]}x{row['shape'][1]}", row["dtype"], format_time(k), format_time(row["numpy_s"]),
                      format_time(row["libm_s"]), format_ratio(row["numpy_s"] / k), format_ratio(row["libm_s"] / k)))
    widths = [max(len(t[c]) for t in table) for c in range(len(table[0]))]
    lines = ["A = tanh(Z + b^T), per call (medians); ratios above 1: the kernel is faster"]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(t, widths)).rstrip() for t in table]
    lines.append("")
    for row in (r for r in rows if r["what"] == "planar step"):
        lines.append(f"planar step [2, 4, 1] tanh, 400 rows, {row['dtype']}: {format_time(row['step_s'])} per tail_step "
                     f"(first call {format_time(row['step_first_s'])})")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two shapes, 3 samples: a check that it runs")
    parser.add_argument("--repeats", type=int, help="timed samples per contestant (default 15, --quick 3)")
    parser.add_argument("--json", metavar="FILE", help="write every median and the machine")
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 15)
    if repeats < 1:
        parser.error(f"--repeats: expected a positive integer, got {repeats}")
    rows = measure(QUICK_SHAPES if args.quick else SHAPES, repeats)
    print(format_results(rows))
    print("\n".join(format_machine(describe_machine())))
    if args.json:
        data = dict(benchmark="numba tanh kernel", repeats=repeats, quick=args.quick, machine=describe_machine(),
                    results=rows)
        Path(args.json).write_text(json.dumps(data, indent=2), encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
