"""fit against an independent oracle: the notes' mini-batch gradient descent, written plainly.

tests/reference_trainer.py shares no code with fastnn. Every engine, in both dtypes, must
end with the reference's parameters and report the reference's cost for every epoch, for
each way of cutting epochs into batches. The reference runs in float64, so the float32
tolerance is float32's own rounding over a short run.
"""

import numpy as np
import pytest

import fastnn
import reference_trainer
from fastnn import ACTIVATIONS

# Measured worst differences from the reference: 3.4e-5 (float32) and 5e-14 (float64), relative.
TOLERANCE = {np.dtype(np.float32): dict(rtol=2e-4, atol=2e-5), np.dtype(np.float64): dict(rtol=1e-10, atol=1e-12)}

# name: (m, batch_size, shuffle, report_every, stop at epoch); EPOCHS unless a callback stops earlier.
CASES = {
    "short-last-batch": (23, 5, True, None, None),  # batches 5, 5, 5, 5, 3
    "in-order": (23, 5, False, None, None),
    "batch-above-m": (10, 32, True, None, None),
    "full-batch": (23, None, True, None, None),
    "report-every-3-stop-at-4": (23, 4, True, 3, 4),  # stops after the read at epoch 6 of 8
    "one-example-batches": (5, 1, True, 2, None),
    "legacy-RandomState-seed": (23, 5, True, None, None),  # the course's np.random.seed, shuffling too
}
EPOCHS = 8
N_X = 4


def problem(m, dtype, seed=0):
    """Samples-first X (m, N_X) and labels y (m,) of 0/1, in `dtype`."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, N_X)).astype(dtype)
    y = (rng.random(m) < 0.5).astype(dtype)
    return X, y


def starting_parameters(layers, dtype, seed=1):
    """Random W^[l] (scaled so no unit saturates) and non-zero b^[l], in the notes' shapes."""
    rng = np.random.default_rng(seed)
    parameters = {}
    for l in range(1, len(layers)):
        parameters[f"W{l}"] = (rng.standard_normal((layers[l], layers[l - 1])) / np.sqrt(layers[l - 1])).astype(dtype)
        parameters[f"b{l}"] = (0.1 * rng.standard_normal((layers[l], 1))).astype(dtype)
    return parameters


def stop_at(epoch, calls):
    """A callback recording each (epoch, cost) it is shown and asking to stop at `epoch`."""
    def callback(e, cost):
        calls.append((e, cost))
        return e == epoch
    return callback


def fit_and_reference(network, engine, dtype, case, hidden_activation):
    """Train `network` with fit and the reference on the same problem; return both runs."""
    m, batch_size, shuffle, report_every, stop = CASES[case]
    X, y = problem(m, dtype)
    parameters = starting_parameters(network.layers if network.layers else [N_X, 1], dtype)
    seed = (lambda: np.random.RandomState(7)) if case == "legacy-RandomState-seed" else (lambda: 7)
    network.set_params(learning_rate=0.5, epochs=EPOCHS, batch_size=batch_size, shuffle=shuffle, seed=seed(),
                       engine=engine)
    fit_calls, reference_calls = [], []
    callback = None if stop is None else stop_at(stop, fit_calls)
    network.fit(X, y, initial_parameters=parameters, callback=callback, report_every=report_every)
    reference = reference_trainer.train(
        parameters, X.T, y.reshape(1, -1), hidden_activation, learning_rate=0.5, epochs=EPOCHS,
        batch_size=batch_size, shuffle=shuffle, seed=seed(), report_every=report_every or 1,
        callback=None if stop is None else stop_at(stop, reference_calls))
    return (network.parameters_, network.history_, fit_calls), (*reference, reference_calls)


def assert_matches(fitted, reference, dtype):
    (parameters, history, calls), (ref_parameters, ref_history, ref_calls) = fitted, reference
    assert len(history) == len(ref_history), f"ran {len(history)} epochs, the reference ran {len(ref_history)}"
    np.testing.assert_allclose(history, ref_history, **TOLERANCE[dtype], err_msg="history_")
    assert [e for e, _ in calls] == [e for e, _ in ref_calls], "the callback saw other epochs"
    np.testing.assert_allclose([c for _, c in calls], [c for _, c in ref_calls], **TOLERANCE[dtype])
    assert set(parameters) == set(ref_parameters)
    for name, value in ref_parameters.items():
        assert parameters[name].dtype == dtype, f"{name} came back as {parameters[name].dtype}"
        np.testing.assert_allclose(parameters[name], value, **TOLERANCE[dtype], err_msg=name)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_deep_network_fit_matches_the_reference(engine, dtype, activation, case):
    network = fastnn.DeepNetwork([N_X, 5, 3, 1], activation)
    fitted, reference = fit_and_reference(network, engine, dtype, case, activation)
    assert_matches(fitted, reference, dtype)


@pytest.mark.parametrize("case", CASES)
def test_logistic_regression_fit_matches_the_reference(engine, dtype, case):
    fitted, reference = fit_and_reference(fastnn.LogisticRegression(), engine, dtype, case, "sigmoid")
    assert_matches(fitted, reference, dtype)


def test_the_early_stop_case_stops_between_reads():
    """The report-every case tests early stopping only if it ends after `stop` and before EPOCHS."""
    m, batch_size, shuffle, report_every, stop = CASES["report-every-3-stop-at-4"]
    X, y = problem(m, np.float64)
    calls = []
    _, history = reference_trainer.train(
        starting_parameters([N_X, 1], np.float64), X.T, y.reshape(1, -1), "sigmoid", learning_rate=0.5,
        epochs=EPOCHS, batch_size=batch_size, seed=7, report_every=report_every, callback=stop_at(stop, calls))
    assert [e for e, _ in calls] == [1, 2, 3, 4]
    assert len(history) == 6 < EPOCHS


# -- Properties, observed through the weights alone -----------------------------------------
# With one-hot examples (example i is the unit vector e_i) and logistic regression, a batch
# changes only the weights of its own examples: w_i += alpha (y_i - sigma(w_i + b)) / |batch|,
# with b as it stood before that batch. All labels are 1, so b grows with every batch and no
# two batches of an epoch see the same b. So an epoch's weight changes tell which examples
# each batch held, in which order, and how often each example was used, without looking
# inside fit.

ALPHA = 0.5


def one_hot_problem(m):
    return np.eye(m), np.ones(m)


def one_hot_fit(engine, m, batch_size, shuffle, epochs):
    """(w, b) after `epochs` epochs from zero weights; (zeros, 0) for no epoch."""
    if epochs == 0:
        return np.zeros(m), 0.0
    X, y = one_hot_problem(m)
    network = fastnn.LogisticRegression(learning_rate=ALPHA, epochs=epochs, batch_size=batch_size,
                                        shuffle=shuffle, seed=11, engine=engine)
    network.fit(X, y, initial_parameters={"W1": np.zeros((1, m)), "b1": np.zeros((1, 1))})
    return network.coef_, float(network.intercept_)


def batches_of_epoch(engine, m, batch_size, shuffle, epoch):
    """The examples of each batch of `epoch`, in order, read off the weight changes it made."""
    (w, b), (w_after, b_after) = (one_hot_fit(engine, m, batch_size, shuffle, e) for e in (epoch - 1, epoch))
    _, y = one_hot_problem(m)
    change = w_after - w
    sigma = lambda z: 1 / (1 + np.exp(-z))
    batches, unused = [], set(range(m))
    for start in range(0, m, batch_size):
        size = min(batch_size, m - start)
        expected = ALPHA * (y - sigma(w + b)) / size  # each example's change, were it in this batch
        members = sorted(i for i in unused if np.isclose(change[i], expected[i], rtol=1e-9, atol=0))
        assert len(members) == size, (
            f"epoch {epoch}, batch {len(batches) + 1}: expected {size} examples used once, found {members}; "
            f"examples left: {sorted(unused)}")
        unused -= set(members)
        b += ALPHA * np.mean(y[members] - sigma(w[members] + b))
        batches.append(members)
    assert not unused, f"epoch {epoch} never used examples {sorted(unused)}"
    assert b == pytest.approx(b_after, rel=1e-9), f"epoch {epoch}: the bias did not follow the batches found"
    return batches


@pytest.mark.parametrize("m, batch_size", [(12, 4), (10, 4), (7, 1)], ids=["even", "short-last", "single"])
def test_every_example_is_used_exactly_once_per_epoch_and_epochs_differ(engine, m, batch_size):
    epochs = [batches_of_epoch(engine, m, batch_size, True, epoch) for epoch in (1, 2, 3)]
    for one, other in [(0, 1), (1, 2), (0, 2)]:
        assert epochs[one] != epochs[other], f"epochs {one + 1} and {other + 1} used the same batches in the same order"


def test_without_shuffling_every_epoch_takes_the_examples_in_order(engine):
    in_order = [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert [batches_of_epoch(engine, 10, 4, False, epoch) for epoch in (1, 2)] == [in_order, in_order]


@pytest.mark.parametrize("report_every, stop, expected_epochs", [
    (None, None, 8), (3, None, 8), (100, None, 8), (1, 5, 5), (3, 4, 6), (3, 7, 8), (2, 1, 2)])
def test_history_has_one_cost_per_epoch_run(engine, report_every, stop, expected_epochs):
    """len(history_) is the number of epochs run: a fresh fit of that many epochs ends at the same weights."""
    X, y = problem(23, np.float64)
    settings = dict(learning_rate=0.5, batch_size=5, seed=7, engine=engine)
    network = fastnn.DeepNetwork([N_X, 3, 1], "tanh", epochs=8, **settings)
    network.fit(X, y, callback=None if stop is None else stop_at(stop, []), report_every=report_every)
    assert len(network.history_) == expected_epochs
    same_run = fastnn.DeepNetwork([N_X, 3, 1], "tanh", epochs=expected_epochs, **settings).fit(X, y)
    np.testing.assert_allclose(network.history_, same_run.history_, rtol=1e-12)
    for name, value in same_run.parameters_.items():
        np.testing.assert_allclose(network.parameters_[name], value, rtol=1e-12, err_msg=name)


@pytest.mark.parametrize("layers", [[2400, 1], [2400, 5, 3, 1]], ids=["logistic", "deep"])
def test_wide_full_batch_fit_matches_the_reference(engine, dtype, layers):
    """Far more features than examples, full batch, many epochs: the numba engine runs layer 1 in
    its Gram form (fastnn/backends/gram.py), refreshing it every 64 steps; the run must still be
    the notes' own, with the steps since the last refresh in the returned weights."""
    m, epochs = 16, 150
    rng = np.random.default_rng(5)
    X = rng.standard_normal((m, layers[0])).astype(dtype)
    y = (rng.random(m) < 0.5).astype(dtype)
    parameters = starting_parameters(layers, dtype)
    network = fastnn.DeepNetwork(layers, "tanh" if len(layers) > 2 else None, learning_rate=0.05, epochs=epochs,
                                 engine=engine)
    network.fit(X, y, initial_parameters=parameters)
    ref_parameters, ref_history = reference_trainer.train(
        parameters, X.T, y.reshape(1, -1), "tanh", learning_rate=0.05, epochs=epochs, batch_size=None,
        shuffle=True, seed=0, report_every=1)
    assert_matches((network.parameters_, network.history_, []), (ref_parameters, ref_history, []), dtype)
