"""Running the article's script in another environment, through the harness of :mod:`helpers.article`.

A stack's Python must not see this kernel's site-packages, where the lab may be installed beside
this kernel's TensorFlow and NumPy; so it imports the lab from the content-keyed copy the runner
uses for other environments (:func:`helpers.running.elsewhere.lab_copy`), put on that Python's path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

from helpers.running.elsewhere import lab_copy
from helpers.stacks.environments import StackError, StackResult, clean_environment

RUN_TIMEOUT = 600


def run_article(python: str | os.PathLike[str], example: int = 2) -> dict[str, Any]:
    """The article's Example ``example``, as written, in a fresh process of ``python``."""
    env = clean_environment()
    env["PYTHONPATH"] = str(lab_copy())
    started = time.perf_counter()
    try:
        done = subprocess.run([str(python), "-m", "helpers.article", str(example)], capture_output=True, text=True,
                              timeout=RUN_TIMEOUT, env=env, cwd=tempfile.gettempdir())
    except subprocess.TimeoutExpired:
        raise StackError(f"the article's script took longer than {RUN_TIMEOUT} s and was stopped.") from None
    if done.returncode != 0:
        last = next((line.strip() for line in reversed(done.stderr.splitlines()) if line.strip()), "no message")
        raise StackError(f"the article's script failed: {last}")
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    answer["wall_seconds"] = time.perf_counter() - started
    return answer


def fill(result: StackResult, answer: dict[str, Any]) -> StackResult:
    for key in ("tensorflow", "keras", "python", "numpy", "test_accuracy", "test_loss", "weights_sha256",
                "data_sha256", "data_values_sha256", "data_dtypes", "initial_weights_sha256"):
        setattr(result, key, answer.get(key))
    result.run_seconds = round(answer["wall_seconds"], 1)
    return result


def own_stack() -> StackResult:
    """This kernel's own stack, run the same way as the others: the article's script in a fresh process."""
    result = StackResult(label="this kernel", own=True, environment=sys.prefix, cached=True)
    try:
        return fill(result, run_article(sys.executable))
    except StackError as exc:
        result.error = str(exc)
        return result


