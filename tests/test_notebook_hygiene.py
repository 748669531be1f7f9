"""The notebooks' hygiene: title and button bar, Colab badges and metadata, the setup cell, normalized JSON, lint.

Two kinds of test. Those named ``test_repo_*`` check the committed repository itself (the CI
gate: run ``make badges`` and ``make format`` to fix them; a verdict cell's stored output must be
what ``tests/verdicts/<notebook>.toml`` says). The others build a small lab in
``tmp_path``, hand its root to the tools (``tools/notebooks.py`` and ``tools/notebook_tools/``)
and check what they write and detect.
Expected values are spelled out here rather than taken from the tool, so a bug in the tool
cannot vouch for itself. Nothing here uses the network.
"""

from __future__ import annotations

import importlib.machinery
import importlib.metadata
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager
from nbformat import v4

from tools import notebooks as cli
from tools.notebook_tools import badges, normalize, pyproject, setup_cell, verdicts

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parents[1]
REPO_NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
BADGE_IMG = "https://colab.research.google.com/assets/colab-badge.svg"
# Requirement names that must never reach Colab's pip: they would replace Colab's TensorFlow.
TF_NAMES = {"tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-intel", "tf-nightly", "keras", "tf-keras"}

# The setup cell, spelled out (`{name}` and `{spec}` filled in by the tests).
SETUP_CELL = """\
#@title Setup: install the lab (Colab only; locally `python tools/lab.py` did it)
import importlib.metadata
import importlib.util
import sys
from pathlib import Path

try:
    importlib.metadata.distribution("{name}")
except importlib.metadata.PackageNotFoundError:
    if "google.colab" in sys.modules:
        %pip install --quiet "{spec}"
        importlib.invalidate_caches()
found = importlib.util.find_spec("helpers")  # a helpers.py or helpers/ of yours would hide the lab's
if found and "{name}" not in (Path(found.origin).read_text(errors="replace") if found.origin else ""):
    raise ImportError(f"{{found.origin or list(found.submodule_search_locations)[0]}} hides the lab's helpers: "
                      "rename your helpers.py or helpers folder (or move this notebook), then restart the runtime.")"""
# The cell before it: what `make badges` must recognize and replace.
LEGACY_SETUP_CELL = """\
# Colab has TensorFlow but not this lab's helpers: install them (and nothing else) from GitHub.
# Locally, `python tools/lab.py` installed them into .venv already, so this does nothing.
import importlib.util
import subprocess
import sys

IS_COLAB = "google.colab" in sys.modules
HELPERS_PIP_SPEC = "{spec}"
if IS_COLAB and importlib.util.find_spec("helpers") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", HELPERS_PIP_SPEC], check=True)"""
SHADOWED = ("{path} hides the lab's helpers: rename your helpers.py or helpers folder (or move this notebook), "
            "then restart the runtime.")


# --------------------------------------------------------------------------- helpers


def github_of(root: Path) -> dict[str, str]:
    """[tool.repro-lab.github] and [project].name, read straight from pyproject.toml."""
    data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    return {**data["tool"]["repro-lab"]["github"], "name": data["project"]["name"]}


def colab_url(gh: dict[str, str], name: str) -> str:
    return f"https://colab.research.google.com/github/{gh['owner']}/{gh['repo']}/blob/{gh['branch']}/notebooks/{name}.ipynb"


def badge_html(gh: dict[str, str], name: str) -> str:
    """The bare Colab badge that was cell 0 before the button bar (the shape `make badges` migrates)."""
    return f'<a href="{colab_url(gh, name)}" target="_parent"><img src="{BADGE_IMG}" alt="Open In Colab"/></a>'


def github_url(gh: dict[str, str], name: str) -> str:
    return f"https://github.com/{gh['owner']}/{gh['repo']}/blob/{gh['branch']}/notebooks/{name}.ipynb"


def download_url(gh: dict[str, str], name: str) -> str:
    return f"https://raw.githubusercontent.com/{gh['owner']}/{gh['repo']}/{gh['branch']}/notebooks/{name}.ipynb"


def button_bar(gh: dict[str, str], name: str, urls: tuple[str, str, str] | None = None) -> str:
    """Cell 1: tensorflow/docs' button table, with Colab's badge as its only image (``urls`` to break it)."""
    colab, github, download = urls or (colab_url(gh, name), github_url(gh, name), download_url(gh, name))
    return f"""\
<table class="tfo-notebook-buttons" align="left">
  <td>
    <a target="_blank" href="{colab}"><img src="{BADGE_IMG}" alt="Open In Colab"/></a>
  </td>
  <td>
    <a target="_blank" href="{github}">View on GitHub</a>
  </td>
  <td>
    <a href="{download}">Download notebook</a>
  </td>
</table>"""


def colab_metadata(name: str) -> dict:
    """What Colab reads from the notebook's metadata; 03 (CPU against GPU) asks for a T4 GPU."""
    colab = {"name": f"{name}.ipynb", "toc_visible": True, "provenance": []}
    if name == "03_cpu_forced":
        return {"accelerator": "GPU", "colab": {**colab, "gpuType": "T4"}}
    return {"colab": colab}


def badge_md(gh: dict[str, str], name: str) -> str:
    return f"[![Open In Colab]({BADGE_IMG})]({colab_url(gh, name)})"


def expected_spec(gh: dict[str, str]) -> str:
    return f"{gh['name']} @ git+https://github.com/{gh['owner']}/{gh['repo']}@{gh['branch']}"


def expected_setup(gh: dict[str, str]) -> str:
    return SETUP_CELL.format(name=gh["name"], spec=expected_spec(gh))


def make_notebook(gh: dict[str, str], name: str, title: str) -> nbformat.NotebookNode:
    """A notebook in the shape before the button bar (a bare badge, then the title with its prose, the
    old setup cell), saved the way Jupyter saves it."""
    nb = v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python", "version": "3.11.7", "mimetype": "text/x-python"},
        "colab": {"provenance": []},
        "widgets": {"application/vnd.jupyter.widget-state+json": {}},
    }
    cells = [
        v4.new_markdown_cell(f"# {title}\n\n{PROSE}"),
        v4.new_markdown_cell("## Setup"),
        v4.new_code_cell(LEGACY_SETUP_CELL.format(spec=expected_spec(gh)), execution_count=1),
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
    cells.insert(0, v4.new_markdown_cell(badge_html(gh, name), metadata={"id": "view-in-github"}))
    nb.cells = cells
    return nb


NAMES = {"00_start_here": "Start here", "01_unseeded": "Unseeded runs differ", "02_seeded": "Seeds | not enough",
         "03_cpu_forced": "Forcing the CPU"}
# What follows the title in the old shape's title cell: split off into a cell of its own, byte for byte
# (a Markdown line break's two trailing spaces, blank lines, a heading, a code fence with a "# " line).
PROSE = "What this notebook shows,  \nin two lines.\n\n\n## Overview\n\n```python\n# not a title\n```\n\nThe end."


README_START, README_END = "<!-- notebooks:start -->", "<!-- notebooks:end -->"
README_TEXT = f"# A lab\n\nIntro.\n\n{README_START}\n{README_END}\n\n## More\n\nText.\n"


def build_lab(root: Path) -> Path:
    """A tmp repo: the real pyproject.toml, four notebooks in the old shape saved as Jupyter would, and a
    README whose notebooks table is still empty."""
    (root / "notebooks").mkdir(parents=True)
    shutil.copy2(REPO / "pyproject.toml", root / "pyproject.toml")
    (root / "README.md").write_text(README_TEXT, encoding="utf-8")
    gh = github_of(root)
    for name, title in NAMES.items():
        nbformat.write(make_notebook(gh, name, title), root / "notebooks" / f"{name}.ipynb")
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


@pytest.fixture
def raw_lab(tmp_path: Path) -> Path:
    """A tmp lab as people leave it: outputs, counts, metadata, no colab_badge.md yet."""
    return build_lab(tmp_path / "repo")


@pytest.fixture
def lab(raw_lab: Path) -> Path:
    """The tmp lab after `make badges`: everything in order."""
    badges.update(raw_lab)
    return raw_lab


def setup_source(nb: nbformat.NotebookNode) -> str:
    """The source of the notebook's setup cell, which must be its first code cell, shown as a Colab form."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and code[0].source.startswith("#@title Setup"), "the first code cell is not the setup cell"
    assert code[0].metadata.get("cellView") == "form", "Colab would show the setup cell's code"
    assert not [c for c in code[1:] if "%pip" in c.source or "HELPERS_PIP_SPEC" in c.source], "two setup cells"
    return code[0].source


def head_of(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    """(cell type, source) of the cells that open the notebook, up to the setup cell."""
    end = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    return [(c.cell_type, c.source) for c in nb.cells[:end]]


def colab_part(nb: nbformat.NotebookNode) -> dict:
    return {key: nb.metadata[key] for key in ("colab", "accelerator") if key in nb.metadata}



class FakeIPython:
    """Records the magics a cell runs; ``%pip`` may "install" (call ``on_pip``)."""

    def __init__(self, on_pip=None) -> None:
        self.calls: list[tuple[str, str]] = []
        self.on_pip = on_pip

    def run_line_magic(self, name: str, line: str) -> None:
        self.calls.append((name, line))
        if name == "pip" and self.on_pip:
            self.on_pip()


@pytest.fixture
def kernel_dirs(tmp_path: Path) -> tuple[Path, Path]:
    """(cwd, site): the notebook's folder (first on sys.path, as in a kernel) and an empty site-packages."""
    cwd, site = tmp_path / "content", tmp_path / "site-packages"
    cwd.mkdir()
    site.mkdir()
    return cwd, site


def install_lab(site: Path) -> None:
    """What pip leaves in site-packages, as far as the setup cell looks: the lab's helpers/__init__.py."""
    (site / "helpers").mkdir(exist_ok=True)
    shutil.copy2(REPO / "helpers" / "__init__.py", site / "helpers" / "__init__.py")


def run_setup_cell(source: str, dirs: tuple[Path, Path], *, colab: bool, installed: bool) -> list[tuple[str, str]]:
    """Run a setup cell as IPython would (``%pip`` transformed by IPython itself) with Colab faked or not,
    the lab's distribution installed or not, and sys.path = [cwd, site]; return the magics it ran. A fake
    ``%pip`` installs the lab into ``site``."""
    cwd, site = dirs
    code = TransformerManager().transform_cell(source)
    shell = FakeIPython(on_pip=lambda: install_lab(site))
    real_distribution = importlib.metadata.distribution

    def distribution(name: str):
        if name == "keras-repro-lab":
            if installed:
                return object()
            raise importlib.metadata.PackageNotFoundError(name)
        return real_distribution(name)

    def forbidden(*args, **kwargs):
        raise AssertionError("the setup cell must install with %pip and nothing else")

    # Only these two folders, and the standard finders only (not the editable install's), so that
    # `helpers` is whatever they hold; the cell's own imports are all loaded already.
    standard = (importlib.machinery.BuiltinImporter, importlib.machinery.FrozenImporter, importlib.machinery.PathFinder)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(importlib.metadata, "distribution", distribution)
        for name in ("run", "Popen", "check_call"):
            mp.setattr(subprocess, name, forbidden)
        mp.setattr(sys, "path", [str(cwd), str(site)])
        mp.setattr(sys, "meta_path", [f for f in sys.meta_path if f in standard])
        mp.delitem(sys.modules, "helpers", raising=False)
        if colab:
            mp.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
        else:
            mp.delitem(sys.modules, "google.colab", raising=False)
        exec(compile(code, "<setup cell>", "exec"), {"__name__": "__main__", "get_ipython": lambda: shell})
    return shell.calls


def requirement_name(requirement: str) -> str:
    name = re.split(r"[\s\[<>=!~;@(]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def check_setup_cell(source: str, gh: dict[str, str], dirs: tuple[Path, Path]) -> None:
    """In Colab without the lab: exactly one %pip line, for the lab alone. Installed, or outside Colab:
    nothing installed. The lab's own helpers never count as shadowing."""
    calls = run_setup_cell(source, dirs, colab=True, installed=False)
    assert calls == [("pip", f'install --quiet "{expected_spec(gh)}"')]
    assert requirement_name(expected_spec(gh)) not in TF_NAMES, "Colab would replace its TensorFlow"
    assert run_setup_cell(source, dirs, colab=True, installed=True) == [], "installed: no reinstall"
    assert run_setup_cell(source, dirs, colab=False, installed=False) == [], "locally: no install"


# --------------------------------------------------------------------------- the repository itself


def test_repo_badges_and_colab_badge_md_are_correct() -> None:
    """Every notebook has its title, button bar, setup cell and Colab metadata; colab_badge.md and README's
    table list exactly the notebooks; [tool.repro-lab.github] holds valid values (loading them validates)."""
    assert REPO_NOTEBOOKS, "notebooks/ holds no notebooks"
    assert badges.problems(REPO) == []


def test_repo_notebooks_open_with_the_title_then_the_button_bar() -> None:
    """tensorflow/docs' shape, spelled out: cell 0 the title alone, cell 1 the button bar, only markdown
    before the setup cell (setup_source: the first code cell); Colab's metadata, a T4 GPU for 03 alone."""
    gh = github_of(REPO)
    for path in REPO_NOTEBOOKS:
        nb = read(path)
        head = head_of(nb)
        assert {kind for kind, _ in head} == {"markdown"}, path.name
        assert re.fullmatch(r"# \S.*", head[0][1]), f"{path.name}: cell 0 is not the title alone"
        assert head[1][1] == button_bar(gh, path.stem), f"{path.name}: cell 1 is not the button bar"
        assert setup_source(nb) == expected_setup(gh)
        assert colab_part(nb) == colab_metadata(path.stem), path.name
    assert read(REPO / "notebooks" / "03_cpu_forced.ipynb").metadata["accelerator"] == "GPU"


def test_repo_notebooks_are_normalized() -> None:
    """The CI gate for `make format`: no outputs except verdicts, no counts, no volatile metadata."""
    assert normalize.problems(REPO) == []


def test_repo_setup_cell_installs_only_the_lab_in_colab(kernel_dirs: tuple[Path, Path]) -> None:
    """Run once: every notebook holds this very cell (test_repo_notebooks_open_with_...)."""
    check_setup_cell(expected_setup(github_of(REPO)), github_of(REPO), kernel_dirs)


def test_repo_helpers_names_the_distribution_the_setup_cell_looks_for() -> None:
    """The setup cell tells the lab's helpers from a stranger's by this name in helpers/__init__.py."""
    assert github_of(REPO)["name"] in (REPO / "helpers" / "__init__.py").read_text(encoding="utf-8")


def test_repo_dependencies_leave_colab_tensorflow_alone() -> None:
    """`pip install` of the lab in Colab must never pull in (and so replace) TensorFlow or Keras."""
    deps = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    assert not {requirement_name(d) for d in deps} & TF_NAMES


def test_repo_is_ruff_clean() -> None:
    """The lint gate (`make lint`), so `make test` alone catches lint errors too."""
    # Only folders that exist: ruff reports a missing path as an error of its own.
    paths = [p for p in ("helpers", "tests", "tools", "notebooks") if (REPO / p).exists()]
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", *paths], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


VERDICT_DOC = Path("docs") / "notebooks.md"  # relative to the repository
VERDICT_SECTION = "## What each notebook teaches, and the verdicts it checks"


def test_repo_verdicts_are_what_their_registries_say() -> None:
    """The one check of the committed verdicts (`check-verdicts`): every verdict cell is stored with
    an execution count (or nbval skips it) and prints exactly the lines of its
    tests/verdicts/<notebook>.toml, and registries and notebooks with verdict cells match one to one.
    What the check catches is spelled out on tmp labs below ("verdicts, on a tmp lab")."""
    assert verdicts.problems(REPO) == []


def test_repo_verdict_table_in_docs_names_the_notebooks_with_verdicts() -> None:
    text = (REPO / VERDICT_DOC).read_text(encoding="utf-8")
    assert VERDICT_SECTION in text, f"{VERDICT_DOC.as_posix()} lacks the section {VERDICT_SECTION!r}"
    section = text.split(VERDICT_SECTION, 1)[1].split("\n## ", 1)[0]
    rows = {m[1] for m in re.finditer(r"^\| `([^`]+)` \|", section, re.MULTILINE)}
    with_verdicts = {p.stem for p in REPO_NOTEBOOKS if verdicts.verdict_cells(read(p))}
    assert rows == with_verdicts, f"add (or drop) the notebook's row in {VERDICT_DOC.as_posix()}'s verdict table"


# --------------------------------------------------------------------------- badges, on a tmp lab


def test_correct_lab_passes_every_check(lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """After `make badges`: the title alone, the button bar, the title's prose split off byte for byte,
    "## Setup", then the setup cell as the first code cell; Colab's metadata (a GPU for 03 only)."""
    gh = github_of(lab)
    for name, title in NAMES.items():
        nb = read(lab / "notebooks" / f"{name}.ipynb")
        assert head_of(nb) == [("markdown", f"# {title}"), ("markdown", button_bar(gh, name)),
                               ("markdown", PROSE), ("markdown", "## Setup")]
        assert setup_source(nb) == expected_setup(gh)
        assert colab_part(nb) == colab_metadata(name)
    assert "accelerator" in read(lab / "notebooks" / "03_cpu_forced.ipynb").metadata
    text = (lab / "colab_badge.md").read_text(encoding="utf-8")
    for name in NAMES:
        assert text.count(badge_md(gh, name)) == 1
    assert text.count("colab.research.google.com/github/") == len(NAMES)
    assert "Seeds \\| not enough" in text  # a "|" in a title must not split the table row
    assert cli.main(["check-badges"], lab) == 0
    assert cli.main(["normalize", "--check"], lab) == 0
    assert capsys.readouterr().out == "badges are all correct\nall notebooks are normalized\n"


def test_colab_badge_md_rows_are_sorted_and_titled(lab: Path) -> None:
    text = (lab / "colab_badge.md").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0].startswith("# ")
    rows = [line for line in lines if line.startswith("| [")]
    assert [re.search(r"notebooks/(\w+)\.ipynb", r)[1] for r in rows] == sorted(NAMES)
    assert "Unseeded runs differ" in rows[1]
    assert text == badges.render_colab_badge_md(lab, pyproject.load_github(lab))


def test_badge_url_and_pip_spec_match_pyproject(lab: Path) -> None:
    gh = github_of(lab)
    where = pyproject.load_github(lab)
    assert badges.badge_url("01_unseeded", where) == colab_url(gh, "01_unseeded")
    assert badges.badge_url("01_unseeded.ipynb", where) == colab_url(gh, "01_unseeded")
    assert setup_cell.pip_spec(pyproject.project_name(lab), where) == expected_spec(gh)
    assert setup_cell.source(pyproject.project_name(lab), where) == expected_setup(gh)


def test_badges_migrates_the_old_shape_and_changes_no_other_cell(raw_lab: Path) -> None:
    """raw_lab's notebooks have the shape of before: a bare badge as cell 0, the title and its prose in
    cell 1, and the old setup cell (HELPERS_PIP_SPEC). `make badges` drops the badge, splits the title
    cell (the prose byte for byte), puts the button bar after the title and the new setup cell in the
    old one's place; every other cell is as it was (ids aside: they follow the position)."""
    normalize.update(raw_lab)
    before = {p.stem: read(p) for p in sorted((raw_lab / "notebooks").glob("*.ipynb"))}
    badges.update(raw_lab)
    gh = github_of(raw_lab)

    def content(cells: list) -> list[dict]:
        return [{k: v for k, v in cell.items() if k != "id"} for cell in cells]

    for name, old in before.items():
        assert old.cells[1].source == f"# {NAMES[name]}\n\n{PROSE}"
        new = read(raw_lab / "notebooks" / f"{name}.ipynb")
        assert [c.source for c in new.cells[:3]] == [f"# {NAMES[name]}", button_bar(gh, name), PROSE]
        assert (new.cells[4].source, new.cells[4].metadata) == (expected_setup(gh), {"cellView": "form"})
        assert content(new.cells[3:4] + new.cells[5:]) == content(old.cells[2:3] + old.cells[4:])
        assert colab_part(new) == colab_metadata(name)


@pytest.mark.parametrize("cells", [
    [f"# Start here\n{PROSE}"],  # no blank line after the title
    [f"\n\n# Start here  \n\n\n{PROSE}\n"],  # blank lines around, trailing spaces after the title
    ["# Start here", PROSE],  # split already, no button bar yet
    ["# Start here", "<table class='tfo-notebook-buttons'><td>old</td></table>", PROSE],  # an old bar
], ids=["tight", "loose", "split", "old-bar"])
def test_badges_makes_the_same_head_from_any_title_cell(raw_lab: Path, cells: list[str]) -> None:
    path = raw_lab / "notebooks" / "00_start_here.ipynb"
    nb = read(path)
    nb.cells[:2] = [v4.new_markdown_cell(text) for text in cells]
    nbformat.write(nb, path)
    badges.update(raw_lab)
    assert head_of(read(path)) == [("markdown", "# Start here"), ("markdown", button_bar(github_of(raw_lab),
                                   "00_start_here")), ("markdown", PROSE), ("markdown", "## Setup")]
    assert badges.problems(raw_lab) == []


def test_badges_owns_the_head_only(lab: Path) -> None:
    """Badges and bars around the title are the tool's and go; one further down is a person's (a link to
    another notebook, say) and stays, as does everything else."""
    gh = github_of(lab)
    path = lab / "notebooks" / "01_unseeded.ipynb"
    nb = read(path)
    elsewhere = v4.new_markdown_cell(badge_html(gh, "02_seeded"))
    nb.cells[3:3] = [elsewhere]
    fresh = [(c.cell_type, c.source) for c in nb.cells]
    nb.cells[:0] = [v4.new_markdown_cell(badge_html(gh, "01_unseeded"))]
    nb.cells[2:2] = [v4.new_markdown_cell(badge_html(gh, "01_unseeded")),
                     v4.new_markdown_cell(button_bar({**gh, "owner": "old"}, "01_unseeded"))]
    nbformat.write(nb, path)
    badges.update(lab)
    assert [(c.cell_type, c.source) for c in read(path).cells] == fresh
    assert badges.problems(lab) == []


def test_badges_refuses_a_notebook_without_a_title_and_writes_nothing(
    raw_lab: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = raw_lab / "notebooks" / "02_seeded.ipynb"
    nb = read(path)
    nb.cells[1].source = PROSE  # the title cell without its title: the tool makes none up
    nbformat.write(nb, path)
    before = snapshot(raw_lab)
    assert cli.main(["badges"], raw_lab) == 2
    assert capsys.readouterr().err == (
        "error: notebooks/02_seeded.ipynb does not start with its title (a markdown cell whose first line is "
        "'# Title'); add one, then run `make badges`.\n"
    )
    assert snapshot(raw_lab) == before


NOT_TITLE = ("notebooks/01_unseeded.ipynb: cell 0 is not the title alone (a markdown cell holding only '# Title'); "
             "run `make badges`.")
NOT_BAR = ("notebooks/01_unseeded.ipynb: cell 1 is not the button bar (Open in Colab, View on GitHub, Download "
           "notebook); run `make badges`.")


HEAD_EDITS = {  # how a head goes wrong, and what check-badges says
    "title-and-prose": (lambda cells: cells[0].update(source=cells[0].source + "\n\nMore."), [NOT_TITLE]),
    "spaced-title": (lambda cells: cells[0].update(source="# Unseeded runs differ  "), [NOT_TITLE]),
    "bar-first": (lambda cells: cells.insert(0, cells.pop(1)), [NOT_TITLE, NOT_BAR]),
    "no-bar": (lambda cells: cells.pop(1), [NOT_BAR]),
    "old-badge": (lambda cells: cells[1].update(source=badge_html(github_of(REPO), "01_unseeded")), [NOT_BAR]),
    "bar-and-text": (lambda cells: cells[1].update(source=cells[1].source + "\n\nText after the bar."), [NOT_BAR]),
    "wording": (lambda cells: cells[1].update(source=cells[1].source.replace("Download notebook", "Download")),
                ["notebooks/01_unseeded.ipynb: cell 1 is not exactly the standard button bar; run `make badges`."]),
}


@pytest.mark.parametrize("case", HEAD_EDITS)
def test_a_wrong_head_is_detected_and_fixed(lab: Path, case: str) -> None:
    edit, expected = HEAD_EDITS[case]
    path = lab / "notebooks" / "01_unseeded.ipynb"
    nb = read(path)
    edit(nb.cells)
    nbformat.write(nb, path)
    assert badges.problems(lab) == expected
    badges.update(lab)
    assert badges.problems(lab) == []


LINK_KINDS = ["the Colab link", "the GitHub link", "the download link"]


def with_link(gh: dict[str, str], name: str, kind: str, url: str) -> str:
    """The button bar of ``name`` with one of its three links replaced by ``url``."""
    urls = [colab_url(gh, name), github_url(gh, name), download_url(gh, name)]
    urls[LINK_KINDS.index(kind)] = url
    return button_bar(gh, name, tuple(urls))


def set_bar(lab: Path, name: str, source: str) -> None:
    path = lab / "notebooks" / f"{name}.ipynb"
    nb = read(path)
    nb.cells[1].source = source
    nbformat.write(nb, path)


URL_OF = dict(zip(LINK_KINDS, [colab_url, github_url, download_url], strict=True))


@pytest.mark.parametrize("kind", LINK_KINDS)
@pytest.mark.parametrize("key", ["owner", "repo", "branch"])
def test_a_link_to_another_owner_repo_or_branch_is_detected(lab: Path, key: str, kind: str) -> None:
    gh = github_of(lab)
    wrong = {**gh, key: "elsewhere/x" if key == "branch" else "elsewhere"}  # a branch may hold a slash
    set_bar(lab, "02_seeded", with_link(gh, "02_seeded", kind, URL_OF[kind](wrong, "02_seeded")))
    assert badges.problems(lab) == [
        f"notebooks/02_seeded.ipynb cell 1: {kind} points at {wrong['owner']}/{wrong['repo']} branch "
        f"{wrong['branch']}, not {gh['owner']}/{gh['repo']} branch {gh['branch']}; run `make badges`."
    ]


@pytest.mark.parametrize("kind", LINK_KINDS)
def test_a_link_to_another_or_a_missing_notebook_is_detected(lab: Path, kind: str) -> None:
    gh = github_of(lab)
    set_bar(lab, "01_unseeded", with_link(gh, "01_unseeded", kind, URL_OF[kind](gh, "02_seeded")))
    assert badges.problems(lab) == [
        f"notebooks/01_unseeded.ipynb cell 1: {kind} points at notebooks/02_seeded.ipynb, not at this notebook; "
        f"run `make badges`."
    ]
    set_bar(lab, "01_unseeded", with_link(gh, "01_unseeded", kind, URL_OF[kind](gh, "01_renamed")))
    assert badges.problems(lab) == [
        f"notebooks/01_unseeded.ipynb cell 1: {kind} points at notebooks/01_renamed.ipynb, which does not exist."
    ]


@pytest.mark.parametrize(("name", "edit", "shown"), [
    ("01_unseeded", lambda md: md.pop("colab"),
     'no colab.name (expected "01_unseeded.ipynb"), no colab.provenance (expected []), '
     "no colab.toc_visible (expected true)"),
    ("01_unseeded", lambda md: md.colab.update(name="Copy of 01_unseeded.ipynb", toc_visible=False),
     'colab.name = "Copy of 01_unseeded.ipynb" (expected "01_unseeded.ipynb"), colab.toc_visible = false '
     "(expected true)"),
    ("01_unseeded", lambda md: md.update(accelerator="GPU"), 'accelerator = "GPU" (expected none)'),
    ("03_cpu_forced", lambda md: (md.pop("accelerator"), md.colab.pop("gpuType")),
     'no accelerator (expected "GPU"), no colab.gpuType (expected "T4")'),
    ("03_cpu_forced", lambda md: md.colab.update(gpuType="A100"), 'colab.gpuType = "A100" (expected "T4")'),
], ids=["no-colab", "renamed", "gpu-on-01", "no-gpu-on-03", "other-gpu"])
def test_wrong_colab_metadata_is_detected_and_fixed(lab: Path, name: str, edit, shown: str) -> None:
    path = lab / "notebooks" / f"{name}.ipynb"
    nb = read(path)
    edit(nb.metadata)
    nbformat.write(nb, path)
    assert badges.problems(lab) == [
        f"notebooks/{name}.ipynb: the Colab metadata is not what `make badges` writes: {shown}; run `make badges`."
    ]
    badges.update(lab)
    assert colab_part(read(path)) == colab_metadata(name)
    assert badges.problems(lab) == []


def test_colab_badge_md_missing_a_notebook_is_detected(lab: Path) -> None:
    md = lab / "colab_badge.md"
    md.write_text("".join(line for line in md.open() if "01_unseeded" not in line), encoding="utf-8")
    assert badges.problems(lab) == ["colab_badge.md: notebooks/01_unseeded.ipynb has no badge; run `make badges`."]


def test_colab_badge_md_listing_a_missing_notebook_is_detected(lab: Path) -> None:
    (lab / "notebooks" / "02_seeded.ipynb").unlink()
    assert badges.problems(lab) == [
        "colab_badge.md: badge points at notebooks/02_seeded.ipynb, which does not exist.",
        "README.md's notebooks table is out of date (a notebook, title or badge); run `make badges`.",
    ]


def test_stale_or_missing_colab_badge_md_is_detected(lab: Path) -> None:
    md = lab / "colab_badge.md"
    md.write_text(md.read_text(encoding="utf-8").replace("Start here", "Old title"), encoding="utf-8")
    assert badges.problems(lab) == ["colab_badge.md is out of date (titles or wording); run `make badges`."]
    md.unlink()
    assert badges.problems(lab) == ["colab_badge.md does not exist; run `make badges`."]


def readme_row(gh: dict[str, str], name: str, title: str) -> str:
    return f"| [`{name}`](notebooks/{name}.ipynb) | {title} | {badge_md(gh, name)} |"


def test_readme_table_lists_every_notebook_between_the_markers(lab: Path) -> None:
    """Only the lines between the markers change: one row per notebook, its title and its badge."""
    gh = github_of(lab)
    text = (lab / "README.md").read_text(encoding="utf-8")
    before, rest = text.split(README_START + "\n")
    block, after = rest.split(README_END + "\n")
    assert [before, after] == README_TEXT.split(f"{README_START}\n{README_END}\n")
    rows = [line for line in block.splitlines() if line.startswith("| [")]
    assert rows == [readme_row(gh, name, title.replace("|", "\\|")) for name, title in sorted(NAMES.items())]
    assert block.splitlines()[-len(rows) - 2:-len(rows)] == ["| notebook | what it shows | open |", "|---|---|---|"]


def test_stale_or_missing_readme_table_is_detected(lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    readme = lab / "README.md"
    fresh = readme.read_text(encoding="utf-8")
    stale = "Stale: the notebook was renamed"
    for old in ("Start here", "blob/main/", "| [`01_unseeded`]"):
        readme.write_text(fresh.replace(old, stale, 1), encoding="utf-8")
        assert badges.problems(lab) == [
            "README.md's notebooks table is out of date (a notebook, title or badge); run `make badges`."
        ]
    assert cli.main(["check-badges"], lab) == 1
    missing = (f"README.md has no notebooks table between the lines {README_START} and {README_END}; add those "
               f"two lines where the table belongs, then run `make badges`.")
    readme.write_text(fresh.replace(README_END, ""), encoding="utf-8")
    assert badges.problems(lab) == [missing]
    readme.unlink()
    assert badges.problems(lab) == [missing]
    capsys.readouterr()


def test_badges_refuses_a_readme_without_markers_and_writes_nothing(
    raw_lab: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (raw_lab / "README.md").write_text("# A lab\n\nNo table here.\n", encoding="utf-8")
    before = snapshot(raw_lab)
    assert cli.main(["badges", "--owner", "me"], raw_lab) == 2
    assert capsys.readouterr().err.startswith("error: README.md has no notebooks table between the lines")
    assert snapshot(raw_lab) == before


def test_stale_install_line_is_detected(lab: Path) -> None:
    path = lab / "notebooks" / "00_start_here.ipynb"
    nb = read(path)
    for cell in nb.cells:
        cell.source = cell.source.replace("git+https://github.com/", "git+https://github.com/old/")
    nbformat.write(nb, path)
    (found,) = badges.problems(lab)
    assert found.startswith("notebooks/00_start_here.ipynb: the setup cell is not what `make badges` writes")


def test_badges_is_idempotent(raw_lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["badges"], raw_lab) == 0
    first = snapshot(raw_lab)
    assert badges.update(raw_lab) == []
    assert cli.main(["badges"], raw_lab) == 0
    assert snapshot(raw_lab) == first
    assert capsys.readouterr().out.splitlines()[-1] == "badges: nothing to change"


def test_badges_is_idempotent_on_a_copy_of_the_repo(tmp_path: Path) -> None:
    if not REPO_NOTEBOOKS:
        pytest.skip("notebooks/ holds no notebooks yet")
    root = tmp_path / "repo"
    (root / "notebooks").mkdir(parents=True)
    for path in [REPO / "pyproject.toml", REPO / "colab_badge.md", REPO / "README.md", *REPO_NOTEBOOKS]:
        if path.exists():
            shutil.copy2(path, root / path.relative_to(REPO))
    badges.update(root)
    first = snapshot(root)
    assert badges.update(root) == []
    assert snapshot(root) == first
    assert badges.problems(root) == []


def test_badges_for_a_fork_rewrites_everything(lab: Path) -> None:
    old_pyproject = (lab / "pyproject.toml").read_text(encoding="utf-8")
    assert cli.main(["badges", "--owner", "me", "--repo", "fork", "--branch", "dev"], lab) == 0

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
        assert nb.cells[1].source == button_bar(gh, name)
        assert f'%pip install --quiet "{gh["name"]} @ git+https://github.com/me/fork@dev"' in setup_source(nb)
        assert badge_md(gh, name) in md
    assert md.count("/github/me/fork/blob/dev/notebooks/") == len(NAMES)
    assert badges.problems(lab) == []
    before = snapshot(lab)
    assert badges.update(lab, "me", "fork", "dev") == []  # same values again: nothing to do
    assert snapshot(lab) == before


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_write_github_keeps_comments_and_formatting(tmp_path: Path, newline: str) -> None:
    """tomlkit changes the values asked for and nothing else: comments (trailing ones too), quotes,
    blank lines, other tables and line endings stay byte for byte."""
    lines = [
        "# a fork's pyproject",
        "[project]",
        'name = "keras-repro-lab"',
        "",
        "# where the notebooks live",
        "[tool.repro-lab.github]",
        'owner = "keras-repro-lab"   # the GitHub user or organization',
        "repo = 'keras-repro-lab'",
        'branch = "main"',
        "",
        "[tool.ruff]",
        "line-length = 120  # wide",
    ]
    (tmp_path / "pyproject.toml").write_bytes(newline.join([*lines, ""]).encode())
    assert pyproject.write_github(tmp_path, owner="me", branch="feature/x") is True
    want = [*lines[:6], 'owner = "me"   # the GitHub user or organization', lines[7], 'branch = "feature/x"',
            *lines[9:]]
    assert (tmp_path / "pyproject.toml").read_bytes() == newline.join([*want, ""]).encode()
    assert pyproject.load_github(tmp_path) == ("me", "keras-repro-lab", "feature/x")
    assert pyproject.write_github(tmp_path, owner="me", repo="keras-repro-lab") is False  # nothing to change


def test_write_github_edits_an_inline_table_and_refuses_a_missing_one(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text('[tool]\nrepro-lab.github = { owner = "a", repo = "b", branch = "c" }  # kept\n', encoding="utf-8")
    assert pyproject.write_github(tmp_path, repo="fork")
    assert path.read_text(encoding="utf-8") == (
        '[tool]\nrepro-lab.github = { owner = "a", repo = "fork", branch = "c" }  # kept\n'
    )
    path.write_text('[tool.other]\nx = 1\n', encoding="utf-8")
    with pytest.raises(pyproject.ToolError, match=r"no \[tool\.repro-lab\.github\] table"):
        pyproject.write_github(tmp_path, owner="me")
    assert path.read_text(encoding="utf-8") == '[tool.other]\nx = 1\n'


def test_fork_setup_cell_installs_from_the_fork(lab: Path, kernel_dirs: tuple[Path, Path]) -> None:
    badges.update(lab, owner="me", branch="feature/x")
    gh = github_of(lab)
    assert gh["branch"] == "feature/x" and gh["repo"] == github_of(REPO)["repo"]
    for name in NAMES:
        check_setup_cell(setup_source(read(lab / "notebooks" / f"{name}.ipynb")), gh, kernel_dirs)
    assert badges.problems(lab) == []


# --------------------------------------------------------------------------- the setup cell, run


GH = {"owner": "o", "repo": "r", "branch": "b", "name": "keras-repro-lab"}


@pytest.mark.parametrize("installed", [True, False], ids=["lab-installed", "lab-missing"])
@pytest.mark.parametrize("kind", ["helpers.py", "helpers/__init__.py"])
def test_setup_cell_names_a_foreign_helpers_module_that_hides_the_lab(
    kernel_dirs: tuple[Path, Path], kind: str, installed: bool
) -> None:
    """A learner's helpers.py (or regular helpers package) beside the notebook comes first on sys.path."""
    cwd, site = kernel_dirs
    if installed:
        install_lab(site)
    (cwd / kind).parent.mkdir(exist_ok=True)
    (cwd / kind).write_text("def plot(): ...\n", encoding="utf-8")
    with pytest.raises(ImportError) as caught:
        run_setup_cell(expected_setup(GH), kernel_dirs, colab=True, installed=installed)
    assert str(caught.value) == SHADOWED.format(path=cwd / kind)


def test_setup_cell_names_a_foreign_namespace_folder(kernel_dirs: tuple[Path, Path]) -> None:
    """A helpers/ folder without __init__.py: a namespace package, with no file (origin None). It only
    wins where the lab is not importable (a regular package anywhere on sys.path beats it)."""
    cwd, site = kernel_dirs
    (cwd / "helpers").mkdir()
    (cwd / "helpers" / "plots.py").write_text("", encoding="utf-8")
    with pytest.raises(ImportError) as caught:
        run_setup_cell(expected_setup(GH), kernel_dirs, colab=False, installed=False)
    assert str(caught.value) == SHADOWED.format(path=cwd / "helpers")
    install_lab(site)
    assert run_setup_cell(expected_setup(GH), kernel_dirs, colab=False, installed=True) == []


def test_badges_adds_a_missing_setup_cell_before_the_first_code_cell(lab: Path) -> None:
    path = lab / "notebooks" / "01_unseeded.ipynb"
    nb = read(path)
    del nb.cells[4]
    nbformat.write(nb, path)
    assert badges.problems(lab) == [
        "notebooks/01_unseeded.ipynb: no setup cell installs the lab in Colab; run `make badges`."
    ]
    badges.update(lab)
    assert read(path).cells[4].source == expected_setup(github_of(lab))
    assert badges.problems(lab) == []


def test_a_setup_cell_further_down_is_detected_and_moved_up(lab: Path) -> None:
    """The setup cell must run before any other code: `make badges` moves it up, and nothing else."""
    path = lab / "notebooks" / "01_unseeded.ipynb"
    nb = read(path)
    order = [(c.cell_type, c.source) for c in nb.cells]
    nb.cells.insert(5, nb.cells.pop(4))  # below the cell that was the second code cell
    nbformat.write(nb, path)
    assert badges.problems(lab) == [
        "notebooks/01_unseeded.ipynb: the setup cell is not the first code cell; run `make badges`."
    ]
    badges.update(lab)
    assert [(c.cell_type, c.source) for c in read(path).cells] == order


def test_a_setup_cell_that_is_not_a_form_is_detected(lab: Path) -> None:
    path = lab / "notebooks" / "02_seeded.ipynb"
    nb = read(path)
    nb.cells[4].metadata = {}
    nbformat.write(nb, path)
    assert badges.problems(lab) == [
        "notebooks/02_seeded.ipynb: the setup cell is not a Colab form (cellView); run `make badges`."
    ]


@pytest.mark.parametrize("value", ["bad owner", 'quote"d', "a/../b", ""])
def test_badges_rejects_bad_values_and_changes_nothing(
    raw_lab: Path, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(raw_lab)
    assert cli.main(["badges", "--owner", value], raw_lab) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert snapshot(raw_lab) == before


# --------------------------------------------------------------------------- normalize, on a tmp lab


def test_normalize_check_reports_and_changes_nothing(raw_lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(raw_lab)
    assert cli.main(["normalize", "--check"], raw_lab) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [f"notebooks/{name}.ipynb is not normalized; run `make format`." for name in sorted(NAMES)]
    assert snapshot(raw_lab) == before


def test_normalize_writes_the_normalized_form(raw_lab: Path) -> None:
    assert cli.main(["normalize"], raw_lab) == 0
    assert normalize.problems(raw_lab) == []
    assert normalize.update(raw_lab) == []  # idempotent
    path = raw_lab / "notebooks" / "01_unseeded.ipynb"
    text = path.read_text(encoding="utf-8")
    assert text.endswith("}\n") and text.startswith('{\n "cells": [\n  {\n')  # nbformat's 1-space indent
    nb = read(path)
    nbformat.validate(nb)
    assert (nb.nbformat, nb.nbformat_minor) == (4, 5)
    assert nb.metadata == {  # Jupyter's "widgets" and the language's version go; Colab's provenance stays
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "colab": {"provenance": []},
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
    once = normalize.normalize_notebook(nb, "00_x")
    assert nbformat.writes(nb) == original  # the input is left alone
    assert normalize.normalize_notebook(once, "00_x") == once
    # Ids come from name and position, not from whatever id the editor made up.
    nb.cells[0].id = "random-id"
    assert normalize.normalize_notebook(nb, "00_x") == once
    assert [c.id for c in normalize.normalize_notebook(nb, "01_y").cells] != [c.id for c in once.cells]


def test_normalize_keeps_what_colab_reads_and_drops_the_rest() -> None:
    """Name, table of contents and accelerator stay; provenance (Colab's record of copies) is emptied;
    what Colab adds on save goes. Idempotent."""
    nb = make_notebook(GH, "03_cpu_forced", "X")
    nb.metadata["accelerator"] = "GPU"
    nb.metadata["colab"] = {
        "name": "03_cpu_forced.ipynb", "toc_visible": True, "gpuType": "T4",
        "provenance": [{"file_id": "1abc", "timestamp": 1700000000000}],
        "authorship_tag": "ABX9TyN", "collapsed_sections": ["a1"], "include_colab_link": True,
    }
    once = normalize.normalize_notebook(nb, "03_cpu_forced")
    assert once.metadata == {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        **colab_metadata("03_cpu_forced"),
    }
    assert normalize.normalize_notebook(once, "03_cpu_forced") == once


@pytest.mark.parametrize("command", [["normalize"], ["normalize", "--check"], ["badges"], ["check-badges"]])
def test_broken_notebook_is_one_sentence_exit_2(
    raw_lab: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    (raw_lab / "notebooks" / "03_broken.ipynb").write_text('{"cells": [', encoding="utf-8")
    assert cli.main(command, raw_lab) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: notebooks/03_broken.ipynb is not valid JSON")
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err


def test_cli_runs_as_a_script(lab: Path) -> None:
    """`make badges` runs the file as a script, in a fresh interpreter (one run: ~1 s of imports); it imports
    the tools of its own checkout."""
    shutil.copytree(REPO / "tools", lab / "tools", ignore=shutil.ignore_patterns("__pycache__"))
    result = subprocess.run([sys.executable, str(lab / "tools" / "notebooks.py"), "badges"],
                            capture_output=True, text=True, timeout=60)
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
def verdict_lab(tmp_path: Path) -> Path:
    """A tmp lab with one notebook whose two verdict cells print what its registry expects."""
    root = tmp_path / "repo"
    (root / "notebooks").mkdir(parents=True)
    (root / "tests" / "verdicts").mkdir(parents=True)
    nbformat.write(verdict_notebook("a: True\nb: True\n", "c: False\n"), root / "notebooks" / "07_x.ipynb")
    write_registry(root, "07_x", "a: True\nb: True\n", "c: False\n")
    return root


def write_registry(root: Path, name: str, *cells: str) -> None:
    text = "# expected verdicts\n" + "".join(f"\n[[cell]]\nprints = '''\n{c}'''\n" for c in cells)
    (root / "tests" / "verdicts" / f"{name}.toml").write_text(text, encoding="utf-8")


def save(root: Path, nb: nbformat.NotebookNode, name: str = "07_x") -> None:
    nbformat.write(nb, root / "notebooks" / f"{name}.ipynb")


def test_verdicts_as_expected_pass(verdict_lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert verdicts.problems(verdict_lab) == []
    assert cli.main(["check-verdicts"], verdict_lab) == 0
    assert capsys.readouterr().out == "every stored verdict is what tests/verdicts/ expects\n"
    write_registry(verdict_lab, "07_x", "a: True   \nb: True\n", "c: False")  # trailing spaces and newline aside
    assert verdicts.problems(verdict_lab) == []


def test_a_flipped_verdict_is_detected(verdict_lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    save(verdict_lab, verdict_notebook("a: True\nb: False\n", "c: False\n"))
    assert verdicts.problems(verdict_lab) == [
        "notebooks/07_x.ipynb verdict cell 1 (cell 2): line 2 is 'b: False', expected 'b: True' "
        "(from tests/verdicts/07_x.toml)."
    ]
    assert cli.main(["check-verdicts"], verdict_lab) == 1
    assert "expected 'b: True'" in capsys.readouterr().out


def test_a_missing_or_extra_line_is_detected(verdict_lab: Path) -> None:
    save(verdict_lab, verdict_notebook("a: True\n", "c: False\nd: True\n"))
    assert verdicts.problems(verdict_lab) == [
        "notebooks/07_x.ipynb verdict cell 1 (cell 2): line 2 is missing, expected 'b: True' "
        "(from tests/verdicts/07_x.toml).",
        "notebooks/07_x.ipynb verdict cell 2 (cell 3): line 2 is 'd: True', expected no more lines "
        "(from tests/verdicts/07_x.toml).",
    ]


def test_a_cleared_verdict_cell_is_detected_and_normalize_keeps_nbval_looking(verdict_lab: Path) -> None:
    save(verdict_lab, verdict_notebook("a: True\nb: True\n", None))
    assert verdicts.problems(verdict_lab) == [
        "notebooks/07_x.ipynb verdict cell 2 (cell 3) has no execution count, so nbval would skip it; "
        "run `make format`.",
        "notebooks/07_x.ipynb verdict cell 2 (cell 3) has no stored output, expected 1 lines from "
        "tests/verdicts/07_x.toml.",
    ]
    normalize.update(verdict_lab)
    cleared = read(verdict_lab / "notebooks" / "07_x.ipynb").cells[3]
    assert (cleared.execution_count, cleared.outputs) == (1, [])  # nbval now compares, and fails it
    assert [p.split(" has ", 1)[1] for p in verdicts.problems(verdict_lab)] == [
        "no stored output, expected 1 lines from tests/verdicts/07_x.toml."
    ]


def test_stored_without_a_count_is_detected(verdict_lab: Path) -> None:
    save(verdict_lab, verdict_notebook("a: True\nb: True\n", "c: False\n", counts=False))
    assert len(verdicts.problems(verdict_lab)) == 2
    assert all("nbval would skip it" in p for p in verdicts.problems(verdict_lab))


def test_a_dropped_or_added_verdict_cell_is_detected(verdict_lab: Path) -> None:
    save(verdict_lab, verdict_notebook("a: True\nb: True\n"))
    assert verdicts.problems(verdict_lab) == [
        "notebooks/07_x.ipynb has 1 verdict cells but tests/verdicts/07_x.toml lists 2; a verdict cell was "
        "added or dropped, so update one or the other."
    ]
    save(verdict_lab, verdict_notebook("a: True\nb: True\n", "c: False\n", "d: True\n"))
    assert verdicts.problems(verdict_lab)[0].startswith("notebooks/07_x.ipynb has 3 verdict cells but")


def test_output_other_than_printed_lines_is_detected(verdict_lab: Path) -> None:
    nb = verdict_notebook("a: True\nb: True\n", "c: False\n")
    nb.cells[3].outputs.append(v4.new_output("stream", name="stderr", text="UserWarning: careful\n"))
    save(verdict_lab, nb)
    assert verdicts.problems(verdict_lab) == [
        "notebooks/07_x.ipynb verdict cell 2 (cell 3) has outputs other than printed lines (stderr); "
        "print the verdicts."
    ]


def test_a_notebook_without_its_registry_and_a_registry_without_its_notebook(verdict_lab: Path) -> None:
    save(verdict_lab, verdict_notebook("e: True\n"), "08_new")
    save(verdict_lab, verdict_notebook(), "09_no_verdicts")  # no verdict cells: needs no registry
    write_registry(verdict_lab, "06_gone", "f: True\n")
    assert verdicts.problems(verdict_lab) == [
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
    assert cli.main(["check-verdicts"], verdict_lab) == 2
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

    assert cli.main(["refresh"], verdict_lab) == 1
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
    assert cli.main(["refresh"], verdict_lab) == 2
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
    nbformat.write(normalize.normalize_notebook(nb, "cleared"), path)
    checked = run_nbval(path)
    assert checked.returncode == 1 and "Unexpected output fields" in checked.stdout, checked.stdout
