"""Every notebook runs top to bottom in a fresh kernel; a failing cell (or check) fails the test."""
import pathlib

import pytest

nbformat = pytest.importorskip("nbformat", reason="the dev extra installs nbformat and nbclient")
from nbclient import NotebookClient  # noqa: E402

NOTEBOOKS = sorted((pathlib.Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


def test_the_notebooks_are_there():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06", "07", "08"]


@pytest.mark.slow
@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, tmp_path):
    assert path.stat().st_size < 1_000_000, "a committed notebook must stay under 1 MB"
    nb = nbformat.read(path, as_version=4)
    # run in a scratch folder: a notebook must not depend on (or write into) the checkout
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("check:" in o.get("text", "") for o in outputs)
