"""GPU timings of the cupy engine, for one short run on a GPU machine (benchmarks/gpu_check.sh).

    python3 benchmarks/gpu_bench.py --out OUTDIR/gpu_bench.json [--budget 90]

Times, with CUDA events after a warm-up, and the first (compiling) call reported apart:

1. dot: the notes' z = w.x + b on 1,000,000 elements (float64 and float32) as a loop run by
   ONE GPU thread (engine.dot_loop) and as cupy.dot (cuBLAS), next to the time it takes just
   to read the two vectors at the bandwidth of a measured device-to-device copy.
2. python_loop: the base class's Python for-loop over device elements (one kernel launch
   per operation), and a variant that reads every element back to the host: cost per element.
3. training: seconds per epoch for [784, 256, 128, 1] batch 128 and [784, 64, 64, 1] batch 32
   on 60,000 random examples: fastnn.DeepNetwork with the cupy engine eager and in graph mode,
   a hand-written step of engine calls (eager, captured with direct cuBLAS, captured with the
   tiled GEMM fallback), and PyTorch CUDA if importable.

Each section runs in its own try block and the JSON is rewritten after each one, so an error
or a timeout loses only what was not measured. A text summary goes next to the JSON (.txt).
"""

import argparse
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TRAINING_CONFIGS = (([784, 256, 128, 1], 128), ([784, 64, 64, 1], 32))
EXAMPLES = 60_000
LEARNING_RATE = 0.01


# -- timing ----------------------------------------------------------------------------------


def gpu_ms(cp, fn, repeat):
    """Milliseconds per call of fn() over `repeat` calls, measured with CUDA events."""
    stream = cp.cuda.get_current_stream()
    start, end = cp.cuda.Event(), cp.cuda.Event()
    start.record(stream)
    for _ in range(repeat):
        fn()
    end.record(stream)
    end.synchronize()
    return cp.cuda.get_elapsed_time(start, end) / repeat


def first_call_ms(cp, fn):
    """Wall-clock milliseconds of one call, waiting for the GPU (compiles count here)."""
    cp.cuda.Device().synchronize()
    t0 = time.perf_counter()
    fn()
    cp.cuda.Device().synchronize()
    return (time.perf_counter() - t0) * 1e3


# -- sections --------------------------------------------------------------------------------


def environment(cp, engine):
    info = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cupy": cp.__version__,
        "cuda_runtime": cp.cuda.runtime.runtimeGetVersion(),
        "cuda_driver": cp.cuda.runtime.driverGetVersion(),
        "nvrtc": list(cp.cuda.nvrtc.getVersion()),
        "device": engine.device,
        "compute_capability": cp.cuda.Device(engine._device).compute_capability,
        "CUPY_TF32": os.environ.get("CUPY_TF32", "0 (unset)"),
        "CUPY_CACHE_DIR": os.environ.get("CUPY_CACHE_DIR", "~/.cupy/kernel_cache (default)"),
    }
    from fastnn.kernels import cuda

    t0 = time.perf_counter()
    cuda.get_kernel("sgd_update", np.float32, engine._device)  # compiles/loads the whole module
    info["kernel_module_first_load_s"] = round(time.perf_counter() - t0, 3)
    return info


def copy_bandwidth(cp, nbytes=256 * 2**20):
    """Device bandwidth in GB/s from a device-to-device copy (each byte read once, written once)."""
    src = cp.ones(nbytes // 4, dtype=np.float32)
    dst = cp.empty_like(src)
    stream = cp.cuda.get_current_stream()

    def copy():
        dst.data.copy_from_device_async(src.data, nbytes, stream)

    copy()
    ms = gpu_ms(cp, copy, 20)
    return 2 * nbytes / (ms * 1e-3) / 1e9


def dot_section(cp, engine, n=1_000_000):
    bandwidth = copy_bandwidth(cp)
    out = {"n": n, "copy_bandwidth_GBps": round(bandwidth, 1), "dtypes": {}}
    rng = np.random.default_rng(0)
    for dtype in (np.float64, np.float32):
        w = engine.asarray(rng.standard_normal(n).astype(dtype))
        x = engine.asarray(rng.standard_normal(n).astype(dtype))
        read_bytes = 2 * n * np.dtype(dtype).itemsize
        row = {
            "read_bytes": read_bytes,
            "read_at_bandwidth_ms": read_bytes / (bandwidth * 1e9) * 1e3,
            "dot_loop_first_call_ms": first_call_ms(cp, lambda: engine.dot_loop(w, x, 0.5)),
            "dot_loop_one_thread_ms": gpu_ms(cp, lambda: engine.dot_loop(w, x, 0.5), 3),
            "cupy_dot_first_call_ms": first_call_ms(cp, lambda: engine.dot_vectorized(w, x, 0.5)),
            "cupy_dot_ms": gpu_ms(cp, lambda: engine.dot_vectorized(w, x, 0.5), 200),
        }
        loop = float(engine.to_numpy(engine.dot_loop(w, x, 0.5)))
        vec = float(engine.to_numpy(engine.dot_vectorized(w, x, 0.5)))
        row["results_agree"] = bool(np.isclose(loop, vec, rtol=1e-3 if dtype == np.float32 else 1e-9))
        row["loop_over_dot"] = row["dot_loop_one_thread_ms"] / row["cupy_dot_ms"]
        row["dot_over_read_time"] = row["cupy_dot_ms"] / row["read_at_bandwidth_ms"]
        out["dtypes"][np.dtype(dtype).name] = {k: _round(v) for k, v in row.items()}
    return out


def python_loop_section(cp, engine, n=1000, n_host=200):
    from fastnn.backends.base import Engine

    rng = np.random.default_rng(1)
    w = engine.asarray(rng.standard_normal(n))
    x = engine.asarray(rng.standard_normal(n))
    Engine.dot_loop(engine, w[:10], x[:10], 0.5)  # warm-up: compiles CuPy's elementwise kernels
    cp.cuda.Device().synchronize()
    t0 = time.perf_counter()
    Engine.dot_loop(engine, w, x, 0.5)  # the base class's Python loop, one launch per operation
    cp.cuda.Device().synchronize()
    launches = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    z = 0.0
    for i in range(n_host):  # every element read back to the host: one synchronisation each
        z += float(w[i]) * float(x[i])
    host_reads = (time.perf_counter() - t0) / n_host
    return {
        "n": n,
        "us_per_element_device_ops": round(launches * 1e6, 2),
        "n_host_reads": n_host,
        "us_per_element_host_reads": round(host_reads * 1e6, 2),
        "extrapolated_s_for_1e6_elements": round(launches * 1e6, 1),
    }


def fastnn_fit_seconds(engine, layers, batch_size, X, y, epochs):
    """Wall seconds of DeepNetwork(...).fit(X, y): the one place that uses the public API."""
    import fastnn

    model = fastnn.DeepNetwork(
        layers=layers, activation="relu", learning_rate=LEARNING_RATE, epochs=epochs,
        batch_size=batch_size, seed=0, engine=engine,
    )
    engine.synchronize()
    t0 = time.perf_counter()
    model.fit(X, y)
    engine.synchronize()
    return time.perf_counter() - t0


def engine_step(engine, X, Y, layers, dtype=np.float32):
    """One fixed-shape training step (fastnn.propagation) into preallocated buffers, without DeepNetwork."""
    import fastnn
    from fastnn.propagation import Workspace, to_engine, training_step

    weights, biases = to_engine(engine, fastnn.initialize_parameters(layers, "he", seed=0, dtype=dtype))
    activations = [None] + ["relu"] * (len(layers) - 2) + ["sigmoid"]
    workspace = Workspace(engine, layers, X.shape[0], dtype, X=X, Y=Y)

    def step():
        training_step(engine, weights, biases, activations, LEARNING_RATE, workspace)

    return step, workspace.cost


def engine_step_ms(cp, engine, layers, batch_size, steps=200):
    """(first call ms, ms per step, mode, reason, cost finite, gemm) of a hand-written step on random data."""
    rng = np.random.default_rng(2)
    X = engine.asarray(rng.standard_normal((batch_size, layers[0]), dtype=np.float32))
    Y = engine.asarray((rng.random((batch_size, 1)) < 0.5).astype(np.float32))
    step, cost = engine_step(engine, X, Y, layers)
    run = engine.capture_step(step)
    first = first_call_ms(cp, run)
    run()
    ms = gpu_ms(cp, run, steps)
    finite = bool(np.isfinite(float(engine.to_numpy(cost))))
    return first, ms, run.mode, run.reason, finite, run.gemm


def torch_epoch_seconds(layers, batch_size, X_np, y_np, epochs=1):
    """Seconds per epoch of the same network in PyTorch on CUDA (eager), or None without it."""
    import torch

    if not torch.cuda.is_available():
        return None, "torch has no CUDA"
    dev = torch.device("cuda")
    torch.manual_seed(0)
    mods = []
    for i, (n_in, n_out) in enumerate(zip(layers[:-1], layers[1:])):
        mods.append(torch.nn.Linear(n_in, n_out))
        if i < len(layers) - 2:
            mods.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*mods).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    X = torch.from_numpy(X_np).to(dev)
    y = torch.from_numpy(y_np.reshape(-1, 1).astype(np.float32)).to(dev)
    m = X.shape[0]

    def epoch():
        perm = torch.randperm(m, device=dev)
        for i in range(0, m, batch_size):
            idx = perm[i : i + batch_size]
            loss = loss_fn(model(X[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    torch.cuda.synchronize()
    t0 = time.perf_counter()
    epoch()
    torch.cuda.synchronize()
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(epochs):
        epoch()
    torch.cuda.synchronize()
    info = f"torch {torch.__version__}, allow_tf32={torch.backends.cuda.matmul.allow_tf32}, first epoch {first:.3f}s"
    return (time.perf_counter() - t0) / epochs, info


def training_section(cp, device, deadline):
    from fastnn.backends.cupy_engine import CupyEngine

    rng = np.random.default_rng(0)
    X = rng.standard_normal((EXAMPLES, 784), dtype=np.float32)
    y = (rng.random(EXAMPLES) < 0.5).astype(np.float32)
    # cupy_graph_tiled: captured steps with the tiled GEMM fallback instead of direct cuBLAS
    # (engine steps only), to see what the direct call gains.
    engines = {"cupy_eager": CupyEngine(device=device, graph=False),
               "cupy_graph": CupyEngine(device=device, graph=True),
               "cupy_graph_tiled": CupyEngine(device=device, graph=True)}
    out = []
    for layers, batch_size in TRAINING_CONFIGS:
        steps_per_epoch = -(-EXAMPLES // batch_size)
        row = {"layers": layers, "batch_size": batch_size, "examples": EXAMPLES}
        for label, engine in engines.items():
            if time.monotonic() > deadline:
                row[label] = "skipped: out of time budget"
                continue
            tiled = label.endswith("_tiled")
            try:  # engine calls only: eager vs captured, independent of DeepNetwork
                if tiled:
                    os.environ["FASTNN_GRAPH_GEMM"] = "tiled"
                first, ms, mode, reason, finite, gemm = engine_step_ms(cp, engine, layers, batch_size)
                row[f"{label}_engine_step"] = {
                    "first_call_ms": _round(first), "ms_per_step": _round(ms), "mode": mode,
                    "reason": reason, "gemm": gemm, "cost_finite": finite,
                    "epoch_s_from_steps": _round(ms * steps_per_epoch / 1e3),
                }
            except Exception as error:
                row[f"{label}_engine_step"] = _error(error)
            finally:
                os.environ.pop("FASTNN_GRAPH_GEMM", None)
            if time.monotonic() > deadline or tiled:
                continue
            try:  # the public API
                engine._graph_status = None
                first = fastnn_fit_seconds(engine, layers, batch_size, X, y, epochs=1)
                two = fastnn_fit_seconds(engine, layers, batch_size, X, y, epochs=2)
                row[f"{label}_fit"] = {
                    "first_fit_1_epoch_s": _round(first), "epoch_s": _round(two / 2),
                    "graph_status": engine._graph_status,
                    "note": "fit() timings include the host-to-device copy of X if fit makes one",
                }
            except Exception as error:
                row[f"{label}_fit"] = _error(error)
        if time.monotonic() > deadline:
            row["torch_cuda_eager"] = "skipped: out of time budget"
        else:
            try:
                seconds, info = torch_epoch_seconds(layers, batch_size, X, y)
                row["torch_cuda_eager"] = {"epoch_s": _round(seconds), "info": info}
            except ImportError as error:
                row["torch_cuda_eager"] = f"skipped: {error}"
            except Exception as error:
                row["torch_cuda_eager"] = _error(error)
        out.append(row)
        cp.get_default_memory_pool().free_all_blocks()
    return out


# -- driver ----------------------------------------------------------------------------------


def _round(v):
    return round(v, 4) if isinstance(v, float) else v


def _error(error):
    return {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc(limit=4)}


def summary_text(results):
    lines = [f"fastnn cupy GPU benchmark  ({results.get('env', {}).get('device', '?')})"]
    dot = results.get("dot", {})
    for name, row in dot.get("dtypes", {}).items() if isinstance(dot, dict) else ():
        lines.append(
            f"dot {dot['n']:,} {name}: one-thread loop {row['dot_loop_one_thread_ms']:.3f} ms, "
            f"cupy.dot {row['cupy_dot_ms']:.4f} ms, reading {row['read_bytes'] / 1e6:.0f} MB at "
            f"{dot['copy_bandwidth_GBps']} GB/s {row['read_at_bandwidth_ms']:.4f} ms "
            f"(first calls: loop {row['dot_loop_first_call_ms']:.1f} ms, dot {row['cupy_dot_first_call_ms']:.1f} ms)"
        )
    loop = results.get("python_loop", {})
    if "us_per_element_device_ops" in loop:
        lines.append(
            f"python loop over device elements: {loop['us_per_element_device_ops']} us/element "
            f"(launches), {loop['us_per_element_host_reads']} us/element (host reads)"
        )
    for row in results.get("training", []) if isinstance(results.get("training"), list) else ():
        lines.append(f"training {row['layers']} batch {row['batch_size']}, {row['examples']:,} examples:")
        for key, value in row.items():
            if isinstance(value, (dict, str)) and key not in ("layers",):
                lines.append(f"  {key}: {json.dumps(value) if isinstance(value, dict) else value}")
    for key in ("errors",):
        for err in results.get(key, []):
            lines.append(f"ERROR {err}")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="path of the JSON file to write")
    parser.add_argument("--budget", type=float, default=90.0, help="seconds; later sections are skipped after it")
    parser.add_argument("--device", type=int, default=None)
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.budget
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    results = {"errors": []}

    def save():
        out.write_text(json.dumps(results, indent=2, default=str))
        out.with_suffix(".txt").write_text(summary_text(results))

    from fastnn.backends.cupy_engine import CupyEngine

    reason = CupyEngine.unavailable_reason()
    if reason is not None:
        results["errors"].append(f"cupy engine unavailable: {reason}")
        save()
        print(summary_text(results))
        return 1
    import cupy as cp

    engine = CupyEngine(device=args.device)
    sections = [
        ("env", lambda: environment(cp, engine)),
        ("dot", lambda: dot_section(cp, engine)),
        ("python_loop", lambda: python_loop_section(cp, engine)),
        ("training", lambda: training_section(cp, engine._device, deadline)),
    ]
    with cp.cuda.Device(engine._device):
        for name, run in sections:
            if time.monotonic() > deadline:
                results[name] = "skipped: out of time budget"
                continue
            t0 = time.perf_counter()
            try:
                results[name] = run()
            except Exception as error:
                results[name] = _error(error)
                results["errors"].append(f"{name}: {type(error).__name__}: {error}")
            print(f"[gpu_bench] {name} done in {time.perf_counter() - t0:.1f}s", flush=True)
            save()
    print(summary_text(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
