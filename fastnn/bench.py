"""``fastnn bench``: the notes' vectorisation demo, z = w.x + b, on every engine.

The notes time n = 1,000,000 elements: about 450 ms as a Python for-loop and 1.5 ms as one
vectorised call. Here each engine's ``dot_loop`` and ``dot_vectorized`` are timed in
float64 and float32, next to the physical floor of the vectorised form: the time to
stream the same 2 n itemsize bytes from memory.

How the clock is read. Samples are taken round-robin over (engine, form), so slow drift of
a shared machine hits every engine alike; before each engine's sample we pause (after a
call OpenBLAS's threads spin-wait for 2^28 TSC ticks, about 0.1 s, and an OpenMP pool spins
too: either would steal the next engine's cores), then warm up right before the timed call
(a parked thread pool takes milliseconds to wake). ``synchronize()`` runs before both clock readings, so a GPU's queued work is
counted. A sample is the mean of enough back-to-back calls to last about 2 ms (one call
alone, at 10^6, also timed the timer and a thread's wake-up: 1.7-1.8x slower). The very
first call (compilation, pool start-up) is timed and reported apart.
"""

import argparse
import dataclasses
import json
import math
import statistics
import sys
import time

import numpy as np

from .backends import engine_class, get_engine
from .cli import output_path, png_path, report_errors
from .backends.registry import ENGINE_CLASSES
from .machine import cpu_caches, cpu_snapshot, others_cores, usable_cores

NOTES_N = 1_000_000
NOTES_LOOP_S = 0.450  # the notes' Python loop at n = 10^6
NOTES_VEC_S = 0.0015  # the notes' np.dot at n = 10^6
MAX_N = 10**8
DTYPES = ("float64", "float32")
BIAS = 0.5


@dataclasses.dataclass
class DotResult:
    """One engine and dtype at one n; times in seconds, medians over `repeats` samples."""

    engine: str
    device: str
    dtype: str
    n: int
    loop_s: float  # median, scaled to n when loop_n < n
    vec_s: float
    floor_s: float | None  # fastest time to stream 2 n itemsize bytes (a bound, so the minimum)
    loop_n: int  # elements the loop was timed on
    loop_first_s: float  # first call, on loop_n elements (compilation included)
    vec_first_s: float
    floor_first_s: float | None
    loop_samples_s: list  # raw, on loop_n elements
    vec_samples_s: list
    floor_samples_s: list
    floor_method: str  # the fastest of the floor's variants
    floor_variants: dict  # every variant's samples, by description
    z_reference: float  # float64 np.dot on the same values
    z_loop: float  # on the first loop_n elements
    z_loop_reference: float
    z_vec: float
    repeats: int
    others_cores: float | None = None  # cores other processes kept busy during the run, on average

    @property
    def speedup(self):
        return self.loop_s / self.vec_s

    @property
    def floor_multiple(self):
        """Vectorised time over the floor: 1.0 means the call streams at full bandwidth."""
        return None if not self.floor_s else self.vec_s / self.floor_s

    @property
    def bytes_read(self):
        return 2 * self.n * np.dtype(self.dtype).itemsize

    @property
    def notes_loop_s(self):
        """The notes' loop figure, scaled per element to this n."""
        return NOTES_LOOP_S * self.n / NOTES_N

    @property
    def notes_vec_s(self):
        return NOTES_VEC_S * self.n / NOTES_N

    def as_dict(self):
        """Every raw figure plus the derived ones, for JSON."""
        d = dataclasses.asdict(self)
        for key in ("speedup", "floor_multiple", "bytes_read", "notes_loop_s", "notes_vec_s"):
            d[key] = getattr(self, key)
        return d


# -- the floor: a genuine streaming read -----------------------------------------------

prange = range  # numba.prange, and the compiled _stream_sum, once numba compiles the floor
_stream_sum_compiled = None
_stream_read_compiled = None


def _stream_sum(w, x, s):
    """s plus every element of w and x, in one pass (compiled with fastmath).

    fastmath lets LLVM reassociate the sum into several SIMD accumulators: one vector add
    per vector loaded, so the memory system, not the adder, sets the pace. np.sum is no
    floor: its pairwise sum is single-threaded and bound by add latency, not by memory.
    """
    for i in range(w.shape[0]):
        s += w[i] + x[i]
    return s


def _stream_read(w, x, chunks):
    """Stream w and x once in `chunks` contiguous slices, one per thread (numba's pool)."""
    n = w.shape[0]
    step = (n + chunks - 1) // chunks
    partial = np.zeros(chunks, dtype=w.dtype)
    for c in prange(chunks):
        lo = min(n, c * step)
        hi = min(n, lo + step)
        partial[c] = _stream_sum_compiled(w[lo:hi], x[lo:hi], partial[c])
    return partial.sum()


def _cpu_stream_reader():
    """Return the CPU floor's kernels (parallel read, serial sum), compiling them on first use."""
    global _stream_sum_compiled, _stream_read_compiled, prange
    import numba

    if _stream_read_compiled is None:
        prange = numba.prange
        _stream_sum_compiled = numba.njit(fastmath=True, cache=True)(_stream_sum)
        _stream_read_compiled = numba.njit(parallel=True, fastmath=True, cache=True)(_stream_read)
    return _stream_read_compiled, _stream_sum_compiled


def _floor_variants(engine, w, x):
    """[(run, description, scale)]: ways to stream the bytes of w and x once on `engine`'s
    device; the floor is the fastest of them, its time multiplied by `scale`.

    `w` and `x` are host (NumPy) arrays; every operation on the device's arrays is an
    engine method, which runs it on the engine's own device.
    """
    if engine.device_kind == "cpu":
        try:
            read, serial = _cpu_stream_reader()
        except ImportError:
            return []
        # The CPU floor reads the host arrays: the same bytes, in the same memory.
        # All threads win on large n; one thread wins on small n, where waking the pool
        # costs more than the read itself.
        # np.dot reads the same bytes too: with it among the variants the floor can never
        # be slower than the plain vectorised call, so it is a lower bound by construction.
        threads, zero = _numba_threads(), w.dtype.type(0)
        return [(lambda: read(w, x, threads), f"numba {threads}-thread streaming read", 1.0),
                (lambda: serial(w, x, zero), "numba 1-thread streaming read", 1.0),
                (lambda: np.dot(w, x), "np.dot (BLAS)", 1.0)]
    # On a GPU: a device-to-device copy of the same bytes reads them once and writes them
    # once, so reading alone takes half the copy's time (bandwidth = 2 bytes / time).
    src = engine.asarray(np.concatenate([w, x]))
    dst = engine.empty(src.shape, src.dtype)
    return [(lambda: engine.copy(src, out=dst), "device memcpy (read+write) / 2", 0.5)]


def _numba_threads():
    import numba

    return numba.get_num_threads()


# -- measuring -------------------------------------------------------------------------


@dataclasses.dataclass
class _Task:
    """One thing to time repeatedly: a callable, how to warm it up, what it is."""

    key: tuple  # (engine name or "floor:<device>", form)
    engine: object
    run: object
    warm: object
    samples: list = dataclasses.field(default_factory=list)
    first_s: float = 0.0
    burst: int = 1  # timed samples per round
    calls: int = 1  # back-to-back calls per sample (a sample is their mean)
    method: str = ""  # for the floor: how it reads the bytes
    scale: float = 1.0  # for the floor: the share of a sample that is the read


def _timed(engine, fn):
    """Seconds taken by fn(), with the engine's queue drained before and after."""
    engine.synchronize()
    start = time.perf_counter()
    out = fn()
    engine.synchronize()
    return time.perf_counter() - start, out


# A sample lasts at least this long: a single 50 us call read alone carries the timer's
# cost and a thread's wake-up (1.7-1.8x the batched time of np.dot at 10^6 here).
SAMPLE_S = 0.002
MAX_CALLS = 1000


def _calls_per_sample(engine, fn):
    """How many back-to-back calls of fn make a sample of SAMPLE_S (fn already warm)."""
    probe_s, _ = _timed(engine, fn)
    return max(1, min(MAX_CALLS, math.ceil(SAMPLE_S / max(probe_s, 1e-9))))


def _timed_calls(engine, fn, calls):
    """Seconds per call of fn, the mean over `calls` back-to-back calls, the queue drained around them."""
    engine.synchronize()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    engine.synchronize()
    return (time.perf_counter() - start) / calls


def _progress_writer(stream):
    """A function writing one progress line to `stream` (overwriting it on a terminal)."""
    if stream is None:
        return lambda message, end=False: None
    tty = getattr(stream, "isatty", lambda: False)()

    def write(message, end=False):
        if tty:
            stream.write("\r\033[K" + message + ("\n" if end else ""))
        elif message:
            stream.write(message + "\n")
        stream.flush()

    return write


def _check_arguments(ns, dtypes, repeats):
    for n in ns:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_N:
            raise ValueError(f"n: expected whole numbers of elements from 1 to 10^8 (10^4..10^8 is useful), got {n!r}")
    for dtype in dtypes:
        if str(np.dtype(dtype)) not in DTYPES:
            raise ValueError(f"dtypes: expected float64 and/or float32, got {dtype!r}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats: expected a positive integer, got {repeats!r}")


def available_engines():
    """Names of the engines that can run here, and {name: reason} for those that cannot."""
    names, skipped = [], {}
    for name in ENGINE_CLASSES:
        try:
            reason = engine_class(name).unavailable_reason()
        except ImportError as error:
            reason = f"its module cannot be imported ({error})"
        if reason is None:
            names.append(name)
        else:
            skipped[name] = reason
    return names, skipped


def compare_dot(n=NOTES_N, engines=None, dtypes=DTYPES, repeats=7, loop_max=NOTES_N,
                loop_budget=1.0, pause=0.12, seed=0, progress=None):
    """Time z = w.x + b (loop and vectorised) on `engines` (default: all that run here).

    `n`: one size or several. The loop is timed on all n elements when that is expected
    to take at most `loop_budget` seconds a call, else on the first `loop_max` and scaled
    per element. `pause` seconds separate samples of different engines. `progress`: a
    stream (sys.stderr) for progress lines. Returns a list of :class:`DotResult`.
    """
    ns = [n] if np.ndim(n) == 0 else list(n)
    dtypes = [str(np.dtype(d)) if not isinstance(d, str) else d for d in dtypes]
    _check_arguments(ns, dtypes, repeats)
    if engines is None:
        engines = available_engines()[0]
    instances = [get_engine(name) for name in engines]  # raises for unknown or unavailable
    write = _progress_writer(progress)
    start = cpu_snapshot()
    results = []
    for size in ns:
        for dtype in dtypes:
            results += _compare_one(size, np.dtype(dtype), instances, repeats, loop_max,
                                    loop_budget, pause, seed, write)
    others = others_cores(start, cpu_snapshot())
    for r in results:
        r.others_cores = others
    write("", end=False)
    return results


def _compare_one(n, dtype, instances, repeats, loop_max, loop_budget, pause, seed, write):
    """All engines at one n and dtype: first calls, then `repeats` round-robin rounds."""
    rng = np.random.default_rng(seed)
    w = rng.random(n).astype(dtype)  # uniform [0, 1), as np.random.rand in the notes
    x = rng.random(n).astype(dtype)
    reference = float(np.dot(w.astype(np.float64), x.astype(np.float64))) + BIAS
    tasks, floors, rows = [], {}, []
    for engine in instances:
        tag = f"n={n:,} {dtype.name} {engine.name}"
        ew, ex = engine.asarray(w), engine.asarray(x)
        engine.synchronize()
        floor_key = "floor:" + ("cpu" if engine.device_kind == "cpu" else engine.device)
        if floor_key not in floors:
            write(f"{tag}: first call of the floor")
            floors[floor_key] = _floor_tasks(engine, w, x, floor_key)
            tasks += floors[floor_key]
        write(f"{tag}: first call of dot_vectorized")
        vec = _Task((engine.name, "vec"), engine, lambda e=engine, a=ew, c=ex: e.dot_vectorized(a, c, BIAS), None)
        vec.first_s, z_vec = _timed(engine, vec.run)
        vec.warm = vec.run
        vec.calls = _calls_per_sample(engine, vec.run)
        write(f"{tag}: first call of dot_loop on {min(n, loop_max):,} elements")
        loop, loop_n, z_loop = _loop_task(engine, ew, ex, n, loop_max, loop_budget)
        tasks += [loop, vec]
        z_loop_reference = float(np.dot(w[:loop_n].astype(np.float64), x[:loop_n].astype(np.float64))) + BIAS
        rows.append(dict(engine=engine, loop=loop, vec=vec, loop_n=loop_n, floor=floors[floor_key],
                         z_vec=float(engine.to_numpy(z_vec)), z_loop=float(engine.to_numpy(z_loop)),
                         z_loop_reference=z_loop_reference))
    _round_robin(tasks, repeats, pause, write, f"n={n:,} {dtype.name}")
    return [_result(row, n, dtype, reference, repeats) for row in rows]


def _floor_tasks(engine, w, x, key):
    """The floor's tasks on `engine`'s device (none without numba on a CPU), first calls timed.

    `w` and `x` are the host arrays."""
    tasks = []
    for run, method, scale in _floor_variants(engine, w, x):
        # Cheap calls: a burst of samples per round for a reliable minimum.
        task = _Task((key, "floor"), engine, run, run, burst=5, method=method, scale=scale)
        task.first_s, _ = _timed(engine, run)
        task.calls = _calls_per_sample(engine, run)
        tasks.append(task)
    return tasks


def _loop_task(engine, w, x, n, loop_max, loop_budget):
    """The loop task on all n elements when affordable, else on the first loop_max."""
    m = min(n, loop_max)
    run = lambda e=engine, a=w[:m], c=x[:m]: e.dot_loop(a, c, BIAS)
    first_s, z = _timed(engine, run)
    probe_s, z = _timed(engine, run)  # warm, so compilation does not count
    if m < n and probe_s * n / m <= loop_budget:
        m = n
        run = lambda e=engine, a=w, c=x: e.dot_loop(a, c, BIAS)
        probe_s, z = _timed(engine, run)
    task = _Task((engine.name, "loop"), engine, run, None, first_s=first_s,
                 calls=max(1, min(MAX_CALLS, math.ceil(SAMPLE_S / max(probe_s, 1e-9)))))
    # A loop taking over 50 ms gains nothing from a full warm-up call: a short one will do.
    task.warm = _small_warm(engine, w, x) if probe_s > 0.05 else run
    return task, m, z


def _small_warm(engine, w, x):
    """A warm-up for slow loops: the same call on a thousand elements."""
    k = min(1000, w.shape[0])
    return lambda: engine.dot_loop(w[:k], x[:k], BIAS)


def _round_robin(tasks, repeats, pause, write, tag):
    """Take `repeats` samples of each task, one per round, rotating the starting task."""
    previous = None
    for r in range(repeats):
        write(f"{tag}: round {r + 1}/{repeats}")
        for i in range(len(tasks)):
            task = tasks[(i + r) % len(tasks)]
            if previous is not None and task.key[0] != previous and pause:
                time.sleep(pause)
            _warm_up(task)
            for _ in range(task.burst):
                task.samples.append(_timed_calls(task.engine, task.run, task.calls))
            previous = task.key[0]


def _warm_up(task, seconds=0.002, most=50):
    """Call task.warm until `seconds` have passed (at most `most` calls): one short call can
    return before a parked pool or an idle core is fully awake."""
    start = time.perf_counter()
    for _ in range(most):
        task.warm()
        task.engine.synchronize()
        if time.perf_counter() - start >= seconds:
            break


def _result(i, n, dtype, reference, repeats):
    loop, vec, loop_n = i["loop"], i["vec"], i["loop_n"]
    variants = {t.method: [s * t.scale for s in t.samples] for t in i["floor"]}
    floor = min(i["floor"], key=lambda t: min(t.samples) * t.scale, default=None)
    floor_samples = variants[floor.method] if floor else []
    return DotResult(
        engine=i["engine"].name, device=i["engine"].device, dtype=dtype.name, n=n,
        loop_s=statistics.median(loop.samples) * n / loop_n, vec_s=statistics.median(vec.samples),
        floor_s=min(floor_samples) if floor_samples else None, loop_n=loop_n,
        loop_first_s=loop.first_s, vec_first_s=vec.first_s,
        floor_first_s=floor.first_s * floor.scale if floor else None,
        loop_samples_s=loop.samples, vec_samples_s=vec.samples, floor_samples_s=floor_samples,
        floor_method=floor.method if floor else "no floor (needs numba)", floor_variants=variants,
        z_reference=reference, z_loop=i["z_loop"],
        z_loop_reference=i["z_loop_reference"], z_vec=i["z_vec"], repeats=repeats,
    )


# -- reporting -------------------------------------------------------------------------


def format_time(seconds):
    """Seconds in a readable unit: '450 ms', '1.52 ms', '83.1 us', '2.31 s'."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if seconds >= scale or unit == "ns":
            value = seconds / scale
            return f"{value:.3g} {unit}" if value < 100 else f"{value:.0f} {unit}"


def format_ratio(ratio):
    """A ratio to read at a glance: '1,848x', '12x', '1.9x', '0.26x' (never '0x' for a small one)."""
    if ratio is None or not math.isfinite(ratio):
        return "-"
    return f"{ratio:,.0f}x" if ratio >= 10 else f"{ratio:.2g}x"


def format_table(results):
    """The results as a text table, one row per (n, engine, dtype), with footnotes."""
    header = ("n", "engine", "dtype", "loop", "vectorised", "speedup", "floor", "vec/floor",
              "notes loop", "notes vec", "first loop", "first vec")
    rows = [header]
    for r in results:
        star = "*" if r.loop_n < r.n else ""
        multiple = "-" if r.floor_multiple is None else f"{r.floor_multiple:.2f}x"
        rows.append((f"{r.n:,}", r.engine, r.dtype, format_time(r.loop_s) + star, format_time(r.vec_s),
                     format_ratio(r.speedup), format_time(r.floor_s), multiple, format_time(r.notes_loop_s),
                     format_time(r.notes_vec_s), format_time(r.loop_first_s) + star, format_time(r.vec_first_s)))
    widths = [max(len(row[c]) for row in rows) for c in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines + _footnotes(results))


def _footnotes(results):
    notes = [f"z = w.x + b; loop and vectorised: medians of {results[0].repeats} samples; floor: the fastest"
             " read of the same bytes (a bound, so the minimum)" if results else "no results",
             "notes: 450 ms (loop) and 1.5 ms (vectorised) at n = 10^6, scaled per element to n."]
    floors = {}
    for r in results:
        if r.floor_s:
            floors[(r.n, r.dtype, r.floor_method)] = r
    last_level = cpu_caches().get("L3") or cpu_caches().get("L2")
    for (n, dtype, method), r in floors.items():
        where = ""
        if r.device == "cpu" and last_level and r.bytes_read <= last_level:
            where = f"; they fit in the {last_level / 1e6:.1f} MB last-level cache: a cache rate, not DRAM"
        typical = statistics.median(r.floor_samples_s)
        notes.append(f"floor, n={n:,} {dtype}: {method} of {r.bytes_read / 1e6:,.3g} MB in {format_time(r.floor_s)} "
                     f"= {r.bytes_read / r.floor_s / 1e9:.1f} GB/s (median {format_time(typical)}{where})")
    others = results[0].others_cores if results else None
    if others is not None:
        cores = usable_cores()
        warning = ": they compete for the cores, so take these times as upper bounds" if others > 0.2 else ""
        notes.append(f"other processes kept {others:.2f} of {cores} cores busy during the run{warning}")
    for r in results:
        if r.loop_n < r.n:
            notes.append(f"* {r.engine} {r.dtype} n={r.n:,}: loop timed on the first {r.loop_n:,} elements, "
                         f"scaled per element (the first call is for those {r.loop_n:,})")
    return [""] + notes


def plot(results, path):
    """Write a log-scale chart of the loop, vectorised and floor times to `path` (PNG)."""
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise RuntimeError("--plot needs matplotlib: pip install matplotlib (or, in the checkout, pip install -e '.[plot]')") from error
    fig = Figure(figsize=(8, 5), layout="constrained")
    ax = fig.add_subplot()
    if len({r.n for r in results}) > 1:
        _plot_lines(ax, results)
    else:
        _plot_bars(ax, results)
    ax.set_title("z = w.x + b: for-loop, vectorised, and the memory floor")
    fig.savefig(path, dpi=120)


def _plot_lines(ax, results):
    for engine, dtype in dict.fromkeys((r.engine, r.dtype) for r in results):
        rows = sorted((r for r in results if (r.engine, r.dtype) == (engine, dtype)), key=lambda r: r.n)
        ns = [r.n for r in rows]
        line, = ax.plot(ns, [r.loop_s for r in rows], "o-", label=f"{engine} {dtype} loop")
        ax.plot(ns, [r.vec_s for r in rows], "s--", color=line.get_color(), label=f"{engine} {dtype} vectorised")
    for (device, dtype), style in zip(dict.fromkeys((r.device, r.dtype) for r in results), (":", "-.") * 8):
        rows = sorted({r.n: r for r in results if (r.device, r.dtype) == (device, dtype) and r.floor_s}.values(),
                      key=lambda r: r.n)
        if rows:
            ax.plot([r.n for r in rows], [r.floor_s for r in rows], style, color="black",
                    label=f"memory floor {device} {dtype}")
    ax.set(xscale="log", yscale="log", xlabel="n (elements)", ylabel="seconds per call (median)")
    ax.legend(fontsize="x-small", ncol=2, loc="upper left")


def _plot_bars(ax, results):
    labels = [f"{r.engine} {r.dtype}" for r in results]
    ys = np.arange(len(results))
    ax.barh(ys - 0.27, [r.loop_s for r in results], height=0.27, label="loop")
    ax.barh(ys, [r.vec_s for r in results], height=0.27, label="vectorised")
    ax.barh(ys + 0.27, [r.floor_s or np.nan for r in results], height=0.27, label="memory floor")
    ax.set_yticks(ys, labels)
    ax.invert_yaxis()  # first result on top, as in the table
    ax.set(xscale="log", xlabel=f"seconds per call (median), n = {results[0].n:,}")
    ax.legend(fontsize="small")


def write_json(results, path, settings=None):
    """Write every raw figure, the settings and describe_machine() to `path`."""
    from .machine import describe_machine

    data = {"benchmark": "dot", "settings": settings or {}, "machine": describe_machine(),
            "results": [r.as_dict() for r in results]}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)


# -- command line ----------------------------------------------------------------------


def count(text):
    """An element count from the command line: 1000000, 1_000_000, 1e6 or 10**6."""
    try:
        if "**" in text:
            base, power = (int(part) for part in text.split("**"))
            # Judge the size from its logarithm: 10**100000000 would take minutes to build.
            too_big = base < 0 or power < 0 or (base > 1 and power * math.log10(base) > math.log10(MAX_N) + 1)
            value = math.inf if too_big else base ** power
        else:
            value = float(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of elements such as 1e6, got {text!r}") from None
    if not math.isfinite(value) or value != int(value) or not 1 <= value <= MAX_N:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to 10^8, got {text!r}")
    return int(value)


def add_arguments(parser):
    """Add the ``fastnn bench`` options to an argparse parser."""
    parser.add_argument("--n", type=count, nargs="+", default=[NOTES_N], metavar="N",
                        help="vector length(s), e.g. 1e4 1e6 1e8 (default 1e6, as in the notes)")
    parser.add_argument("--engines", nargs="+", metavar="NAME",
                        help=f"engines to time, from {', '.join(ENGINE_CLASSES)} (default: all that run here)")
    parser.add_argument("--dtypes", nargs="+", choices=DTYPES, default=list(DTYPES))
    parser.add_argument("--repeats", type=_positive_int, help="samples per median (default 7, --quick 3)")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter samples: a result in seconds")
    parser.add_argument("--loop-max", type=count, metavar="N",
                        help="time slow loops on at most N elements and scale (default 1e6, --quick 1e5)")
    parser.add_argument("--json", metavar="FILE", type=output_path,
                        help="write every raw figure and the machine description")
    parser.add_argument("--plot", metavar="FILE.png", type=png_path, help="write a log-scale chart (needs matplotlib)")
    return parser


def _positive_int(text):
    """--repeats: a positive whole number."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def run(args):
    """Run ``fastnn bench`` with parsed `args`; print the table; return the exit status (as fastnn's CLI)."""
    return report_errors("bench", _run, args)


def _run(args):
    settings = dict(n=args.n, engines=args.engines, dtypes=args.dtypes,
                    repeats=(3 if args.quick else 7) if args.repeats is None else args.repeats,
                    loop_max=args.loop_max or (10**5 if args.quick else NOTES_N),
                    loop_budget=0.1 if args.quick else 1.0, pause=0.03 if args.quick else 0.12)
    if args.engines is None:
        for name, reason in available_engines()[1].items():
            print(f"fastnn bench: skipping engine {name!r}: {reason}", file=sys.stderr)
    else:  # unknown or unavailable engines are refused before any timing
        for name in args.engines:
            get_engine(name)
    results = compare_dot(**settings, progress=sys.stderr)
    print(format_table(results))
    if args.json:
        write_json(results, args.json, settings)
        print(f"wrote {args.json}")
    if args.plot:
        plot(results, args.plot)
        print(f"wrote {args.plot}")
    return 0


def main(argv=None):
    """``python -m fastnn.bench``: the same as ``fastnn bench``."""
    from .cli import main as cli_main

    return cli_main(["bench", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
