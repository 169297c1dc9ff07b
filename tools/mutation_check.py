#!/usr/bin/env python3
"""Plant known bugs in a copy of fastnn, one at a time, and show that a test catches each.

    python tools/mutation_check.py           # every mutant; a table, exit status 1 if one survives
    python tools/mutation_check.py --json    # the same rows as JSON
    python tools/mutation_check.py --only no-reshuffle

Each mutant is a text substitution in one file of a temporary copy of fastnn/ and tests/.
An anchor that is no longer in the source is an error, not a pass: the code moved, so the
mutant must be rewritten to plant the same bug in the new code. Each mutant runs its target
tests with -x and the first failing test is named as the one that caught it; at the end
those tests run once more without any mutant, and must pass.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORACLE = "tests/test_training_oracle.py"
# The property tests, run before the exact match where a mutant breaks a property.
ONCE_PER_EPOCH = ORACLE + "::test_every_example_is_used_exactly_once_per_epoch_and_epochs_differ"
ONE_COST_PER_EPOCH = ORACLE + "::test_history_has_one_cost_per_epoch_run"


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str  # file inside the repository
    substitutions: tuple  # (anchor, replacement) pairs, each anchor found exactly once
    tests: tuple = (ORACLE,)  # pytest targets, run one after another until one fails


MUTANTS = (
    Mutant("drop the last partial batch", "fastnn/training.py", (
        ("starts = range(0, self.m, self.batch_size)",
         "starts = range(0, self.m - self.m % self.batch_size, self.batch_size)"),
        ("for start in starts]) / self.m", "for start in starts]) / (self.m - self.m % self.batch_size)"),
        ("enumerate(range(0, self.m, self.batch_size))",
         "enumerate(range(0, self.m - self.m % self.batch_size, self.batch_size))"),
    ), (ONCE_PER_EPOCH, ORACLE)),
    Mutant("no reshuffle (one shuffle reused every epoch)", "fastnn/training.py", (
        ("self.engine.asarray(rng.permutation(self.m)) if rng is not None",
         "self.__dict__.setdefault('first_rows', self.engine.asarray(rng.permutation(self.m))) if rng is not None"),
    ), (ONCE_PER_EPOCH, ORACLE)),
    Mutant("last batch weighted as a full batch", "fastnn/training.py", (
        ("min(self.batch_size, self.m - start) for start in starts", "self.batch_size for start in starts"),
    )),
    Mutant("1/m missing in db (numpy base)", "fastnn/backends/base.py", (
        ("        db *= inverse_m\n", "\n"),
    )),
    Mutant("1/m missing in db (numba kernel)", "fastnn/kernels/numba_kernels.py", (
        ("    for j in range(n):\n        db[j] *= inverse_m\n", "\n"),
    ), (ORACLE, "tests/test_conformance.py::test_forward_backward_through_a_deep_network")),  # fused away in training
    Mutant("1/m missing in the numba fused step", "fastnn/backends/numba_engine.py", (
        ("self.scale = learning_rate / m", "self.scale = learning_rate"),
    )),
    Mutant("history off by one (a read stops one epoch short)", "fastnn/training.py", (
        ("epoch_costs[len(history):end]", "epoch_costs[len(history):end - 1]"),
    ), (ONE_COST_PER_EPOCH, ORACLE)),
    Mutant("update before the cost", "fastnn/backends/base.py", (
        ("        self.sgd_update(weights[1:] + biases[1:], dW[1:] + db[1:], learning_rate)\n",
         "        self.sgd_update(weights[1:] + biases[1:], dW[1:] + db[1:], learning_rate)\n"
         "        Z, _ = propagation.forward(self, weights, biases, activations, workspace.X, workspace)\n"
         "        self.cross_entropy_cost(Z[-1], workspace.Y, out=workspace.cost)\n"),
    )),
    Mutant("numba: back-to-back epochs store each cost one slot late", "fastnn/kernels/numba_step.py", (
        ("        costs[i] = cost[0]\n", "        costs[min(i + 1, costs.shape[0] - 1)] = cost[0]\n"),
    ), ("tests/test_fused_step.py::test_training_steps_are_that_many_notes_steps", ORACLE)),
    Mutant("numba Gram form: pending steps never written into W^[1]", "fastnn/backends/gram.py", (
        ("        if self.pending == 0:\n            return\n", "        return\n"),
    ), (ORACLE + "::test_wide_full_batch_fit_matches_the_reference",)),
    # Not the loop's: the conformance suite must hold the numpy engine to the notes too,
    # and the registry tests must see a `using` that leaks into other threads.
    Mutant("numpy engine: tanh derivative 1 - a, not 1 - a^2", "fastnn/backends/base.py", (
        ("            derivative = A * A\n", "            derivative = A.copy()\n"),
    ), ("tests/test_conformance.py",)),
    # K classes: the softmax's max shift, the cost from the logits, the bias kept in Z.
    Mutant("softmax without the max shift (numpy base)", "fastnn/backends/base.py", (
        ("            A = xp.subtract(Z, xp.max(Z, axis=1, keepdims=True), out=out)\n",
         "            A = xp.multiply(Z, 1, out=out)\n"),
    ), ("tests/test_softmax.py::test_large_logits_neither_overflow_nor_take_log_of_zero",)),
    Mutant("categorical cost from log(a), not the logits (numba kernel)", "fastnn/kernels/numba_kernels.py", (
        ("                loss += Y[i, j] * (lse - (Z[i, j] - top))\n",
         "                loss -= Y[i, j] * math.log(math.exp(Z[i, j] - top) / sum_exp)\n"),
    ), ("tests/test_softmax.py::test_the_cost_of_a_tiny_probability_is_exact",)),
    Mutant("bias not kept in Z^[L] (numba softmax kernel)", "fastnn/kernels/numba_kernels.py", (
        ("            if keep_biased:\n                Z[i, j] = z\n", "\n"),
    ), ("tests/test_softmax.py::test_bias_softmax_adds_the_bias_into_z",)),
    Mutant("using() sets the engine for every thread", "fastnn/backends/registry.py", (
        ("    token = _context_choice.set(get_engine(engine, **options))\n"
         "    try:\n        yield _context_choice.get()\n    finally:\n        _context_choice.reset(token)\n",
         "    global _global_choice\n    before, _global_choice = _global_choice, get_engine(engine, **options)\n"
         "    try:\n        yield _global_choice\n    finally:\n        _global_choice = before\n"),
    ), ("tests/test_registry.py",)),
    Mutant("Dask blocks return mean gradients, not sums", "fastnn/blocks.py", (
        ("engine.to_numpy(dW[l]) * m, engine.to_numpy(db[l]) * m", "engine.to_numpy(dW[l]), engine.to_numpy(db[l])"),
    ), ("tests/test_dask.py::test_without_a_client_dask_local_scheduler_trains_out_of_core_the_same",)),
)


class AnchorMissing(Exception):
    """A mutant's anchor text is not (or not once) in the source: the mutant needs rewriting."""


def plant(mutant, source):
    """Return `source` with each substitution applied; raise AnchorMissing unless each anchor occurs once."""
    for anchor, replacement in mutant.substitutions:
        count = source.count(anchor)
        if count != 1:
            raise AnchorMissing(f"{mutant.name}: expected the anchor once in {mutant.path}, found it {count} times:\n"
                                f"{anchor}")
        source = source.replace(anchor, replacement)
    return source


def make_copy(workdir):
    """Copy fastnn/ (with Numba's cache, so unchanged kernels need no recompiling), tests/ and pytest's settings."""
    for folder in ("fastnn", "tests"):
        shutil.copytree(ROOT / folder, workdir / folder)
    shutil.copy2(ROOT / "pyproject.toml", workdir / "pyproject.toml")


def run_tests(workdir, tests):
    """Run pytest in the copy (its fastnn shadows the installed one); return (passed, first failing test)."""
    command = [sys.executable, "-m", "pytest", *tests, "-x", "-q", "--tb=no", "-rf", "-p", "no:cacheprovider"]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(workdir)})
    failed = re.search(r"^(?:FAILED|ERROR) (.+?)(?: - .*)?$", result.stdout, re.MULTILINE)  # ids may hold spaces
    if result.returncode not in (0, 1) or (result.returncode == 1 and not failed):
        raise RuntimeError(f"pytest could not run (exit {result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return result.returncode == 0, failed.group(1) if failed else None


def first_failure(workdir, targets):
    """Run each target in turn until one fails; return (all passed, the failing test)."""
    for target in targets:
        passed, failure = run_tests(workdir, [target])
        if not passed:
            return False, failure
    return True, None


def check_copy_is_imported(workdir):
    """The tests must import the copy's fastnn, or every mutant would look survived."""
    code = "import fastnn; print(fastnn.__file__)"
    out = subprocess.run([sys.executable, "-c", code], cwd=workdir, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(workdir)}, check=True).stdout.strip()
    if not Path(out).resolve().is_relative_to(workdir.resolve()):
        raise RuntimeError(f"the copy is not what gets imported: fastnn came from {out}")


def check(mutants):
    """Return one row per mutant: name, caught (bool), the test that caught it, seconds."""
    with tempfile.TemporaryDirectory(prefix="fastnn-mutants-") as tmp:
        workdir = Path(tmp)
        make_copy(workdir)
        check_copy_is_imported(workdir)
        rows = [run_mutant(workdir, mutant) for mutant in mutants]
        # A catch counts only if the same test passes without the mutant.
        catchers = sorted({row["by"] for row in rows if row["caught"]})
        passed, failure = run_tests(workdir, catchers) if catchers else (True, None)
        if not passed:
            raise RuntimeError(f"{failure} fails without any mutant: fix it before checking mutants")
        return rows


def run_mutant(workdir, mutant):
    """Plant `mutant` in the copy, run its tests, restore the file; return its row."""
    path = workdir / mutant.path
    original = path.read_text()
    start = time.perf_counter()
    try:
        path.write_text(plant(mutant, original))
        drop_kernel_caches(workdir, mutant)
        passed, failure = first_failure(workdir, mutant.tests)
    finally:
        path.write_text(original)
        drop_kernel_caches(workdir, mutant)
    return dict(mutant=mutant.name, caught=not passed, by=failure, seconds=round(time.perf_counter() - start, 1))


def drop_kernel_caches(workdir, mutant):
    """A mutant in a kernel file invalidates every cached kernel: Numba checks only each kernel's
    own file, and the kernels inline each other's helpers (numba_math.py's above all)."""
    if mutant.path.startswith("fastnn/kernels/"):
        for cache in (workdir / "fastnn" / "kernels" / "__pycache__").glob("*.nb[ic]"):
            cache.unlink()


def table(rows):
    """Rows as an aligned text table."""
    lines = [("mutant", "caught", "first failing test"),
             *((r["mutant"], "yes" if r["caught"] else "NO", (r["by"] or "-").removeprefix("tests/")) for r in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(3)]
    out = [" | ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines]
    out.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument("--only", metavar="TEXT", help="only the mutants whose name contains TEXT")
    args = parser.parse_args(argv)
    mutants = [m for m in MUTANTS if args.only is None or args.only in m.name]
    if not mutants:
        parser.error(f"--only: no mutant name contains {args.only!r}")
    try:
        rows = check(mutants)
    except (AnchorMissing, RuntimeError) as error:
        print(f"mutation check could not run: {error}", file=sys.stderr)
        return 2
    print(json.dumps(rows, indent=2) if args.json else table(rows))
    return 0 if all(row["caught"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
