"""What every notebook tool shares: the error type, the notebook paths, careful writes."""

from __future__ import annotations

from pathlib import Path

NOTEBOOK_DIR = "notebooks"


class ToolError(Exception):
    """Something the user must fix before the tool can run; the message is one sentence."""


def notebook_paths(root: Path) -> list[Path]:
    """Every notebooks/*.ipynb, sorted by name (the order of every generated table)."""
    return sorted((root / NOTEBOOK_DIR).glob("*.ipynb"))


def rel(path: Path, root: Path) -> str:
    """``path`` relative to the repository root, with forward slashes (for messages)."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def stem(name: str) -> str:
    """A notebook's name without ``.ipynb``."""
    return name.removesuffix(".ipynb")


def read_text(path: Path) -> str:
    """A text file's exact contents: bytes decoded, line endings (CRLF too) left as they are."""
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ToolError(f"{path} does not exist; run this from the lab's repository.") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ToolError(f"cannot read {path} ({err}).") from None


def write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` unless the file holds it already; return True if it was written.

    Never touching an unchanged file makes a second run a no-op, mtimes included.
    """
    data = text.encode("utf-8")
    if path.is_file() and path.read_bytes() == data:
        return False
    try:
        path.write_bytes(data)
    except OSError as err:
        raise ToolError(f"cannot write {path} ({err.strerror}).") from None
    return True
