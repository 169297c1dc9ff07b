"""The course-speed benchmark times the same work three ways: check that it is the same work."""

import json

import numpy as np
import pytest

import course_speed


@pytest.mark.parametrize("name", list(course_speed.ASSIGNMENTS))
def test_course_code_estimator_and_notes_train_alike(name):
    assignment = course_speed.Assignment(name)
    costs = {contestant: assignment.run(contestant, 3) for contestant in course_speed.CONTESTANTS}
    np.testing.assert_allclose(costs["estimator"], costs["course"], rtol=1e-10)
    np.testing.assert_allclose(costs["notes"], costs["course"], rtol=1e-10)


def test_the_script_prints_both_tables_and_writes_json(tmp_path, capsys):
    path = tmp_path / "speed.json"
    assert course_speed.main(["--assignments", "planar", "--iterations", "20", "--repeats", "1",
                              "--pause", "0", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "planar" in out and "notes / course" in out
    data = json.loads(path.read_text())
    assert data["training"][0]["assignment"] == "planar" and len(data["steps"]) == 4
    assert len(data["training"][0]["results"]["course"]["samples"]) == 1
