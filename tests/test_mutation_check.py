"""The mutation check: each bug tools/mutation_check.py plants in a copy of fastnn fails a test.

If this fails with "anchor", the code a mutant edits has changed: rewrite that mutant in
tools/mutation_check.py so it plants the same bug in the new code (never delete it).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import mutation_check  # noqa: E402


def test_every_planted_bug_is_caught():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "mutation_check.py"), "--json"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode != 2, result.stderr
    rows = json.loads(result.stdout)
    assert [row["mutant"] for row in rows] == [mutant.name for mutant in mutation_check.MUTANTS]
    survivors = [row["mutant"] for row in rows if not row["caught"]]
    assert not survivors, f"no test caught: {survivors}"


def test_a_missing_anchor_is_an_error_not_a_pass():
    mutant = mutation_check.Mutant("gone", "fastnn/training.py", (("text that is not there", "x"),))
    with pytest.raises(mutation_check.AnchorMissing, match="found it 0 times"):
        mutation_check.plant(mutant, "some source")
