"""Data-parallel training on a real dask.distributed LocalCluster against the single-machine fit.

The oracle is fastnn's own in-memory fit, which tests/test_network.py pins to the notes'
equations: full-batch gradient descent summed over blocks on workers must reproduce it.
"""

import os
import resource
import signal
import subprocess
import sys

import numpy as np
import pytest

da = pytest.importorskip("dask.array", reason="needs the dask extra: pip install -e '.[dask]'")
distributed = pytest.importorskip("distributed", reason="needs the dask extra: pip install -e '.[dask]'")

import dask  # noqa: E402

import fastnn  # noqa: E402

UNEVEN_ROWS = (37, 150, 13, 100)  # four blocks of different sizes, 300 rows
# Nominal worker memory: small, so that the out-of-core test's array is far bigger than
# the workers; Dask's own spill/pause/kill thresholds are off, fastnn only reads the limit.
WORKER_MEMORY = 128 * 2**20
NO_MEMORY_ACTIONS = {f"distributed.worker.memory.{name}": False for name in ("target", "spill", "pause", "terminate")}


@pytest.fixture(scope="module")
def client():
    """A real cluster: 2 worker processes with 1 thread each, shut down after this module."""
    # The settings stay for the whole module: a nanny restarting a killed worker reads them again.
    with dask.config.set(NO_MEMORY_ACTIONS):
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           memory_limit=WORKER_MEMORY, dashboard_address=":0")
        client = distributed.Client(cluster, set_as_default=False)
        yield client
        client.close()
        cluster.close()


@pytest.fixture(params=[1, 3], ids=lambda n: f"{n}workers")
def thread_client(request):
    """A cluster of 1 or 3 in-process workers (1 thread each), besides the 2-process one."""
    cluster = distributed.LocalCluster(n_workers=request.param, threads_per_worker=1, processes=False,
                                       dashboard_address=":0")
    client = distributed.Client(cluster, set_as_default=False)
    yield client
    client.close()
    cluster.close()


def make_data(m=300, n=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, n))
    y = (X[:, 0] - 0.5 * X[:, 1] + 0.3 * rng.normal(size=m) > 0).astype(np.float64)
    return X, y


def network(**settings):
    kwargs = dict(learning_rate=0.5, epochs=12, engine="numpy", dtype="float64", seed=3)
    kwargs.update(settings)
    return fastnn.DeepNetwork([5, 4, 3, 1], "tanh", **kwargs)


def assert_same_fit(expected, actual, rtol=1e-10):
    np.testing.assert_allclose(actual.history_, expected.history_, rtol=rtol, atol=0)
    for key, value in expected.parameters_.items():
        np.testing.assert_allclose(actual.parameters_[key], value, rtol=rtol, atol=1e-14, err_msg=key)
        assert actual.parameters_[key].dtype == value.dtype


def test_full_batch_on_two_worker_processes_equals_the_single_machine_fit(client):
    X, y = make_data()
    expected = network().fit(X, y)
    actual = network().fit(da.from_array(X, chunks=(UNEVEN_ROWS, 5)), da.from_array(y, chunks=(UNEVEN_ROWS,)),
                           client=client)
    assert_same_fit(expected, actual)
    assert len(actual.history_) == 12


def test_full_batch_on_one_and_three_workers_equals_the_single_machine_fit(thread_client):
    X, y = make_data()
    expected = network().fit(X, y)
    actual = network().fit(da.from_array(X, chunks=(UNEVEN_ROWS, 5)), y, client=thread_client)
    assert_same_fit(expected, actual)


def test_the_current_client_is_used_and_the_workers_do_the_work(client):
    X, y = make_data()
    with client.as_current(), distributed.get_task_stream(client) as tasks:
        actual = network(epochs=3).fit(da.from_array(X, chunks=(UNEVEN_ROWS, 5)), y)
    ran = [task for task in tasks.data if "gradient_sums" in str(task["key"])]
    assert len(ran) == 3 * len(UNEVEN_ROWS)  # one task per block per epoch, on the cluster
    prepared = [task for task in tasks.data if "prepare_block" in str(task["key"])]
    assert len(prepared) == len(UNEVEN_ROWS)  # checked and converted once, kept for every epoch
    assert_same_fit(network(epochs=3).fit(X, y), actual)


def test_each_block_is_checked_and_converted_once_not_every_step(monkeypatch):
    """Labels become one-hot targets and X the training dtype when the blocks are persisted;
    the steps (5 mini-batches an epoch, 3 epochs) only compute."""
    import fastnn.blocks

    calls = []
    for name in ("check_features", "check_targets"):
        real = getattr(fastnn.blocks, name)
        monkeypatch.setattr(fastnn.blocks, name, lambda *a, _real=real, _name=name, **k: calls.append(_name) or _real(*a, **k))
    X, _ = make_data()
    labels = np.array(["cat", "dog", "eel"])[np.argmax(X[:, :3], axis=1)]
    make = lambda: fastnn.DeepNetwork([5, 4, 3], "relu", learning_rate=0.3, epochs=3, batch_size=64, engine="numpy",
                                      dtype="float32", seed=1)
    # Dask's local scheduler, threads in this process, where the counting wrappers are: the
    # workers of the module's cluster are other processes (the task counts above hold there).
    actual = make().fit(da.from_array(X, chunks=(UNEVEN_ROWS, 5)), labels)
    assert calls.count("check_features") == calls.count("check_targets") == len(UNEVEN_ROWS)
    assert actual.parameters_["W1"].dtype == np.float32 and len(actual.history_) == 3
    np.testing.assert_array_equal(actual.classes_, ["cat", "dog", "eel"])


def test_without_a_client_dask_local_scheduler_trains_out_of_core_the_same(tmp_path):
    zarr = pytest.importorskip("zarr")
    X, y = make_data()
    store = zarr.create_array(str(tmp_path / "X.zarr"), shape=X.shape, chunks=(64, 5), dtype=X.dtype)
    store[:] = X
    actual = network().fit(da.from_zarr(str(tmp_path / "X.zarr")), y)
    assert_same_fit(network().fit(X, y), actual)


def test_float32_keeps_its_dtype_and_matches_to_float32_rounding(client):
    X, y = make_data()
    X32 = X.astype(np.float32)
    expected = network(dtype=None, epochs=10).fit(X32, y)
    actual = network(dtype=None, epochs=10).fit(da.from_array(X32, chunks=(UNEVEN_ROWS, 5)), y, client=client)
    assert actual.parameters_["W1"].dtype == np.float32
    assert_same_fit(expected, actual, rtol=1e-4)


def test_logistic_regression_and_leaky_relu_networks_equal_their_single_machine_fits(client):
    X, y = make_data()
    Xd = da.from_array(X, chunks=(UNEVEN_ROWS, 5))
    for make in (lambda: fastnn.LogisticRegression(learning_rate=0.3, epochs=20, engine="numpy"),
                 lambda: fastnn.DeepNetwork([5, 6, 1], "leaky_relu", learning_rate=0.2, epochs=20, engine="numpy")):
        assert_same_fit(make().fit(X, y), make().fit(Xd, y, client=client))


def test_initial_parameters_are_not_modified_by_the_steps_that_start_from_them(client):
    X, y = make_data()
    start = network()._starting_parameters([5, 4, 3, 1], [None, "tanh", "tanh", "sigmoid"], None, np.float64)
    given = {key: value.copy() for key, value in start.items()}
    Xd = da.from_array(X, chunks=(UNEVEN_ROWS, 5))
    actual = network(batch_size=100, epochs=2).fit(Xd, y, client=client, initial_parameters=start)
    for key, value in given.items():
        np.testing.assert_array_equal(start[key], value, err_msg=key)
        assert not np.array_equal(actual.parameters_[key], value), key  # trained away from them


def test_predict_proba_predict_and_score_run_block_by_block(client):
    X, y = make_data()
    trained = network().fit(X, y)
    Xd = da.from_array(X, chunks=(UNEVEN_ROWS, 5))
    with client.as_current():
        proba = trained.predict_proba(Xd)
        assert isinstance(proba, da.Array) and proba.chunks == (UNEVEN_ROWS,)
        np.testing.assert_allclose(proba.compute(), trained.predict_proba(X), rtol=1e-12)
        np.testing.assert_array_equal(trained.predict(Xd).compute(), trained.predict(X))
        assert trained.score(Xd, da.from_array(y, chunks=50)) == trained.score(X, y)


def test_mini_batches_across_workers_are_reproducible_and_follow_the_stated_split(client):
    X, y = make_data()
    Xd = da.from_array(X, chunks=(UNEVEN_ROWS, 5))
    first = network(batch_size=64, epochs=4).fit(Xd, y, client=client)
    again = network(batch_size=64, epochs=4).fit(da.from_array(X, chunks=(UNEVEN_ROWS, 5)), y)
    assert_same_fit(first, again, rtol=1e-12)  # same blocks and seed: same steps, any scheduler
    # Oracle: the documented split written plainly, each step one in-memory gradient step.
    oracle = network(batch_size=64, epochs=4)
    parameters = oracle._starting_parameters([5, 4, 3, 1], [None, "tanh", "tanh", "sigmoid"], None, np.float64)
    starts, steps, history = np.cumsum((0,) + UNEVEN_ROWS[:-1]), 5, []
    for epoch in range(4):
        orders = [np.random.default_rng([3, epoch, k]).permutation(m) for k, m in enumerate(UNEVEN_ROWS)]
        loss = 0.0
        for step in range(steps):
            rows = np.concatenate([start + order[step * m // steps:(step + 1) * m // steps]
                                   for start, order, m in zip(starts, orders, UNEVEN_ROWS)])
            one = network(epochs=1, learning_rate=0.5).fit(X[rows], y[rows], initial_parameters=parameters)
            loss += one.history_[0] * len(rows)
            parameters = one.parameters_
        history.append(loss / 300)
    np.testing.assert_allclose(first.history_, history, rtol=1e-10)
    np.testing.assert_allclose(first.parameters_["W1"], parameters["W1"], rtol=1e-10)


# -- bad input ---------------------------------------------------------------------------


def test_a_client_that_is_not_a_dask_client_is_rejected():
    X, y = make_data()
    with pytest.raises(TypeError, match=r"client: expected a dask.distributed.Client.*got str"):
        network().fit(da.from_array(X, chunks=100), y, client="tcp://127.0.0.1:8786")


def test_unaligned_label_blocks_are_rechunked_and_a_wrong_length_is_an_error(client):
    X, y = make_data()
    Xd = da.from_array(X, chunks=(UNEVEN_ROWS, 5))
    misaligned = network(epochs=5).fit(Xd, da.from_array(y, chunks=7), client=client)
    assert_same_fit(network(epochs=5).fit(X, y), misaligned)
    with pytest.raises(ValueError, match=r"y: expected shape \(300,\) or \(300, 1\).*got \(299,\)"):
        network().fit(Xd, da.from_array(y[:-1], chunks=50), client=client)
    with pytest.raises(ValueError, match="X: the sizes of its row blocks are unknown"):
        network().fit(Xd[Xd[:, 0] > 0], y, client=client)


def test_nan_in_a_block_is_found_where_it_lives_and_named_by_block_index(client):
    X, y = make_data()
    X[200, 2] = np.nan  # blocks start at rows 0, 37, 187 and 200
    with pytest.raises(ValueError, match=r"X, block 3 \(rows 200 to 299\).*1 NaN or inf.*index \(0, 2\)"):
        network().fit(da.from_array(X, chunks=(UNEVEN_ROWS, 5)), y, client=client)
    X, y = make_data()
    y[40] = 2
    with pytest.raises(ValueError, match=r"y, block 1 \(rows 37 to 186\): labels must be 0 or 1.*2\.0"):
        network().fit(da.from_array(X, chunks=(UNEVEN_ROWS, 5)), y, client=client)


def error_message(call):
    """The message of the ValueError `call()` raises."""
    with pytest.raises(ValueError) as error:
        call()
    return str(error.value)


def test_samples_as_columns_get_the_in_memory_fits_looks_transposed_message(client):
    X, y = make_data()
    expected = error_message(lambda: network().fit(X.T, y))
    assert "X: looks transposed" in expected
    assert error_message(lambda: network().fit(da.from_array(X.T, chunks=(5, 100)), y, client=client)) == expected
    trained = network(epochs=1).fit(X, y)
    expected = error_message(lambda: trained.predict_proba(X.T))
    assert "X looks transposed, pass X.T" in expected
    assert error_message(lambda: trained.predict_proba(da.from_array(X.T, chunks=(5, 100)))) == expected


def test_a_class_count_that_differs_from_the_output_units_gets_the_in_memory_fits_message(client):
    X, _ = make_data()
    labels = np.array(["cat", "dog", "eel"])[np.argmax(X[:, :3], axis=1)]
    make = lambda: fastnn.DeepNetwork([5, 4, 2], "relu", epochs=1, engine="numpy")
    expected = error_message(lambda: make().fit(X, labels))
    assert "the labels hold 3 classes ('cat', 'dog', 'eel')" in expected
    assert error_message(lambda: make().fit(da.from_array(X, chunks=(UNEVEN_ROWS, 5)), labels, client=client)) == expected


def test_a_worker_without_the_requested_engine_is_a_clear_error(client):
    if fastnn.engines()[2].available:
        pytest.skip("this machine has a usable GPU, so every worker can run cupy")
    X, y = make_data()
    with pytest.raises(ValueError, match=r"engine: the Dask worker on .* cannot run 'cupy'"):
        network(engine="cupy").fit(da.from_array(X, chunks=100), y, client=client)


def test_dask_options_with_in_memory_data_are_errors():
    X, y = make_data()
    with pytest.raises(ValueError, match="checkpoint: only used when X is a Dask array"):
        network().fit(X, y, checkpoint="c.npz")
    with pytest.raises(TypeError, match="y: is a Dask array but X is not"):
        network().fit(X, da.from_array(y, chunks=100))


def test_importing_fastnn_does_not_import_dask():
    code = "import sys, fastnn; print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed', 'zarr')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_k_class_softmax_fits_on_workers_equal_the_single_machine_fit(client):
    X, _ = make_data()
    labels = np.array(["cat", "dog", "eel"])[np.argmax(X[:, :3], axis=1)]
    make = lambda: fastnn.DeepNetwork([5, 4, 3], "relu", learning_rate=0.3, epochs=10, engine="numpy", seed=1)
    expected = make().fit(X, labels)
    Xd = da.from_array(X, chunks=(UNEVEN_ROWS, 5))
    actual = make().fit(Xd, labels, client=client)
    assert_same_fit(expected, actual)
    np.testing.assert_array_equal(actual.classes_, expected.classes_)
    with client.as_current():
        np.testing.assert_allclose(actual.predict_proba(Xd).compute(), expected.predict_proba(X), rtol=1e-10)
        np.testing.assert_array_equal(actual.predict(Xd).compute(), expected.predict(X))
        assert actual.score(Xd, da.from_array(labels, chunks=100)) == expected.score(X, labels)


# -- out of core, faults, checkpoints ------------------------------------------------------


def test_a_zarr_array_three_times_the_workers_memory_streams_and_matches_in_memory(client, tmp_path):
    zarr = pytest.importorskip("zarr")
    m, n, rows = 50_000, 2048, 2000
    assert m * n * 8 >= 3 * 2 * WORKER_MEMORY  # bigger than both workers' memory limits together, 3 times
    path = str(tmp_path / "big.zarr")
    store = zarr.create_array(path, shape=(m, n), chunks=(rows, n), dtype="float64", compressors=None)
    X = np.empty((m, n))
    rng = np.random.default_rng(7)
    for start in range(0, m, rows):  # written block by block, as a data set bigger than RAM would be
        X[start:start + rows] = rng.normal(size=(rows, n))
        store[start:start + rows] = X[start:start + rows]
    y = (X[:, :8].sum(axis=1) > 0).astype(np.float64)
    make = lambda: fastnn.DeepNetwork([n, 4, 1], "relu", learning_rate=0.05, epochs=2, engine="numpy", seed=0)
    expected = make().fit(X, y)
    del X
    before = client.run(_peak_rss)
    actual = make().fit(da.from_zarr(path), da.from_array(y, chunks=rows), client=client)
    assert_same_fit(expected, actual)
    # Streamed, not persisted: no worker ever held its half of X (m * n * 8 / 2 bytes).
    after = client.run(_peak_rss)
    for worker, peak in after.items():
        assert peak - before[worker] < m * n * 8 / 4, f"worker {worker} grew by {peak - before[worker]} bytes"


def _peak_rss():
    """The peak resident memory of the calling process, in bytes (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def test_a_worker_killed_during_a_fit_changes_nothing(client):
    X, y = make_data()
    expected = network(epochs=6).fit(X, y)
    pids = client.run(os.getpid)
    killed = []

    def kill_one_worker(epoch, cost):
        if epoch == 2:
            address, pid = sorted(pids.items())[0]
            os.kill(pid, signal.SIGKILL)
            killed.append(address)

    actual = network(epochs=6).fit(da.from_array(X, chunks=(UNEVEN_ROWS, 5)), y, client=client, callback=kill_one_worker)
    assert killed
    assert_same_fit(expected, actual)
    client.wait_for_workers(2, timeout=60)  # the nanny restarts it for the tests that follow
    assert set(client.run(os.getpid).values()).isdisjoint([pids[killed[0]]])


def test_a_fit_resumes_from_its_last_checkpoint_to_the_uninterrupted_result(tmp_path):
    X, y = make_data()
    Xd = da.from_array(X, chunks=(UNEVEN_ROWS, 5))
    path = tmp_path / "fit.npz"
    uninterrupted = network(epochs=6, batch_size=100).fit(Xd, y)

    def crash_at_epoch_5(epoch, cost):
        if epoch == 5:
            raise KeyboardInterrupt("stopped by hand")

    with pytest.raises(KeyboardInterrupt):
        network(epochs=6, batch_size=100).fit(Xd, y, checkpoint=path, checkpoint_every=2, callback=crash_at_epoch_5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit.npz"]  # no temporary file left behind
    with np.load(path) as saved:
        assert len(saved["history"]) == 4
    resumed = network(epochs=6, batch_size=100).fit(Xd, y, resume=path)
    assert_same_fit(uninterrupted, resumed)


def test_a_checkpoint_that_is_not_one_is_a_clear_error(tmp_path):
    X, y = make_data()
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="resume: expected a fastnn checkpoint"):
        network().fit(da.from_array(X, chunks=100), y, resume=tmp_path / "junk.npz")


# -- the command line ----------------------------------------------------------------------


def test_fastnn_train_on_a_zarr_group_through_a_scheduler_equals_the_in_memory_fit(client, tmp_path, capsys):
    zarr = pytest.importorskip("zarr")
    from fastnn.cli import main

    X, y = make_data()
    group = zarr.open_group(str(tmp_path / "data.zarr"), mode="w")
    group.create_array("X", shape=X.shape, chunks=(64, 5), dtype=X.dtype)[:] = X
    group.create_array("y", shape=y.shape, chunks=(100,), dtype=y.dtype)[:] = y
    settings = ["--hidden", "4,3", "--activation", "tanh", "--epochs", "8", "--learning-rate", "0.5",
                "--dtype", "float64", "--engine", "numpy", "--no-progress"]
    status = main(["train", "--data", str(tmp_path / "data.zarr"), "--scheduler", client.scheduler.address,
                   *settings, "--save", str(tmp_path / "net.npz")])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "300 examples, 5 features, 5 blocks" in out and "train accuracy" in out
    expected = fastnn.DeepNetwork([5, 4, 3, 1], "tanh", learning_rate=0.5, epochs=8, engine="numpy",
                                  dtype="float64").fit(X, y)
    saved = fastnn.load(tmp_path / "net.npz")
    for key, value in expected.parameters_.items():
        np.testing.assert_allclose(saved.parameters_[key], value, rtol=1e-10, atol=1e-14)


def test_fastnn_train_on_npy_files_streams_them_on_the_local_scheduler(tmp_path, capsys):
    from fastnn.cli import main

    X, y = make_data()
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    status = main(["train", "--data", str(tmp_path), "--hidden", "4", "--epochs", "3", "--engine", "numpy",
                   "--no-progress"])
    out = capsys.readouterr().out
    assert status == 0 and "Dask's local scheduler" in out and "train accuracy" in out


def test_fastnn_train_with_data_that_is_not_there_says_what_it_expected(tmp_path, capsys):
    from fastnn.cli import main

    assert main(["train", "--data", str(tmp_path / "missing.zarr"), "--no-progress"]) == 1
    assert "--data: expected a .zarr group with arrays X (m, n_x) and y (m,)" in capsys.readouterr().err
    assert main(["train", "--scheduler", "tcp://127.0.0.1:8786"]) == 2  # a usage error
    assert "--scheduler: only used with --data PATH" in capsys.readouterr().err
