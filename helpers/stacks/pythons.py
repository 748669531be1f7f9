"""Finding a Python interpreter of a given version on this machine, pyenv's included.

One finder for the lab's stacks and for ``tools/colab_check.py``, which runs before anything is
installed: standard library only. It looks where people keep Pythons: on PATH (``python3.11``),
in pyenv's versions folder (its shims refuse versions not selected, and uv does not look there),
and through Windows' ``py`` launcher; each candidate must run and report the version asked for.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

VERSION = re.compile(r"^\d+\.\d+(\.\d+)?([a-z0-9.+-]*)$")


def version_key(version: str) -> tuple[int, ...]:
    """``3.11.10`` -> (3, 11, 10): versions sort as numbers, so 3.11.10 comes after 3.11.9."""
    return tuple(int(part) for part in re.findall(r"\d+", version))


def python_version(executable: str | os.PathLike[str]) -> str | None:
    """``3.11.7`` for a working Python interpreter, None for anything else (a pyenv shim that
    has no such version, a missing file)."""
    try:
        done = subprocess.run([str(executable), "-c", "import platform; print(platform.python_version())"],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    version = done.stdout.strip()
    return version if done.returncode == 0 and VERSION.match(version) else None


def pyenv_pythons(minor: str, root: str | os.PathLike[str] | None = None) -> list[str]:
    """pyenv's interpreters of Python ``minor`` (say ``3.11``), newest first."""
    root = Path(root or os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    found = [folder for folder in (root / "versions").glob(f"{minor}.*") if re.fullmatch(r"\d+\.\d+\.\d+", folder.name)]
    found.sort(key=lambda folder: version_key(folder.name), reverse=True)
    names = ("python.exe",) if sys.platform == "win32" else (f"bin/python{minor}", "bin/python3")
    pythons = []
    for folder in found:
        python = next((folder / name for name in names if (folder / name).is_file()), None)
        if python is not None:
            pythons.append(str(python))
    return pythons


def candidates(minor: str) -> list[str]:
    """Where an interpreter of Python ``minor`` may be, most likely first (not yet checked)."""
    found = [shutil.which(f"python{minor}") or ""]
    found += pyenv_pythons(minor)
    if sys.platform == "win32" and shutil.which("py"):
        try:
            done = subprocess.run(["py", f"-{minor}", "-c", "import sys; print(sys.executable)"],
                                  capture_output=True, text=True, timeout=30)
            found.append(done.stdout.strip() if done.returncode == 0 else "")
        except (OSError, subprocess.SubprocessError):
            pass
    return [candidate for candidate in found if candidate]


def find_python(minor: str) -> tuple[str, str] | None:
    """A working interpreter of Python ``minor`` (say ``3.11``): this one, one on PATH, one pyenv
    installed, or Windows' py launcher. Returns (path, full version) or None."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == minor:
        return sys.executable, platform.python_version()
    for candidate in candidates(minor):
        version = python_version(candidate)
        if version and version.startswith(minor + "."):
            return candidate, version
    return None
