"""The command line run as a user runs it: errors are one line (never a traceback), found before
any work, with exit status 2 for usage errors and 1 for failures while running, in every subcommand."""

import os
import subprocess
import sys
import time

import pytest

import fastnn
from fastnn.backends import engine_class

TRAIN = ["train", "--engine", "numpy", "--epochs", "3", "--hidden", "4", "--no-progress"]


def fastnn_command(*argv, timeout=120, hide_matplotlib=False):
    """Run `python -m fastnn ARGV` in a fresh process; return (status, stdout, stderr, seconds)."""
    if hide_matplotlib:  # as if matplotlib were not installed: find_spec and import both fail
        code = "import sys; sys.modules['matplotlib'] = None; from fastnn.cli import main; sys.exit(main(sys.argv[1:]))"
        command = [sys.executable, "-c", code, *argv]
    else:
        command = [sys.executable, "-m", "fastnn", *argv]
    started = time.perf_counter()
    run = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                         env={**os.environ, "FASTNN_ENGINE": "numpy"})
    return run.returncode, run.stdout, run.stderr, time.perf_counter() - started


def assert_clean_error(stderr, command, message):
    assert "Traceback" not in stderr
    assert f"fastnn {command}: error:" in stderr and message in stderr, stderr


@pytest.mark.parametrize("argv, message", [
    (["--save", "/no/such/dir/net.npz"], "argument --save: the folder '/no/such/dir' does not exist"),
    (["--plot", "nodir/c.png"], "argument --plot: the folder 'nodir' does not exist"),
    (["--save", "."], "argument --save: expected a file name such as 'net.npz', got the folder '.'"),
    (["--plot", "."], "argument --plot: expected a file name, got the folder '.'"),
    (["--hidden", "", "--activation", "tanh"], "activation: layers [64, 1] have no hidden layer"),
    (["--engine", "tpu"], "engine: expected one of 'numpy', 'numba', 'cupy', 'auto', got 'tpu'"),
    (["--epochs", "10000000000"], "epochs: expected at most 100,000,000"),
    (["--epochs", "inf"], "argument --epochs: expected a positive integer, got 'inf'"),
    (["--learning-rate", "nan"], "argument --learning-rate: expected a positive number, got 'nan'"),
    (["--hidden", "16,,8"], "argument --hidden: expected positive integers separated by commas, such as 16,8, got '16,,8'"),
    (["--scheduler", "tcp://127.0.0.1:1"], "--scheduler: only used with --data PATH"),
    (["--data", "no.zarr", "--dataset", "digits"], "--dataset: not with --data PATH"),
    (["--data", "no.zarr", "--classes", "all"], "--classes: not with --data PATH"),
])
def test_train_usage_errors_exit_2_before_training(argv, message):
    status, out, err, _ = fastnn_command(*TRAIN, *argv)
    assert status == 2
    assert_clean_error(err, "train", message)
    assert "learning curve" not in out  # nothing was trained


def test_train_plot_without_matplotlib_is_refused_before_training():
    status, out, err, _ = fastnn_command(*TRAIN, "--plot", "cost.png", hide_matplotlib=True)
    assert status == 2 and "data:" not in out
    assert_clean_error(err, "train", "argument --plot: needs matplotlib: pip install matplotlib")


def test_runtime_failures_exit_1_with_one_line():
    status, out, err, _ = fastnn_command("train", "--engine", "numpy", "--dataset", "breast_cancer",
                                         "--learning-rate", "1e30", "--epochs", "20", "--activation", "tanh",
                                         "--no-progress")
    assert status == 1 and "data:" in out
    assert_clean_error(err, "train", "training diverged")


@pytest.mark.skipif(engine_class("cupy").unavailable_reason() is None, reason="cupy can run here")
@pytest.mark.parametrize("command", [["train", "--epochs", "2"], ["bench", "--n", "10", "--repeats", "1"]])
def test_an_engine_that_cannot_run_here_is_a_runtime_error_in_every_subcommand(command):
    argv = [*command[:1], "--engine" if command[0] == "train" else "--engines", "cupy", *command[1:]]
    status, out, err, _ = fastnn_command(*argv)
    assert status == 1
    assert_clean_error(err, command[0], "engine 'cupy' cannot run here")


def test_saving_to_an_existing_file_name_writes_it(tmp_path):
    path = tmp_path / "net.NPZ"
    status, out, err, _ = fastnn_command(*TRAIN, "--save", str(path))
    assert status == 0, err
    assert f"saved the network to {path}" in out and fastnn.load(path).layers_ == [64, 4, 1]


@pytest.mark.parametrize("n", ["inf", "nan", "1e9", "1e400", "10**100000000", "2**-1", "3**40", "10**8**9"])
def test_bench_refuses_impossible_sizes_at_once(n):
    status, out, err, seconds = fastnn_command("bench", "--n", n, timeout=60)
    assert status == 2 and seconds < 30  # 10**100000000 used to hang building the number
    assert "Traceback" not in err and f"argument --n: expected" in err and repr(n) in err


@pytest.mark.parametrize("argv, message", [
    (["--engines", "nope"], "engine: expected one of"),
    (["--repeats", "0"], "argument --repeats: expected a positive integer, got '0'"),
    (["--json", "/no/such/dir/b.json"], "argument --json: the folder '/no/such/dir' does not exist"),
    (["--plot", "/no/such/dir/b.png"], "argument --plot: the folder '/no/such/dir' does not exist"),
])
def test_bench_usage_errors_exit_2_before_timing(argv, message):
    status, out, err, _ = fastnn_command("bench", "--n", "10", "--repeats", "1", *argv)
    assert status == 2 and "vectorised" not in out
    assert_clean_error(err, "bench", message)


def test_bench_plot_without_matplotlib_is_refused_before_the_benchmark():
    status, out, err, _ = fastnn_command("bench", "--n", "10", "--engines", "numpy", "--plot", "b.png",
                                         hide_matplotlib=True)
    assert status == 2 and "vectorised" not in out
    assert_clean_error(err, "bench", "argument --plot: needs matplotlib")


def test_python_dash_m_fastnn_bench_follows_the_same_rules():
    run = subprocess.run([sys.executable, "-m", "fastnn.bench", "--n", "inf"], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 2 and "Traceback" not in run.stderr and "argument --n" in run.stderr
