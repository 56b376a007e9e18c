"""The coursework kit: the notebooks as nbgrader assignments, released and graded by nbgrader itself.

A course folder is nbgrader's: ``source/<notebook>/<notebook>.ipynb`` (the notebooks with their
solutions), ``release/<notebook>/`` (what students get, made by nbgrader's ``generate_assignment``:
solutions replaced by ``# YOUR CODE HERE`` / ``raise NotImplementedError()``, outputs cleared),
``submitted/<student>/<notebook>/`` (what they hand in), then ``autograded/``, ``feedback/`` and
``gradebook.db``, and ours: ``grades.csv``. Each notebook is its own assignment, named by its stem.

nbgrader is an optional extra (``course``). It runs ``alembic`` by name when it makes a gradebook,
so the interpreter's own ``bin`` goes on PATH; importing it takes seconds, so one `NbGraderAPI`
serves a whole command.
"""
import contextlib
import csv
import os
import shutil
import sys
import warnings
from pathlib import Path

COURSE_ID = "gategraph"
INSTALL_HINT = 'the coursework kit needs nbgrader: pip install -e ".[course]"'


def _api(course, timeout):
    """nbgrader's API on ``course``, cells allowed ``timeout`` seconds each; ImportError saying what to install."""
    try:
        from nbgrader.apps import NbGraderAPI
        from traitlets.config import Config
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    bin_dir = os.path.dirname(sys.executable)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    config = Config()
    config.CourseDirectory.root = str(Path(course).resolve())
    config.CourseDirectory.course_id = COURSE_ID
    config.ExecutePreprocessor.timeout = timeout
    config.Execute.timeout = timeout
    return NbGraderAPI(config=config)


@contextlib.contextmanager
def _quiet_gradebook():
    """nbgrader 0.9's gradebook trips SQLAlchemy's SAWarning (a RuntimeWarning) on every new
    submission; where warnings are errors (pytest here) that would fail every grade, so it is
    silenced around nbgrader's calls, and only there."""
    with warnings.catch_warnings():
        try:
            from sqlalchemy.exc import SAWarning
            warnings.simplefilter("ignore", SAWarning)
        except ImportError:
            pass
        yield


def _succeeded(result, what):
    if not result.get("success"):
        raise RuntimeError(f"nbgrader could not {what}: {(result.get('error') or result.get('log') or '').strip()}")


def release(course, notebooks="notebooks", timeout=300):
    """Make ``course`` an nbgrader course of the notebooks in ``notebooks`` and release each one;
    returns the released notebooks' paths."""
    notebooks = sorted(Path(notebooks).glob("*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"no notebooks (*.ipynb) in {str(Path(notebooks))!r}")
    course = Path(course)
    for path in notebooks:
        source = course / "source" / path.stem
        source.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, source / path.name)
    api = _api(course, timeout)
    released = []
    for path in notebooks:
        with _quiet_gradebook():
            result = api.generate_assignment(path.stem, force=True, create=True)
        _succeeded(result, f"release {path.stem}")
        released.append(course / "release" / path.stem / path.name)
    return released


def submissions(course):
    """(student, notebook) for every folder ``submitted/<student>/<notebook>/``, in order."""
    root = Path(course) / "submitted"
    return [(student.name, notebook.name) for student in sorted(root.iterdir()) if student.is_dir()
            for notebook in sorted(student.iterdir()) if notebook.is_dir()] if root.is_dir() else []


def grade(course, timeout=120):
    """Autograde every submission with nbgrader and write its feedback; returns rows (student,
    notebook, points, max points) and writes them to ``course/grades.csv``. A submission that
    raises or runs past ``timeout`` seconds in a cell is graded like the others: its tests fail."""
    course = Path(course)
    found = submissions(course)
    if not found:
        raise FileNotFoundError(f"nothing to grade: no {course / 'submitted' / '<student>' / '<notebook>'} folders")
    if not (course / "gradebook.db").exists() or not (course / "source").is_dir():
        raise FileNotFoundError(f"{str(course)!r} is not a released course: run gategraph course release first")
    api = _api(course, timeout)
    from nbgrader.api import Gradebook, MissingEntry
    rows = []
    for student, notebook in found:
        with _quiet_gradebook():
            result = api.autograde(notebook, student, force=True, create=True)
            if result.get("success"):
                api.generate_feedback(notebook, student, force=True)
        with _quiet_gradebook(), Gradebook(f"sqlite:///{(course / 'gradebook.db').resolve()}") as gradebook:
            try:
                submitted = gradebook.find_submission_notebook(notebook, notebook, student)
                points, total = submitted.score, submitted.max_score
            except MissingEntry:       # nbgrader refused the submission outright (a missing notebook)
                points, total = 0.0, gradebook.find_notebook(notebook, notebook).max_score
        rows.append((student, notebook, float(points), float(total)))
    with open(course / "grades.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "notebook", "points", "max_points"])
        writer.writerows(rows)
    return rows
