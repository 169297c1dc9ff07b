"""Peak memory of fit beside the caller's X: a float64 X trained in float32 is never copied whole.

    python benchmarks/memory.py            # X of 200,000 x 784 float64 (1.25 GB)
    python benchmarks/memory.py --quick    # 20,000 x 784 (125 MB)
    python benchmarks/memory.py --json FILE

Each case runs in a fresh process: it makes X (float64), then fits [784, 64, 1] in float32
for one epoch, and reports the process's high-water mark (ru_maxrss) before and after the
fit, and tracemalloc's peak of the NumPy allocations made during it. The extra peak is
compared with X's size and with a float32 copy of X (half of it), which is what fit used
to allocate. Mini-batches are cast as their rows are gathered, so their extra peak is a
few batches and the weights; a full batch is X itself, cast (half of X), freed on return.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import gc, json, resource, sys, tracemalloc
import numpy as np
import fastnn
m, engine, batch = int(sys.argv[1]), sys.argv[2], sys.argv[3]
batch = None if batch == "full" else int(batch)
rng = np.random.default_rng(0)
X = rng.random((m, 784))  # float64
y = (X[:, 0] > 0.5).astype(np.int64)
net = fastnn.DeepNetwork([784, 64, 1], "relu", learning_rate=0.1, epochs=1, batch_size=batch, dtype="float32", engine=engine)
net.fit(X[:256], y[:256])  # compile or load the kernels first
gc.collect()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
tracemalloc.start()
net.fit(X, y)
_, traced_peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps(dict(m=m, engine=engine, batch=batch, X_bytes=X.nbytes, maxrss_before=before,
                      maxrss_after=after, traced_peak=traced_peak)))
"""


def run_case(m, engine, batch):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", CHILD, str(m), engine, str(batch)], env=env, cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def format_results(rows):
    lines = ["engine  batch  X (float64)  extra high-water (rss)  traced peak  / float32 copy of X"]
    for r in rows:
        copy = r["X_bytes"] / 2
        extra = r["maxrss_after"] - r["maxrss_before"]
        lines.append(f"{r['engine']:<6}  {str(r['batch'] or 'full'):<5}  {r['X_bytes'] / 1e6:8.0f} MB  "
                     f"{extra / 1e6:18.1f} MB  {r['traced_peak'] / 1e6:8.1f} MB  {r['traced_peak'] / copy:8.3f}")
    lines.append("a full batch is X cast to float32 (ratio about 1); mini-batches should stay near 0.")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--engines", nargs="+", default=["numpy", "numba"])
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    m = 20_000 if args.quick else 200_000
    rows = [run_case(m, engine, batch) for engine in args.engines for batch in (128, "full")]
    print(format_results(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(dict(benchmark="memory", results=rows), indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
