"""One training epoch per round, fastnn's engines beside PyTorch and scikit-learn.

Networks, on synthetic seeded data of these shapes (float32, ReLU, SGD at 0.01):
  (a) [784, 256, 128, 1], mini-batches of 128, 60,000 examples
  (b) [784, 64, 64, 1], mini-batches of 32, 60,000 examples
  (c) [12288, 20, 7, 5, 1], one full batch of 209 examples
fastnn is timed through its public API, ``DeepNetwork(..., epochs=1).fit(X, y)``, so a
round includes fit's setup (input checks, initialisation, copying X to the engine);
``python benchmarks/compare_training.py`` times the epoch alone, round-robin, and reports
setup and the first (compiling) epoch apart. With --benchmark-disable each network runs
once on 256 examples (network (c) keeps its 209).
"""

import pytest
from compare_training import NETWORKS, FastnnRunner, make_data, make_runner

SMOKE_M = 256
ROUNDS = {"a": 3, "b": 3, "c": 7}  # an epoch of (a) or (b) takes seconds on a CPU


@pytest.fixture(scope="module", params=sorted(NETWORKS), ids=lambda key: f"net_{key}")
def network(request):
    """(key, spec) for one network; its data is made once per module and size."""
    return request.param, NETWORKS[request.param]


def test_training_epoch(benchmark, network, contestant, full_size):
    key, spec = network
    m = spec["m"] if full_size else min(spec["m"], SMOKE_M)
    X, y = make_data(spec["layers"], m)
    runner = make_runner(contestant, spec["layers"], spec["batch_size"], X, y)
    batch = "full batch" if spec["batch_size"] is None else f"batch {spec['batch_size']}"
    benchmark.group = f"epoch, network ({key}) {spec['layers']}, {batch}, m={m:,}"
    benchmark.extra_info.update(spec, network=key, contestant=runner.name, m=m)
    one_epoch = runner.fit_once if isinstance(runner, FastnnRunner) else runner.epoch
    benchmark.pedantic(one_epoch, rounds=ROUNDS[key], warmup_rounds=1, iterations=1)
