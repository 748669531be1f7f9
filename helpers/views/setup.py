"""The notebooks' setup line: the versions they run on, checked once, said in one line.

Every notebook calls :func:`setup_notebook` after its imports, so the check and its sentence live
here and not in nine copies of a cell.
"""

from __future__ import annotations

import platform
import sys
from importlib import metadata

from helpers.core.config import ConfigError

YOUR_ENVIRONMENT = "docs/your-environment.md"


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def notebook_problem(python: tuple[int, int], keras: str | None) -> str | None:
    """One sentence when the notebooks cannot run on this stack, None when they can."""
    if python < (3, 10):
        return (f"the notebooks need Python 3.10 or newer, and this kernel runs {python[0]}.{python[1]}; "
                f"to make a card of this environment as it is, use the lab's command (`keras-repro-lab card --out "
                f"card.json`, see {YOUR_ENVIRONMENT}).")
    if keras is None or int(keras.split(".")[0]) < 3:
        found = f"Keras {keras}" if keras else "no Keras"
        return (f"the notebooks teach Keras 3's seeding and this kernel has {found}; to compare an environment with "
                f"Keras 2 (TensorFlow 2.15 or older), make its card there with the lab's command (`keras-repro-lab "
                f"card --out card.json`, see {YOUR_ENVIRONMENT}) and compare it here.")
    return None


def setup_notebook(wide_tables: bool = True) -> str:
    """Check that this kernel can run the notebooks, widen pandas' columns, and say what it runs on.

    Raises ConfigError with one sentence (and the way to make a card instead) on Python older than
    3.10 or Keras older than 3.
    """
    keras = _version("keras")
    problem = notebook_problem(sys.version_info[:2], keras)
    if problem:
        raise ConfigError(problem)
    if wide_tables:
        import pandas as pd

        # Fingerprints, machine names and reasons are long: show them whole, not cut at 50 characters.
        pd.set_option("display.max_colwidth", None)
    from helpers import __version__

    tensorflow = next(filter(None, (_version(n) for n in ("tensorflow", "tensorflow-cpu", "tensorflow-macos"))), "?")
    line = (f"keras-repro-lab {__version__} | TensorFlow {tensorflow} | Keras {keras} | "
            f"Python {platform.python_version()}")
    print(line)
    return line
