"""Start-up: how long the first fit takes in a new process, with Numba's cache cold and warm.

    python benchmarks/startup.py            # 5 fresh processes per case, medians
    python benchmarks/startup.py --quick    # 2 per case
    python benchmarks/startup.py --json FILE

Each sample is a new Python process that imports fastnn, fits a small network on the
bundled digits (the demo's [64, 32, 16, 1], ReLU, float32, full batch, 5 epochs) and
then fits it again: "first fit" includes importing Numba (about 0.2 s), Numba's own
set-up on its first call (about 0.3 s with any cached kernel) and compiling or loading
the kernels the fit needs (a few ms each when cached); "steady fit" is the work itself. "cold" runs with an
empty Numba cache directory (every kernel compiles), "warm" with the cache the cold run
left. The cache is a temporary NUMBA_CACHE_DIR, so the checkout's own cache is untouched.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, time
t0 = time.perf_counter()
import numpy as np
import fastnn
t_import = time.perf_counter()
data = fastnn.datasets.load_digits()
X, y = data.X_train.astype(np.float32), data.y_train
def fit():
    net = fastnn.DeepNetwork([64, 32, 16, 1], "relu", learning_rate=0.1, epochs=5, engine="{engine}", seed=0)
    start = time.perf_counter()
    net.fit(X, y)
    return time.perf_counter() - start
first = fit()
steady = min(fit() for _ in range(3))
print(json.dumps(dict(import_fastnn_s=t_import - t0, first_fit_s=first, steady_fit_s=steady)))
"""


def sample(engine, cache_dir):
    """One fresh process: its timings as a dict."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir), "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", CHILD.replace("{engine}", engine)], env=env, cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def measure(engine, processes):
    """{"cold": [...], "warm": [...]}: each cold sample gets an empty cache, each warm one the cold run's."""
    results = {"cold": [], "warm": []}
    for _ in range(processes):
        with tempfile.TemporaryDirectory(prefix="fastnn-numba-cache-") as cache:
            results["cold"].append(sample(engine, cache))
            results["warm"].append(sample(engine, cache))
    return results


def format_results(results):
    keys = ("import_fastnn_s", "first_fit_s", "steady_fit_s")
    lines = ["case  " + "  ".join(f"{k[:-2]:>14}" for k in keys) + "   (medians, seconds)"]
    for case, samples in results.items():
        lines.append(f"{case:<4}  " + "  ".join(f"{statistics.median(s[k] for s in samples):14.3f}" for k in keys))
    lines.append("first_fit includes importing Numba, Numba's first-call set-up, and compiling (cold) or")
    lines.append("loading (warm) the kernels this fit uses; steady_fit is the same fit again in that process.")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="numba")
    parser.add_argument("--processes", type=int, help="fresh processes per case (default 5, --quick 2)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    processes = args.processes or (2 if args.quick else 5)
    results = measure(args.engine, processes)
    print(format_results(results))
    if args.json:
        Path(args.json).write_text(json.dumps(dict(benchmark="startup", engine=args.engine, results=results), indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
