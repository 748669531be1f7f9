"""The Colab setup cell: every notebook's first code cell, written (and moved there) by ``make badges``.

In Colab it installs the lab (and nothing else: TensorFlow stays Colab's own) with one ``%pip``
line; locally ``python tools/lab.py`` installed it already, so the cell installs nothing. Either
way it then makes sure that ``import helpers`` will import the lab's package: a learner's own
``helpers.py`` or ``helpers/`` folder beside the notebook (common in course material) would
otherwise take its place, and the next cell would fail with a puzzling error. It tells the lab's
package by the distribution name in the docstring of ``helpers/__init__.py``, read without
importing anything; a namespace package (a folder without ``__init__.py``) has no file at all.
Colab shows the cell as a form (``cellView: "form"``): the title, and the code hidden.
"""

from __future__ import annotations

from string import Template

import nbformat

from .pyproject import GitHub

TITLE = "#@title Setup: install the lab (Colab only; locally `python tools/lab.py` did it)"
FORM_METADATA = {"cellView": "form"}
# $name: the distribution ([project].name), which helpers/__init__.py names too; $spec: what pip installs.
TEMPLATE = Template(TITLE + """
import importlib.metadata
import importlib.util
import sys
from pathlib import Path

try:
    importlib.metadata.distribution("$name")
except importlib.metadata.PackageNotFoundError:
    if "google.colab" in sys.modules:
        %pip install --quiet "$spec"
        importlib.invalidate_caches()
found = importlib.util.find_spec("helpers")  # a helpers.py or helpers/ of yours would hide the lab's
if found and "$name" not in (Path(found.origin).read_text(errors="replace") if found.origin else ""):
    raise ImportError(f"{found.origin or list(found.submodule_search_locations)[0]} hides the lab's helpers: "
                      "rename your helpers.py or helpers folder (or move this notebook), then restart the runtime.")""")
# What earlier versions of the cell set; `make badges` recognizes and replaces such a cell.
LEGACY_MARK = "HELPERS_PIP_SPEC"


def pip_spec(name: str, gh: GitHub) -> str:
    """What the setup cell pip-installs in Colab: the lab only, straight from GitHub."""
    return f"{name} @ git+https://github.com/{gh.owner}/{gh.repo}@{gh.branch}"


def source(name: str, gh: GitHub) -> str:
    """The exact source of every notebook's setup cell."""
    return TEMPLATE.substitute(name=name, spec=pip_spec(name, gh))


def is_setup_cell(cell: dict) -> bool:
    """True for a code cell that is (a version of) the setup cell."""
    text = cell.get("source", "")
    return cell.get("cell_type") == "code" and (text.startswith("#@title Setup") or LEGACY_MARK in text)


def set_setup_cell(nb: nbformat.NotebookNode, text: str) -> None:
    """Make ``nb``'s setup cell ``text``, shown as a Colab form, and its first code cell: right after
    the markdown cells that open the notebook. A setup cell further down moves up; without one, one is
    added. Other cell metadata (tags) stays; no other cell changes."""
    at = next((i for i, c in enumerate(nb.cells) if is_setup_cell(c)), None)
    cell = nbformat.v4.new_code_cell() if at is None else nb.cells.pop(at)
    first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
    nb.cells.insert(first_code, cell)
    cell.source = text
    cell.metadata.update(FORM_METADATA)


def problems(where: str, nb: nbformat.NotebookNode, text: str) -> list[str]:
    """What is wrong with ``nb``'s setup cell, one sentence each (``check-badges``)."""
    cells = [c for c in nb.cells if is_setup_cell(c)]
    if not cells:
        return [f"{where}: no setup cell installs the lab in Colab; run `make badges`."]
    found = []
    if len(cells) > 1:
        found.append(f"{where}: {len(cells)} setup cells; delete all but the first.")
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    if first_code is not cells[0]:
        found.append(f"{where}: the setup cell is not the first code cell; run `make badges`.")
    if cells[0].source != text:
        found.append(f"{where}: the setup cell is not what `make badges` writes (install line or text); "
                     f"run `make badges`.")
    if cells[0].metadata.get("cellView") != "form":
        found.append(f"{where}: the setup cell is not a Colab form (cellView); run `make badges`.")
    return found
