#!/usr/bin/env python3
"""Set-up in one command each, needing only Python 3.10+ and pip.

    python3 tasks.py demo    # the main job: train on real digits, then the timing demo
    python3 tasks.py test    # every test, plus the benchmark suite in its fast mode
    python3 tasks.py bench   # the full pytest-benchmark suite (slow; real timings)
    python3 tasks.py peers   # checks against PyTorch (installs the peers extra: torch CPU, large)

Each creates .venv beside this file on first use and installs fastnn into it.
"""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
EXTRAS = ".[test]"  # test pulls in the data, plotting and CUDA-compile-check packages
# Commands whose checks need more than the test extra (PyTorch is a large download).
COMMAND_EXTRAS = {"peers": ".[test,peers]"}

COMMANDS = {
    "demo": ["-m", "fastnn", "demo"],
    "test": ["-m", "pytest", "tests", "benchmarks", "--benchmark-disable", "-q"],
    "bench": ["-m", "pytest", "benchmarks", "--benchmark-only", "--benchmark-columns=min,median,max,rounds"],
    "peers": ["-m", "pytest", "peers", "-q"],
}


def main(argv):
    if len(argv) < 1 or argv[0] not in COMMANDS:
        print(__doc__)
        return 2
    ensure_environment(COMMAND_EXTRAS.get(argv[0], EXTRAS))
    drop_stale_kernel_caches()
    command = [str(PYTHON), *COMMANDS[argv[0]], *argv[1:]]
    return subprocess.call(command, cwd=ROOT)


def drop_stale_kernel_caches(kernels=ROOT / "fastnn" / "kernels"):
    """Delete Numba's cached kernels once any kernel source is newer than the oldest of them.

    Numba checks only a kernel's own file for changes, and the kernels inline numba_math.py's
    functions: an edit there alone would leave the others running the old code from the cache.
    """
    caches = list((kernels / "__pycache__").glob("*.nb[ic]"))
    if caches and max(p.stat().st_mtime for p in kernels.glob("*.py")) > min(c.stat().st_mtime for c in caches):
        for cache in caches:
            cache.unlink(missing_ok=True)


def ensure_environment(extras=EXTRAS):
    """Create .venv and install fastnn with `extras`; again only when pyproject.toml changes or
    `extras` asks for more than is installed (the stamp records the hash and the extras)."""
    stamp = VENV / ".fastnn-installed"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    wanted = set(extras[2:-1].split(","))
    if stamp.exists() and PYTHON.exists():
        installed_digest, _, installed = stamp.read_text().partition(" ")
        if installed_digest == digest and wanted <= set(installed.split(",")):
            return
    if not PYTHON.exists():
        print("creating .venv ...", flush=True)
        create_venv()
    print(f"installing fastnn{extras[1:]} into .venv (first run only) ...", flush=True)
    pip = [str(PYTHON), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.check_call([*pip, "-e", extras], cwd=ROOT)
    stamp.write_text(f"{digest} {','.join(sorted(wanted))}")


def create_venv():
    """python -m venv; where ensurepip is missing (Debian without python3-venv), use this pip instead."""
    if subprocess.call([sys.executable, "-m", "venv", str(VENV)]) == 0:
        return
    subprocess.check_call([sys.executable, "-m", "venv", "--clear", "--without-pip", str(VENV)])
    subprocess.check_call([sys.executable, "-m", "pip", "--python", str(PYTHON), "install", "-q", "pip"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
