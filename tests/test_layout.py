"""The package's layout holds: one public API, imports that flow one way, rooms of a readable size.

No TensorFlow here: the imports are read from the source (every import, function-level ones
included), and ``import helpers`` is tried in a child process.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import helpers

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "helpers"
# The subpackages, lowest first: each may import from itself and from those before it, never after.
LAYERS = ("core", "article", "machines", "running", "stacks", "training", "scripts", "cards", "views", "cli")
MAX_LINES = 450  # aim for 400
HEAVY = ("tensorflow", "keras", "pandas", "matplotlib", "ipywidgets", "jsonschema", "fastjsonschema")


def modules() -> dict[str, Path]:
    """Every module of the package by its dotted name."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imported(path: Path) -> set[str]:
    """The helpers modules ``path`` imports, anywhere in it (lazy imports inside functions too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names if alias.name.startswith("helpers"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("helpers") and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    known = modules()
    return {name for name in names if name in known}


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def test_every_module_belongs_to_a_subpackage() -> None:
    top = sorted(name for name in modules() if name.count(".") == 1 and layer(name) is None)
    assert top == ["helpers.__main__"], f"modules directly under helpers/ should live in a subpackage: {top}"


def test_imports_flow_one_way_between_subpackages() -> None:
    wrong = []
    for name, path in modules().items():
        mine = layer(name)
        if mine is None:
            continue
        for target in imported(path):
            theirs = layer(target)
            if theirs is not None and LAYERS.index(theirs) > LAYERS.index(mine):
                wrong.append(f"{name} imports {target} ({mine} may not import {theirs})")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles_between_modules() -> None:
    graph = {name: {t for t in imported(path) if t != name and not name.startswith(t + ".")}
             for name, path in modules().items()}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                pytest.fail("import cycle: " + " -> ".join([*trail[trail.index(target):], target]))
            if target not in state:
                visit(target, [*trail, target])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


def test_no_file_is_bigger_than_it_needs_to_be() -> None:
    files = [*PACKAGE.rglob("*.py"), *(REPO / "tools").rglob("*.py")]
    sizes = {str(p.relative_to(REPO)): len(p.read_text(encoding="utf-8").splitlines()) for p in files}
    big = {name: lines for name, lines in sizes.items() if lines > MAX_LINES}
    assert not big, f"split these by job (at most {MAX_LINES} lines, aim for 400): {big}"


def test_every_public_name_resolves_and_none_is_a_module_name() -> None:
    directly_under = {p.stem for p in PACKAGE.glob("*.py")} | {p.name for p in PACKAGE.iterdir() if p.is_dir()}
    clash = sorted(set(helpers.__all__) & directly_under)
    assert not clash, f"importing helpers.{clash[0]} would replace the public name {clash[0]!r}"
    for name in helpers.__all__:
        assert getattr(helpers, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = helpers.nothing_here


def _modules_after(code: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", f"{code}\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
                          capture_output=True, text=True, check=True, cwd=REPO)
    return {name.split(".")[0] for name in json.loads(done.stdout.splitlines()[-1])}


def test_import_helpers_is_cheap() -> None:
    loaded = _modules_after("import helpers")
    assert not loaded & set(HEAVY), f"import helpers pulled in {sorted(loaded & set(HEAVY))}"


def test_comparing_cards_never_starts_tensorflow() -> None:
    loaded = _modules_after("import helpers.cards.compare, helpers.cards.workshop")
    assert "tensorflow" not in loaded and "keras" not in loaded


def _helpers_imports(code: str) -> list[str]:
    return re.findall(r"^\s*(?:from|import) (helpers[\w.]*)", code, re.MULTILINE)


def test_notebooks_import_only_the_public_api() -> None:
    wrong = []
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        code = "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code")
        # A comment may show a line to type (`from helpers import upload_cards`): it must be public too.
        code = re.sub(r"^\s*#\s*", "", code, flags=re.MULTILINE)
        wrong += [f"{path.name}: {name}" for name in _helpers_imports(code) if name != "helpers"]
    assert not wrong, f"import these from helpers itself: {wrong}"


def test_readme_and_docs_examples_import_only_the_public_api() -> None:
    wrong = []
    for path in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        if path.name == "CONTRIBUTING.md":
            continue  # for developers, who work on the internals
        blocks = re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), re.DOTALL)
        wrong += [f"{path.name}: {name}" for block in blocks for name in _helpers_imports(block) if name != "helpers"]
    assert not wrong, f"examples should import from helpers itself: {wrong}"
