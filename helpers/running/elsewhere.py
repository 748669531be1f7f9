"""Where a worker runs: this Python, or another environment's, with the lab beside it.

The runner can start its workers with another environment's interpreter: a TensorFlow stack the lab
built (:mod:`helpers.stacks`), or any environment a learner has. That environment must not see this
one's site-packages, where the lab sits beside this environment's own TensorFlow and NumPy; and the
lab need not be installed there. So the worker imports the lab from a copy of the whole ``helpers``
package in the lab's cache folder, made once per content (a changed file makes a new copy), put
first on the worker's ``sys.path`` by the bootstrap of :mod:`helpers.running.processes`.

Why a copy and not ``pip install --no-deps`` of the lab into that environment: the copy is always
exactly the code of the lab that starts the worker (an installed lab goes stale in a cached stack
while the lab changes, and two checkouts of different versions would fight over one stack); it
needs no installer, no network and no write access to the other environment; and the other
environment stays as it was, so a learner's environment or a cached stack is never changed by
running there. What the worker imports of the lab needs only NumPy and TensorFlow.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from helpers.core.cache import cache_root

PACKAGE = Path(__file__).resolve().parents[1]  # this lab's helpers/
# Variables that would make another environment's Python load this environment's packages.
LEAKY_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PYTHONNOUSERSITE", "CONDA_PREFIX")


@dataclass(frozen=True)
class Interpreter:
    """A Python to start workers with, and the folder holding the ``helpers`` package they import.

    ``env`` is set in every worker (say ``TF_USE_LEGACY_KERAS=1`` for a stack with tf_keras);
    ``isolated`` drops the variables that would mix this environment's packages into another's.
    """

    executable: str
    lab_root: str
    env: tuple[tuple[str, str], ...] = ()
    isolated: bool = False
    tensorflow: str | None = None  # its TensorFlow version, where known (a stack's), for checks made before a run


def this_python() -> Interpreter:
    """This process's Python, importing the very lab that runs here (wherever the current folder is)."""
    return Interpreter(sys.executable, str(PACKAGE.parent))


def _lab_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                  and p.suffix not in (".pyc", ".pyo"))


def lab_copy() -> Path:
    """The folder holding a copy of this lab's ``helpers`` package, keyed by its content (made once)."""
    files = _lab_files()
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    folder = cache_root() / "lab" / digest.hexdigest()[:16]
    if (folder / "helpers" / "__init__.py").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="lab-", dir=folder.parent))
    for path in files:
        target = staging / "helpers" / path.relative_to(PACKAGE)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    try:
        staging.rename(folder)  # complete or absent: an interrupted copy never looks finished
    except OSError:  # made meanwhile by another process
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def other_python(executable: str | os.PathLike[str], env: Mapping[str, str] | None = None,
                 tensorflow: str | None = None) -> Interpreter:
    """Another environment's Python, running this lab from its copy (see :func:`lab_copy`)."""
    return Interpreter(str(executable), str(lab_copy()), tuple(sorted((env or {}).items())), isolated=True,
                       tensorflow=tensorflow)


def as_interpreter(python: Interpreter | str | os.PathLike[str] | None) -> Interpreter:
    """None: this Python; a path: that Python with a copy of the lab; an Interpreter as it is."""
    if python is None:
        return this_python()
    if isinstance(python, Interpreter):
        return python
    return other_python(python)


def isolated_environment(base: Mapping[str, str]) -> dict[str, str]:
    """``base`` without the variables that would mix this environment's packages into another's."""
    return {key: value for key, value in base.items() if key not in LEAKY_ENV}
