"""Where the lab keeps what it builds once and reuses: other TensorFlow stacks, copies of itself.

The user's cache folder, as platformdirs knows it for each OS; where platformdirs is not installed
(a learner's own environment, which the lab leaves as it is), the same places by the same rules.
``REPRO_LAB_CACHE`` overrides it (tests, shared machines). Standard library only.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "keras-repro-lab"
CACHE_ENV = "REPRO_LAB_CACHE"


def _plain_cache_dir() -> Path:
    """platformdirs' ``user_cache_dir(APP_NAME, appauthor=False)``, written out for the three OSes."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / APP_NAME / "Cache"
    # platformdirs 4 honours XDG_CACHE_HOME on macOS too.
    default = Path.home() / ("Library/Caches" if sys.platform == "darwin" else ".cache")
    return Path(os.environ.get("XDG_CACHE_HOME") or default) / APP_NAME


def cache_root() -> Path:
    """The user's cache folder for the lab; ``REPRO_LAB_CACHE`` overrides it."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    try:
        from platformdirs import user_cache_dir
    except ImportError:
        return _plain_cache_dir()
    return Path(user_cache_dir(APP_NAME, appauthor=False))
