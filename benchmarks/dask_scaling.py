"""Full-batch gradient descent on Dask: one process against 1 and 2 Dask workers, and a model.

    python benchmarks/dask_scaling.py            # 1,000,000 rows of [784, 64, 1], 5 rounds
    python benchmarks/dask_scaling.py --quick    # 100,000 rows, 2 rounds (a minute)
    python benchmarks/dask_scaling.py --json FILE

Data: synthetic float32 rows, uniform in [0, 1), generated block by block by Dask (50,000
rows a block) from one seed: the workers generate and keep their own blocks (persisted),
the single process computes the same array into memory. Every contestant is given one core
(one BLAS and Numba thread), so 2 workers have twice the cores of 1: scaling efficiency is
t(1 worker) / (2 t(2 workers)).

Timing: each round runs every contestant in turn (round-robin); each run is fit(epochs=1 +
EPOCHS) with a callback after each epoch: the first epoch is the warm-up, the others are
timed samples; medians over rounds. The very first epoch of each contestant (Numba's
compile or cache load on each worker) is reported apart. The Dask overhead per step is the
epoch time on 2 blocks of 8 rows (nothing to compute: a scatter, the tasks, the reduction
and the gather), and also t(1 worker) - t(single process).

The step-time model, t(N) = compute / N + all-reduce of the parameter bytes + scheduler
latency, is fitted to these figures and evaluated for the README's 490 GB example.
"""

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import fastnn  # noqa: E402

LAYERS = [784, 64, 1]
BLOCK_ROWS = 50_000
LEARNING_RATE = 0.01
ONE_THREAD = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
# The README's example: 10 million 64x64x3 images in float32 (490 GB), the course's deep network.
BIG_ROWS, BIG_LAYERS = 10_000_000, [12288, 20, 7, 5, 1]
BIG_BLOCK_BYTES = 256 << 20  # Dask's usual block size: 256 MiB of rows
NETWORK_BYTES_PER_S = 1.25e9  # 10 Gbit/s Ethernet between machines (an assumption, not measured)


def synthetic(m, seed=0):
    """X (m, 784) float32 and y (m,) 0/1, as Dask arrays generated block by block."""
    import dask.array as da

    X = da.random.default_rng(seed).random((m, LAYERS[0]), dtype=np.float32, chunks=(BLOCK_ROWS, LAYERS[0]))
    y = (X[:, :16].sum(axis=1) > 8).astype(np.float32)
    return X, y


def epoch_times(fit, epochs):
    """Run fit(callback) for 1 + epochs epochs; return the durations of each epoch after the first, and the first."""
    marks = [time.perf_counter()]
    fit(lambda epoch, cost: marks.append(time.perf_counter()))
    durations = np.diff(marks)
    return durations[1:].tolist(), float(durations[0])


def network(epochs, engine):
    return fastnn.DeepNetwork(LAYERS, "relu", learning_rate=LEARNING_RATE, epochs=epochs, engine=engine, seed=0)


def start_cluster(workers, memory):
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, memory_limit=memory,
                           dashboard_address=":0", env=ONE_THREAD)
    return cluster, Client(cluster, set_as_default=False)


def run(args):
    import numba
    from threadpoolctl import threadpool_limits

    m = 100_000 if args.quick else args.rows
    rounds = 2 if args.quick else args.rounds
    epochs = 2 if args.quick else args.epochs
    X, y = synthetic(m)
    memory = max(2 * X.nbytes, 2**30)  # per worker: each keeps its blocks in memory
    clusters = {n: start_cluster(n, memory) for n in (1, 2)}
    try:
        data = {n: client.persist([X, y]) for n, (_, client) in clusters.items()}
        for _, client in clusters.values():
            client.wait_for_workers(len(client.scheduler_info()["workers"]))
        X_local, y_local = X.compute(), y.compute()
        numba.set_num_threads(1)

        def single(callback):
            with threadpool_limits(1):
                network(1 + epochs, args.engine).fit(X_local, y_local, callback=callback)

        def on(n):
            Xd, yd = data[n]
            return lambda callback: network(1 + epochs, args.engine).fit(Xd, yd, client=clusters[n][1],
                                                                         callback=callback)

        contestants = {"single process": single, "1 worker": on(1), "2 workers": on(2)}
        samples = {name: [] for name in contestants}
        first = {}
        for _ in range(rounds):
            for name, fit in contestants.items():
                timed, warm_up = epoch_times(fit, epochs)
                samples[name] += timed
                first.setdefault(name, warm_up)
        overhead = dask_overhead(clusters[2][1], args.engine, rounds * epochs)
        # Each block adds a gradient task and a reduction task to every step.
        per_block = (dask_overhead(clusters[2][1], args.engine, rounds * epochs, blocks=66) - overhead) / 64
    finally:
        for cluster, client in clusters.values():
            client.close()
            cluster.close()
    return report(m, samples, first, overhead, per_block)


def dask_overhead(client, engine, steps, blocks=2):
    """Median seconds of one full-batch step on `blocks` blocks of 8 rows: Dask's round trip alone."""
    import dask.array as da

    rng = np.random.default_rng(0)
    X = da.from_array(rng.random((8 * blocks, LAYERS[0]), dtype=np.float32), chunks=(8, LAYERS[0]))
    y = da.from_array((rng.random(8 * blocks) > 0.5).astype(np.float32), chunks=8)
    timed, _ = epoch_times(lambda callback: network(1 + steps, engine).fit(X, y, client=client, callback=callback),
                           steps)
    return statistics.median(timed)


def report(m, samples, first, overhead, per_block):
    medians = {name: statistics.median(times) for name, times in samples.items()}
    single, one, two = medians["single process"], medians["1 worker"], medians["2 workers"]
    efficiency = one / (2 * two)
    compute = max(one - overhead, 1e-9)
    model = step_time_model(compute / m, overhead, per_block)
    rows = [{"contestant": name, "epoch_s": medians[name], "first_epoch_s": first[name],
             "samples": len(samples[name])} for name in samples]
    result = {"rows": m, "layers": LAYERS, "contestants": rows, "dask_overhead_ms": overhead * 1e3,
              "dask_overhead_per_block_ms": per_block * 1e3,
              "overhead_vs_single_ms": (one - single) * 1e3, "scaling_efficiency_2_workers": efficiency,
              "model": model}
    print(f"full-batch GD, {LAYERS}, {m:,} rows float32, blocks of {BLOCK_ROWS:,} rows, one core per contestant")
    print(f"{'contestant':16} {'epoch (median)':>15} {'first epoch':>12} {'samples':>8}")
    for row in rows:
        print(f"{row['contestant']:16} {row['epoch_s'] * 1e3:12.1f} ms {row['first_epoch_s'] * 1e3:9.1f} ms "
              f"{row['samples']:8d}")
    print(f"Dask overhead per step: {overhead * 1e3:.1f} ms (2 blocks of 8 rows), plus {per_block * 1e3:.2f} ms "
          f"per further block; 1 worker - single process: {(one - single) * 1e3:.1f} ms")
    print(f"speed-up of 2 workers over 1: {one / two:.2f}x; scaling efficiency {efficiency:.0%}")
    print(f"model for the 490 GB example ({BIG_ROWS:,} rows of {BIG_LAYERS}, float32), seconds per "
          f"full-batch step: compute {model['compute_one_worker_s']:.0f} s / N + all-reduce of "
          f"{model['parameter_bytes'] / 1e6:.2f} MB + latency for {model['blocks']:,} blocks of {BIG_BLOCK_BYTES >> 20} MiB")
    for n, seconds in model["predicted_step_s"].items():
        print(f"  N = {n:3d} machines: {seconds:8.1f} s per step")
    return result


def step_time_model(seconds_per_row_784, latency, per_block):
    """t(N) = C / N + all-reduce(P bytes) + latency, with C scaled from the measured per-row cost by the flops.

    The latency is the measured round trip plus the measured cost of each block's tasks, for
    the example's blocks of BIG_BLOCK_BYTES; the scheduler handles them all, whatever N.
    """
    def flops_per_row(layers):  # forward and backward: about 6 multiply-adds per weight
        return 6 * sum(a * b for a, b in zip(layers[:-1], layers[1:]))

    compute = seconds_per_row_784 * BIG_ROWS * flops_per_row(BIG_LAYERS) / flops_per_row(LAYERS)
    parameter_bytes = 4 * sum(a * b + b for a, b in zip(BIG_LAYERS[:-1], BIG_LAYERS[1:]))
    blocks = math.ceil(BIG_ROWS * BIG_LAYERS[0] * 4 / BIG_BLOCK_BYTES)
    latency = latency + per_block * (blocks - 2)
    predicted = {}
    for n in (1, 8, 64):
        # Sums go up a binary tree and the weights come back down: 2 log2(N) hops of P bytes.
        all_reduce = 2 * math.ceil(math.log2(n)) * parameter_bytes / NETWORK_BYTES_PER_S if n > 1 else 0.0
        predicted[n] = compute / n + all_reduce + latency
    return {"compute_one_worker_s": compute, "parameter_bytes": parameter_bytes, "latency_s": latency, "blocks": blocks,
            "network_bytes_per_s": NETWORK_BYTES_PER_S, "predicted_step_s": predicted}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 rows, 2 rounds of 2 epochs")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per run")
    parser.add_argument("--engine", default="numba")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    result = run(args)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
