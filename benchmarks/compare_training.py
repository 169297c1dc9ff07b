"""Per-epoch training time, fastnn's engines beside PyTorch and scikit-learn, in one run.

    python benchmarks/compare_training.py [--networks a b c] [--repeats N] [--json FILE]

Networks (synthetic, seeded data of these shapes; ReLU hidden layers, sigmoid output,
plain SGD with learning rate 0.01, binary cross-entropy, float32):
  (a) [784, 256, 128, 1], mini-batches of 128, 60,000 examples
  (b) [784, 64, 64, 1], mini-batches of 32, 60,000 examples
  (c) [12288, 20, 7, 5, 1], one full batch of 209 examples

How an epoch is timed. Each round, every contestant in turn (round-robin, with a pause so
one library's spinning threads have parked) runs two epochs: the first is the warm-up,
the second is the timed sample. For fastnn that is ``fit(epochs=2)`` with a callback after
each epoch (the callback follows the epoch's cost being read back, so GPU work is
finished): the timed epoch excludes fit's setup (input checks, initialisation, copying X
to the engine), which is reported apart as "setup". The very first epoch of each
contestant (compilation, thread-pool start) is reported apart as "first".
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
LEARNING_RATE = 0.01
PEERS = ("torch", "sklearn")


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

    def epochs(self):
        """fit(epochs=2): returns (setup + first epoch, second epoch, setup estimate)."""
        stamps = []
        start = time.perf_counter()
        self.network.fit(self.X, self.y, report_every=1, callback=lambda epoch, cost: stamps.append(time.perf_counter()))
        first, second = stamps[0] - start, stamps[1] - stamps[0]
        return first, second, max(0.0, first - second)


class TorchRunner:
    """The same network in PyTorch eager mode on the CPU: SGD, BCEWithLogitsLoss, float32."""

    def __init__(self, layers, batch_size, X, y):
        import torch

        torch.set_num_threads(usable_cores())
        torch.manual_seed(0)
        self.torch, self.name = torch, "torch cpu"
        modules = []
        for n_in, n_out in zip(layers[:-1], layers[1:]):
            modules += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU()]
        self.model = torch.nn.Sequential(*modules[:-1])  # the sigmoid lives in the loss
        self.loss = torch.nn.BCEWithLogitsLoss()
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=LEARNING_RATE)
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y).reshape(-1, 1)
        self.batch_size = batch_size or X.shape[0]
        self.generator = torch.Generator().manual_seed(0)

    def epoch(self):
        """One pass over shuffled mini-batches (none when the batch is the whole set)."""
        torch, m = self.torch, self.X.shape[0]
        order = torch.randperm(m, generator=self.generator) if self.batch_size < m else None
        for start in range(0, m, self.batch_size):
            rows = None if order is None else order[start:start + self.batch_size]
            xb, yb = (self.X, self.y) if rows is None else (self.X[rows], self.y[rows])
            self.optimizer.zero_grad(set_to_none=True)
            self.loss(self.model(xb), yb).backward()
            self.optimizer.step()

    def epochs(self):
        first = _seconds(self.epoch)
        return first, _seconds(self.epoch), 0.0


class SklearnRunner:
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

    def epochs(self):
        first = _seconds(self.epoch)
        return first, _seconds(self.epoch), 0.0


def _seconds(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def peer_reason(peer):
    """Why a peer cannot run here (its package is missing), or None."""
    module = {"torch": "torch", "sklearn": "sklearn"}[peer]
    try:
        __import__(module)
    except ImportError as error:
        return f"{module} is not installed ({error}); pip install torch==2.13.0 scikit-learn (or, in the checkout, pip install -e '.[peers]')"
    return None


def make_runner(contestant, layers, batch_size, X, y):
    """A runner for an engine name ("numpy", "numba", "cupy") or a peer ("torch", "sklearn")."""
    if contestant == "torch":
        return TorchRunner(layers, batch_size, X, y)
    if contestant == "sklearn":
        return SklearnRunner(layers, batch_size, X, y)
    return FastnnRunner(contestant, layers, batch_size, X, y)


def contestants(wanted=None):
    """(names that can run here, {name: reason} for those that cannot), engines then peers."""
    engines, skipped = available_engines()
    names = []
    for name in [*engines, *PEERS] if wanted is None else wanted:
        reason = skipped.get(name) or (peer_reason(name) if name in PEERS else None)
        if reason is None:
            names.append(name)
        else:
            skipped[name] = reason
    return names, {k: v for k, v in skipped.items() if wanted is None or k in wanted}


# -- the comparison --------------------------------------------------------------------


def compare(network, names, repeats, pause=0.2, m=None, log=sys.stderr):
    """Time every contestant on `network` ("a", "b" or "c"), round-robin; return one dict each.

    `m` overrides the number of examples (a smaller, quicker run).
    """
    spec = dict(NETWORKS[network], m=m or NETWORKS[network]["m"])
    X, y = make_data(spec["layers"], spec["m"])
    start = cpu_snapshot()
    runners, rows = [], {}
    for name in names:
        print(f"network ({network}) {name}: first epochs", file=log, flush=True)
        runner = make_runner(name, spec["layers"], spec["batch_size"], X, y)
        first, second, setup = runner.epochs()  # the very first epoch compiles and starts pools
        runners.append(runner)
        rows[name] = dict(contestant=runner.name, first_s=first, first_second_epoch_s=second,
                          epoch_samples_s=[], setup_samples_s=[])
        time.sleep(pause)
    for r in range(repeats):
        print(f"network ({network}): round {r + 1}/{repeats}", file=log, flush=True)
        for i in range(len(runners)):
            name, runner = names[(i + r) % len(names)], runners[(i + r) % len(names)]
            _, epoch, setup = runner.epochs()  # warm-up epoch, then the timed one
            rows[name]["epoch_samples_s"].append(epoch)
            rows[name]["setup_samples_s"].append(setup)
            time.sleep(pause)
    others = others_cores(start, cpu_snapshot())
    for name, row in rows.items():
        row["others_cores"] = others
        row["epoch_s"] = statistics.median(row["epoch_samples_s"])
        row["setup_s"] = statistics.median(row["setup_samples_s"])
        row.update(network=network, engine=name, **spec)
    return list(rows.values())


def format_results(rows):
    """One table per network: first epoch, median epoch, setup, and ratios to torch and numpy."""
    lines = []
    for network in dict.fromkeys(row["network"] for row in rows):
        group = [row for row in rows if row["network"] == network]
        spec = group[0]
        batch = "full batch" if spec["batch_size"] is None else f"batches of {spec['batch_size']}"
        lines += ["", f"network ({network}) {spec['layers']}, {batch}, m = {spec['m']:,}, float32"]
        if spec["others_cores"] is not None:
            lines[-1] += f" (other processes used {spec['others_cores']:.2f} cores meanwhile)"
        base = {row["engine"]: row["epoch_s"] for row in group}
        header = ("contestant", "epoch (median)", "first epoch", "setup", "/ torch", "/ fastnn numpy", "samples")
        table = [header]
        for row in group:
            table.append((row["contestant"], format_time(row["epoch_s"]), format_time(row["first_s"]),
                          format_time(row["setup_s"]) if row["engine"] not in PEERS else "-",
                          _ratio(row["epoch_s"], base.get("torch")), _ratio(row["epoch_s"], base.get("numpy")),
                          str(len(row["epoch_samples_s"]))))
        widths = [max(len(t[c]) for t in table) for c in range(len(header))]
        lines += ["  ".join(cell.ljust(w) for cell, w in zip(t, widths)).rstrip() for t in table]
    lines += ["", "ratios are epoch time / the peer's epoch time (below 1: faster than the peer)."]
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
    parser.add_argument("--repeats", type=int, default=5, help="timed epochs per contestant (median)")
    parser.add_argument("--pause", type=float, default=0.2, help="seconds between contestants")
    parser.add_argument("--examples", type=int, metavar="M", help="use M examples instead of the networks' own")
    parser.add_argument("--json", metavar="FILE", help="write every sample, thread settings and the machine")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats: expected a positive integer")
    unknown = [n for n in args.contestants or [] if n not in (*ENGINE_CLASSES, *PEERS)]
    if unknown:
        parser.error(f"--contestants: unknown {unknown}; expected engines {list(ENGINE_CLASSES)} or peers {list(PEERS)}")
    names, skipped = contestants(args.contestants)
    for name, reason in skipped.items():
        print(f"skipping {name}: {reason}", file=sys.stderr)
    if not names:
        parser.error("nothing to run")
    rows = []
    for network in args.networks:
        rows += compare(network, names, args.repeats, args.pause, m=args.examples)
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
