"""The training loop: (mini-batch) gradient descent around Engine.training_step.

Data goes to the engine once; each epoch cuts shuffled mini-batches on the engine into
fixed buffers. Epoch costs stay on the engine and are read back every `report_every`
epochs (and at the end), which is also when divergence is checked and callbacks run. The
full-batch epochs between two reads go to the engine in one call (Engine.training_steps),
which an engine may run as one compiled loop.
"""

import numpy as np

from .errors import TrainingDiverged
from .progress import ProgressBar
from .propagation import Workspace
from .seeding import random_generator
from .validation import batch_size_for


def train(engine, weights, biases, activations, X, Y, *, learning_rate, epochs, batch_size=None,
          shuffle=True, seed=0, callback=None, progress=False, report_every=None):
    """Update `weights` and `biases` (engine arrays, indexed from 1) in place; return the cost history.

    X is (m, n_x) and Y is (m, 1), as engine.training_data gives them: each mini-batch is
    cut and cast to the parameters' dtype as its rows are gathered. History has one cost per
    epoch: the mean over the epoch's mini-batches, each from the forward pass before its
    update. `callback(epoch, cost)` runs for each epoch when its cost is read back (every
    `report_every` epochs); returning True stops training after that read.
    """
    loop = _Loop(engine, weights, biases, activations, X, Y, learning_rate, batch_size)
    bar = ProgressBar(epochs, enabled=progress)
    report_every = report_every or -(-epochs // 100)  # at most 100 reads a fit
    rng = random_generator(seed)  # a RandomState goes on from where the initial weights left it
    epoch_costs = engine.empty((epochs,), loop.dtype)
    history = []
    try:
        # A diverging run overflows on the way; _report turns that into one clear error.
        with np.errstate(over="ignore", invalid="ignore"):
            for start in range(0, epochs, report_every):  # the epochs between two reads run back to back
                end = min(start + report_every, epochs)
                loop.run_epochs(rng if shuffle else None, epoch_costs[start:end])
                if _report(engine, epoch_costs[len(history):end], history, learning_rate, callback, loop.start_cost):
                    break
                bar.update(end, history[-1])
    finally:
        loop.finish()
        bar.close()
    return history


# The divergence rule: a run has diverged once an epoch's cost is NaN or inf, or exceeds
# DIVERGENCE_FACTOR times the starting cost: that of the first batch, before any update (at
# least ln 2, the cost of predicting 1/2). Sigmoid and tanh saturate, so their cost stays
# finite while the weights run away (a learning rate of 1e6 gives costs 1e4-1e6 times the
# start); healthy runs that wobble upward, even 5x, stay far below the factor.
DIVERGENCE_FACTOR = 100.0


def _report(engine, new_costs, history, learning_rate, callback, start_cost=None):
    """Read new epoch costs back, stop on divergence (the rule above), run the callback; True means stop early.

    Every epoch already run is kept in history, so history always matches the weights.
    `start_cost()` returns the rule's starting cost; without it, the first epoch's cost is used.
    """
    stop = False
    start = None if start_cost is None else max(start_cost(), np.log(2))
    for cost in engine.to_numpy(new_costs).tolist():
        history.append(cost)
        start = max(history[0], np.log(2)) if start is None else start
        if not cost <= DIVERGENCE_FACTOR * start:  # also true for NaN
            grown = "" if not np.isfinite(cost) else f" ({cost / start:.3g} times its start)"
            raise TrainingDiverged(
                f"training diverged: the cost became {cost:.6g}{grown} at epoch {len(history)} "
                f"(learning_rate={learning_rate}); try a smaller learning rate, such as {learning_rate / 10:g}"
            )
        if callback is not None and not stop:
            stop = bool(callback(len(history), cost))
    return stop


class _Loop:
    """Runs epochs: one workspace and one (possibly captured) step per batch size, at most two."""

    def __init__(self, engine, weights, biases, activations, X, Y, learning_rate, batch_size):
        self.engine, self.X, self.Y = engine, X, Y
        self.dtype = weights[1].dtype  # the working precision; X may be wider (cast per batch)
        self.m = X.shape[0]
        self.batch_size = batch_size_for(batch_size, self.m)
        self.units = [X.shape[1]] + [W.shape[0] for W in weights[1:]]
        self.model = (weights, biases, activations, learning_rate)
        self.steps = {}
        # Each batch's cost goes into a slot; one dot with the batch fractions gives the epoch's mean.
        starts = range(0, self.m, self.batch_size)
        fractions = np.array([min(self.batch_size, self.m - start) for start in starts]) / self.m
        self.batch_fractions = engine.asarray(fractions.astype(self.dtype))
        self.batch_costs = engine.empty(fractions.shape, self.dtype)
        self.rows_in_order = None
        self._start_cost = None

    def start_cost(self):
        """The first batch's cost, before any update (read back once): the divergence rule's reference."""
        if not isinstance(self._start_cost, float):
            self._start_cost = float(self.engine.to_numpy(self._start_cost))
        return self._start_cost

    def _keep_start_cost(self, workspace):
        if self._start_cost is None:  # a copy on the engine: the next step overwrites workspace.cost
            self._start_cost = self.engine.copy(workspace.cost)

    def run_epochs(self, rng, costs):
        """Run len(costs) epochs (shuffled when `rng` is given), each one's mean cost into costs[i] on the engine."""
        if self.batch_size < self.m:
            for epoch in range(costs.shape[0]):
                self.engine.store(costs, epoch, self._run_minibatch_epoch(rng))
            return
        workspace, step = self._step_for(self.m)
        first = 0
        if self._start_cost is None:  # the first step alone: the divergence rule keeps its cost
            step()
            self._keep_start_cost(workspace)
            self.engine.store(costs, 0, workspace.cost)
            first = 1
        if first < costs.shape[0]:
            weights, biases, activations, learning_rate = self.model
            self.engine.training_steps(step, weights, biases, activations, learning_rate, workspace, costs[first:])

    def finish(self):
        """Let the engine apply what it deferred, so the parameters hold every step run."""
        for workspace, _ in self.steps.values():
            self.engine.finish_training(workspace)

    def _run_minibatch_epoch(self, rng):
        """One pass over the data in mini-batches; returns its mean cost on the engine."""
        rows = self.engine.asarray(rng.permutation(self.m)) if rng is not None else self._rows_in_order()
        for batch, start in enumerate(range(0, self.m, self.batch_size)):
            batch_rows = rows[start:start + self.batch_size]
            workspace, step = self._step_for(batch_rows.shape[0])
            self.engine.take_rows(self.X, batch_rows, out=workspace.X)
            self.engine.take_rows(self.Y, batch_rows, out=workspace.Y)
            step()
            self._keep_start_cost(workspace)
            self.engine.store(self.batch_costs, batch, workspace.cost)
        return self.engine.weighted_sum(self.batch_costs, self.batch_fractions)

    def _rows_in_order(self):
        if self.rows_in_order is None:
            self.rows_in_order = self.engine.asarray(np.arange(self.m))
        return self.rows_in_order

    def _step_for(self, m):
        if m not in self.steps:
            engine, whole = self.engine, m == self.m
            workspace = Workspace(engine, self.units, m, self.dtype,
                                  X=engine.asarray(self.X, dtype=self.dtype) if whole else None,
                                  Y=engine.asarray(self.Y, dtype=self.dtype) if whole else None)
            weights, biases, activations, learning_rate = self.model
            # The step refers to no part of self: a cycle through it would keep X (and a
            # converted copy of it) alive after fit returns, until the garbage collector ran.
            step = engine.capture_step(
                lambda: engine.training_step(weights, biases, activations, learning_rate, workspace))
            self.steps[m] = (workspace, step)
        return self.steps[m]
