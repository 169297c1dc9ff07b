"""One training epoch of a 10-class softmax network: every fastnn engine beside PyTorch eager.

    python benchmarks/compare_softmax.py [--quick] [--repeats N] [--examples M] [--json FILE]

The network is [784, 256, 128, 10]: ReLU hidden layers, a softmax output with the
categorical cross-entropy, plain SGD (learning rate 0.01), mini-batches of 128 reshuffled
each epoch, float32, on 60,000 synthetic rows (seeded uniform pixels, labels 0-9).
PyTorch runs the same network in eager mode on the CPU: nn.Linear layers, CrossEntropyLoss
(log-softmax and the loss, fused) and a manual SGD step, p -= lr * p.grad, no optimiser
object. --quick uses 6,000 rows and 2 timed epochs (a few seconds) to check the script runs.

How an epoch is timed. Round-robin over the contestants, with a pause between them so one
library's spinning threads have parked. Each sample runs two epochs: the first is the
warm-up right before the timed second one. fastnn runs ``fit(epochs=2)`` with a callback
after each epoch (the callback follows the epoch's cost being read back, so GPU work is
finished); the timed epoch excludes fit's setup. The very first epoch of each contestant
(compilation, pool start-up) is reported apart. The table gives medians and the ratio of
each to PyTorch's median.
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
from fastnn.bench import available_engines, format_time  # noqa: E402
from fastnn.machine import cpu_snapshot, describe_machine, format_machine, others_cores, usable_cores  # noqa: E402

LAYERS = [784, 256, 128, 10]
BATCH_SIZE = 128
EXAMPLES = 60_000
QUICK_EXAMPLES = 6_000
LEARNING_RATE = 0.01


def make_data(m, seed=0):
    """X (m, 784) uniform in [0, 1) and labels 0-9, float32, from a seeded generator."""
    rng = np.random.default_rng(seed)
    return rng.random((m, LAYERS[0]), dtype=np.float32), rng.integers(0, LAYERS[-1], size=m)


class FastnnRunner:
    """A fastnn DeepNetwork on one engine (see the module docstring for what is timed)."""

    def __init__(self, engine, X, y):
        self.name, self.X, self.y = f"fastnn {engine}", X, y
        self.network = fastnn.DeepNetwork(LAYERS, "relu", learning_rate=LEARNING_RATE, epochs=2,
                                          batch_size=BATCH_SIZE, seed=0, engine=engine)

    def epochs(self):
        """fit(epochs=2): returns (setup + first epoch, second epoch)."""
        stamps = []
        start = time.perf_counter()
        self.network.fit(self.X, self.y, report_every=1, callback=lambda epoch, cost: stamps.append(time.perf_counter()))
        return stamps[0] - start, stamps[1] - stamps[0]


class TorchRunner:
    """The same network in PyTorch eager mode: CrossEntropyLoss and a manual SGD step."""

    def __init__(self, X, y):
        import torch

        torch.set_num_threads(usable_cores())
        torch.manual_seed(0)
        self.torch, self.name = torch, "torch cpu"
        modules = []
        for n_in, n_out in zip(LAYERS[:-1], LAYERS[1:]):
            modules += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU()]
        self.model = torch.nn.Sequential(*modules[:-1])  # the softmax lives in the loss
        self.parameters = list(self.model.parameters())
        self.loss = torch.nn.CrossEntropyLoss()
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y)
        self.generator = torch.Generator().manual_seed(0)

    def epoch(self):
        torch, m = self.torch, self.X.shape[0]
        order = torch.randperm(m, generator=self.generator)
        for start in range(0, m, BATCH_SIZE):
            rows = order[start:start + BATCH_SIZE]
            for p in self.parameters:
                p.grad = None
            self.loss(self.model(self.X[rows]), self.y[rows]).backward()
            with torch.no_grad():
                for p in self.parameters:
                    p.sub_(p.grad, alpha=LEARNING_RATE)

    def epochs(self):
        return _seconds(self.epoch), _seconds(self.epoch)


def _seconds(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def contestants():
    """(names that run here: engines, then "torch" when installed; {name: why not} for the rest)."""
    names, skipped = available_engines()
    names = list(names)
    try:
        import torch  # noqa: F401
    except ImportError as error:
        skipped["torch"] = f"PyTorch is not installed ({error}); pip install torch==2.13.0"
    else:
        names.append("torch")
    return names, skipped


def compare(names, m, repeats, pause=0.2, log=sys.stderr):
    """Time one epoch of every contestant, round-robin; return one dict of samples each."""
    X, y = make_data(m)
    start = cpu_snapshot()
    runners, rows = [], {}
    for name in names:
        print(f"{name}: first epochs", file=log, flush=True)
        runner = TorchRunner(X, y) if name == "torch" else FastnnRunner(name, X, y)
        first, _ = runner.epochs()
        runners.append(runner)
        rows[name] = dict(contestant=runner.name, engine=name, first_s=first, epoch_samples_s=[])
        time.sleep(pause)
    for r in range(repeats):
        print(f"round {r + 1}/{repeats}", file=log, flush=True)
        for i in range(len(runners)):
            name, runner = names[(i + r) % len(names)], runners[(i + r) % len(names)]
            rows[name]["epoch_samples_s"].append(runner.epochs()[1])  # warm-up epoch, then the timed one
            time.sleep(pause)
    others = others_cores(start, cpu_snapshot())
    for row in rows.values():
        row.update(epoch_s=statistics.median(row["epoch_samples_s"]), others_cores=others, m=m,
                   layers=LAYERS, batch_size=BATCH_SIZE)
    return list(rows.values())


def format_results(rows):
    """A table: median epoch, first epoch, ratio to PyTorch, samples."""
    spec = rows[0]
    title = f"{spec['layers']} softmax + cross-entropy, batches of {spec['batch_size']}, m = {spec['m']:,}, float32"
    if spec["others_cores"] is not None:
        title += f" (other processes used {spec['others_cores']:.2f} cores meanwhile)"
    torch_s = next((row["epoch_s"] for row in rows if row["engine"] == "torch"), None)
    table = [("contestant", "epoch (median)", "first epoch", "/ torch", "samples")]
    for row in rows:
        ratio = "-" if torch_s is None else f"{row['epoch_s'] / torch_s:.2f}"
        table.append((row["contestant"], format_time(row["epoch_s"]), format_time(row["first_s"]), ratio,
                      str(len(row["epoch_samples_s"]))))
    widths = [max(len(t[c]) for t in table) for c in range(len(table[0]))]
    lines = [title] + ["  ".join(cell.ljust(w) for cell, w in zip(t, widths)).rstrip() for t in table]
    return "\n".join(lines + ["", "/ torch is epoch time / PyTorch's (below 1: faster than PyTorch)."])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_EXAMPLES:,} rows, 2 timed epochs: a check that it runs")
    parser.add_argument("--repeats", type=int, help="timed epochs per contestant (default 5, --quick 2)")
    parser.add_argument("--examples", type=int, metavar="M", help=f"rows of synthetic data (default {EXAMPLES:,})")
    parser.add_argument("--pause", type=float, default=0.2, help="seconds between contestants")
    parser.add_argument("--json", metavar="FILE", help="write every sample and the machine")
    args = parser.parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 5)
    m = args.examples or (QUICK_EXAMPLES if args.quick else EXAMPLES)
    if repeats < 1 or m < 1:
        parser.error("--repeats and --examples: expected positive integers")
    names, skipped = contestants()
    for name, reason in skipped.items():
        print(f"skipping {name}: {reason}", file=sys.stderr)
    rows = compare(names, m, repeats, args.pause)
    print(format_results(rows))
    print("\n".join(format_machine(describe_machine())))
    if args.json:
        data = dict(benchmark="softmax training epoch", repeats=repeats, quick=args.quick, skipped=skipped,
                    machine=describe_machine(), results=rows)
        Path(args.json).write_text(json.dumps(data, indent=2), encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
