"""Synchronous data-parallel gradient descent over Dask arrays, and predictions where the data lives.

One step: the current weights reach every worker once (scattered with broadcast, never
copied per block); each row block's task (fastnn.blocks.gradient_sums, the shared
propagation code on the worker's engine) returns the sums of dW, db and the loss and its
row count; a fixed binary tree over the blocks adds them up, so the result depends on the
blocks and never on which worker ran what; the client divides by the rows and applies the
update once (the NumPy engine's sgd_update). Full-batch descent thus equals the
single-machine fit up to rounding. Only gradient sums and costs ever reach the client.

Mini-batches: each epoch has ceil(m / batch_size) global steps; every block gives each step
its share in proportion to its rows, drawn from its own per-epoch shuffle (blocks.batch_rows).
"""

import contextlib
import math
import time

import numpy as np

from .backends import Engine, get_engine
from .blocks import add_sums, block_problem, gradient_sums, predict_proba_block, prepare_block
from .checkpoints import load_checkpoint, save_checkpoint
from .dask_inputs import aligned_blocks, block_starts, class_labels, fits_in_memory, resolve_client, training_dtype
from .progress import ProgressBar
from .training import _report
from .validation import as_float_dtype, batch_size_for, check_class_count, check_feature_count, check_parameters, check_positive

SCATTER_ATTEMPTS = 6  # about 13 s of waiting in all, for the scheduler to notice a dead worker


def fit_dask(network, X, y, *, client=None, initial_parameters=None, callback=None, progress=False,
             report_every=None, checkpoint=None, checkpoint_every=None, resume=None):
    """Train `network` on Dask arrays X (m, n_x) and y (m,); return the network (see DeepNetwork.fit)."""
    client = resolve_client(client)
    dtype = training_dtype(X, None if network.dtype is None else as_float_dtype(network.dtype))
    X, y = aligned_blocks(X, y)
    layers = network._layer_sizes(X.shape[1])
    activations = network._activations(layers)  # as fit: None means relu, none without hidden layers
    if resume is not None:
        parameters, history = load_checkpoint(resume)
        parameters = check_parameters(parameters, layers, dtype, "resume")
    else:
        parameters, history = network._starting_parameters(layers, activations, initial_parameters, dtype), []
    if checkpoint_every is not None:
        check_positive(checkpoint_every, "checkpoint_every", integer=True)
    with _current(client):
        classes = class_labels(y, layers[-1])
        if classes is not None:
            classes = check_class_count(classes, layers[-1])
        blocks = RowBlocks(client, X, y, engine_name(network.engine), dtype, layers[-1], classes)
        try:
            blocks.check()
            trainer = DataParallelTrainer(blocks, activations, engine_name(network.engine), network)
            parameters, history = trainer.run(parameters, history, callback=callback, progress=progress,
                                              report_every=report_every or 1, checkpoint=checkpoint,
                                              checkpoint_every=checkpoint_every or 10)
        finally:
            blocks.release()
    network._check_finite_weights(parameters)
    network._set_fitted(parameters, layers, activations, client_engine(network.engine), history, classes)
    return network


def predict_proba_dask(network, X):
    """Return y_hat for each row of the Dask array X as a Dask array, computed block by block."""
    parameters = network._fitted_parameters()
    X, _ = aligned_blocks(X, None)
    check_feature_count(X, network.layers_[0])
    dtype, K = parameters["W1"].dtype, network.layers_[-1]
    arguments = (predict_proba_block, parameters, network.activations_, engine_name(network.engine), dtype)
    if K == 1:
        return X.map_blocks(*arguments, drop_axis=1, dtype=dtype, meta=np.empty((0,), dtype))
    return X.map_blocks(*arguments, chunks=(X.chunks[0], (K,)), dtype=dtype, meta=np.empty((0, 0), dtype))


def predict_classes_dask(network, proba):
    """The class of highest probability for each row of a Dask array of K-class probabilities."""
    classes = network.classes_
    return proba.argmax(axis=1).map_blocks(lambda codes: classes[codes], dtype=classes.dtype)


def score_dask(network, X, y):
    """Return the accuracy of predict(X) against y, computed block by block on the current client."""
    X, y = aligned_blocks(X, y)
    if y.ndim == 2:  # one-hot targets
        y = y.argmax(axis=1).map_blocks(lambda codes: network.classes_[codes], dtype=network.classes_.dtype)
    correct = (network.predict(X) == y).mean()
    not_binary = ((y != 0) & (y != 1)).any() if network.layers_[-1] == 1 else False
    client = resolve_client(None)
    if client is None:
        import dask

        accuracy, bad = dask.compute(correct, not_binary, scheduler="threads")
    else:
        accuracy, bad = client.gather(client.compute([correct, not_binary]))
    if bad:
        raise ValueError("y: labels must be 0 or 1, got other values")
    return float(accuracy)


def _current(client):
    """Make `client` the one Dask's own calls use inside the block (nothing without a client)."""
    return contextlib.nullcontext() if client is None else client.as_current()


def engine_name(engine):
    """The engine to ask each worker for: a name, or None for the worker's own default."""
    return engine.name if isinstance(engine, Engine) else engine


def client_engine(engine):
    """The engine for later in-process predictions; NumPy when the client lacks the workers' engine."""
    try:
        return get_engine(engine)
    except (ValueError, RuntimeError):
        return get_engine("numpy")


class RowBlocks:
    """The row blocks of X and y as Delayed objects, each checked and converted where it lives
    (blocks.prepare_block) and persisted there, in the training dtype, when they fit.

    Data bigger than half the workers' memory (or this machine's, without a client) is
    not persisted: each step then reads every block it needs from storage again, and checks
    and converts it again (a small cost beside reading it).
    """

    def __init__(self, client, X, y, engine, dtype, n_outputs, classes):
        import dask

        self.client = client
        self.rows = [int(size) for size in X.chunks[0]]
        self.starts = block_starts(X)
        prepare = dask.delayed(prepare_block, pure=False)
        self.blocks = [prepare(x, labels, index, start, engine, dtype, n_outputs, classes) for index, (x, labels, start)
                       in enumerate(zip(X.to_delayed().ravel(), y.to_delayed().ravel(), self.starts))]
        # What each block keeps: X in the training dtype, and one target column per output unit.
        self.persisted = fits_in_memory(client, X.shape[0] * (X.shape[1] + n_outputs) * np.dtype(dtype).itemsize)
        if self.persisted:
            self.blocks = self._persist(self.blocks)

    def _persist(self, blocks):
        """`blocks` computed and kept where they are (on the workers, or in this process), as Delayed."""
        import dask

        if self.client is None:
            return list(dask.persist(*blocks, scheduler="threads"))
        import distributed

        blocks = self.client.persist(blocks)
        distributed.wait(distributed.futures_of(blocks))
        return blocks

    def check(self):
        """Raise the first problem prepare_block found in a block (finite X, labels, the engine)."""
        import dask

        problem = dask.delayed(block_problem)
        problems = [found for found in self.compute([problem(block) for block in self.blocks]) if found is not None]
        if problems:
            more = f" (and {len(problems) - 1} more block(s) with problems)" if len(problems) > 1 else ""
            raise ValueError(problems[0] + more)

    def share(self, value):
        """`value` as one object every task can use: scattered to all workers once, or a local Delayed."""
        import dask

        if self.client is None:
            return dask.delayed(value, traverse=False)
        for attempt in range(SCATTER_ATTEMPTS):
            try:
                [future] = self.client.scatter([value], broadcast=True, hash=False)
                return future
            except OSError:  # a worker died; the scheduler drops it within moments, then retry
                if attempt + 1 == SCATTER_ATTEMPTS:
                    raise
                time.sleep(0.2 * 2**attempt)

    def compute(self, tasks):
        """Run a list of Delayed tasks on the client's cluster (or local threads); return their results."""
        import dask

        if self.client is None:
            return list(dask.compute(*tasks, scheduler="threads"))
        return self.client.gather(self.client.compute(tasks))

    def release(self):
        """Let the workers drop the persisted blocks."""
        self.blocks = None


class DataParallelTrainer:
    """Runs epochs of synchronous data-parallel gradient descent over RowBlocks."""

    def __init__(self, blocks, activations, engine, network):
        self.blocks, self.activations, self.engine = blocks, activations, engine
        self.m = sum(blocks.rows)
        self.batch_size = batch_size_for(network.batch_size, self.m)
        self.steps = math.ceil(self.m / self.batch_size)
        self.learning_rate, self.epochs = network.learning_rate, network.epochs
        self.seed = network.seed if network.shuffle else None
        self.host = get_engine("numpy")  # the update and the cost reads happen on the client, in NumPy

    def run(self, parameters, history, *, callback, progress, report_every, checkpoint, checkpoint_every):
        """Train from `parameters` after the epochs in `history`; return (parameters, history)."""
        history, pending = list(history), []
        bar = ProgressBar(self.epochs, enabled=progress)
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                for epoch in range(len(history), self.epochs):
                    parameters, cost = self.run_epoch(parameters, epoch)
                    pending.append(cost)
                    if (epoch + 1) % report_every == 0 or epoch + 1 == self.epochs:
                        stop = _report(self.host, np.array(pending), history, self.learning_rate, callback)
                        pending = []
                        bar.update(epoch + 1, history[-1])
                    else:
                        stop = False
                    if checkpoint is not None and ((epoch + 1) % checkpoint_every == 0 or epoch + 1 == self.epochs or stop):
                        save_checkpoint(checkpoint, parameters, history + pending)
                    if stop:
                        break
        finally:
            bar.close()
        return parameters, history

    def run_epoch(self, parameters, epoch):
        """One pass over the data in self.steps global steps; return (new parameters, mean cost)."""
        loss = 0.0
        for step in range(self.steps):
            batch = None if self.steps == 1 else (self.seed, epoch, step, self.steps)
            m, loss_sum, sums = self.gradient_sums(parameters, batch)
            if m == 0:  # tiny blocks can all fall short of a share this step
                continue
            # Updated in place, no copy: `parameters` are fit's own (check_parameters and the
            # initializers make them, never the user's arrays), and the step's tasks that read
            # the scattered weights have all finished once their sums are here.
            keys = list(parameters)
            self.host.sgd_update([parameters[key] for key in keys], [sums[key] / m for key in keys], self.learning_rate)
            loss += loss_sum
        return parameters, loss / self.m

    def gradient_sums(self, parameters, batch):
        """Sum the gradients of every block (its share of `batch`) with the current parameters."""
        import dask

        weights = self.blocks.share(parameters)
        task = dask.delayed(gradient_sums, pure=False)
        parts = []
        for index, block in enumerate(self.blocks.blocks):
            share = None if batch is None else (batch[0], batch[1], index, batch[2], batch[3])
            parts.append(task(block, weights, self.activations, self.engine, share))
        [total] = self.blocks.compute([tree_sum(parts)])
        return total


def tree_sum(parts):
    """Add Delayed gradient sums pairwise in a fixed binary tree (same order whatever runs where)."""
    import dask

    add = dask.delayed(add_sums, pure=False)
    while len(parts) > 1:
        parts = [add(parts[i], parts[i + 1]) if i + 1 < len(parts) else parts[i] for i in range(0, len(parts), 2)]
    return parts[0]
