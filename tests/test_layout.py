"""The layout's rules: the engine stands apart from the training kit, gates apart from the graph."""
import ast
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).parent.parent


def imported(path):
    """Every module a file imports, relative imports resolved."""
    package = path.relative_to(ROOT).with_suffix("").parts[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = list(package[:len(package) - node.level + 1]) if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found |= {module} | {f"{module}.{alias.name}" for alias in node.names}
    return found


def breaks(files, banned):
    return sorted(f"{p.relative_to(ROOT)} imports {m}" for p in files for m in imported(p)
                  if any(m == b or m.startswith(b + ".") for b in banned))


def test_the_engine_imports_nothing_from_the_training_kit_losses_or_the_command_line():
    engine = [p for p in (ROOT / "graph").glob("*.py") if p.name != "cli.py"]
    assert breaks(engine, ["graph.training", "graph.cli", "losses"]) == []


def test_gates_import_neither_graph_nor_losses_and_losses_not_graph():
    assert breaks(list((ROOT / "gates").rglob("*.py")), ["graph", "losses"]) == []
    assert breaks(list((ROOT / "losses").rglob("*.py")), ["graph"]) == []


def test_importing_the_engine_loads_neither_the_training_kit_nor_losses():
    code = ("import sys, graph; g = graph.ComputationalGraph(); "
            "print(sorted(m for m in sys.modules if m.startswith(('graph.training', 'losses'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_optimizers_are_still_importable_from_graph():
    from graph import SGD, Adam, Momentum, RMSProp
    from graph.training import optim
    assert (SGD, Momentum, RMSProp, Adam) == (optim.SGD, optim.Momentum, optim.RMSProp, optim.Adam)


def test_no_library_file_is_over_400_lines():
    long = [f"{p.relative_to(ROOT)}: {n}" for d in ("gates", "losses", "graph") for p in (ROOT / d).rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 400]
    assert long == []
