#!/usr/bin/env python3
"""Set-up in one command each, needing only Python 3.10+ and pip.

    python3 tasks.py demo    # the main job: train on real digits, then the timing demo
    python3 tasks.py test    # every test, plus the benchmark suite in its fast mode
    python3 tasks.py bench   # the full pytest-benchmark suite (slow; real timings)

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

COMMANDS = {
    "demo": ["-m", "fastnn", "demo"],
    "test": ["-m", "pytest", "tests", "benchmarks", "--benchmark-disable", "-q"],
    "bench": ["-m", "pytest", "benchmarks", "--benchmark-only", "--benchmark-columns=min,median,max,rounds"],
}


def main(argv):
    if len(argv) < 1 or argv[0] not in COMMANDS:
        print(__doc__)
        return 2
    ensure_environment()
    command = [str(PYTHON), *COMMANDS[argv[0]], *argv[1:]]
    return subprocess.call(command, cwd=ROOT)


def ensure_environment():
    """Create .venv and install fastnn with its test extras, again only when pyproject.toml changes."""
    stamp = VENV / ".fastnn-installed"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted and PYTHON.exists():
        return
    if not PYTHON.exists():
        print("creating .venv ...", flush=True)
        create_venv()
    print(f"installing fastnn{EXTRAS[1:]} into .venv (first run only) ...", flush=True)
    pip = [str(PYTHON), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.check_call([*pip, "-e", EXTRAS], cwd=ROOT)
    stamp.write_text(wanted)


def create_venv():
    """python -m venv; where ensurepip is missing (Debian without python3-venv), use this pip instead."""
    if subprocess.call([sys.executable, "-m", "venv", str(VENV)]) == 0:
        return
    subprocess.check_call([sys.executable, "-m", "venv", "--clear", "--without-pip", str(VENV)])
    subprocess.check_call([sys.executable, "-m", "pip", "--python", str(PYTHON), "install", "-q", "pip"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
