"""The coursework kit on nbgrader: release the notebooks as assignments, grade submissions, and feedback
that names the gradient mistake. Slow (nbgrader executes every submission); without nbgrader these
skip with what to install, except in CI (the ``CI`` variable set), where they fail."""
import csv
import json
import os
import pathlib
import re
import shutil

import nbformat
import pytest

from graph.cli import main

NOTEBOOKS = pathlib.Path(__file__).parent.parent / "notebooks"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def nbgrader():
    try:
        import nbgrader
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail('CI must run the coursework tests: nbgrader is not installed (pip install -e ".[course]")')
        pytest.skip('nbgrader is not installed (pip install -e ".[course]")')
    return nbgrader


def test_every_notebook_has_an_exercise_and_its_graded_test(nbgrader):
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        cells = nbformat.read(path, as_version=4).cells
        kinds = [(c.metadata.get("nbgrader", {}).get("solution"), c.metadata.get("nbgrader", {}).get("grade"))
                 for c in cells]
        solution = kinds.index((True, False))
        assert kinds[solution + 1] == (False, True), path.name     # each exercise is followed by its test
        assert "### BEGIN SOLUTION" in cells[solution].source and "check_gate" in cells[solution + 1].source
        assert cells[solution + 1].source.rstrip().splitlines()[-1].startswith(("print", "assert")), path.name


# one exercise's planted mistakes: (student, the body of MyMultiply.backward, what the feedback must say)
PLANTED = [
    ("swapper", "return dout * self.a, dout * self.b", "swapped: the gradient is input 1's"),
    ("signer", "return -dout * self.b, -dout * self.a", "sign: the gradient has the wrong sign"),
    ("passer", "return dout, dout", "upstream: the gradient equals the upstream gradient"),
    ("zeroer", "return 0 * dout, 0 * dout", "zero: the gradient is all zeros"),
    ("doubler", "return 2 * dout * self.b, 2 * dout * self.a", "scale: the gradient is 2 times the right one"),
    ("summer", "return (dout * self.b).sum(axis=0), dout * self.a", "shape: the gradient has shape (4,)"),
    ("masker", "return dout * self.b * (self.a > 0), dout * self.a", "partial: "),
    ("raiser", "raise ValueError('oops')", "ValueError: oops"),
    ("looper", "while True:\n            pass", ""),
]


def _submit(course, student, notebook, body=None):
    """The released notebook, with the exercise's body replaced when given, handed in by ``student``."""
    released = course / "release" / notebook / f"{notebook}.ipynb"
    nb = nbformat.read(released, as_version=4)
    if body is not None:
        for cell in nb.cells:
            cell.source = cell.source.replace("# YOUR CODE HERE\n        raise NotImplementedError()", body)
    folder = course / "submitted" / student / notebook
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / f"{notebook}.ipynb")


def test_release_and_grade_a_course(nbgrader, tmp_path, capsys):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    shutil.copy(NOTEBOOKS / "01_chain_rule.ipynb", notebooks)
    shutil.copy(NOTEBOOKS / "06_backprop_through_time.ipynb", notebooks)
    course = tmp_path / "course"
    assert main(["course", "release", str(course), "--notebooks", str(notebooks)]) == 0
    released = course / "release" / "01_chain_rule" / "01_chain_rule.ipynb"
    assert f"released {released}" in capsys.readouterr().out
    text = released.read_text()
    assert "### BEGIN SOLUTION" not in text and "dout * self.b, dout * self.a" not in text
    assert "# YOUR CODE HERE" in text and "raise NotImplementedError()" in text
    assert all(not cell.get("outputs") for cell in json.loads(text)["cells"] if cell["cell_type"] == "code")

    solved = course / "submitted" / "teacher" / "01_chain_rule"
    solved.mkdir(parents=True)
    shutil.copy(NOTEBOOKS / "01_chain_rule.ipynb", solved)          # the instructor's own solutions
    _submit(course, "untouched", "01_chain_rule")
    for student, body, _ in PLANTED:
        _submit(course, student, "01_chain_rule", body)
    # the transpose of a square weight's gradient, in the RNN step of notebook 6
    _submit(course, "transposer", "06_backprop_through_time",
            "dt = dout * (1 - self.h ** 2)\n        return dt @ self.Wx.T, dt @ self.Wh.T, self.x.T @ dt, "
            "dt.T @ self.h_prev, dt.sum(axis=0)")
    assert main(["course", "grade", str(course), "--timeout", "20"]) == 0
    out = capsys.readouterr().out
    grades = {row["student"]: (float(row["points"]), float(row["max_points"]))
              for row in csv.DictReader(open(course / "grades.csv"))}
    assert grades["teacher"] == (2.0, 2.0)
    assert grades["untouched"] == (0.0, 2.0)
    assert all(grades[student] == (0.0, 2.0) for student, _, _ in PLANTED)
    assert re.search(r"^teacher\s+01_chain_rule  2 / 2$", out, re.M) and re.search(r"^looper\s+01_chain_rule  0 / 2$",
                                                                                     out, re.M)
    assert grades["transposer"] == (0.0, 2.0)
    for student, notebook, says in [(student, "01_chain_rule", says) for student, _, says in PLANTED] + [
            ("transposer", "06_backprop_through_time", "transpose: the gradient is the transpose of the right one"),
            ("masker", "01_chain_rule", "elements are wrong, exactly where x < 0")]:
        page = (course / "feedback" / student / notebook / f"{notebook}.html").read_text()
        text = __import__("html").unescape(re.sub(r"<[^>]+>", "", page))      # the text a student reads
        assert says in text, student


def test_course_mistakes_are_one_line(nbgrader, tmp_path, capsys):
    assert main(["course", "grade", str(tmp_path / "nothing")]) == 2
    assert "nothing to grade" in capsys.readouterr().err
    assert main(["course", "release", str(tmp_path / "c"), "--notebooks", str(tmp_path / "none")]) == 2
    assert "is not a folder" in capsys.readouterr().err
