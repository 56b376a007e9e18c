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


def test_the_readme_has_its_two_examples():
    assert len(BLOCKS) == 2


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
