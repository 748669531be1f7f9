"""Run one of the article's examples verbatim, as a script, and print its results as JSON.

Besides the test accuracy, loss and trained weights' SHA-256, it reports two earlier stages of
the run, so that a script run on another TensorFlow stack can be compared stage by stage with
the lab's own runs (``helpers.running.experiment`` hashes the same things in the same order):

* ``initial_weights_sha256`` -- the model's weights just before its first training step, taken
  by wrapping Keras' ``Model.fit`` (the wrapper only reads the weights, then calls ``fit``);
* ``data_sha256`` -- the script's ``X_train``, ``y_train``, ``X_test``, ``y_test``, in that
  order, as stored; ``data_values_sha256`` hashes the same values as float64, because Keras 2's
  ``to_categorical`` stores labels as float32 and Keras 3's as float64: same data, other bytes.

It needs only NumPy besides the script's own TensorFlow, so it runs in any stack's environment.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import runpy
import sys
import time
from typing import Any

from helpers.article import EXAMPLES

DATA_NAMES = ("X_train", "y_train", "X_test", "y_test")


def _watch_first_fit(seen: dict[str, Any]) -> None:
    """Wrap Keras' Model.fit so the first call records the weights it starts from."""
    from tensorflow import keras

    from helpers.core.weights import weights_sha256

    original = keras.Model.fit

    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        if "initial_weights_sha256" not in seen:
            weights = self.get_weights()
            seen["initial_weights_sha256"] = weights_sha256(weights) if weights else None
        return original(self, *args, **kwargs)

    keras.Model.fit = fit


def _versions() -> dict[str, str]:
    import numpy as np
    import tensorflow as tf

    keras = getattr(tf, "keras", None)
    return {"tensorflow": tf.__version__, "keras": str(getattr(keras, "__version__", None) or _keras_version()),
            "numpy": np.__version__, "python": platform.python_version()}


def _keras_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("keras")
    except PackageNotFoundError:
        return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.article", description=__doc__.split("\n\n")[0])
    parser.add_argument("example", type=int, choices=sorted(EXAMPLES), help="which of the article's examples")
    args = parser.parse_args()
    started = time.perf_counter()
    seen: dict[str, Any] = {}
    # The script's own print goes to stderr so stdout carries only the JSON answer.
    with contextlib.redirect_stdout(sys.stderr):
        _watch_first_fit(seen)  # imports TensorFlow, as the script's first line would
        namespace = runpy.run_path(str(EXAMPLES[args.example]), run_name="__main__")
    import numpy as np

    from helpers.core.weights import weights_sha256

    data = [namespace.get(name) for name in DATA_NAMES]
    has_data = all(isinstance(array, np.ndarray) for array in data)
    print(json.dumps({
        "example": args.example,
        "test_accuracy": float(namespace["test_accuracy"]),
        "test_loss": float(namespace["test_loss"]),
        "weights_sha256": weights_sha256(namespace["model"].get_weights()),
        "initial_weights_sha256": seen.get("initial_weights_sha256"),
        "data_sha256": weights_sha256(data) if has_data else None,
        "data_values_sha256": weights_sha256([a.astype(np.float64) for a in data]) if has_data else None,
        "data_dtypes": [str(a.dtype) for a in data] if has_data else None,
        **_versions(),
        "seconds": time.perf_counter() - started,
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
