"""The head of every notebook, as in tensorflow/docs: the H1 title alone, then one button bar.

Cell 0 is a markdown cell holding only the title line (``# Title``); cell 1 is the button bar,
made from ``[tool.repro-lab.github]`` (see ``pyproject``): Open in Colab (Colab's own badge),
View on GitHub, Download notebook, in the table tensorflow/docs uses (``tfo-notebook-buttons``).
Its only image is Colab's badge; the other two are plain links, so nothing else is fetched.

``set_head`` writes that head (``make badges``) and migrates the shape before it, where cell 0
was a bare Colab badge and cell 1 the title followed by prose: the badge-only and button-bar cells
around the title go (further down, such a cell is a person's and stays), a title cell that
carries more text is split into the title and a cell with the rest, and the button bar goes right
after the title. ``problems`` reports a head
that is not exactly that (``check-badges``), and links to another repository, branch or notebook.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat

from .files import NOTEBOOK_DIR, ToolError, rel, stem
from .pyproject import GitHub

BADGE_IMG = "https://colab.research.google.com/assets/colab-badge.svg"
COLAB_GITHUB = "https://colab.research.google.com/github/"
# Every link the head may hold, to a file on GitHub: (what it is, pattern). Each pattern has the
# groups owner, repo and rest (branch and path, which may both contain slashes).
_PART = r"(?P<owner>[^/\s\"'<>()]+)/(?P<repo>[^/\s\"'<>()]+)"
_REST = r"(?P<rest>[^\s\"'<>()]+)"
LINKS = (
    ("the Colab link", re.compile(rf"https://colab\.research\.google\.com/github/{_PART}/blob/{_REST}")),
    ("the GitHub link", re.compile(rf"https://github\.com/{_PART}/blob/{_REST}")),
    ("the download link", re.compile(rf"https://raw\.githubusercontent\.com/{_PART}/{_REST}")),
)
# A cell that is only a Colab badge (the shape before the button bar): Colab's HTML, or Markdown.
BADGE_ONLY = re.compile(
    r"<a\s[^>]*>\s*<img\s[^>]*colab-badge\.svg[^>]*>\s*</a>"
    r"|\[!\[[^\]]*\]\([^)\s]*colab-badge\.svg\)\]\([^)\s]*\)"
)
# A cell that is only a button bar, right or wrong: one tfo-notebook-buttons table.
BUTTON_BAR_ONLY = re.compile(r"<table\b[^>]*\btfo-notebook-buttons\b[^>]*>(?:(?!</?table\b).)*</table>", re.DOTALL)
TITLE_LINE = re.compile(r"# \S(?:.*\S)?")  # what the title cell holds: no blank or space around it


# --------------------------------------------------------------------------- what the head looks like


def colab_url(name: str, gh: GitHub) -> str:
    """The Colab URL that opens notebooks/<name>.ipynb (``name`` with or without .ipynb)."""
    return f"{COLAB_GITHUB}{gh.owner}/{gh.repo}/blob/{gh.branch}/{NOTEBOOK_DIR}/{stem(name)}.ipynb"


def github_url(name: str, gh: GitHub) -> str:
    """Where GitHub shows notebooks/<name>.ipynb."""
    return f"https://github.com/{gh.owner}/{gh.repo}/blob/{gh.branch}/{NOTEBOOK_DIR}/{stem(name)}.ipynb"


def download_url(name: str, gh: GitHub) -> str:
    """The file notebooks/<name>.ipynb itself, as GitHub serves it raw."""
    return f"https://raw.githubusercontent.com/{gh.owner}/{gh.repo}/{gh.branch}/{NOTEBOOK_DIR}/{stem(name)}.ipynb"


def button_bar(name: str, gh: GitHub) -> str:
    """The exact source of a notebook's cell 1: three links in one row, tensorflow/docs' table."""
    return "\n".join([
        '<table class="tfo-notebook-buttons" align="left">',
        "  <td>",
        f'    <a target="_blank" href="{colab_url(name, gh)}"><img src="{BADGE_IMG}" alt="Open In Colab"/></a>',
        "  </td>",
        "  <td>",
        f'    <a target="_blank" href="{github_url(name, gh)}">View on GitHub</a>',
        "  </td>",
        "  <td>",
        f'    <a href="{download_url(name, gh)}">Download notebook</a>',
        "  </td>",
        "</table>",
    ])


def _markdown(cell: dict) -> str | None:
    return cell.get("source", "") if cell.get("cell_type") == "markdown" else None


def is_generated(cell: dict) -> bool:
    """True for a markdown cell that is nothing but a Colab badge or a button bar (right or wrong).

    A cell with a badge *and* other text is not one: its text is a person's, so it stays.
    """
    text = _markdown(cell)
    return text is not None and bool(BADGE_ONLY.fullmatch(text.strip()) or BUTTON_BAR_ONLY.fullmatch(text.strip()))


def is_title_cell(cell: dict) -> bool:
    """True for a markdown cell that holds only the H1 title line, exactly as ``set_head`` writes it."""
    text = _markdown(cell)
    return text is not None and bool(TITLE_LINE.fullmatch(text))


# --------------------------------------------------------------------------- make badges


def set_head(nb: nbformat.NotebookNode, name: str, gh: GitHub, where: str) -> None:
    """Give ``nb`` the title cell and the button bar of notebook ``name``, migrating the old shape.

    Raises ToolError when the notebook (its generated cells aside) does not start with a markdown
    cell whose first line is the H1 title: the tool does not make up a title.
    """
    cells = list(nb.cells)
    while cells and is_generated(cells[0]):  # an old badge (or bar) before the title
        cells.pop(0)
    while len(cells) > 1 and is_generated(cells[1]):  # the bar (or an old badge) after it
        cells.pop(1)
    text = _markdown(cells[0]) if cells else None
    lines = (text or "").split("\n")
    while lines and not lines[0].strip():  # blank lines before the title
        lines.pop(0)
    if not lines or not TITLE_LINE.fullmatch(lines[0].strip()):
        raise ToolError(f"{where} does not start with its title (a markdown cell whose first line is "
                        f"'# Title'); add one, then run `make badges`.")
    title, rest = lines[0].strip(), lines[1:]
    while rest and not rest[0].strip():  # blank lines between the title and the prose
        rest.pop(0)
    if rest:  # the title carries prose: split it off, its text kept exactly, with the cell's metadata
        prose = copy.deepcopy(cells[0])
        prose.source = "\n".join(rest)
        prose.pop("id", None)
        cells[:1] = [nbformat.v4.new_markdown_cell(title), prose]
    else:
        cells[0].source = title
    cells.insert(1, nbformat.v4.new_markdown_cell(button_bar(name, gh)))
    nb.cells = cells


# --------------------------------------------------------------------------- check-badges


def split_target(rest: str) -> tuple[str, str]:
    """Split what follows owner/repo into (branch, path): branches may contain slashes."""
    marker = f"/{NOTEBOOK_DIR}/"
    if marker in rest:
        branch, _, tail = rest.partition(marker)
        return branch, f"{NOTEBOOK_DIR}/{tail}"
    branch, _, path = rest.partition("/")
    return branch, path


def link_problems(where: str, what: str, link: re.Match, gh: GitHub, root: Path) -> tuple[str, list[str]]:
    """Check one link to a file on GitHub; return its target path and any problems with it."""
    owner, repo, rest = link.group("owner", "repo", "rest")
    branch, target = split_target(rest)
    found = []
    if (owner, repo, branch) != (gh.owner, gh.repo, gh.branch):
        found.append(
            f"{where}: {what} points at {owner}/{repo} branch {branch}, not {gh.owner}/{gh.repo} "
            f"branch {gh.branch}; run `make badges`."
        )
    if not (root / target).is_file():
        found.append(f"{where}: {what} points at {target}, which does not exist.")
    return target, found


def _links(where: str, index: int, cell: dict, gh: GitHub, root: Path) -> list[str]:
    """Every Colab, GitHub or download link in cell ``index`` must open this notebook of this branch."""
    found: list[str] = []
    for what, pattern in LINKS:
        for link in pattern.finditer(_markdown(cell) or ""):
            target, link_found = link_problems(f"{where} cell {index}", what, link, gh, root)
            found += link_found
            if target != where and (root / target).is_file():
                found.append(f"{where} cell {index}: {what} points at {target}, not at this notebook; "
                             f"run `make badges`.")
    return found


def problems(path: Path, nb: nbformat.NotebookNode, gh: GitHub, root: Path) -> list[str]:
    """What is wrong with the head of ``nb`` (the notebook at ``path``), one sentence each: cell 0 not
    the title alone, cell 1 not the button bar, and any link in either to another repository,
    branch or notebook."""
    where = rel(path, root)
    found: list[str] = []
    if not nb.cells or not is_title_cell(nb.cells[0]):
        found.append(f"{where}: cell 0 is not the title alone (a markdown cell holding only '# Title'); "
                     f"run `make badges`.")
    else:
        found += _links(where, 0, nb.cells[0], gh, root)
    if len(nb.cells) < 2 or not BUTTON_BAR_ONLY.fullmatch((_markdown(nb.cells[1]) or "").strip()):
        found.append(f"{where}: cell 1 is not the button bar (Open in Colab, View on GitHub, Download "
                     f"notebook); run `make badges`.")
        return found
    links = _links(where, 1, nb.cells[1], gh, root)
    if not links and nb.cells[1].source != button_bar(path.stem, gh):
        # Right targets, other wording, order or links left out: still not what `make badges` writes.
        links.append(f"{where}: cell 1 is not exactly the standard button bar; run `make badges`.")
    return found + links
