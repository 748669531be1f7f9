"""Keras reproducibility lab: why the same model gives a different test accuracy elsewhere.

The names below are imported lazily, so a worker process that only trains a model never pays
for pandas, matplotlib or ipywidgets.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "ConfigError": "helpers.config",
    "RunConfig": "helpers.config",
    "MODES": "helpers.config",
    "TASKS": "helpers.config",
    "run_configs": "helpers.runner",
    "run_mode": "helpers.runner",
    "RunError": "helpers.runner",
    "RunResult": "helpers.results",
    "Verdict": "helpers.results",
    "to_frame": "helpers.results",
    "summary_by_label": "helpers.results",
    "device_report": "helpers.devices",
    "force_cpu_here": "helpers.devices",
    "select_gpu": "helpers.devices",
    "fingerprint_table": "helpers.fingerprint",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")
