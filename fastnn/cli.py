"""The ``fastnn`` command: info, train, bench, and demo (the README's main job).

Exit status, the same in every subcommand: 0 on success; 2 for a usage error (a bad
option, an unknown engine name, a path that cannot be written), found before any work
starts; 1 for a failure while running (a diverged run, an engine that cannot run here, a
full disk). Either way the error is one line on stderr, never a traceback.
"""

import argparse
import contextlib
import importlib.util
import os
import sys
import time

import numpy as np

from ._version import __version__
from .activations import ACTIVATIONS
from .datasets import DATASETS
from .initializers import INITIALIZERS
from .serialization import target_path

USAGE_STATUS, RUNTIME_STATUS, INTERRUPTED_STATUS = 2, 1, 130


class UsageError(ValueError):
    """A command line that cannot work, found before any work started (exit status 2)."""


def main(argv=None):
    """Run the command line; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return USAGE_STATUS
    return report_errors(args.command, args.run, args)


def report_errors(command, run, args):
    """Return run(args), or print an error as one line and return its exit status (see above)."""
    from .backends import UnknownEngineError

    try:
        return run(args)
    except (UsageError, UnknownEngineError) as error:
        status, message = USAGE_STATUS, f"error: {error}"
    except (ValueError, TypeError, RuntimeError, ImportError, FloatingPointError, OSError) as error:
        status, message = RUNTIME_STATUS, f"error: {error}"
    except KeyboardInterrupt:
        status, message = INTERRUPTED_STATUS, "interrupted"
    print(f"fastnn {command}: {message}", file=sys.stderr)
    return status


@contextlib.contextmanager
def usage_checks():
    """Turn the ValueErrors and TypeErrors of checks made before any work into UsageErrors."""
    try:
        yield
    except (ValueError, TypeError) as error:
        raise UsageError(str(error)) from None


def _parser():
    parser = argparse.ArgumentParser(prog="fastnn", description=__doc__)
    parser.add_argument("--version", action="version", version=f"fastnn {__version__}")
    commands = parser.add_subparsers(dest="command")

    info = commands.add_parser("info", help="version, engines, devices, BLAS and threads")
    info.set_defaults(run=run_info)

    train = commands.add_parser("train", help="train on a bundled real data set")
    add_train_arguments(train)
    train.set_defaults(run=run_train)

    bench = commands.add_parser("bench", help="the notes' for-loop against vectorised timing, every engine")
    from . import bench as bench_module

    bench_module.add_arguments(bench)
    bench.set_defaults(run=bench_module.run)

    demo = commands.add_parser("demo", help="the main job: train on real digits, then a quick benchmark")
    demo.add_argument("--engine", default=None, help="numpy, numba, cupy or auto (default: $FASTNN_ENGINE, else auto)")
    demo.set_defaults(run=run_demo)
    return parser


def add_train_arguments(parser):
    """Options of ``fastnn train``: data, engine and the notes' hyperparameters."""
    parser.add_argument("--dataset", default=None, choices=tuple(DATASETS),
                        help="a bundled data set (default: digits); not with --data")
    parser.add_argument("--classes", default=None, type=_digit_classes,
                        help="digits only: 'all' for the ten-class task (softmax output), or digits such as "
                             "1,7 (default: 8 against 3, one sigmoid unit)")
    parser.add_argument("--engine", default=None, help="numpy, numba, cupy or auto (default: $FASTNN_ENGINE, else auto)")
    parser.add_argument("--hidden", default="16,8", type=_layer_sizes,
                        help="hidden layer sizes n^[1],...,n^[L-1], comma-separated; '' for logistic regression")
    parser.add_argument("--activation", default=None, choices=ACTIVATIONS,
                        help="hidden activation (default relu; none without hidden layers)")
    parser.add_argument("--learning-rate", type=_positive(float), default=0.1)
    parser.add_argument("--epochs", type=_positive(int), default=300)
    parser.add_argument("--batch-size", type=_positive(int), default=None, help="mini-batch size (default: full batch)")
    parser.add_argument("--init", default="auto", choices=(*INITIALIZERS, "auto"),
                        help="small (the notes' randn * 0.01), he, xavier or auto (per layer: He for ReLUs)")
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", metavar="FILE.npz", type=save_path, help="save the trained network")
    parser.add_argument("--plot", metavar="FILE.png", type=png_path, help="draw the cost curve (needs matplotlib)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="hide the progress bar")
    parser.add_argument("--data", metavar="PATH", default=None,
                        help="train on your own data, read block by block with Dask: a .zarr group or a folder of "
                             ".npy files holding X (m, n_x) and y (m,) (needs pip install 'fastnn[dask]')")
    parser.add_argument("--scheduler", metavar="ADDRESS", default=None,
                        help="with --data: train on the dask.distributed cluster whose scheduler is at ADDRESS, "
                             "such as tcp://10.0.0.1:8786 (default: Dask's local scheduler, this machine)")


def _layer_sizes(text):
    """--hidden: comma-separated positive integers, or '' for none."""
    try:
        sizes = [int(size) for size in text.split(",")] if text.strip() else []
    except ValueError:  # a word, or an empty size as in '16,,8'
        sizes = [0]
    if any(size <= 0 for size in sizes):
        raise argparse.ArgumentTypeError(f"expected positive integers separated by commas, such as 16,8, got {text!r}")
    return sizes


def _digit_classes(text):
    """--classes: 'all', or comma-separated digits 0-9."""
    if text.strip() == "all":
        return "all"
    try:
        digits = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        digits = []
    if len(digits) < 2 or len(set(digits)) != len(digits) or not set(digits) <= set(range(10)):
        raise argparse.ArgumentTypeError(f"expected 'all' or two or more different digits 0-9 such as 1,7, got {text!r}")
    return digits


def _positive(kind):
    """An argparse type: a positive (finite) number of `kind`."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not 0 < value < float("inf"):
            raise argparse.ArgumentTypeError(f"expected a positive {'integer' if kind is int else 'number'}, got {text!r}")
        return value

    return parse


def output_path(path):
    """An output file option: its folder must exist and the name must not be a folder (checked
    when the options are read, so a typo does not waste a run)."""
    if not path or path.endswith(("/", os.sep)) or os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"expected a file name, got the folder {path!r}")
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"the folder {folder!r} does not exist (for {path!r})")
    return path


def png_path(path):
    """--plot: an output file, and matplotlib must be installed to draw it."""
    if importlib.util.find_spec("matplotlib") is None:
        raise argparse.ArgumentTypeError("needs matplotlib: pip install matplotlib (or pip install -e '.[plot]')")
    return output_path(path)


def save_path(path):
    """--save: the .npz file the network will be saved to (".npz" added as save adds it)."""
    try:
        return target_path(path, "--save")
    except (ValueError, TypeError) as error:
        raise argparse.ArgumentTypeError(str(error).removeprefix("--save: ")) from None


def run_info(args):
    """Print the version, every engine with its availability, and the machine."""
    from .backends import engines, get_engine
    from .machine import describe_machine, format_machine

    print(f"fastnn {__version__}")
    print("engines:")
    for row in engines():
        if row.available:
            engine = get_engine(row.name)
            memory = engine.memory_info()
            extra = "" if not memory else "  " + ", ".join(f"{k}: {v}" for k, v in memory.items())
            print(f"  {row.name:6} available on {engine.device}{extra}")
        else:
            print(f"  {row.name:6} unavailable: {row.reason}")
    print(f"  auto -> {get_engine('auto').name}")
    for line in format_machine(describe_machine()):
        print(line)
    return 0


def run_train(args):
    """Train a network on a bundled data set and report its cost curve and accuracy."""
    from . import datasets
    from .backends import get_engine
    from .network import DeepNetwork

    if args.data is not None:
        return run_train_dask(args)
    if args.scheduler is not None:
        raise UsageError("--scheduler: only used with --data PATH (the bundled data sets train in this process)")
    args.dataset = args.dataset or "digits"
    if args.classes is not None and args.dataset != "digits":
        raise UsageError(f"--classes: only the digits data set has more than two classes, not {args.dataset!r}")
    data = datasets.load(args.dataset) if args.classes is None else datasets.load(args.dataset, classes=args.classes)
    # One sigmoid unit for the binary tasks (labels 0/1), else one softmax unit per class.
    outputs = 1 if args.classes is None else len(np.unique(data.y_train))
    layers = [data.X_train.shape[1], *args.hidden, outputs]
    network = DeepNetwork(layers, args.activation, learning_rate=args.learning_rate, epochs=args.epochs,
                          batch_size=args.batch_size, init=args.init, seed=args.seed, dtype=args.dtype)
    with usage_checks():  # everything fit would refuse, refused before the data is even shown
        network._check_hyperparameters()
        activations = network._activations(layers)
        engine = network.engine = get_engine(args.engine)
    print(f"data:   {data.description}")
    print(f"        {data.X_train.shape[0]} train / {data.X_test.shape[0]} test examples, "
          f"{data.X_train.shape[1]} features")
    print(f"engine: {engine.name} on {engine.device}, {args.dtype}")
    hidden = f"hidden activation {activations[1]}" if args.hidden else "logistic regression (no hidden layer)"
    print(f"network: layers {layers}, {hidden}, learning rate {args.learning_rate}, "
          f"epochs {args.epochs}, batch {args.batch_size or 'full'}")
    started = time.perf_counter()
    network.fit(data.X_train, data.y_train, progress=args.progress and sys.stderr.isatty())
    seconds = time.perf_counter() - started
    print_learning_curve(network.history_)
    print(f"trained in {seconds:.2f} s; train accuracy {network.score(data.X_train, data.y_train):.1%}, "
          f"test accuracy {network.score(data.X_test, data.y_test):.1%}")
    return _save_and_plot(network, args, title=f"{data.name}, {engine.name} engine")


def run_train_dask(args):
    """Train on --data (zarr or .npy files) with Dask, on the cluster at --scheduler or this machine."""
    from .dask_inputs import connect, open_dask_data
    from .network import DeepNetwork

    for option, value in (("--dataset", args.dataset), ("--classes", args.classes)):
        if value is not None:  # silently ignoring one of two data sources would train on the wrong one
            raise UsageError(f"{option}: not with --data PATH, whose own labels decide the classes; got {option} "
                             f"{value if isinstance(value, str) else ','.join(map(str, value))}")
    X, y = open_dask_data(args.data)
    outputs = _outputs_for(y)
    layers = [X.shape[1], *args.hidden, outputs]
    client = connect(args.scheduler)
    try:
        where = f"the cluster at {args.scheduler}" if client is not None else "Dask's local scheduler"
        blocks = X.numblocks[0]
        print(f"data:   {args.data}: {X.shape[0]} examples, {X.shape[1]} features, "
              f"{blocks} block{'s' if blocks != 1 else ''}")
        print(f"engine: {args.engine or 'default'} on each worker of {where}, {args.dtype}")
        print(f"network: layers {layers}, learning rate {args.learning_rate}, epochs {args.epochs}, "
              f"batch {args.batch_size or 'full'}")
        network = DeepNetwork(layers, args.activation, learning_rate=args.learning_rate, epochs=args.epochs,
                              batch_size=args.batch_size, init=args.init, seed=args.seed, engine=args.engine,
                              dtype=args.dtype)
        started = time.perf_counter()
        network.fit(X, y, client=client, progress=args.progress and sys.stderr.isatty())
        seconds = time.perf_counter() - started
        print_learning_curve(network.history_)
        print(f"trained in {seconds:.2f} s; train accuracy {network.score(X, y):.1%}")
    finally:
        if client is not None:
            client.close()
    return _save_and_plot(network, args, title=f"{args.data}")


def _save_and_plot(network, args, title):
    """--save and --plot after training (their paths were checked before it); return exit status 0."""
    if args.save:
        print(f"saved the network to {network.save(args.save)}")
    if args.plot:
        plot_cost(network.history_, args.plot, title=title)
        print(f"wrote the cost curve to {args.plot}")
    return 0


def _outputs_for(y):
    """One sigmoid unit for labels 0/1, else one softmax unit per class (one pass over y, small beside X)."""
    classes = np.unique(np.asarray(y))
    return 1 if set(classes.tolist()) <= {0, 1} else len(classes)


def run_demo(args):
    """The README's main job: a deep network on the real digits, then the notes' timing demo."""
    print("== Training a deep network on real handwritten digits (8 against 3) ==")
    engine = [] if args.engine is None else ["--engine", args.engine]
    status = main(["train", *engine, "--hidden", "32,16", "--epochs", "400", "--learning-rate", "0.1",
                   "--no-progress"])
    if status:
        return status
    print()
    print("== All ten digits: a softmax output over 10 classes ==")
    status = main(["train", *engine, "--classes", "all", "--hidden", "32", "--epochs", "300",
                   "--learning-rate", "0.5", "--no-progress"])
    if status:
        return status
    print()
    print("== The notes' vectorisation demo: z = w.x + b, for-loop against vectorised ==")
    return main(["bench", "--quick"])


def print_learning_curve(history, rows=10, width=40):
    """Print about `rows` (epoch, cost) lines with a bar proportional to the cost."""
    epochs = np.unique(np.linspace(1, len(history), min(rows, len(history))).round().astype(int))
    top = max(history)
    print("learning curve (cost per epoch):")
    for epoch in epochs:
        cost = history[epoch - 1]
        print(f"  epoch {epoch:6d}  cost {cost:.5f}  {'#' * max(1, round(width * cost / top))}")


def plot_cost(history, path, title=""):
    """Write a PNG of the cost against the epoch."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("--plot needs matplotlib: pip install matplotlib (or pip install -e '.[plot]')") from None
    figure, axes = plt.subplots(figsize=(6, 4))
    axes.plot(np.arange(1, len(history) + 1), history)
    axes.set(xlabel="epoch", ylabel="cost J", title=title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
