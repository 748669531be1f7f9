"""Verdict bookkeeping: what each notebook's ``# NBVAL_CHECK_OUTPUT`` cells must print.

nbval compares a verdict cell's new output with the output stored in the notebook, and
``refresh`` stores whatever a run printed. Neither says what the output *should* be, and nbval
silently skips a cell stored without an execution count. So each notebook with verdict cells
has a registry, ``tests/verdicts/<notebook>.toml``, written by a person, one ``[[cell]]`` per
verdict cell in order::

    [[cell]]
    prints = '''
    seeded runs identical: True
    '''

The stored outputs must match it line for line, trailing spaces aside (``check-verdicts``, and
the suite through ``problems``), and ``refresh`` stores a run's outputs only if they match it,
so a verdict cannot flip, vanish or drop out unnoticed. A notebook that changes a claim on
purpose changes its registry first.

``parse_registry`` and ``cell_problems`` are plain functions on data, so the browser test uses
them on what it saw run, without files or kernels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .files import NOTEBOOK_DIR, ToolError, notebook_paths, read_text, rel
from .normalize import is_verdict_cell, read_notebook

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib  # type: ignore[no-redef]

REGISTRY_DIR = Path("tests") / "verdicts"


class RegistryError(ValueError):
    """A registry file cannot be used; the message is one sentence."""


def registry_path(name: str) -> Path:
    """Where notebook ``name``'s registry lives, relative to the repository root."""
    return REGISTRY_DIR / f"{name.removesuffix('.ipynb')}.toml"


def parse_registry(text: str, where: str) -> list[str]:
    """The text each verdict cell must print, in order, from a registry file's contents."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise RegistryError(f"{where} is not valid TOML ({err}).") from None
    cells = data.get("cell")
    if not isinstance(cells, list) or not cells:
        raise RegistryError(f"{where} lists no [[cell]] with the lines its verdict cell prints.")
    unknown = set(data) - {"cell"}
    if unknown:
        raise RegistryError(f"{where} has keys other than [[cell]]: {', '.join(sorted(unknown))}.")
    expected = []
    for number, cell in enumerate(cells, 1):
        prints = cell.get("prints") if isinstance(cell, dict) else None
        if not isinstance(prints, str) or not prints.strip() or set(cell) != {"prints"}:
            raise RegistryError(f"{where}: [[cell]] number {number} needs exactly one key, prints, with the lines.")
        expected.append(prints if prints.endswith("\n") else prints + "\n")
    return expected


def printed(cell: dict[str, Any]) -> str | None:
    """What a verdict cell printed to stdout, or None if its outputs are anything else.

    A verdict cell's whole output is printed lines: a returned value, a display or stderr
    (a warning, say) would also be compared by nbval, so it is refused rather than hidden.
    """
    outputs = cell.get("outputs", [])
    if not all(o.get("output_type") == "stream" and o.get("name") == "stdout" for o in outputs):
        return None
    text = "".join("".join(o["text"]) if isinstance(o["text"], list) else o["text"] for o in outputs)
    return text


def _lines(text: str) -> list[str]:
    # Trailing spaces (pandas pads table rows) are not worth a failure: editors strip them.
    return [line.rstrip() for line in text.splitlines()]


def _first_difference(got: str, want: str) -> str:
    got_lines, want_lines = _lines(got), _lines(want)
    for index in range(max(len(got_lines), len(want_lines))):
        mine = got_lines[index] if index < len(got_lines) else None
        theirs = want_lines[index] if index < len(want_lines) else None
        if mine != theirs:
            if mine is None:
                return f"line {index + 1} is missing, expected {theirs!r}"
            if theirs is None:
                return f"line {index + 1} is {mine!r}, expected no more lines"
            return f"line {index + 1} is {mine!r}, expected {theirs!r}"
    return "the text differs"


def cell_problems(where: str, cells: list[tuple[int, dict[str, Any]]], expected: list[str],
                  registry: str) -> list[str]:
    """Problems of a notebook's verdict cells against its registry, one sentence each.

    ``cells``: (cell index, cell) of every verdict cell, in order. Besides the text, each needs
    what nbval needs to compare a stored output at all: an execution count.
    """
    found = []
    if len(cells) != len(expected):
        found.append(f"{where} has {len(cells)} verdict cells but {registry} lists {len(expected)}; "
                     f"a verdict cell was added or dropped, so update one or the other.")
    # A count mismatch is reported above; the cells both sides have are still compared.
    for number, ((index, cell), want) in enumerate(zip(cells, expected, strict=False), 1):
        label = f"{where} verdict cell {number} (cell {index})"
        if cell.get("execution_count") is None:
            found.append(f"{label} has no execution count, so nbval would skip it; run `make format`.")
        got = printed(cell)
        if got is None:
            kinds = sorted({o.get("name") or o.get("output_type") for o in cell.get("outputs", [])} - {"stdout"})
            found.append(f"{label} has outputs other than printed lines ({', '.join(kinds)}); print the verdicts.")
        elif not got:
            found.append(f"{label} has no stored output, expected {len(want.splitlines())} lines from {registry}.")
        elif _lines(got) != _lines(want):
            found.append(f"{label}: {_first_difference(got, want)} (from {registry}).")
    return found



# --------------------------------------------------------------------------- the notebooks against their registries


def verdict_cells(nb: dict) -> list[tuple[int, dict[str, Any]]]:
    """(index, cell) of every ``# NBVAL_CHECK_OUTPUT`` cell, in order."""
    return [(index, cell) for index, cell in enumerate(nb.get("cells", [])) if is_verdict_cell(cell)]


def expected_verdicts(root: Path, name: str) -> list[str] | None:
    """What notebook ``name``'s verdict cells must print, from its registry; None if it has none."""
    path = root / registry_path(name)
    if not path.is_file():
        return None
    try:
        return parse_registry(read_text(path), rel(path, root))
    except RegistryError as err:
        raise ToolError(str(err)) from None


def problems(root: Path) -> list[str]:
    """Every stored verdict output that differs from its registry, one line each (``check-verdicts``)."""
    found = []
    paths = notebook_paths(root)
    for path in paths:
        where, registry = rel(path, root), registry_path(path.stem).as_posix()
        cells = verdict_cells(read_notebook(path, root))
        expected = expected_verdicts(root, path.stem)
        if expected is None:
            if cells:
                found.append(f"{where} has {len(cells)} verdict cells but {registry} does not exist; write the "
                             f"lines each must print there.")
            continue
        found += cell_problems(where, cells, expected, registry)
    names = {p.stem for p in paths}
    found += [f"{rel(p, root)} belongs to no notebook in {NOTEBOOK_DIR}/; rename or delete it."
              for p in sorted((root / REGISTRY_DIR).glob("*.toml")) if p.stem not in names]
    return found
