"""What really ran: the settings as TensorFlow and Keras resolved them, not as the variables said.

A card used to record ``TF_ENABLE_ONEDNN_OPTS`` as found and "XLA off" because the lab compiled
that way. Both were wrong on the machines learners compare: oneDNN's default depends on the CPU
and the OS (:mod:`helpers.machines.onednn`), and Keras 3 turns XLA on by itself whenever
TensorFlow sees a GPU. So each run records TensorFlow's own answers:

* ``onednn_enabled`` -- ``tensorflow.python.util._pywrap_util_port.IsMklEnabled()`` from TF 2.11;
  in 2.9 and 2.10 that returns the build flag (always False), so ``tensorflow::IsMKLEnabled()`` is
  called in TensorFlow's library instead; None where neither can be read;
* ``isa`` -- the instruction set oneDNN dispatched to, from its own verbose header where it
  printed one (the worker asks for just that header), else predicted from the CPU's flags and the
  cap and marked so;
* ``jit_compile`` -- the model's own ``jit_compile`` after ``compile`` (Keras 2: ``_jit_compile``);
* ``tf32`` and ``op_determinism`` as in force.
"""

from __future__ import annotations

import ctypes
import os
import platform
from typing import Any

from helpers.machines.onednn import ai_features, best_level, expected_state, normalize_cap

VERBOSE_ENV = "ONEDNN_VERBOSE"
# oneDNN 3.x prints its header (with the dispatched instruction set), then refuses the filter in one
# more line (3.7.3: "filter format is ill-formed ... component with name '^$' not found") and traces no
# execution: measured with TensorFlow 2.21, oneDNN's operations on and off, as without the filter it
# prints a line per primitive run. The worker keeps all these lines out of the learner's output.
# oneDNN 2.x reads only integers and takes this as 0: silent, and predicted.
HEADER_ONLY = "profile_exec,filter=^$"


def this_process(tensorflow: str | None, flags: list[str]) -> dict[str, Any]:
    """:func:`onednn_block` for this process, with TensorFlow's own answer (imports TensorFlow)."""
    return onednn_block(platform.system(), platform.machine(), tensorflow, flags, dict(os.environ),
                        enabled=onednn_enabled())


def onednn_enabled() -> bool | None:
    """TensorFlow's own answer: are oneDNN's custom operations on in this process? (imports TensorFlow)"""
    import tensorflow as tf

    version = tuple(int(part) for part in tf.__version__.split(".")[:2] if part.isdigit())
    if version >= (2, 11):
        try:
            from tensorflow.python.util import _pywrap_util_port

            return bool(_pywrap_util_port.IsMklEnabled())
        except (ImportError, AttributeError):
            return None
    return _is_mkl_enabled_in_library(tf)


def _is_mkl_enabled_in_library(tf: Any) -> bool | None:
    """``tensorflow::IsMKLEnabled()`` from libtensorflow_framework (TF 2.9/2.10, where Python's answer is wrong)."""
    folder = os.path.dirname(tf.__file__)
    for name in ("libtensorflow_framework.so.2", "libtensorflow_framework.2.dylib", "tensorflow_framework.dll"):
        path = os.path.join(folder, name)
        if not os.path.exists(path):
            continue
        try:
            function = ctypes.CDLL(path)._ZN10tensorflow12IsMKLEnabledEv
        except (OSError, AttributeError):
            return None
        function.restype = ctypes.c_bool
        return bool(function())
    return None


def resolved_jit_compile(model: Any) -> bool:
    """XLA as the compiled model will use it: Keras 3 resolves ``"auto"`` here; Keras 2's None means off
    (and 2.10/2.11 have only the private attribute)."""
    value = getattr(model, "jit_compile", None)
    if value is None:
        value = getattr(model, "_jit_compile", None)
    return bool(value)


def onednn_block(system: str, machine: str, tensorflow: str | None, flags: list[str],
                 environ: dict[str, str | None], enabled: bool | None = None,
                 isa: str | None = None) -> dict[str, Any]:
    """oneDNN's effective state for a run: on/off and why, the features that decide it, the instruction set.

    ``system``/``machine`` as ``platform.system()``/``platform.machine()`` say; ``environ`` the
    run's variables. ``enabled`` is TensorFlow's answer (None: inferred from the policy); ``isa``
    the level oneDNN reported (None: predicted from ``flags`` and the cap).
    """
    expected, why = expected_state(system, machine, tensorflow, flags, environ.get("TF_ENABLE_ONEDNN_OPTS"))
    if enabled is not None and expected is not None and enabled != expected:
        why = f"TensorFlow reports them {'on' if enabled else 'off'} (its policy for {why} says otherwise)"
    cap = normalize_cap(environ.get("ONEDNN_MAX_CPU_ISA") or environ.get("DNNL_MAX_CPU_ISA"))
    return {
        "onednn_enabled": expected if enabled is None else enabled,
        "onednn_from": "inferred" if enabled is None else "TensorFlow",
        "onednn_why": why,
        "onednn_features": ai_features(flags),
        "isa": isa or best_level(flags, cap),
        "isa_from": "oneDNN" if isa else "predicted",
        "isa_cap": cap,
    }
