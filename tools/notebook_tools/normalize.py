"""Normalized notebooks (``make format``): a diff shows only what a person changed.

Jupyter and Colab add outputs, execution counts and volatile metadata on every save. The rules
follow nbstripout's (outputs, counts, ``execution``/``collapsed``/``scrolled`` and the like go),
with three differences: metadata is an allow-list rather than a deny-list (it keeps what Colab
reads: the notebook's name, its table of contents, its accelerator); a verdict cell
(first line ``# NBVAL_CHECK_OUTPUT``) keeps its printed output, because nbval compares against
it, where nbstripout would keep a ``keep_output`` cell's; and cell ids are made from the
notebook's name and the cell's position, so they never churn. Reading, building, validating
and writing are nbformat's (``nbformat.reader``/``convert``, ``nbformat.v4`` constructors,
``validate``, ``writes``).
"""

from __future__ import annotations

import copy
import hashlib
import json
import warnings
from pathlib import Path

import nbformat
from nbformat.reader import NotJSONError

from . import colab_metadata
from .files import ToolError, notebook_paths, read_text, rel, stem, write_if_changed

VERDICT_MARKER = "# NBVAL_CHECK_OUTPUT"
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
# Cell metadata worth keeping: nbval and people read "tags"; Colab's "cellView" hides form code.
KEEP_CELL_METADATA = ("tags", "cellView")
# Widget views carry a fresh model id every run, so a verdict cell keeping one would always churn.
VOLATILE_MIME = ("application/vnd.jupyter.widget-view+json",)


def read_notebook(path: Path, root: Path) -> nbformat.NotebookNode:
    """Read a notebook as nbformat v4, turning every kind of breakage into one ToolError."""
    where = rel(path, root)
    text = read_text(path)
    try:
        # nbformat.reads would also validate, and *log* errors for what normalizing repairs
        # (missing cell ids); the normalized result is validated instead, in render_notebook.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return nbformat.convert(nbformat.reader.reads(text), 4)
    except NotJSONError:
        try:
            json.loads(text)
        except json.JSONDecodeError as err:
            at = f"{err.msg} at line {err.lineno}, column {err.colno}"
            raise ToolError(f"{where} is not valid JSON ({at}).") from None
        raise ToolError(f"{where} is not a JSON object, so not a notebook.") from None
    except Exception as err:  # nbformat raises assorted errors for JSON that is not a notebook
        raise ToolError(f"{where} is not a Jupyter notebook ({err}).") from None


def is_verdict_cell(cell: dict) -> bool:
    """True for a code cell whose first line is ``# NBVAL_CHECK_OUTPUT``: its outputs are kept."""
    lines = cell.get("source", "").lstrip().splitlines()
    return cell.get("cell_type") == "code" and bool(lines) and lines[0].strip() == VERDICT_MARKER


def cell_id(name: str, index: int) -> str:
    """A cell id made from the notebook's name and the cell's position.

    Jupyter makes random ids (so does ``nbformat.validator.normalize``); regenerating them from
    (name, index) means re-saving never churns them, and two notebooks never share one.
    """
    return hashlib.sha1(f"{stem(name)}:{index}".encode()).hexdigest()[:8]


def _verdict_outputs(outputs: list) -> list[nbformat.NotebookNode]:
    kept: list[nbformat.NotebookNode] = []
    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream":
            # A kernel may flush one print in several chunks; merge so the split cannot churn.
            if kept and kept[-1].output_type == "stream" and kept[-1].name == out.get("name"):
                kept[-1].text += out.get("text", "")
            else:
                kept.append(nbformat.v4.new_output("stream", name=out.get("name", "stdout"), text=out.get("text", "")))
        elif kind in ("display_data", "execute_result"):
            data = {k: v for k, v in out.get("data", {}).items() if k not in VOLATILE_MIME}
            if data:  # output metadata (sizes, isolation flags) and the run's counter vary: dropped
                kept.append(nbformat.v4.new_output(kind, data=data))
        else:
            kept.append(nbformat.from_dict(copy.deepcopy(dict(out))))
    return kept


def normalize_notebook(nb: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """A normalized copy of ``nb``: what ``make format`` writes. ``name`` seeds the cell ids.

    Code cells lose outputs and execution counts, except verdict cells, which keep their outputs
    (nbval's reference) with the volatile parts removed, and always count 1: nbval skips a cell
    without a count, so a verdict cell whose output was cleared would otherwise drop out of the
    check silently; with a count, nbval fails it. Notebook metadata becomes kernelspec + language
    name + the Colab keys ``colab_metadata`` names (``provenance`` emptied); cell metadata keeps only
    KEEP_CELL_METADATA. Sources lose trailing newlines (editors
    disagree about them; Jupyter saves none).
    """
    new = nbformat.v4.new_notebook(  # nbformat 4.5: the first minor with cell ids
        metadata={"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"},
                  **colab_metadata.kept(nb.get("metadata", {}))}
    )
    for index, cell in enumerate(nb.get("cells", [])):
        kind, source = cell.get("cell_type"), cell.get("source", "").rstrip("\n")
        if kind == "code":
            out = nbformat.v4.new_code_cell(source)
            if is_verdict_cell(cell):
                out.outputs, out.execution_count = _verdict_outputs(cell.get("outputs", [])), 1
        elif kind == "markdown":
            out = nbformat.v4.new_markdown_cell(source)
            if cell.get("attachments"):
                out.attachments = copy.deepcopy(cell["attachments"])  # pasted images live here
        else:
            out = nbformat.v4.new_raw_cell(source)
        kept = {k: cell["metadata"][k] for k in KEEP_CELL_METADATA if cell.get("metadata", {}).get(k)}
        out.metadata = nbformat.from_dict(copy.deepcopy(kept))
        out.id = cell_id(name, index)
        new.cells.append(out)
    return new


def render_notebook(nb: nbformat.NotebookNode, where: str = "the notebook") -> str:
    """The exact file text for ``nb`` (nbformat.writes: 1-space indent), validated first."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nbformat.validate(nb)
    except nbformat.ValidationError as err:
        raise ToolError(f"{where} is not a valid nbformat 4 notebook ({err.message}).") from None
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def normalized_text(path: Path, root: Path) -> str:
    """What ``make format`` would write to ``path``."""
    return render_notebook(normalize_notebook(read_notebook(path, root), path.stem), rel(path, root))


def problems(root: Path) -> list[str]:
    """One line per notebook that ``make format`` would change (``normalize --check``)."""
    return [
        f"{rel(path, root)} is not normalized; run `make format`."
        for path in notebook_paths(root)
        if path.read_bytes() != normalized_text(path, root).encode("utf-8")
    ]


def update(root: Path) -> list[str]:
    """``make format``: rewrite every notebook that is not normalized; return their paths."""
    return [rel(path, root) for path in notebook_paths(root) if write_if_changed(path, normalized_text(path, root))]
