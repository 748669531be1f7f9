"""``[tool.repro-lab.github]`` in pyproject.toml: where the notebooks live on GitHub.

Owner, repo and branch live there and nowhere else; the badges, the Colab install line and the
generated tables are made from them. They are read with tomllib and written with tomlkit,
which keeps every comment, quote style, blank line and line ending of the file that it does not
change. tomlkit is imported only to write, so the checks run in a .venv made before it was pinned.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from pathlib import Path
from typing import NamedTuple

from .files import ToolError, read_text

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib  # type: ignore[no-redef]

SECTION = "tool.repro-lab.github"
GITHUB_KEYS = ("owner", "repo", "branch")
# What GitHub (and git) accept, and nothing that could break out of a URL, TOML or Python string.
VALID = {
    "owner": re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$"),
    "repo": re.compile(r"^[A-Za-z0-9._-]{1,100}$"),
    "branch": re.compile(r"^(?!/)(?!.*//)(?!.*\.\.)(?!.*/$)(?!.*\.lock$)[A-Za-z0-9._/-]{1,200}$"),
}


class GitHub(NamedTuple):
    """Where the notebooks live on GitHub, as configured in pyproject.toml."""

    owner: str
    repo: str
    branch: str


def _read(root: Path) -> dict:
    try:
        return tomllib.loads(read_text(root / "pyproject.toml"))
    except tomllib.TOMLDecodeError as err:
        raise ToolError(f"pyproject.toml is not valid TOML ({err}).") from None


def _github_table(doc: MutableMapping) -> object:
    tool = doc.get("tool")
    lab = tool.get("repro-lab") if isinstance(tool, MutableMapping) else None
    return lab.get("github") if isinstance(lab, MutableMapping) else None


def _check_value(key: str, value: object) -> str:
    if not isinstance(value, str) or not VALID[key].match(value):
        raise ToolError(f"[{SECTION}] {key} = {value!r} is not a valid GitHub {key} name.")
    return value


def load_github(root: Path) -> GitHub:
    """Owner, repo and branch from pyproject.toml's ``[tool.repro-lab.github]``, validated."""
    table = _github_table(_read(root))
    if not isinstance(table, MutableMapping):
        raise ToolError(f"pyproject.toml has no [{SECTION}] table with owner, repo and branch.")
    missing = [key for key in GITHUB_KEYS if key not in table]
    if missing:
        raise ToolError(f"[{SECTION}] in pyproject.toml lacks {', '.join(missing)}.")
    return GitHub(*(_check_value(key, table[key]) for key in GITHUB_KEYS))


def project_name(root: Path) -> str:
    """The distribution name pip installs in Colab ([project].name)."""
    project = _read(root).get("project")
    name = project.get("name") if isinstance(project, MutableMapping) else None
    if not isinstance(name, str) or not name:
        raise ToolError("pyproject.toml has no [project] name.")
    return name


def write_github(root: Path, owner: str | None = None, repo: str | None = None, branch: str | None = None) -> bool:
    """Set the given values in ``[tool.repro-lab.github]``; return True if the file changed.

    Only those values change; comments (a key's trailing one too), order, quoting of the other
    keys and every other byte of the file stay as they were.
    """
    wanted = {k: v for k, v in {"owner": owner, "repo": repo, "branch": branch}.items() if v is not None}
    for key, value in wanted.items():
        _check_value(key, value)
    if not wanted:
        return False
    try:
        import tomlkit
    except ModuleNotFoundError:
        raise ToolError("tomlkit is not installed; bring .venv up to date: python3 tools/lab.py install.") from None
    _read(root)  # a clear error for invalid TOML, before tomlkit's own
    path = root / "pyproject.toml"
    old_text = read_text(path)
    doc = tomlkit.parse(old_text)
    table = _github_table(doc)
    if not isinstance(table, MutableMapping):
        raise ToolError(f"pyproject.toml has no [{SECTION}] table to write owner, repo and branch into.")
    for key, value in wanted.items():
        if key not in table or tomlkit.item(table[key]).unwrap() != value:
            table[key] = value
    new_text = tomlkit.dumps(doc)
    if new_text == old_text:
        return False
    path.write_bytes(new_text.encode("utf-8"))
    return True
