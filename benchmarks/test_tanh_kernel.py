"""tanh_kernel.py runs end to end in its quick mode: every contestant timed, both tables, the JSON of every median."""

import json

from tanh_kernel import DTYPES, QUICK_SHAPES, main


def test_the_tanh_benchmark_runs_and_reports_every_contestant(tmp_path, capsys):
    path = tmp_path / "tanh.json"
    assert main(["--quick", "--repeats", "1", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "numpy / kernel" in out and "planar step [2, 4, 1] tanh, 400 rows, float64" in out
    rows = json.loads(path.read_text())["results"]
    layers = [row for row in rows if row["what"] == "tanh layer"]
    assert len(layers) == len(QUICK_SHAPES) * len(DTYPES)
    assert all(row[f"{name}_s"] > 0 for row in layers for name in ("kernel", "numpy", "libm"))
    assert [row["dtype"] for row in rows if row["what"] == "planar step"] == ["float64", "float32"]
