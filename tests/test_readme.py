"""The README's Python examples run as pasted and print what the README says they print."""
import contextlib
import io
import pathlib
import re
import shutil

import pytest

README = (pathlib.Path(__file__).parent.parent / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)


def run(block):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, "README.md", "exec"), {})
    return out.getvalue()


def test_the_readme_has_its_three_examples():
    assert len(BLOCKS) == 3


def test_the_gate_example_passes_its_check(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    errors = eval(run(BLOCKS[0]).strip())
    assert len(errors) == 1 and errors[0] < 1e-6


def test_the_tour_prints_the_documented_numbers_and_table(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    if shutil.which("dot") is None:     # without Graphviz the last line must say what to install
        with pytest.raises(RuntimeError, match="apt-get install graphviz"):
            run(BLOCKS[1])
        return
    printed = run(BLOCKS[1])
    assert printed.startswith("-12.0\n")
    assert "'x': np.float64(-4.0)" in printed and "3.0 -4.0" in printed
    table = re.search(r"```\n(node .*?)```", README, re.S).group(1)
    assert table.strip() in printed
    assert (tmp_path / "f.svg").read_bytes().lstrip().startswith((b"<?xml", b"<svg"))


def test_the_formula_and_the_player_run_as_pasted(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    printed = run(BLOCKS[2]).splitlines()
    assert printed == ["{'x': np.float64(-4.0), 'y': np.float64(-4.0), 'z': np.float64(3.0)}",
                       "<Player: 2 forward, 2 backward, 0 sum steps>"]
    assert 'id="gategraph-steps"' in (tmp_path / "f.html").read_text()


def test_the_reading_path_lists_every_library_file_with_its_line_count():
    root = pathlib.Path(__file__).parent.parent
    rows = re.findall(r"^\| \d+ \| \[`([^`]+)`\]\([^)]+\) \| (\d+) \|", README, re.M)
    for path, lines in rows:
        assert len((root / path).read_text().splitlines()) == int(lines), path
    listed = {path for path, _ in rows}
    library = {str(p.relative_to(root)) for d in ("gates", "losses", "graph") for p in (root / d).rglob("*.py")
               if p.name not in ("__init__.py", "catalogue.py", "references.py")}
    assert library == listed
