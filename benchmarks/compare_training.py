"""Training time, fastnn's engines beside PyTorch, scikit-learn and the GEMM-only floor, in one run.

    python benchmarks/compare_training.py            # full: the figures in the README
    python benchmarks/compare_training.py --quick    # a smoke run in about a minute
    python benchmarks/compare_training.py [--networks a b c] [--repeats N] [--json FILE]

Networks (synthetic, seeded data of these shapes; ReLU hidden layers, sigmoid output,
plain SGD with learning rate 0.01, binary cross-entropy, float32):
  (a) [784, 256, 128, 1], mini-batches of 128, 60,000 examples
  (b) [784, 64, 64, 1], mini-batches of 32, 60,000 examples
  (c) [12288, 20, 7, 5, 1], one full batch of 209 examples

Contestants: fastnn's engines through the public API; PyTorch three ways on the CPU: the
nn.Module + optim.SGD form ("torch module"), its fastest idiomatic eager form ("torch
manual": raw tensors, torch.autograd.grad, one in-place foreach update under no_grad) and
that form's forward compiled with torch.compile ("torch compile", where it compiles here);
scikit-learn's MLPClassifier; and "gemm floor": the step's matrix products alone, the same
shapes through NumPy's OpenBLAS into preallocated buffers, which no contestant calling
this BLAS can beat. Ratios are against the fastest PyTorch form and against the floor.

How an epoch is timed. Each round, every contestant in turn (round-robin, with a pause so
one library's spinning threads have parked) runs two epochs: the first is the warm-up,
the second is the timed sample. For fastnn that is ``fit(epochs=2)`` with a callback after
each epoch (the callback follows the epoch's cost being read back, so GPU work is
finished): the timed epoch excludes fit's setup (input checks, initialisation, copying X
to the engine), which is reported apart as "setup". The very first epoch of each
contestant (compilation, thread-pool start) is reported apart as "first".

How a whole fit is timed: in the same round, right after the epochs, one complete
training run of WHOLE_EPOCHS[network] epochs from the raw NumPy arrays: for fastnn
``DeepNetwork(...).fit(X, y)``; for PyTorch building the model and optimiser, wrapping
the arrays, and the epochs; for the floor, its epochs. Setup and epochs together, as a
user waits for them.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import fastnn  # noqa: E402
from fastnn.backends.registry import ENGINE_CLASSES  # noqa: E402
from fastnn.bench import available_engines, format_time  # noqa: E402
from fastnn.machine import (  # noqa: E402
    cpu_snapshot,
    describe_machine,
    format_machine,
    others_cores,
    usable_cores,
)

NETWORKS = {
    "a": dict(layers=[784, 256, 128, 1], batch_size=128, m=60_000),
    "b": dict(layers=[784, 64, 64, 1], batch_size=32, m=60_000),
    "c": dict(layers=[12288, 20, 7, 5, 1], batch_size=None, m=209),
}
# Epochs of a whole-fit sample: (c) is a short fit, where fixed per-fit costs show.
WHOLE_EPOCHS = {"a": 1, "b": 1, "c": 3}
LEARNING_RATE = 0.01
TORCH_FORMS = ("torch", "torch_manual", "torch_compile")
PEERS = (*TORCH_FORMS, "sklearn")
FLOOR = "gemm_floor"


def make_data(layers, m, seed=0):
    """Synthetic data of the network's shape: X (m, n_x) uniform in [0, 1) float32, y of 0/1."""
    rng = np.random.default_rng(seed)
    X = rng.random((m, layers[0]), dtype=np.float32)
    y = rng.integers(0, 2, size=m).astype(np.float32)
    return X, y


# -- contestants: each runs epochs and returns their durations in seconds --------------


class FastnnRunner:
    """A fastnn DeepNetwork on one engine; see the module docstring for what is timed."""

    def __init__(self, engine, layers, batch_size, X, y):
        self.name, self.X, self.y = f"fastnn {engine}", X, y
        self.network = fastnn.DeepNetwork(layers, "relu", learning_rate=LEARNING_RATE, epochs=2,
                                          batch_size=batch_size, seed=0, engine=engine)
        self.engine = fastnn.get_engine(engine)

    def fit_once(self):
        """Train one epoch with the public API: ``DeepNetwork(..., epochs=1).fit(X, y)``."""
        self.network.epochs = 1
        self.network.fit(self.X, self.y)
        self.network.epochs = 2

    def fit_whole(self, epochs):
        """Seconds for ``fit`` of `epochs` epochs through the public API (setup included)."""
        self.network.epochs = epochs
        try:
            return _seconds(lambda: self.network.fit(self.X, self.y))
        finally:
            self.network.epochs = 2

    def epochs(self):
        """fit(epochs=2): returns (setup + first epoch, second epoch, setup estimate)."""
        stamps = []
        start = time.perf_counter()
        self.network.fit(self.X, self.y, report_every=1, callback=lambda epoch, cost: stamps.append(time.perf_counter()))
        first, second = stamps[0] - start, stamps[1] - stamps[0]
        return first, second, max(0.0, first - second)


class _EpochRunner:
    """A peer contestant whose epoch() needs no set-up call: one epoch is a fit, and the first
    epoch (compilation, lazy set-up) is timed apart from a second."""

    def fit_once(self):
        self.epoch()

    def epochs(self):
        first = _seconds(self.epoch)
        return first, _seconds(self.epoch), 0.0


class TorchRunner(_EpochRunner):
    """The same network in PyTorch on the CPU, float32, BCEWithLogits; `form` is one of TORCH_FORMS.

    "torch": nn.Sequential + optim.SGD, as tutorials write it. "torch_manual": raw weight
    tensors, torch.autograd.grad, and one torch._foreach_add_ update under no_grad (no
    .grad buffers, no optimiser bookkeeping). "torch_compile": that, with the forward and
    loss compiled by torch.compile (its backward is compiled with it).
    """

    def __init__(self, layers, batch_size, X, y, form="torch"):
        import torch

        torch.set_num_threads(usable_cores())
        self.torch, self.form, self.layers = torch, form, layers
        self.name = {"torch": "torch module", "torch_manual": "torch manual", "torch_compile": "torch compile"}[form]
        self.X_np, self.y_np = X, y
        self.batch_size = batch_size or X.shape[0]
        self.build()

    def build(self):
        """Model, optimiser and tensors from the raw arrays: what a whole fit starts with."""
        torch = self.torch
        torch.manual_seed(0)
        linears = [torch.nn.Linear(n_in, n_out) for n_in, n_out in zip(self.layers[:-1], self.layers[1:])]
        self.X, self.y = torch.from_numpy(self.X_np), torch.from_numpy(self.y_np).reshape(-1, 1)
        self.generator = torch.Generator().manual_seed(0)
        if self.form == "torch":
            modules = []
            for linear in linears:
                modules += [linear, torch.nn.ReLU()]
            self.model = torch.nn.Sequential(*modules[:-1])  # the sigmoid lives in the loss
            self.loss = torch.nn.BCEWithLogitsLoss()
            self.optimizer = torch.optim.SGD(self.model.parameters(), lr=LEARNING_RATE)
            self.step = self._module_step
            return
        self.params = [p.detach().clone().requires_grad_() for linear in linears for p in (linear.weight, linear.bias)]
        forward = self._manual_loss
        if self.form == "torch_compile":
            forward = torch.compile(forward, dynamic=False)
        self.forward, self.step = forward, self._manual_step

    def _module_step(self, xb, yb):
        self.optimizer.zero_grad(set_to_none=True)
        self.loss(self.model(xb), yb).backward()
        self.optimizer.step()

    def _manual_loss(self, params, xb, yb):
        torch = self.torch
        h = xb
        for i in range(0, len(params), 2):
            h = torch.addmm(params[i + 1], h, params[i].t())
            if i + 2 < len(params):
                h = torch.relu(h)
        return torch.nn.functional.binary_cross_entropy_with_logits(h, yb)

    def _manual_step(self, xb, yb):
        torch = self.torch
        grads = torch.autograd.grad(self.forward(self.params, xb, yb), self.params)
        with torch.no_grad():
            torch._foreach_add_(self.params, grads, alpha=-LEARNING_RATE)

    def epoch(self):
        """One pass over shuffled mini-batches (none when the batch is the whole set)."""
        torch, m = self.torch, self.X.shape[0]
        order = torch.randperm(m, generator=self.generator) if self.batch_size < m else None
        for start in range(0, m, self.batch_size):
            rows = None if order is None else order[start:start + self.batch_size]
            xb, yb = (self.X, self.y) if rows is None else (self.X[rows], self.y[rows])
            self.step(xb, yb)

    def fit_whole(self, epochs):
        """Seconds to build the model from the arrays and train `epochs` epochs."""
        def run():
            self.build()
            for _ in range(epochs):
                self.epoch()
        return _seconds(run)


class GemmFloorRunner(_EpochRunner):
    """The step's matrix products alone, through NumPy's OpenBLAS into preallocated buffers.

    Per batch and layer l: Z = A_prev W^T (forward), dW = dZ^T A_prev, and dA_prev = dZ W
    for l > 1, exactly the products fastnn's CPU engines make, with nothing else.
    """

    def __init__(self, layers, batch_size, X, y):
        self.name, self.layers, self.m = "gemm floor", layers, X.shape[0]
        self.batch_size = batch_size or self.m
        sizes = sorted({min(self.batch_size, self.m - start) for start in range(0, self.m, self.batch_size)})
        rng = np.random.default_rng(0)
        self.W = [None] + [rng.standard_normal((n, k), dtype=np.float32) for k, n in zip(layers[:-1], layers[1:])]
        self.buffers = {b: self._buffers(X[:b], b) for b in sizes}

    def _buffers(self, X, b):
        L, units = len(self.layers) - 1, self.layers
        A = [np.ascontiguousarray(X)] + [np.empty((b, units[l]), np.float32) for l in range(1, L + 1)]
        dZ = [None] + [np.ones((b, units[l]), np.float32) for l in range(1, L + 1)]
        dW = [None] + [np.empty_like(W) for W in self.W[1:]]
        return A, dZ, dW

    def step(self, b):
        A, dZ, dW = self.buffers[b]
        W = self.W
        for l in range(1, len(W)):
            np.matmul(A[l - 1], W[l].T, out=A[l])
        for l in range(len(W) - 1, 0, -1):
            np.matmul(dZ[l].T, A[l - 1], out=dW[l])
            if l > 1:
                np.matmul(dZ[l], W[l], out=dZ[l - 1])

    def epoch(self):
        for start in range(0, self.m, self.batch_size):
            self.step(min(self.batch_size, self.m - start))

    def fit_whole(self, epochs):
        return _seconds(lambda: [self.epoch() for _ in range(epochs)])


class SklearnRunner(_EpochRunner):
    """scikit-learn's MLPClassifier, plain SGD (no momentum, no L2), one partial_fit per epoch."""

    def __init__(self, layers, batch_size, X, y):
        from sklearn.neural_network import MLPClassifier

        self.name, self.X, self.y = "sklearn mlp", X, y.astype(np.int64)
        self.model = MLPClassifier(hidden_layer_sizes=tuple(layers[1:-1]), activation="relu", solver="sgd",
                                   learning_rate_init=LEARNING_RATE, momentum=0.0, alpha=0.0,
                                   batch_size=batch_size or X.shape[0], shuffle=True, random_state=0)
        self.started = False

    def epoch(self):
        if not self.started:
            self.model.partial_fit(self.X, self.y, classes=np.array([0, 1]))
            self.started = True
        else:
            self.model.partial_fit(self.X, self.y)

    def fit_whole(self, epochs):
        def run():
            self.started = False
            for _ in range(epochs):
                self.epoch()
        return _seconds(run)


def _seconds(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def peer_reason(peer):
    """Why a peer cannot run here (its package is missing), or None."""
    module = "sklearn" if peer == "sklearn" else "torch"
    try:
        __import__(module)
    except ImportError as error:
        return f"{module} is not installed ({error}); pip install torch==2.13.0 scikit-learn (or, in the checkout, pip install -e '.[peers]')"
    if peer == "torch_compile":
        return _torch_compile_reason()
    return None


def _torch_compile_reason():
    """Why torch.compile cannot compile a tiny CPU function here (no C++ compiler, ...), or None."""
    import torch

    try:
        torch.compile(lambda x: torch.relu(x) * 2, dynamic=False)(torch.ones(4))
    except Exception as error:  # the reason is reported, and the other forms still run
        return f"torch.compile does not work here ({type(error).__name__}: {str(error).splitlines()[0][:200]})"
    return None


def make_runner(contestant, layers, batch_size, X, y):
    """A runner for an engine name ("numpy", "numba", "cupy"), a peer (PEERS) or the floor (FLOOR)."""
    if contestant in TORCH_FORMS:
        return TorchRunner(layers, batch_size, X, y, form=contestant)
    if contestant == FLOOR:
        return GemmFloorRunner(layers, batch_size, X, y)
    if contestant == "sklearn":
        return SklearnRunner(layers, batch_size, X, y)
    return FastnnRunner(contestant, layers, batch_size, X, y)


def contestants(wanted=None):
    """(names that can run here, {name: reason} for those that cannot), engines then peers."""
    engines, skipped = available_engines()
    names = []
    for name in [*engines, *PEERS, FLOOR] if wanted is None else wanted:
        reason = skipped.get(name) or (peer_reason(name) if name in PEERS else None)
        if reason is None:
            names.append(name)
        else:
            skipped[name] = reason
    return names, {k: v for k, v in skipped.items() if wanted is None or k in wanted}


# -- the comparison --------------------------------------------------------------------


def compare(network, names, repeats, pause=0.2, m=None, whole_epochs=None, log=sys.stderr):
    """Time every contestant on `network` ("a", "b" or "c"), round-robin; return one dict each.

    `m` caps the number of examples (a smaller, quicker run); `whole_epochs` the
    epochs of a whole-fit sample (default WHOLE_EPOCHS[network]).
    """
    spec = dict(NETWORKS[network], m=min(m or NETWORKS[network]["m"], NETWORKS[network]["m"]))
    whole = whole_epochs or WHOLE_EPOCHS[network]
    X, y = make_data(spec["layers"], spec["m"])
    start = cpu_snapshot()
    runners, rows = [], {}
    for name in names:
        print(f"network ({network}) {name}: first epochs", file=log, flush=True)
        runner = make_runner(name, spec["layers"], spec["batch_size"], X, y)
        first, second, setup = runner.epochs()  # the very first epoch compiles and starts pools
        runners.append(runner)
        rows[name] = dict(contestant=runner.name, first_s=first, first_second_epoch_s=second,
                          epoch_samples_s=[], setup_samples_s=[], whole_samples_s=[], whole_epochs=whole)
        time.sleep(pause)
    for r in range(repeats):
        print(f"network ({network}): round {r + 1}/{repeats}", file=log, flush=True)
        for i in range(len(runners)):
            name, runner = names[(i + r) % len(names)], runners[(i + r) % len(names)]
            _, epoch, setup = runner.epochs()  # warm-up epoch, then the timed one
            rows[name]["epoch_samples_s"].append(epoch)
            rows[name]["setup_samples_s"].append(setup)
            rows[name]["whole_samples_s"].append(runner.fit_whole(whole))
            time.sleep(pause)
    others = others_cores(start, cpu_snapshot())
    for name, row in rows.items():
        row["others_cores"] = others
        for key in ("epoch", "setup", "whole"):
            row[f"{key}_s"] = statistics.median(row[f"{key}_samples_s"])
        row.update(network=network, engine=name, **spec)
    return list(rows.values())


def fastest_torch(group):
    """The row of the fastest PyTorch form in `group` by median epoch, or None."""
    forms = [row for row in group if row["engine"] in TORCH_FORMS]
    return min(forms, key=lambda row: row["epoch_s"], default=None)


def format_results(rows):
    """One table per network: median epoch and whole fit, each against the fastest PyTorch form and the floor."""
    lines = []
    for network in dict.fromkeys(row["network"] for row in rows):
        group = [row for row in rows if row["network"] == network]
        spec = group[0]
        batch = "full batch" if spec["batch_size"] is None else f"batches of {spec['batch_size']}"
        lines += ["", f"network ({network}) {spec['layers']}, {batch}, m = {spec['m']:,}, float32"]
        if spec["others_cores"] is not None:
            lines[-1] += f" (other processes used {spec['others_cores']:.2f} cores meanwhile)"
        torch_row = fastest_torch(group)
        floor = next((row for row in group if row["engine"] == FLOOR), None)
        if torch_row:
            lines.append(f"fastest PyTorch form (by epoch): {torch_row['contestant']}")
        whole = spec["whole_epochs"]
        header = ("contestant", "epoch", "/ torch", "/ floor", f"fit, {whole} ep.", "/ torch", "/ floor",
                  "first epoch", "setup", "samples")
        table = [header]
        for row in group:
            table.append((row["contestant"], format_time(row["epoch_s"]),
                          _ratio(row["epoch_s"], torch_row and torch_row["epoch_s"]),
                          _ratio(row["epoch_s"], floor and floor["epoch_s"]),
                          format_time(row["whole_s"]),
                          _ratio(row["whole_s"], torch_row and torch_row["whole_s"]),
                          _ratio(row["whole_s"], floor and floor["whole_s"]),
                          format_time(row["first_s"]),
                          format_time(row["setup_s"]) if row["engine"] not in (*PEERS, FLOOR) else "-",
                          str(len(row["epoch_samples_s"]))))
        widths = [max(len(t[c]) for t in table) for c in range(len(header))]
        lines += ["  ".join(cell.ljust(w) for cell, w in zip(t, widths)).rstrip() for t in table]
    lines += ["", "epoch: median of the timed epochs; fit: median whole fit from the raw arrays (setup included);",
              "/ torch: time over the fastest PyTorch form's (below 1: faster); / floor: time over the GEMMs alone."]
    return "\n".join(lines)


def _ratio(seconds, reference):
    return "-" if not reference else f"{seconds / reference:.2f}"


def thread_settings():
    """Thread counts every library is using now (BLAS, numba, torch) and the usable cores."""
    machine = describe_machine()
    return {"usable_cores": usable_cores(), "blas": machine["blas"], "openmp": machine["openmp"],
            "numba": machine["numba"], "torch": machine["torch"]}


def format_threads(settings):
    """One line: cores, and the threads of each BLAS, OpenMP runtime, numba and torch."""
    parts = [f"{settings['usable_cores']} usable cores"]
    parts += [f"{p['internal_api']} ({p['loaded_by']}) {p['num_threads']}" for p in settings["blas"]]
    parts += [f"{p['prefix']} ({p['loaded_by']}) {p['num_threads']}" for p in settings["openmp"]]
    if settings["numba"]:
        parts.append(f"numba {settings['numba']['threads_in_use']} ({settings['numba']['threading_layer']})")
    if settings["torch"]:
        parts.append(f"torch {settings['torch']['num_threads']} (inter-op {settings['torch']['num_interop_threads']})")
    return "threads: " + ", ".join(parts)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", nargs="+", choices=sorted(NETWORKS), default=sorted(NETWORKS))
    parser.add_argument("--contestants", nargs="+", metavar="NAME",
                        help="engines and peers, e.g. numpy numba torch (default: all that run here)")
    parser.add_argument("--repeats", type=int, help="timed epochs per contestant (median; default 5, --quick 2)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 4,096 examples, 2 repeats, no torch.compile (about a minute)")
    parser.add_argument("--whole-epochs", type=int, metavar="E", help="epochs of a whole-fit sample (default: a, b 1; c 3)")
    parser.add_argument("--pause", type=float, default=0.2, help="seconds between contestants")
    parser.add_argument("--examples", type=int, metavar="M", help="use at most M examples (default: the networks' own)")
    parser.add_argument("--json", metavar="FILE", help="write every sample, thread settings and the machine")
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 2 if args.quick else 5
    if args.quick and args.examples is None:
        args.examples = 4096
    if args.quick and args.contestants is None:
        args.contestants = [n for n in contestants()[0] if n != "torch_compile"]
    if args.repeats < 1:
        parser.error("--repeats: expected a positive integer")
    unknown = [n for n in args.contestants or [] if n not in (*ENGINE_CLASSES, *PEERS, FLOOR)]
    if unknown:
        parser.error(f"--contestants: unknown {unknown}; expected engines {list(ENGINE_CLASSES)}, "
                     f"peers {list(PEERS)} or {FLOOR!r}")
    names, skipped = contestants(args.contestants)
    for name, reason in skipped.items():
        print(f"skipping {name}: {reason}", file=sys.stderr)
    if not names:
        parser.error("nothing to run")
    rows = []
    for network in args.networks:
        rows += compare(network, names, args.repeats, args.pause, m=args.examples, whole_epochs=args.whole_epochs)
    print(format_results(rows))
    settings = thread_settings()
    print("\n" + format_threads(settings))
    print("\n".join(format_machine(describe_machine())))
    if args.json:
        data = dict(benchmark="training", repeats=args.repeats, threads=settings, machine=describe_machine(),
                    skipped=skipped, results=rows)
        Path(args.json).write_text(json.dumps(data, indent=2), encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
