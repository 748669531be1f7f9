"""A table as plain text, for the command line, without pandas.

Importing pandas costs about half a second, more than the whole of ``compare`` may take, so the
commands print their tables with :func:`text_table`; the notebooks keep their DataFrames, built
from the same rows. Neither the standard library nor the lab's pinned packages (pandas aside)
print a table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

MISSING = "n/a"


def _cell(value: Any, number: Callable[[float], str]) -> str:
    if value is None:
        return MISSING
    if isinstance(value, float):
        return number(value)
    return str(value)


def text_table(rows: Sequence[Mapping[str, Any]], index: str, number: Callable[[float], str] = repr) -> str:
    """``rows`` (dicts with the same keys) as lines of text: the ``index`` column first, left-aligned,
    then every other column right-aligned under its name, two spaces apart. Floats are written by
    ``number``, a missing value (None) as ``n/a``; no line ends in spaces."""
    names = [name for name in (rows[0] if rows else {}) if name != index]
    labels = [index, *(str(row[index]) for row in rows)]
    columns = [[name, *(_cell(row[name], number) for row in rows)] for name in names]
    left = max(len(label) for label in labels)
    widths = [max(len(cell) for cell in column) for column in columns]
    return "\n".join(
        (f"{label:<{left}}" + "".join(f"  {column[line]:>{width}}" for column, width in zip(columns, widths))).rstrip()
        for line, label in enumerate(labels)
    )
