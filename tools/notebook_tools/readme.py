"""README's notebooks table: one row per notebook with its Open-in-Colab badge.

``make badges`` writes it between two marker lines and ``check-badges`` fails when it is stale
or missing, so the front door always lists exactly the notebooks there are, with badges that
open this repository's branch. What each row says is the notebook's H1 title, the same text
colab_badge.md shows: change a row by changing the title.
"""

from __future__ import annotations

from pathlib import Path

from .files import NOTEBOOK_DIR, ToolError, read_text

README = "README.md"
START = "<!-- notebooks:start -->"
END = "<!-- notebooks:end -->"
NOTE = "<!-- made by `make badges` from each notebook's title; edit the titles, not this table -->"
MISSING = (f"{README} has no notebooks table between the lines {START} and {END}; add those two lines "
           f"where the table belongs, then run `make badges`.")


def render_block(rows: list[tuple[str, str, str]]) -> list[str]:
    """The block's lines, markers included, from (notebook stem, title, badge markdown) rows."""
    lines = [START, NOTE, "| notebook | what it shows | open |", "|---|---|---|"]
    lines += [f"| [`{name}`]({NOTEBOOK_DIR}/{name}.ipynb) | {title} | {badge} |" for name, title, badge in rows]
    return [*lines, END]


def _split(text: str) -> tuple[list[str], list[str], list[str]] | None:
    """(lines before, the block, lines after) of README's text, or None without one clean block."""
    lines = text.split("\n")
    marks = [line.rstrip("\r") for line in lines]
    if marks.count(START) != 1 or marks.count(END) != 1:
        return None
    start, end = marks.index(START), marks.index(END)
    if end < start:
        return None
    return lines[:start], marks[start:end + 1], lines[end + 1:]


def _text(root: Path) -> str:
    path = root / README
    if not path.is_file():
        raise ToolError(MISSING)
    return read_text(path)


def rendered(root: Path, rows: list[tuple[str, str, str]]) -> str:
    """README's text with the block replaced by one made from ``rows`` (ToolError without a block)."""
    parts = _split(_text(root))
    if parts is None:
        raise ToolError(MISSING)
    before, _, after = parts
    return "\n".join([*before, *render_block(rows), *after])


def check_block(root: Path) -> None:
    """Raise ToolError (before ``make badges`` writes anything) if README has no block to fill."""
    if _split(_text(root)) is None:
        raise ToolError(MISSING)


def problems(root: Path, rows: list[tuple[str, str, str]]) -> list[str]:
    """Why README's block is not what ``make badges`` writes; empty when it is."""
    try:
        text = _text(root)
    except ToolError as err:
        return [str(err)]
    parts = _split(text)
    if parts is None:
        return [MISSING]
    if parts[1] != render_block(rows):
        return [f"{README}'s notebooks table is out of date (a notebook, title or badge); run `make badges`."]
    return []
