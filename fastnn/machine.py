"""What a benchmark ran on: CPU, threads, BLAS, library versions and, when asked, the GPU.

Nothing here imports a library only to describe it: versions come from the installed
package metadata, and runtime settings (numba's threading layer, torch's threads) are read
only from modules already in ``sys.modules``. CuPy is imported only when ``gpu=True``.
"""

import glob
import importlib.metadata
import os
import platform
import sys
import time

PACKAGES = ("numpy", "numba", "threadpoolctl", "cupy", "torch", "scikit-learn", "matplotlib")
# CuPy installs under one of several distribution names (install only one of them).
CUPY_DISTRIBUTIONS = ("cupy-cuda12x", "cupy-cuda13x", "cupy-cuda11x", "cupy")
ENV_VARIABLES = (
    "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_CORETYPE",
    "OPENBLAS_VERBOSE", "NUMBA_NUM_THREADS", "NUMBA_THREADING_LAYER", "NUMBA_CACHE_DIR",
    "CUPY_TF32", "CUDA_VISIBLE_DEVICES", "FASTNN_ENGINE",
)


def usable_cores():
    """Cores this process may run on (its CPU affinity), else all logical cores."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def describe_machine(gpu=None):
    """Return a JSON-serialisable dict describing this machine and its numerical libraries.

    `gpu`: True queries the cupy engine (importing CuPy), False never does, None (default)
    does only when CuPy is already imported.
    """
    if gpu is None:
        gpu = "cupy" in sys.modules
    return {
        "cpu": cpu_model(),
        "logical_cores": os.cpu_count(),
        "caches": cpu_caches(),
        "usable_cores": usable_cores(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,  # others' work skews timings
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "versions": package_versions(),
        "blas": blas_info(),
        "openmp": blas_info("openmp"),
        "numba": numba_info(),
        "torch": torch_info(),
        "environment": {k: os.environ[k] for k in ENV_VARIABLES if k in os.environ},
        "gpu": gpu_info() if gpu else None,
    }


def cpu_model():
    """The CPU's model name, from /proc/cpuinfo on Linux, else what `platform` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def cpu_caches():
    """CPU cache sizes in bytes by level, {"L1d": ..., "L2": ..., "L3": ...}, from Linux sysfs."""
    caches = {}
    for index in sorted(glob.glob("/sys/devices/system/cpu/cpu0/cache/index*")):
        try:
            level, kind, size = (_read_text(os.path.join(index, f)) for f in ("level", "type", "size"))
            scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(size[-1:], 1)
            size = int(size.rstrip("KMG")) * scale
        except (OSError, ValueError):
            continue
        if kind != "Instruction":
            caches[f"L{level}" + ("d" if kind == "Data" else "")] = size
    return caches


def _read_text(path):
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


def package_versions():
    """Installed versions of the packages fastnn uses or is compared with (None if absent)."""
    versions = {name: _version(name) for name in PACKAGES if name != "cupy"}
    versions["cupy"] = next(filter(None, map(_version, CUPY_DISTRIBUTIONS)), None)
    return versions


def _version(distribution):
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def blas_info(user_api="blas"):
    """The BLAS (or OpenMP) libraries loaded in this process and their threads, via threadpoolctl."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keys = ("internal_api", "prefix", "version", "num_threads", "threading_layer", "architecture", "filepath")
    pools = [{k: pool.get(k) for k in keys} for pool in threadpool_info() if pool.get("user_api") == user_api]
    for pool in pools:
        pool["loaded_by"] = _owner(pool["filepath"])
    return pools


def _owner(path):
    """Who shipped a shared library: 'numpy' for .../site-packages/numpy.libs/x.so, else its folder."""
    parts = os.path.normpath(path or "").split(os.sep)
    for i, part in enumerate(parts[:-1]):
        if part in ("site-packages", "dist-packages"):
            return parts[i + 1].split(".")[0]
    return os.path.dirname(path) if path else None  # a system library


def numba_info():
    """Numba's thread count and threading layer, or None when numba is not imported yet."""
    numba = sys.modules.get("numba")
    if numba is None:
        return None
    info = {"num_threads": numba.config.NUMBA_NUM_THREADS, "threads_in_use": numba.get_num_threads()}
    try:
        info["threading_layer"] = numba.threading_layer()
    except ValueError:  # no parallel function has run yet, so no layer was chosen
        info["threading_layer"] = f"not chosen yet (configured: {numba.config.THREADING_LAYER})"
    return info


def torch_info():
    """PyTorch's intra- and inter-op thread counts, or None when torch is not imported."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    return {"num_threads": torch.get_num_threads(), "num_interop_threads": torch.get_num_interop_threads()}


def gpu_info():
    """The GPU as the cupy engine sees it ({"available": False, "reason": ...} without one)."""
    from .backends import engine_class, get_engine

    try:
        reason = engine_class("cupy").unavailable_reason()
    except ImportError as error:  # the engine module itself cannot be imported
        reason = f"the cupy engine cannot be imported: {error}"
    if reason is not None:
        return {"available": False, "reason": reason}
    engine = get_engine("cupy")
    return {"available": True, "device": engine.device, "memory": engine.memory_info()}


def cpu_snapshot():
    """(wall seconds, CPU-seconds the whole machine was busy, CPU-seconds of this process), or None.

    Two snapshots give :func:`others_cores`: how much of the machine other processes used.
    """
    try:
        with open("/proc/stat", encoding="ascii") as f:
            ticks = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    busy = sum(ticks) - ticks[3] - ticks[4]  # everything but idle and iowait (steal counts as busy)
    return time.perf_counter(), busy / os.sysconf("SC_CLK_TCK"), sum(os.times()[:4])


def others_cores(start, end):
    """Average number of cores kept busy by other processes (or the hypervisor) between two snapshots."""
    if start is None or end is None or end[0] <= start[0]:
        return None
    return max(0.0, ((end[1] - start[1]) - (end[2] - start[2])) / (end[0] - start[0]))


def format_machine(d):
    """Return `d` (from :func:`describe_machine`) as a list of a few short lines of text."""
    versions = ", ".join(f"{k} {v}" for k, v in d["versions"].items() if v)
    caches = ", ".join(f"{k} {v // 1024} KiB" for k, v in d["caches"].items())
    lines = [
        f"cpu:      {d['cpu']} ({d['logical_cores']} logical cores, {d['usable_cores']} usable" + (f"; {caches})" if caches else ")"),
        f"system:   {d['platform']}, python {d['python']}" + _load_text(d["load_average"]),
        f"versions: {versions}",
    ]
    for pool in d["blas"]:
        lines.append(f"blas:     {pool['internal_api']} {pool['version']}, {pool['num_threads']} threads"
                     f" ({pool['threading_layer']}, {pool['architecture']}; from {pool['loaded_by']})")
    if d["openmp"]:
        lines.append("openmp:   " + ", ".join(f"{p['prefix']} {p['num_threads']} threads (from {p['loaded_by']})"
                                              for p in d["openmp"]))
    if d["numba"]:
        n = d["numba"]
        lines.append(f"numba:    {n['threads_in_use']} of {n['num_threads']} threads, layer {n['threading_layer']}")
    if d["torch"]:
        lines.append(f"torch:    {d['torch']['num_threads']} threads ({d['torch']['num_interop_threads']} inter-op)")
    if d["environment"]:
        lines.append("env:      " + " ".join(f"{k}={v}" for k, v in d["environment"].items()))
    if d["gpu"] is not None:
        g = d["gpu"]
        lines.append(f"gpu:      {g['device']} {_memory_text(g['memory'])}" if g["available"] else f"gpu:      none ({g['reason']})")
    return lines


def _load_text(load):
    return "" if not load else f", load {load[0]:.2f} (1 min)"


def _memory_text(memory):
    total = memory.get("total_bytes") or memory.get("total")
    return f"({total / 2**30:.1f} GiB)" if isinstance(total, (int, float)) else ""
