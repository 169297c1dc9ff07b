"""tasks.py drops Numba's cached kernels once a kernel source is newer than them: Numba checks
only each kernel's own file, and the kernels inline numba_math.py's functions."""

import importlib.util
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_tasks():
    spec = importlib.util.spec_from_file_location("fastnn_tasks", ROOT / "tasks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def kernels_folder(tmp_path, source_time, cache_times):
    """A kernels folder: one source file and one cache file per time in cache_times (real files)."""
    kernels = tmp_path / "kernels"
    (kernels / "__pycache__").mkdir(parents=True)
    source = kernels / "numba_math.py"
    source.write_text("x = 1\n")
    os.utime(source, (source_time, source_time))
    for i, when in enumerate(cache_times):
        for suffix in ("nbi", "nbc"):
            cache = kernels / "__pycache__" / f"numba_step.tail_step-{i}.py311.{suffix}"
            cache.write_bytes(b"cached")
            os.utime(cache, (when, when))
    return kernels


def test_caches_newer_than_every_source_are_kept(tmp_path):
    kernels = kernels_folder(tmp_path, 1_000, [2_000, 3_000])
    load_tasks().drop_stale_kernel_caches(kernels)
    assert len(list((kernels / "__pycache__").glob("*.nb[ic]"))) == 4


def test_a_source_edited_after_a_cache_drops_them_all(tmp_path):
    kernels = kernels_folder(tmp_path, 2_500, [2_000, 3_000])
    (kernels / "__pycache__" / "notes.txt").write_text("not a kernel cache")
    load_tasks().drop_stale_kernel_caches(kernels)
    assert list((kernels / "__pycache__").glob("*.nb[ic]")) == []
    assert (kernels / "__pycache__" / "notes.txt").exists()
