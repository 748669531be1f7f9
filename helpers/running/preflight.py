"""Can this environment run the lab's experiment? One sentence when it cannot, before anything breaks.

A learner makes their card in their own environment: Python 3.9 or newer, NumPy, TensorFlow 2.10 to
2.21, and Keras 2 (``tf.keras`` or ``tf_keras``) or Keras 3 on TensorFlow's backend. Each way an
environment can fall short gets one sentence naming what is needed, instead of the traceback
TensorFlow would give (NumPy 2 under TensorFlow 2.10 fails deep inside its import with
``_ARRAY_API not found``). The worker process asks these questions before it imports TensorFlow,
so the answer costs nothing; every run of the batch then gets that sentence and the runner stops.

Standard library only at import: the worker imports this before NumPy, which may be missing.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path
from typing import Any

OLDEST_TENSORFLOW = (2, 10)
NEWEST_TESTED_TENSORFLOW = (2, 21)
# TensorFlow is compiled against NumPy 1 up to 2.17; 2.18 is the first built with NumPy 2
# (its release notes), and older ones fail to import beside it.
FIRST_WITH_NUMPY_2 = (2, 18)
FIRST_WITH_KERAS_3 = (2, 16)
# The distributions that install the `tensorflow` package (Windows: tensorflow-intel holds the code).
TENSORFLOW_DISTRIBUTIONS = (
    "tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-intel", "tensorflow-macos",
    "tensorflow-aarch64", "tensorflow-cpu-aws", "intel-tensorflow", "tf-nightly", "tf-nightly-cpu",
)


def version_tuple(version: str) -> tuple[int, int]:
    """'2.10.1' -> (2, 10); anything unreadable -> (0, 0)."""
    found = re.match(r"(\d+)\.(\d+)", version or "")
    return (int(found[1]), int(found[2])) if found else (0, 0)


def _where() -> str:
    return f"this environment ({sys.prefix})"


def _legacy_keras() -> bool:
    return os.environ.get("TF_USE_LEGACY_KERAS", "").strip().lower() in ("1", "true", "yes")


def backend_sentence(backend: str, source: str) -> str:
    return (f"Keras is set to its {backend} backend ({source}), and the lab's runs need its TensorFlow backend: "
            "unset KERAS_BACKEND, or set it to tensorflow, for this command.")


def numpy_missing_sentence() -> str | None:
    """The sentence for an environment without NumPy (every command of the lab needs it), else None."""
    if importlib.util.find_spec("numpy") is not None:
        return None
    return (f"NumPy is not installed in {_where()}: the lab needs NumPy and TensorFlow 2.10 or newer there; make "
            "the card in the environment where your model ran, or install TensorFlow there, which brings NumPy.")


def installed_tensorflow() -> str | None:
    """The version of the TensorFlow that ``import tensorflow`` would load, read from the metadata beside
    it (without importing it); None when there is no TensorFlow or its metadata cannot be found."""
    spec = importlib.util.find_spec("tensorflow")
    if spec is None or not spec.submodule_search_locations:
        return None
    from importlib.metadata import distributions

    folder = Path(next(iter(spec.submodule_search_locations))).parent
    for dist in distributions(path=[str(folder)]):
        name = re.sub(r"[-_.]+", "-", str(dist.metadata["Name"] or "")).lower()
        if name in TENSORFLOW_DISTRIBUTIONS:
            return dist.version
    return None


def numpy_2_sentence(tensorflow: str, numpy: str) -> str:
    return (f"TensorFlow {tensorflow} was built for NumPy 1 and {_where()} has NumPy {numpy}: pin NumPy below 2 "
            "there (pip install \"numpy<2\"), then make the card again.")


def tensorflow_sentence(tensorflow: str) -> str | None:
    """Why this TensorFlow version cannot make a card, or None when it can."""
    if version_tuple(tensorflow) < OLDEST_TENSORFLOW:
        return (f"{_where()} has TensorFlow {tensorflow}, and the lab needs TensorFlow 2.10 or newer (up to "
                f"{'.'.join(map(str, NEWEST_TESTED_TENSORFLOW))}): make the card in an environment with one of those.")
    return None


def before_tensorflow() -> str | None:
    """What stops this environment before TensorFlow is imported (None: nothing found)."""
    backend = os.environ.get("KERAS_BACKEND", "").strip()
    if backend and backend.lower() != "tensorflow":
        return backend_sentence(backend, f"KERAS_BACKEND={backend}")
    refusal = numpy_missing_sentence()
    if refusal:
        return refusal
    tensorflow = installed_tensorflow()
    if tensorflow is None and importlib.util.find_spec("tensorflow") is None:
        return (f"TensorFlow is not installed in {_where()}: make the card in the environment where your model "
                "ran, or install TensorFlow 2.10 to 2.21 there.")
    if tensorflow is not None:
        refusal = tensorflow_sentence(tensorflow)
        if refusal:
            return refusal
        import numpy

        if version_tuple(numpy.__version__) >= (2, 0) and version_tuple(tensorflow) < FIRST_WITH_NUMPY_2:
            return numpy_2_sentence(tensorflow, numpy.__version__)
    return None


def keras_missing_sentence(tensorflow: str) -> str:
    minor = ".".join(tensorflow.split(".")[:2])
    if _legacy_keras():
        return (f"TF_USE_LEGACY_KERAS is set but tf_keras is not installed in {_where()}: install the one that "
                f"matches TensorFlow {tensorflow} (pip install \"tf_keras~={minor}.0\"), or unset TF_USE_LEGACY_KERAS "
                "to use Keras 3.")
    if version_tuple(tensorflow) >= FIRST_WITH_KERAS_3:
        return (f"TensorFlow {tensorflow} finds no Keras in {_where()}: install Keras 3 (pip install \"keras>=3\"), "
                "or tf_keras with TF_USE_LEGACY_KERAS=1 for Keras 2.")
    return (f"TensorFlow {tensorflow} finds no Keras in {_where()}: install the Keras it was released with "
            f"(pip install \"keras~={minor}.0\").")


def import_tensorflow() -> tuple[Any, str | None]:
    """Import TensorFlow and its Keras; returns (tensorflow or None, the sentence that stops this environment)."""
    try:
        import tensorflow as tf
    except ImportError as exc:
        import numpy

        text = str(exc)
        if version_tuple(numpy.__version__) >= (2, 0) and ("numpy" in text.lower() or "_ARRAY_API" in text):
            return None, numpy_2_sentence(installed_tensorflow() or "(this version)", numpy.__version__)
        if isinstance(exc, ModuleNotFoundError) and exc.name == "tensorflow":
            return None, (f"TensorFlow is not installed in {_where()}: make the card in the environment where your "
                          "model ran, or install TensorFlow 2.10 to 2.21 there.")
        first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        return None, f"TensorFlow could not be imported in {_where()} ({first[:200]}); fix that installation first."
    refusal = tensorflow_sentence(tf.__version__)
    if refusal:
        return None, refusal
    try:
        from tensorflow import keras

        keras.layers.Dense  # noqa: B018 (TensorFlow 2.16+ loads its Keras on first use: make it load now)
    except (ImportError, AttributeError):
        return None, keras_missing_sentence(tf.__version__)
    backend = getattr(keras.backend, "backend", lambda: "tensorflow")()
    if backend != "tensorflow":
        home = os.environ.get("KERAS_HOME") or str(Path.home() / ".keras")
        return None, backend_sentence(backend, f"in {Path(home) / 'keras.json'}")
    return tf, None
