"""compare_softmax.py runs end to end on a few rows: every engine that runs here, PyTorch
beside them when installed, a table of medians and ratios, and the JSON of every sample."""

import json

from compare_softmax import LAYERS, contestants, main


def test_the_softmax_comparison_runs_and_reports_every_contestant(tmp_path, capsys):
    path = tmp_path / "softmax.json"
    assert main(["--examples", "256", "--repeats", "1", "--pause", "0", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    names, _ = contestants()
    assert "numpy" in names and "numba" in names
    for name in names:
        assert ("torch cpu" if name == "torch" else f"fastnn {name}") in out
    results = json.loads(path.read_text())["results"]
    assert [row["engine"] for row in results] == names
    assert all(row["layers"] == LAYERS and len(row["epoch_samples_s"]) == 1 for row in results)
    if "torch" in names:
        torch_row = next(line for line in out.splitlines() if line.startswith("torch cpu"))
        assert "1.00" in torch_row.split()
