"""Colab badges and everything else made from ``[tool.repro-lab.github]`` (``make badges``, ``check-badges``).

``update`` copies ``[tool.repro-lab.github]`` (see ``pyproject``) into every notebook's head (the
title alone, then the button bar: see ``head``), its setup cell (see ``setup_cell``) and its Colab
metadata (see ``colab_metadata``), into colab_badge.md and into README's notebooks table (see
``readme``); ``problems`` reports whatever ``update`` would change, and badges and buttons that
point at another repository, branch or notebook, or at nothing.
"""

from __future__ import annotations

import contextlib
import copy
from pathlib import Path

import nbformat

from . import colab_metadata, head, readme, setup_cell
from .files import NOTEBOOK_DIR, ToolError, notebook_paths, read_text, rel, write_if_changed
from .normalize import normalize_notebook, read_notebook, render_notebook
from .pyproject import SECTION, GitHub, load_github, project_name, write_github

BADGE_MD = "colab_badge.md"
BADGE_IMG = head.BADGE_IMG
COLAB_LINK = head.LINKS[0][1]


# --------------------------------------------------------------------------- what badges look like


def badge_url(name: str, gh: GitHub) -> str:
    """The Colab URL that opens notebooks/<name>.ipynb (``name`` with or without .ipynb)."""
    return head.colab_url(name, gh)


def badge_markdown(name: str, gh: GitHub) -> str:
    """The badge as a Markdown image link, for colab_badge.md and README."""
    return f"[![Open In Colab]({BADGE_IMG})]({badge_url(name, gh)})"


def notebook_title(nb: dict) -> str | None:
    """The notebook's H1 title: the first markdown line that starts with ``# ``."""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            for line in cell.get("source", "").splitlines():
                if line.startswith("# "):
                    return line[2:].strip().rstrip("#").strip()
    return None


def rows(root: Path, gh: GitHub) -> list[tuple[str, str, str]]:
    """(stem, title, badge markdown) per notebook, in name order; a "|" in a title is escaped."""
    found = []
    for path in notebook_paths(root):
        title = notebook_title(read_notebook(path, root))
        if title is None:
            raise ToolError(f"{rel(path, root)} has no H1 title (a markdown line starting with '# ').")
        found.append((path.stem, title.replace("|", r"\|"), badge_markdown(path.stem, gh)))
    return found


def render_colab_badge_md(root: Path, gh: GitHub) -> str:
    """The whole text of colab_badge.md: title, one sentence, one table row per notebook."""
    lines = [
        "# Open the notebooks in Colab",
        "",
        f"Each badge opens that notebook in Google Colab; `make badges` writes this file from "
        f"`[{SECTION}]` in pyproject.toml, so change that (for a fork) rather than this file.",
        "",
        "| notebook | what it shows | badge |",
        "| --- | --- | --- |",
    ]
    for name, title, badge in rows(root, gh):
        lines.append(f"| [`{name}.ipynb`]({NOTEBOOK_DIR}/{name}.ipynb) | {title} | {badge} |")
    return "\n".join(lines) + "\n"


def set_badges(nb: nbformat.NotebookNode, name: str, gh: GitHub, setup: str,
               where: str = "the notebook") -> nbformat.NotebookNode:
    """A copy of ``nb`` with its head (title, button bar), ``setup`` as its setup cell and its Colab metadata."""
    nb = copy.deepcopy(nb)
    head.set_head(nb, name, gh, where)
    setup_cell.set_setup_cell(nb, setup)
    colab_metadata.set_metadata(nb, name)
    return nb


# --------------------------------------------------------------------------- make badges


def update(root: Path, owner: str | None = None, repo: str | None = None, branch: str | None = None) -> list[str]:
    """``make badges``: update pyproject (if asked), every notebook, colab_badge.md and README's table.

    Returns the repo-relative paths of the files it changed (none on a second run). Nothing is
    written when README has no table to fill, a value is invalid or a notebook has no title.
    """
    if not (root / NOTEBOOK_DIR).is_dir():
        raise ToolError(f"{root / NOTEBOOK_DIR} does not exist, so there are no notebooks to badge.")
    readme.check_block(root)
    # Everything is made first, with the values asked for, and written only once nothing failed:
    # write_github checks those values before it writes pyproject.toml, the first file written.
    asked = {"owner": owner, "repo": repo, "branch": branch}
    gh = load_github(root)._replace(**{key: value for key, value in asked.items() if value is not None})
    setup = setup_cell.source(project_name(root), gh)
    texts = {}
    for path in notebook_paths(root):
        nb = set_badges(read_notebook(path, root), path.stem, gh, setup, rel(path, root))
        texts[path] = render_notebook(normalize_notebook(nb, path.stem), rel(path, root))
    changed = ["pyproject.toml"] if write_github(root, owner, repo, branch) else []
    changed += [rel(path, root) for path, text in texts.items() if write_if_changed(path, text)]
    if write_if_changed(root / BADGE_MD, render_colab_badge_md(root, gh)):
        changed.append(BADGE_MD)
    if write_if_changed(root / readme.README, readme.rendered(root, rows(root, gh))):
        changed.append(readme.README)
    return changed


# --------------------------------------------------------------------------- check-badges


def _colab_badge_md_problems(root: Path, gh: GitHub, paths: list[Path]) -> list[str]:
    md = root / BADGE_MD
    if not md.is_file():
        return [f"{BADGE_MD} does not exist; run `make badges`."]
    text = read_text(md)
    listed: set[str] = set()
    found: list[str] = []
    for link in COLAB_LINK.finditer(text):
        target, link_found = head.link_problems(BADGE_MD, "badge", link, gh, root)
        listed.add(target)
        found += link_found
    found += [f"{BADGE_MD}: {rel(p, root)} has no badge; run `make badges`."
              for p in paths if rel(p, root) not in listed]
    if not found:
        try:
            expected = render_colab_badge_md(root, gh)
        except ToolError:
            expected = text  # e.g. a missing title: reported by `make badges` itself, not here
        if text != expected:
            found.append(f"{BADGE_MD} is out of date (titles or wording); run `make badges`.")
    return found


def problems(root: Path) -> list[str]:
    """Everything ``check-badges`` reports, one line each; empty when all is well."""
    gh = load_github(root)
    setup = setup_cell.source(project_name(root), gh)
    found: list[str] = []
    paths = notebook_paths(root)
    for path in paths:
        nb = read_notebook(path, root)
        found += head.problems(path, nb, gh, root)
        found += setup_cell.problems(rel(path, root), nb, setup)
        found += colab_metadata.problems(rel(path, root), nb, path.stem)
    found += _colab_badge_md_problems(root, gh, paths)
    with contextlib.suppress(ToolError):  # a missing title: reported by `make badges` itself
        found += readme.problems(root, rows(root, gh))
    return found
