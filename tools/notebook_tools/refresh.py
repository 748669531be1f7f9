"""``make refresh``: run notebooks and keep their verdict outputs as nbval's reference.

A notebook is written only if every verdict cell printed exactly what its registry
(``tests/verdicts/<name>.toml``, see ``verdicts``) says; every other output is stripped by
normalizing. Review the diff before committing.
"""

from __future__ import annotations

from pathlib import Path

from .files import NOTEBOOK_DIR, ToolError, notebook_paths, rel, write_if_changed
from .normalize import normalize_notebook, read_notebook, render_notebook
from .verdicts import cell_problems, expected_verdicts, registry_path, verdict_cells


def run(root: Path, names: list[str], timeout: int = 600) -> tuple[list[str], list[str]]:
    """Run the named notebooks (all without names) top to bottom in a kernel of this Python.

    Returns (refreshed paths, problems): a notebook whose verdicts differ from its registry is
    left as it was and its differences are returned. Every registry is read before the first
    (slow) run, so a missing one stops everything at once.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    paths = notebook_paths(root)
    if names:
        wanted = {n.removesuffix(".ipynb") for n in names}
        unknown = wanted - {p.stem for p in paths}
        if unknown:
            raise ToolError(f"no notebook named {', '.join(sorted(unknown))} in {NOTEBOOK_DIR}/.")
        paths = [p for p in paths if p.stem in wanted]
    plans = []
    for path in paths:
        nb = read_notebook(path, root)
        expected = expected_verdicts(root, path.stem)
        if expected is None and verdict_cells(nb):
            raise ToolError(f"{rel(path, root)} has verdict cells but no {registry_path(path.stem).as_posix()}; "
                            f"write the lines each verdict cell must print there first.")
        plans.append((path, nb, expected or []))
    done, refused = [], []
    for path, nb, expected in plans:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        try:
            client.execute()
        except CellExecutionError as err:
            last = str(err).strip().splitlines()[-1:] or ["a cell failed"]
            raise ToolError(f"{rel(path, root)} did not run to the end: {last[0]}") from None
        fresh = normalize_notebook(nb, path.stem)
        found = cell_problems(rel(path, root), verdict_cells(fresh), expected, registry_path(path.stem).as_posix())
        if found:
            refused += [f"not stored: {line}" for line in found]
            continue
        write_if_changed(path, render_notebook(fresh, rel(path, root)))
        done.append(rel(path, root))
    return done, refused
