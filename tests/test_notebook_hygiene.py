"""The notebooks' hygiene: Colab badges, the Colab install cell, normalized JSON, lint.

Two kinds of test. Those named ``test_repo_*`` check the committed repository itself (the CI
gate: run ``make badges`` and ``make format`` to fix them; a verdict cell's stored output must be
what ``tests/verdicts/<notebook>.toml`` says). The others build a small lab in
``tmp_path``, point ``tools/notebooks.py`` at it and check what the tool writes and detects.
Expected values are spelled out here rather than taken from the tool, so a bug in the tool
cannot vouch for itself. Nothing here uses the network.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest
from nbformat import v4

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parents[1]
REPO_NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
BADGE_IMG = "https://colab.research.google.com/assets/colab-badge.svg"
# Requirement names that must never reach Colab's pip: they would replace Colab's TensorFlow.
TF_NAMES = {"tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-intel", "tf-nightly", "keras", "tf-keras"}

SETUP_CELL = """\
# Colab has TensorFlow but not this lab's helpers: install them (and nothing else) from GitHub.
# Locally, `python tools/lab.py` installed them into .venv already, so this does nothing.
import importlib.util
import subprocess
import sys

IS_COLAB = "google.colab" in sys.modules
HELPERS_PIP_SPEC = "{spec}"
if IS_COLAB and importlib.util.find_spec("helpers") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", HELPERS_PIP_SPEC], check=True)"""


def _load_tool() -> types.ModuleType:
    # tools/ is a folder of scripts, not a package: load the file under a name of its own
    # (plain "notebooks" would collide with the notebooks/ folder).
    spec = importlib.util.spec_from_file_location("repro_lab_notebooks_tool", REPO / "tools" / "notebooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


tool = _load_tool()


# --------------------------------------------------------------------------- helpers


def github_of(root: Path) -> dict[str, str]:
    """[tool.repro-lab.github] and [project].name, read straight from pyproject.toml."""
    data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    return {**data["tool"]["repro-lab"]["github"], "name": data["project"]["name"]}


def colab_url(gh: dict[str, str], name: str) -> str:
    return f"https://colab.research.google.com/github/{gh['owner']}/{gh['repo']}/blob/{gh['branch']}/notebooks/{name}.ipynb"


def badge_html(gh: dict[str, str], name: str) -> str:
    return f'<a href="{colab_url(gh, name)}" target="_parent"><img src="{BADGE_IMG}" alt="Open In Colab"/></a>'


def badge_md(gh: dict[str, str], name: str) -> str:
    return f"[![Open In Colab]({BADGE_IMG})]({colab_url(gh, name)})"


def expected_spec(gh: dict[str, str]) -> str:
    return f"{gh['name']} @ git+https://github.com/{gh['owner']}/{gh['repo']}@{gh['branch']}"


def make_notebook(gh: dict[str, str], name: str, title: str, *, badge: bool = True) -> nbformat.NotebookNode:
    """A notebook that follows the conventions in content, but saved the way Jupyter saves it."""
    nb = v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python", "version": "3.11.7", "mimetype": "text/x-python"},
        "colab": {"provenance": []},
        "widgets": {"application/vnd.jupyter.widget-state+json": {}},
    }
    cells = [
        v4.new_markdown_cell(f"# {title}\n\nWhat this notebook shows."),
        v4.new_markdown_cell("## Setup"),
        v4.new_code_cell(SETUP_CELL.format(spec=expected_spec(gh)), execution_count=1),
        v4.new_code_cell(
            "x = 1\nprint(x)",
            execution_count=2,
            metadata={"scrolled": True, "collapsed": False, "execution": {"iopub.status.busy": "2024"}},
            outputs=[v4.new_output("stream", name="stdout", text="1\n")],
        ),
        v4.new_code_cell(
            "# NBVAL_CHECK_OUTPUT\nprint('same')\n'verdict'",
            execution_count=3,
            metadata={"tags": ["verdict"], "execution": {"shell.execute_reply": "2024"}},
            outputs=[
                v4.new_output("stream", name="stdout", text="sa"),
                v4.new_output("stream", name="stdout", text="me\n"),
                v4.new_output("execute_result", data={"text/plain": "'verdict'"}, execution_count=3, metadata={"a": 1}),
            ],
        ),
    ]
    if badge:
        cells.insert(0, v4.new_markdown_cell(badge_html(gh, name), metadata={"id": "view-in-github"}))
    nb.cells = cells
    return nb


NAMES = {"00_start_here": "Start here", "01_unseeded": "Unseeded runs differ", "02_seeded": "Seeds | not enough"}


def build_lab(root: Path, *, badge: bool = True) -> Path:
    """A tmp repo: the real pyproject.toml plus three notebooks saved as Jupyter would."""
    (root / "notebooks").mkdir(parents=True)
    shutil.copy2(REPO / "pyproject.toml", root / "pyproject.toml")
    gh = github_of(root)
    for name, title in NAMES.items():
        nbformat.write(make_notebook(gh, name, title, badge=badge), root / "notebooks" / f"{name}.ipynb")
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


@pytest.fixture
def raw_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tmp lab as people leave it: outputs, counts, metadata, no colab_badge.md yet."""
    root = build_lab(tmp_path / "repo")
    monkeypatch.setattr(tool, "ROOT", root)
    return root


@pytest.fixture
def lab(raw_lab: Path) -> Path:
    """The tmp lab after `make badges`: everything in order."""
    tool.badges()
    return raw_lab


def setup_source(nb: nbformat.NotebookNode) -> str:
    cells = [c for c in nb.cells if c.cell_type == "code" and "HELPERS_PIP_SPEC" in c.source]
    assert len(cells) == 1, "expected exactly one setup code cell that sets HELPERS_PIP_SPEC"
    return cells[0].source


def run_setup_cell(
    source: str, monkeypatch: pytest.MonkeyPatch, *, colab: bool, helpers_installed: bool = False
) -> list[tuple[list[str], dict]]:
    """Exec a setup cell with Colab (or not) faked; return the subprocess.run calls it made."""
    calls: list[tuple[list[str], dict]] = []

    def fake_run(cmd, *args, **kwargs):
        assert not args, "pass subprocess.run options by keyword"
        calls.append((list(cmd), kwargs))
        return subprocess.CompletedProcess(cmd, 0)

    def forbidden(*args, **kwargs):
        raise AssertionError("the setup cell must use subprocess.run and nothing else")

    real_find_spec = importlib.util.find_spec

    def fake_find_spec(name, *args, **kwargs):
        if name == "helpers":
            return importlib.machinery.ModuleSpec("helpers", None) if helpers_installed else None
        return real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.setattr(subprocess, "Popen", forbidden)
    monkeypatch.setattr(subprocess, "check_call", forbidden)
    monkeypatch.setattr(importlib.util, "find_spec", fake_find_spec)
    if colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(source, "<setup cell>", "exec"), {"__name__": "__main__"})
    return calls


def requirement_name(requirement: str) -> str:
    name = re.split(r"[\s\[<>=!~;@(]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def check_setup_cell(source: str, gh: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    spec = expected_spec(gh)
    calls = run_setup_cell(source, monkeypatch, colab=True)
    assert calls == [([sys.executable, "-m", "pip", "install", "--quiet", spec], {"check": True})]
    installed = [arg for arg in calls[0][0][4:] if not arg.startswith("-")]
    assert not {requirement_name(arg) for arg in installed} & TF_NAMES, f"Colab would install {installed}"
    assert run_setup_cell(source, monkeypatch, colab=False) == [], "locally the setup cell must not install"
    assert run_setup_cell(source, monkeypatch, colab=True, helpers_installed=True) == [], (
        "in Colab with the helpers already importable the setup cell must not reinstall"
    )


# --------------------------------------------------------------------------- the repository itself


def test_repo_badges_and_colab_badge_md_are_correct() -> None:
    """Every notebook has its badge as cell 0; colab_badge.md lists exactly the notebooks."""
    assert REPO_NOTEBOOKS, "notebooks/ holds no notebooks"
    assert tool.problems(REPO) == []


def test_repo_notebooks_are_normalized() -> None:
    """The CI gate for `make format`: no outputs except verdicts, no counts, no volatile metadata."""
    assert tool.normalize_problems(REPO) == []


@pytest.mark.parametrize("path", REPO_NOTEBOOKS, ids=[p.name for p in REPO_NOTEBOOKS])
def test_repo_setup_cell_installs_only_the_lab_in_colab(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gh = github_of(REPO)
    source = setup_source(read(path))
    assert source == SETUP_CELL.format(spec=expected_spec(gh))
    check_setup_cell(source, gh, monkeypatch)


def test_repo_dependencies_leave_colab_tensorflow_alone() -> None:
    """`pip install` of the lab in Colab must never pull in (and so replace) TensorFlow or Keras."""
    deps = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    assert not {requirement_name(d) for d in deps} & TF_NAMES


def test_repo_pyproject_names_a_valid_github_location() -> None:
    gh = tool.load_github(REPO)
    assert tuple(gh) == tuple(github_of(REPO)[k] for k in ("owner", "repo", "branch"))


def test_repo_is_ruff_clean() -> None:
    """The lint gate (`make lint`), so `make test` alone catches lint errors too."""
    # Only folders that exist: ruff reports a missing path as an error of its own.
    paths = [p for p in ("helpers", "tests", "tools", "notebooks") if (REPO / p).exists()]
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", *paths], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


VERDICT_DIR = REPO / "tests" / "verdicts"
README_VERDICT_SECTION = "## What each notebook teaches, and the verdicts it checks"


def verdict_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code" and c.source.lstrip().startswith("# NBVAL_CHECK_OUTPUT")]


def registered(path: Path) -> list[str]:
    """A registry's expected text per verdict cell, read here with tomllib, not through the tool."""
    return [cell["prints"] for cell in tomllib.loads(path.read_text(encoding="utf-8"))["cell"]]


def lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()]


def readme_verdict_rows() -> set[str]:
    """The notebooks named in the first column of the README's verdict table."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split(README_VERDICT_SECTION, 1)[1].split("\n## ", 1)[0]
    return {m[1] for m in re.finditer(r"^\| `([^`]+)` \|", section, re.MULTILINE)}


@pytest.mark.parametrize("path", REPO_NOTEBOOKS, ids=[p.name for p in REPO_NOTEBOOKS])
def test_repo_verdict_cells_hold_their_expected_lines(path: Path) -> None:
    """Every verdict cell is stored with an execution count (or nbval skips it) and prints exactly
    the lines its registry expects, so nbval holds each notebook to them."""
    cells = verdict_cells(read(path))
    registry = VERDICT_DIR / f"{path.stem}.toml"
    if not cells:
        assert not registry.exists(), f"{registry.name} expects verdicts from a notebook that has none"
        return
    assert registry.is_file(), (
        f"{path.name} has verdict cells: write what each must print in tests/verdicts/{path.stem}.toml"
    )
    expected = registered(registry)
    assert len(cells) == len(expected), f"{len(cells)} verdict cells, {registry.name} lists {len(expected)}"
    for number, (cell, want) in enumerate(zip(cells, expected, strict=True), 1):
        assert cell.execution_count is not None, f"verdict cell {number} would be skipped by nbval"
        assert [(o.output_type, o.get("name")) for o in cell.outputs] == [("stream", "stdout")], (
            f"verdict cell {number} must print its verdicts and nothing else"
        )
        assert lines(cell.outputs[0].text) == lines(want), f"verdict cell {number} of {path.name}"


def test_repo_every_registry_and_readme_row_belongs_to_a_notebook_with_verdicts() -> None:
    """The README's verdict table, the registries and the notebooks name the same notebooks."""
    with_verdicts = {p.stem for p in REPO_NOTEBOOKS if verdict_cells(read(p))}
    assert {p.stem for p in VERDICT_DIR.glob("*.toml")} == with_verdicts
    assert readme_verdict_rows() == with_verdicts, "add (or drop) the notebook's row in README's verdict table"


def test_repo_check_verdicts_agrees() -> None:
    assert tool.verdict_problems(REPO) == []


# --------------------------------------------------------------------------- badges, on a tmp lab


def test_correct_lab_passes_every_check(lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gh = github_of(lab)
    for name in NAMES:
        nb = read(lab / "notebooks" / f"{name}.ipynb")
        assert nb.cells[0].cell_type == "markdown"
        assert nb.cells[0].source == badge_html(gh, name)
        assert nb.cells[1].source.startswith(f"# {NAMES[name]}")
    text = (lab / "colab_badge.md").read_text(encoding="utf-8")
    for name in NAMES:
        assert text.count(badge_md(gh, name)) == 1
    assert text.count("colab.research.google.com/github/") == len(NAMES)
    assert "Seeds \\| not enough" in text  # a "|" in a title must not split the table row
    assert tool.problems() == []
    assert tool.normalize_problems() == []
    assert tool.main(["check-badges"]) == 0
    assert tool.main(["normalize", "--check"]) == 0
    capsys.readouterr()


def test_colab_badge_md_rows_are_sorted_and_titled(lab: Path) -> None:
    text = (lab / "colab_badge.md").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0].startswith("# ")
    rows = [line for line in lines if line.startswith("| [")]
    assert [re.search(r"notebooks/(\w+)\.ipynb", r)[1] for r in rows] == sorted(NAMES)
    assert "Unseeded runs differ" in rows[1]
    assert text == tool.render_colab_badge_md()


def test_badge_url_and_pip_spec_match_pyproject(lab: Path) -> None:
    gh = github_of(lab)
    assert tool.badge_url("01_unseeded") == colab_url(gh, "01_unseeded")
    assert tool.badge_url("01_unseeded.ipynb") == colab_url(gh, "01_unseeded")
    assert tool.pip_spec() == expected_spec(gh)
    assert tool.setup_cell_source() == SETUP_CELL.format(spec=expected_spec(gh))


def test_missing_badge_is_detected(lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = lab / "notebooks" / "01_unseeded.ipynb"
    nb = read(path)
    del nb.cells[0]
    nbformat.write(nb, path)
    found = tool.problems()
    assert len(found) == 1 and found[0].startswith("notebooks/01_unseeded.ipynb: cell 0 is not the Colab badge")
    assert tool.main(["check-badges"]) == 1
    assert capsys.readouterr().out.strip() == found[0]


def test_badge_to_nonexistent_notebook_is_detected(lab: Path) -> None:
    path = lab / "notebooks" / "01_unseeded.ipynb"
    nb = read(path)
    nb.cells[0].source = nb.cells[0].source.replace("01_unseeded.ipynb", "01_renamed.ipynb")
    nbformat.write(nb, path)
    assert tool.problems() == [
        "notebooks/01_unseeded.ipynb cell 0: badge points at notebooks/01_renamed.ipynb, which does not exist."
    ]


def test_badge_to_another_notebook_is_detected(lab: Path) -> None:
    path = lab / "notebooks" / "01_unseeded.ipynb"
    nb = read(path)
    nb.cells[0].source = nb.cells[0].source.replace("01_unseeded.ipynb", "02_seeded.ipynb")
    nbformat.write(nb, path)
    (found,) = tool.problems()
    assert "notebooks/02_seeded.ipynb, not at this notebook" in found


@pytest.mark.parametrize("key", ["owner", "repo", "branch"])
def test_badge_to_wrong_owner_repo_or_branch_is_detected(lab: Path, key: str) -> None:
    gh = github_of(lab)
    wrong = {**gh, key: "elsewhere"}
    path = lab / "notebooks" / "02_seeded.ipynb"
    nb = read(path)
    nb.cells[0].source = badge_html(wrong, "02_seeded")
    nbformat.write(nb, path)
    (found,) = tool.problems()
    assert found.startswith("notebooks/02_seeded.ipynb cell 0: badge points at") and "elsewhere" in found


def test_colab_badge_md_missing_a_notebook_is_detected(lab: Path) -> None:
    md = lab / "colab_badge.md"
    md.write_text("".join(line for line in md.open() if "01_unseeded" not in line), encoding="utf-8")
    assert tool.problems() == ["colab_badge.md: notebooks/01_unseeded.ipynb has no badge; run `make badges`."]


def test_colab_badge_md_listing_a_missing_notebook_is_detected(lab: Path) -> None:
    (lab / "notebooks" / "02_seeded.ipynb").unlink()
    assert tool.problems() == ["colab_badge.md: badge points at notebooks/02_seeded.ipynb, which does not exist."]


def test_stale_or_missing_colab_badge_md_is_detected(lab: Path) -> None:
    md = lab / "colab_badge.md"
    md.write_text(md.read_text(encoding="utf-8").replace("Start here", "Old title"), encoding="utf-8")
    assert tool.problems() == ["colab_badge.md is out of date (titles or wording); run `make badges`."]
    md.unlink()
    assert tool.problems() == ["colab_badge.md does not exist; run `make badges`."]


def test_stale_pip_spec_is_detected(lab: Path) -> None:
    path = lab / "notebooks" / "00_start_here.ipynb"
    nb = read(path)
    for cell in nb.cells:
        cell.source = cell.source.replace("git+https://github.com/", "git+https://github.com/old/")
    nbformat.write(nb, path)
    (found,) = tool.problems()
    assert found.startswith("notebooks/00_start_here.ipynb: the HELPERS_PIP_SPEC line is not")


def test_badges_inserts_a_missing_badge_cell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = build_lab(tmp_path / "repo", badge=False)
    monkeypatch.setattr(tool, "ROOT", root)
    assert tool.problems()  # no badges, no colab_badge.md yet
    tool.badges()
    gh = github_of(root)
    for name, title in NAMES.items():
        nb = read(root / "notebooks" / f"{name}.ipynb")
        assert nb.cells[0].source == badge_html(gh, name)
        assert nb.cells[1].source.startswith(f"# {title}")
    assert tool.problems() == []


def test_badges_is_idempotent(raw_lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert tool.main(["badges"]) == 0
    first = snapshot(raw_lab)
    assert tool.badges() == []
    assert tool.main(["badges"]) == 0
    assert snapshot(raw_lab) == first
    assert capsys.readouterr().out.splitlines()[-1] == "badges: nothing to change"


def test_badges_is_idempotent_on_a_copy_of_the_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not REPO_NOTEBOOKS:
        pytest.skip("notebooks/ holds no notebooks yet")
    root = tmp_path / "repo"
    (root / "notebooks").mkdir(parents=True)
    for path in [REPO / "pyproject.toml", REPO / "colab_badge.md", *REPO_NOTEBOOKS]:
        if path.exists():
            shutil.copy2(path, root / path.relative_to(REPO))
    monkeypatch.setattr(tool, "ROOT", root)
    tool.badges()
    first = snapshot(root)
    assert tool.badges() == []
    assert snapshot(root) == first
    assert tool.problems() == []


def test_badges_for_a_fork_rewrites_everything(lab: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old_pyproject = (lab / "pyproject.toml").read_text(encoding="utf-8")
    assert tool.main(["badges", "--owner", "me", "--repo", "fork", "--branch", "dev"]) == 0

    # pyproject.toml: exactly the three lines changed, every other byte kept.
    new_pyproject = (lab / "pyproject.toml").read_text(encoding="utf-8")
    old_lines, new_lines = old_pyproject.splitlines(keepends=True), new_pyproject.splitlines(keepends=True)
    assert len(old_lines) == len(new_lines)
    changed = sorted(new for old, new in zip(old_lines, new_lines, strict=True) if old != new)
    assert changed == ['branch = "dev"\n', 'owner = "me"\n', 'repo = "fork"\n']
    gh = github_of(lab)
    assert (gh["owner"], gh["repo"], gh["branch"]) == ("me", "fork", "dev")

    md = (lab / "colab_badge.md").read_text(encoding="utf-8")
    for name in NAMES:
        nb = read(lab / "notebooks" / f"{name}.ipynb")
        assert nb.cells[0].source == badge_html(gh, name)
        assert f'HELPERS_PIP_SPEC = "{gh["name"]} @ git+https://github.com/me/fork@dev"' in setup_source(nb)
        assert badge_md(gh, name) in md
    assert md.count("/github/me/fork/blob/dev/notebooks/") == len(NAMES)
    assert tool.problems() == []
    before = snapshot(lab)
    assert tool.badges("me", "fork", "dev") == []  # same values again: nothing to do
    assert snapshot(lab) == before


def test_fork_setup_cell_installs_from_the_fork(lab: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tool.badges(owner="me", branch="feature/x")
    gh = github_of(lab)
    assert gh["branch"] == "feature/x" and gh["repo"] == github_of(REPO)["repo"]
    for name in NAMES:
        check_setup_cell(setup_source(read(lab / "notebooks" / f"{name}.ipynb")), gh, monkeypatch)
    assert tool.problems() == []


def test_setup_cell_colab_path_on_a_constructed_notebook(lab: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gh = github_of(lab)
    for name in NAMES:
        check_setup_cell(setup_source(read(lab / "notebooks" / f"{name}.ipynb")), gh, monkeypatch)


@pytest.mark.parametrize("value", ["bad owner", 'quote"d', "a/../b", ""])
def test_badges_rejects_bad_values_and_changes_nothing(
    raw_lab: Path, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(raw_lab)
    assert tool.main(["badges", "--owner", value]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert snapshot(raw_lab) == before


# --------------------------------------------------------------------------- normalize, on a tmp lab


def test_normalize_check_reports_and_changes_nothing(raw_lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(raw_lab)
    assert tool.main(["normalize", "--check"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [f"notebooks/{name}.ipynb is not normalized; run `make format`." for name in sorted(NAMES)]
    assert snapshot(raw_lab) == before


def test_normalize_writes_the_normalized_form(raw_lab: Path) -> None:
    assert tool.main(["normalize"]) == 0
    assert tool.normalize_problems() == []
    assert tool.normalize() == []  # idempotent
    path = raw_lab / "notebooks" / "01_unseeded.ipynb"
    text = path.read_text(encoding="utf-8")
    assert text.endswith("}\n") and text.startswith('{\n "cells": [\n  {\n')  # nbformat's 1-space indent
    nb = read(path)
    nbformat.validate(nb)
    assert (nb.nbformat, nb.nbformat_minor) == (4, 5)
    assert nb.metadata == {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for cell in nb.cells:
        assert set(cell.metadata) <= {"tags", "cellView"}
        if cell.cell_type == "code":
            if cell.source.startswith("# NBVAL_CHECK_OUTPUT"):
                assert cell.execution_count == 1  # without one nbval skips the cell, outputs or not
            else:
                assert cell.execution_count is None
                assert cell.outputs == []
    verdict = nb.cells[-1]
    assert verdict.metadata == {"tags": ["verdict"]}
    assert verdict.outputs == [
        {"output_type": "stream", "name": "stdout", "text": "same\n"},
        {"output_type": "execute_result", "data": {"text/plain": "'verdict'"}, "metadata": {}, "execution_count": None},
    ]
    ids = [cell.id for cell in nb.cells]
    assert len(set(ids)) == len(ids)


def test_normalize_notebook_is_pure_deterministic_and_idempotent() -> None:
    gh = {"owner": "o", "repo": "r", "branch": "b", "name": "keras-repro-lab"}
    nb = make_notebook(gh, "00_x", "X")
    original = nbformat.writes(nb)
    once = tool.normalize_notebook(nb, "00_x")
    assert nbformat.writes(nb) == original  # the input is left alone
    assert tool.normalize_notebook(once, "00_x") == once
    # Ids come from name and position, not from whatever id the editor made up.
    nb.cells[0].id = "random-id"
    assert tool.normalize_notebook(nb, "00_x") == once
    assert [c.id for c in tool.normalize_notebook(nb, "01_y").cells] != [c.id for c in once.cells]


@pytest.mark.parametrize("command", [["normalize"], ["normalize", "--check"], ["badges"], ["check-badges"]])
def test_broken_notebook_is_one_sentence_exit_2(
    raw_lab: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    (raw_lab / "notebooks" / "03_broken.ipynb").write_text('{"cells": [', encoding="utf-8")
    assert tool.main(command) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: notebooks/03_broken.ipynb is not valid JSON")
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err


def test_cli_runs_as_a_script(lab: Path) -> None:
    """`make badges` runs the file as a script, in a fresh interpreter (one run: ~1 s of imports)."""
    script = lab / "tools" / "notebooks.py"
    script.parent.mkdir()
    shutil.copy2(REPO / "tools" / "notebooks.py", script)
    result = subprocess.run([sys.executable, str(script), "badges"], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout, result.stderr) == (0, "badges: nothing to change\n", "")


# --------------------------------------------------------------------------- verdicts, on a tmp lab


def verdict_notebook(*printed: str | None, counts: bool = True) -> nbformat.NotebookNode:
    """A notebook whose verdict cells have these stored outputs (None: cleared, as Jupyter leaves it)."""
    nb = v4.new_notebook()
    nb.cells = [v4.new_markdown_cell("# Verdicts"), v4.new_code_cell("x = 1")]
    for number, text in enumerate(printed, 1):
        cell = v4.new_code_cell(f"# NBVAL_CHECK_OUTPUT\nprint({text!r}, end='')")
        if text is not None:
            cell.outputs = [v4.new_output("stream", name="stdout", text=text)]
            cell.execution_count = number if counts else None
        nb.cells.append(cell)
    return nb


@pytest.fixture
def verdict_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tmp lab with one notebook whose two verdict cells print what its registry expects."""
    root = tmp_path / "repo"
    (root / "notebooks").mkdir(parents=True)
    (root / "tests" / "verdicts").mkdir(parents=True)
    monkeypatch.setattr(tool, "ROOT", root)
    nbformat.write(verdict_notebook("a: True\nb: True\n", "c: False\n"), root / "notebooks" / "07_x.ipynb")
    write_registry(root, "07_x", "a: True\nb: True\n", "c: False\n")
    return root


def write_registry(root: Path, name: str, *cells: str) -> None:
    text = "# expected verdicts\n" + "".join(f"\n[[cell]]\nprints = '''\n{c}'''\n" for c in cells)
    (root / "tests" / "verdicts" / f"{name}.toml").write_text(text, encoding="utf-8")


def save(root: Path, nb: nbformat.NotebookNode, name: str = "07_x") -> None:
    nbformat.write(nb, root / "notebooks" / f"{name}.ipynb")


def test_verdicts_as_expected_pass(verdict_lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert tool.verdict_problems() == []
    assert tool.main(["check-verdicts"]) == 0
    assert capsys.readouterr().out == "every stored verdict is what tests/verdicts/ expects\n"
    write_registry(verdict_lab, "07_x", "a: True   \nb: True\n", "c: False")  # trailing spaces and newline aside
    assert tool.verdict_problems() == []


def test_a_flipped_verdict_is_detected(verdict_lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    save(verdict_lab, verdict_notebook("a: True\nb: False\n", "c: False\n"))
    assert tool.verdict_problems() == [
        "notebooks/07_x.ipynb verdict cell 1 (cell 2): line 2 is 'b: False', expected 'b: True' "
        "(from tests/verdicts/07_x.toml)."
    ]
    assert tool.main(["check-verdicts"]) == 1
    assert "expected 'b: True'" in capsys.readouterr().out


def test_a_missing_or_extra_line_is_detected(verdict_lab: Path) -> None:
    save(verdict_lab, verdict_notebook("a: True\n", "c: False\nd: True\n"))
    assert tool.verdict_problems() == [
        "notebooks/07_x.ipynb verdict cell 1 (cell 2): line 2 is missing, expected 'b: True' "
        "(from tests/verdicts/07_x.toml).",
        "notebooks/07_x.ipynb verdict cell 2 (cell 3): line 2 is 'd: True', expected no more lines "
        "(from tests/verdicts/07_x.toml).",
    ]


def test_a_cleared_verdict_cell_is_detected_and_normalize_keeps_nbval_looking(verdict_lab: Path) -> None:
    save(verdict_lab, verdict_notebook("a: True\nb: True\n", None))
    assert tool.verdict_problems() == [
        "notebooks/07_x.ipynb verdict cell 2 (cell 3) has no execution count, so nbval would skip it; "
        "run `make format`.",
        "notebooks/07_x.ipynb verdict cell 2 (cell 3) has no stored output, expected 1 lines from "
        "tests/verdicts/07_x.toml.",
    ]
    tool.normalize()
    cleared = read(verdict_lab / "notebooks" / "07_x.ipynb").cells[3]
    assert (cleared.execution_count, cleared.outputs) == (1, [])  # nbval now compares, and fails it
    assert [p.split(" has ", 1)[1] for p in tool.verdict_problems()] == [
        "no stored output, expected 1 lines from tests/verdicts/07_x.toml."
    ]


def test_stored_without_a_count_is_detected(verdict_lab: Path) -> None:
    save(verdict_lab, verdict_notebook("a: True\nb: True\n", "c: False\n", counts=False))
    assert len(tool.verdict_problems()) == 2
    assert all("nbval would skip it" in p for p in tool.verdict_problems())


def test_a_dropped_or_added_verdict_cell_is_detected(verdict_lab: Path) -> None:
    save(verdict_lab, verdict_notebook("a: True\nb: True\n"))
    assert tool.verdict_problems() == [
        "notebooks/07_x.ipynb has 1 verdict cells but tests/verdicts/07_x.toml lists 2; a verdict cell was "
        "added or dropped, so update one or the other."
    ]
    save(verdict_lab, verdict_notebook("a: True\nb: True\n", "c: False\n", "d: True\n"))
    assert tool.verdict_problems()[0].startswith("notebooks/07_x.ipynb has 3 verdict cells but")


def test_output_other_than_printed_lines_is_detected(verdict_lab: Path) -> None:
    nb = verdict_notebook("a: True\nb: True\n", "c: False\n")
    nb.cells[3].outputs.append(v4.new_output("stream", name="stderr", text="UserWarning: careful\n"))
    save(verdict_lab, nb)
    assert tool.verdict_problems() == [
        "notebooks/07_x.ipynb verdict cell 2 (cell 3) has outputs other than printed lines (stderr); "
        "print the verdicts."
    ]


def test_a_notebook_without_its_registry_and_a_registry_without_its_notebook(verdict_lab: Path) -> None:
    save(verdict_lab, verdict_notebook("e: True\n"), "08_new")
    save(verdict_lab, verdict_notebook(), "09_no_verdicts")  # no verdict cells: needs no registry
    write_registry(verdict_lab, "06_gone", "f: True\n")
    assert tool.verdict_problems() == [
        "notebooks/08_new.ipynb has 1 verdict cells but tests/verdicts/08_new.toml does not exist; write the "
        "lines each must print there.",
        "tests/verdicts/06_gone.toml belongs to no notebook in notebooks/; rename or delete it.",
    ]


@pytest.mark.parametrize(("text", "message"), [
    ("[[cell]\n", "tests/verdicts/07_x.toml is not valid TOML"),
    ("title = 'x'\n", "tests/verdicts/07_x.toml lists no [[cell]]"),
    ("[[cell]]\nprint = 'a: True'\n", "tests/verdicts/07_x.toml: [[cell]] number 1 needs exactly one key, prints"),
])
def test_a_broken_registry_is_one_sentence_exit_2(
    verdict_lab: Path, text: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (verdict_lab / "tests" / "verdicts" / "07_x.toml").write_text(text, encoding="utf-8")
    assert tool.main(["check-verdicts"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and err.count("\n") == 1


def test_refresh_stores_only_the_expected_verdicts(verdict_lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Runs two tiny notebooks in real kernels (about 2 s each, no TensorFlow)."""
    good = verdict_notebook("a: True\nb: True\n", "c: False\n")
    for cell in good.cells[2:]:
        cell.outputs, cell.execution_count = [], None  # as written before a first refresh
    save(verdict_lab, good)
    flipped = verdict_notebook("g: False\n")  # what the code prints now
    save(verdict_lab, flipped, "08_flipped")
    write_registry(verdict_lab, "08_flipped", "g: True\n")  # what the notebook claims
    before = (verdict_lab / "notebooks" / "08_flipped.ipynb").read_bytes()

    assert tool.main(["refresh"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "refreshed notebooks/07_x.ipynb",
        "not stored: notebooks/08_flipped.ipynb verdict cell 1 (cell 2): line 1 is 'g: False', expected "
        "'g: True' (from tests/verdicts/08_flipped.toml).",
    ]
    assert (verdict_lab / "notebooks" / "08_flipped.ipynb").read_bytes() == before
    stored = [c for c in read(verdict_lab / "notebooks" / "07_x.ipynb").cells if c.get("outputs")]
    assert [(c.execution_count, c.outputs[0].text) for c in stored] == [(1, "a: True\nb: True\n"), (1, "c: False\n")]


def test_refresh_without_a_registry_refuses_before_running(
    verdict_lab: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    save(verdict_lab, verdict_notebook("e: True\n"), "08_new")
    monkeypatch.setattr("nbclient.NotebookClient.execute", lambda self: pytest.fail("refresh ran a notebook"))
    assert tool.main(["refresh"]) == 2
    assert capsys.readouterr().err == (
        "error: notebooks/08_new.ipynb has verdict cells but no tests/verdicts/08_new.toml; write the lines each "
        "verdict cell must print there first.\n"
    )


def run_nbval(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider", "-q",
         "-o", "addopts=", str(path)],
        cwd=path.parent, capture_output=True, text=True, timeout=120,
    )


def test_nbval_skips_a_cleared_verdict_cell_unless_normalize_gave_it_a_count(tmp_path: Path) -> None:
    """Why normalize gives every verdict cell a count: the failure nbval would otherwise skip."""
    nb = verdict_notebook(None)
    path = tmp_path / "cleared.ipynb"
    nbformat.write(nb, path)
    skipped = run_nbval(path)
    assert skipped.returncode == 0, skipped.stdout  # the silent skip this guards against
    nbformat.write(tool.normalize_notebook(nb, "cleared"), path)
    checked = run_nbval(path)
    assert checked.returncode == 1 and "Unexpected output fields" in checked.stdout, checked.stdout
