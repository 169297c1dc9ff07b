"""The fastnn command line: info, train (with saving and plotting), and clear errors."""

import subprocess
import sys

import pytest

import fastnn
from fastnn.cli import main


def test_info_lists_engines_and_the_machine(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"fastnn {fastnn.__version__}" in out
    for name in ("numpy", "numba", "cupy"):
        assert f"  {name}" in out
    assert "auto ->" in out


def test_train_prints_the_learning_curve_and_accuracy(tmp_path, capsys):
    model, plot = tmp_path / "net.npz", tmp_path / "cost.png"
    status = main(["train", "--engine", "numpy", "--epochs", "60", "--hidden", "8",
                   "--save", str(model), "--plot", str(plot)])
    out = capsys.readouterr().out
    assert status == 0
    assert "learning curve" in out and "epoch     60" in out
    assert "test accuracy" in out
    loaded = fastnn.load(model)
    assert loaded.layers_ == [64, 8, 1]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_logistic_regression_on_tabular_data(capsys):
    assert main(["train", "--dataset", "breast_cancer", "--hidden", "", "--engine", "numba",
                 "--epochs", "100", "--learning-rate", "0.5"]) == 0
    out = capsys.readouterr().out
    accuracy = float(out.split("test accuracy ")[1].split("%")[0])
    assert accuracy > 90


def test_an_unknown_engine_is_one_clear_line(capsys):
    assert main(["train", "--engine", "tpu"]) == 2  # a usage error
    assert "engine: expected one of 'numpy', 'numba', 'cupy', 'auto', got 'tpu'" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--learning-rate", "-1"], "argument --learning-rate: expected a positive number, got '-1'"),
    (["--epochs", "0"], "argument --epochs: expected a positive integer, got '0'"),
    (["--hidden", "16,abc"], "argument --hidden: expected positive integers separated by commas"),
    (["--activation", "swish"], "argument --activation: invalid choice: 'swish'"),
])
def test_bad_options_are_refused_before_training(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--engine", "numpy", *argv])
    assert exit_.value.code == 2
    captured = capsys.readouterr()
    assert message in captured.err and "data:" not in captured.out


def test_the_engine_defaults_to_the_environment(monkeypatch, capsys):
    monkeypatch.setenv("FASTNN_ENGINE", "numpy")
    assert main(["train", "--epochs", "2"]) == 0
    assert "engine: numpy" in capsys.readouterr().out


def test_divergence_is_reported_not_hidden(capsys):
    status = main(["train", "--engine", "numpy", "--dataset", "breast_cancer", "--learning-rate", "1e6",
                   "--epochs", "50", "--init", "he"])
    assert status == 1
    assert "training diverged" in capsys.readouterr().err


def test_python_dash_m_runs_the_cli():
    out = subprocess.run([sys.executable, "-m", "fastnn", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"fastnn {fastnn.__version__}"


def test_train_on_all_ten_digits_with_a_softmax_output(tmp_path, capsys):
    model = tmp_path / "ten.npz"
    status = main(["train", "--engine", "numba", "--dataset", "digits", "--classes", "all", "--hidden", "32",
                   "--learning-rate", "0.5", "--epochs", "300", "--save", str(model)])
    out = capsys.readouterr().out
    assert status == 0 and "10 classes" in out and "layers [64, 32, 10]" in out
    assert float(out.split("test accuracy ")[1].split("%")[0]) >= 95
    loaded = fastnn.load(model)
    assert loaded.layers_ == [64, 32, 10] and list(loaded.classes_) == list(range(10))


def test_classes_are_refused_where_the_data_has_two(capsys):
    assert main(["train", "--engine", "numpy", "--dataset", "breast_cancer", "--classes", "all"]) == 2  # usage
    assert "--classes: only the digits data set has more than two classes" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--classes", "3"])
    assert "argument --classes: expected 'all' or two or more different digits" in capsys.readouterr().err
