"""The divergence rule (fastnn.training): NaN/inf, or a cost past 100 times its start, stops
training with TrainingDiverged on every engine and activation; healthy noisy runs never trip it;
inputs too large for the dtype are named as such before training."""

import numpy as np
import pytest

import fastnn
from fastnn import ACTIVATIONS, DeepNetwork, TrainingDiverged
from fastnn.training import DIVERGENCE_FACTOR

X, Y = fastnn.datasets.make_flower(m=200, seed=1)


@pytest.mark.parametrize("learning_rate", [1e6, 1e30])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_huge_learning_rates_diverge_with_every_activation(engine, activation, learning_rate):
    net = DeepNetwork([2, 4, 1], activation, learning_rate=learning_rate, epochs=300, init="small",
                      engine=engine.name)
    with pytest.raises(TrainingDiverged, match="training diverged: the cost became .* try a smaller learning rate"):
        net.fit(X, Y)
    assert not hasattr(net, "parameters_")  # no garbage weights come back


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_the_rule_sees_every_epoch_even_when_costs_are_read_rarely(activation):
    """Costs read back once at the end (report_every = epochs), mini-batches, float32."""
    net = DeepNetwork([2, 4, 1], activation, learning_rate=1e6, epochs=200, batch_size=50, init="auto",
                      dtype="float32", engine="numpy")
    with pytest.raises(TrainingDiverged, match=r"times its start\) at epoch"):
        net.fit(X, Y, report_every=200)


def test_the_course_planar_example_is_healthy():
    """The course's [2, 4, 1] tanh network, learning rate 1.2, 10,000 iterations, init "small"."""
    X_flower, y_flower = fastnn.datasets.make_flower()
    net = DeepNetwork([2, 4, 1], "tanh", learning_rate=1.2, epochs=10000, init="small", seed=2,
                      engine="numba").fit(X_flower, y_flower)
    assert len(net.history_) == 10000 and net.history_[-1] < 0.3 and net.score(X_flower, y_flower) > 0.85


@pytest.mark.parametrize("learning_rate, seed, least_rise", [(2.5, 0, 1.4), (10.0, 1, 4.0)])
def test_noisy_runs_that_rise_and_recover_are_not_stopped(engine, learning_rate, seed, least_rise):
    """Cheaper runs than the course's that rise much more (57% and 5x above their lowest cost so
    far) before settling: well inside the factor of 100, so they train to the end."""
    X_flower, y_flower = fastnn.datasets.make_flower(seed=seed)
    net = DeepNetwork([2, 4, 1], "tanh", learning_rate=learning_rate, epochs=2000, init="small", seed=seed,
                      engine=engine.name, dtype="float64").fit(X_flower, y_flower)
    history = np.array(net.history_)
    rise = (history / np.minimum.accumulate(history)).max()
    assert rise > least_rise  # the run really is noisy: the test would catch an over-eager rule
    assert history.max() < DIVERGENCE_FACTOR * history[0]
    assert history[-1] < history[0] / 3 and net.score(X_flower, y_flower) > 0.9


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_a_cost_rising_past_the_factor_is_stopped_even_when_finite(activation):
    """Start from weights that already fit the data, then push with a large rate: the cost stays
    finite (saturated units) but passes 100 x max(first cost, ln 2)."""
    net = DeepNetwork([2, 4, 1], activation, learning_rate=1e4, epochs=50, init="small", seed=0, engine="numpy")
    with pytest.raises(TrainingDiverged) as error:
        net.fit(X, Y)
    cost = float(str(error.value).split("the cost became ")[1].split()[0])
    assert not np.isfinite(cost) or cost > DIVERGENCE_FACTOR * np.log(2)


def test_input_too_large_for_float64_is_named_not_blamed_on_the_learning_rate():
    X_huge = X.copy()
    X_huge[3, 1] = 1e308
    with pytest.raises(ValueError, match=r"X: values up to 1e\+308 overflow float64: a layer sums 2 of them"):
        DeepNetwork([2, 4, 1], "tanh", engine="numpy").fit(X_huge, Y)
    assert X_huge[3, 1] == 1e308  # the caller's array is untouched


def test_input_that_overflows_float32_when_converted_is_named():
    X_huge = X.copy()
    X_huge[5, 0] = -1e39
    with pytest.raises(ValueError, match=r"X: the value -1e\+39 at index \(5, 0\) overflows float32 .* use dtype='float64'"):
        DeepNetwork([2, 4, 1], "tanh", dtype="float32", engine="numpy").fit(X_huge, Y)
    fitted = DeepNetwork([2, 4, 1], "tanh", dtype="float32", epochs=2, engine="numpy").fit(X, Y)
    with pytest.raises(ValueError, match="overflows float32"):
        fitted.predict(X_huge)
    DeepNetwork([2, 4, 1], "tanh", dtype="float64", epochs=2, engine="numpy").fit(X_huge, Y)  # fits float64


def test_large_but_safe_inputs_and_real_nans_keep_their_meaning():
    X_large = X * 1e150  # max|x| * 2 features is far below float64's 1.8e308
    fastnn.validation.check_features(X_large)
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"X: expected finite numbers, got 1 NaN or inf value\(s\), the first at index \(0, 0\)"):
        fastnn.validation.check_features(X_nan, dtype=np.float32)
