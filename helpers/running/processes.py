"""The parent's side of a worker process: its environment, starting it, and one run's round trip.

Everything that must be fixed before TensorFlow starts (the device, ``PYTHONHASHSEED``, oneDNN
variables, op determinism, the threads) goes into the worker's environment, so runs with equal
:func:`environment_key` may share one warm worker. The child's side is :mod:`helpers.running.worker`.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import subprocess
import threading
from typing import Any, Optional

from helpers.core.config import RunConfig
from helpers.machines.devices import device_environment
from helpers.machines.effective import HEADER_ONLY, VERBOSE_ENV
from helpers.running.elsewhere import Interpreter, isolated_environment, this_python
from helpers.running.seeding import hashseed_environment
from helpers.running.worker import OP_DETERMINISM_ENV

STDERR_LINES_KEPT = 40
# Runs with equal keys may share a warm worker (typing's spelling: this line runs on Python 3.9 too).
EnvKey = tuple[tuple[str, Optional[str]], ...]


# How a worker starts: ``python -c BOOTSTRAP LAB_FOLDER``. Not ``python -m helpers.running.worker``, which
# puts the current folder first on sys.path, where a learner's own helpers.py (or helpers/) would be
# imported instead of the lab. The bootstrap puts the lab's folder there instead. One line, since it is
# a command-line argument on every OS; helpers/__main__.py runs on any Python 3.6 or newer, so on one
# too old for the lab the worker answers with the sentence that says so.
BOOTSTRAP = "import sys; sys.path[0] = sys.argv[1]; from helpers.__main__ import worker; worker()"


class WorkerStopped(RuntimeError):
    """The worker process ended without answering (killed, crashed, out of memory)."""


class EnvironmentRefused(RuntimeError):
    """The worker's environment cannot run the lab at all (no TensorFlow, NumPy 2 under TensorFlow 2.10,
    ...): the same for every run, so the batch stops. The message is one sentence."""


def available_cores() -> int:
    """The cores this process may use: its affinity mask on Linux (containers and CI often get fewer
    cores than the machine has); elsewhere (Windows, macOS) every core. From Python 3.13 on,
    ``os.process_cpu_count`` does exactly this and also honours ``PYTHON_CPU_COUNT``."""
    counter = getattr(os, "process_cpu_count", None)  # Python 3.13+
    if counter is not None:
        return max(1, counter() or 1)
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def thread_environment(workers: int) -> dict[str, str | None]:
    """Share the cores between workers running at once.

    TensorFlow's thread pools busy-wait; several workers each using every core would spend
    their time fighting (an audit ran 20 % slower). A lone worker keeps TensorFlow's default.
    The setting is in each run's fingerprint, and a test checks that the seeded weights are
    the same bits as the article's script run with TensorFlow's default threads.
    """
    if workers <= 1:
        return {}
    share = str(max(1, available_cores() // workers))
    return {"TF_NUM_INTRAOP_THREADS": share, "TF_NUM_INTEROP_THREADS": share}


def worker_environment(config: RunConfig) -> dict[str, str | None]:
    """Every variable a worker for ``config`` must have before TensorFlow starts (None = unset)."""
    env: dict[str, str | None] = {}
    env.update(device_environment(config))
    env.update(hashseed_environment(config))
    env[OP_DETERMINISM_ENV] = "1" if config.op_determinism else None
    if VERBOSE_ENV not in os.environ:  # the learner's own setting wins; ours prints only oneDNN's header
        env[VERBOSE_ENV] = HEADER_ONLY
    env.update(dict(config.env))
    return env


def environment_key(config: RunConfig) -> EnvKey:
    """Runs with equal keys may share a warm worker. The device setting is part of it
    because a worker configures its devices once, at start-up."""
    return (("device", config.device), *sorted(worker_environment(config).items()))


# Two workers are interchangeable when they have the same Python, lab and whole environment.
Signature = tuple[str, str, tuple[tuple[str, str], ...]]


# Variables a process sets in its own environment when it imports TensorFlow 2.x (TF2_BEHAVIOR, the
# telemetry and TPU names; HDF5_PLUGIN_PATH from its legacy Keras) or scikit-learn (the KMP_ pair, which
# Keras 3 imports), at the values it sets. A kernel that imported TensorFlow has them; a new Python gets
# them from its own import (TPU_ML_PLATFORM_VERSION, to its own TensorFlow's version). Passed on, they
# made a worker's environment depend on whether the kernel had imported TensorFlow yet: a worker kept
# from before no longer fitted the next batch (02's next cell started TensorFlow twice again). A value
# of the learner's own (another value) is passed on.
SET_BY_IMPORTING_TENSORFLOW = {
    "TF2_BEHAVIOR": "1",
    "ENABLE_RUNTIME_UPTIME_TELEMETRY": "1",
    "TPU_ML_PLATFORM": "Tensorflow",
    "HDF5_PLUGIN_PATH": "disable",
    "KMP_DUPLICATE_LIB_OK": "True",
    "KMP_INIT_AT_FORK": "FALSE",
}


def without_import_side_effects(environ: dict[str, str]) -> dict[str, str]:
    """``environ`` without what importing TensorFlow, Keras and scikit-learn set in it (see above)."""
    env = {k: v for k, v in environ.items() if SET_BY_IMPORTING_TENSORFLOW.get(k) != v}
    if "TPU_ML_PLATFORM" not in env:  # set with it, to the importing TensorFlow's version
        env.pop("TPU_ML_PLATFORM_VERSION", None)
    return env


# Variables that name the calling process's moment, not the environment a run asks for: pytest sets
# PYTEST_CURRENT_TEST to the test and phase it is in. Passed on, they gave each test workers of its own: a
# worker kept by one test was never taken up by the next test's batch of the same environment.
MOMENT_VARIABLES = ("PYTEST_CURRENT_TEST",)


def process_environment(overrides: dict[str, str | None], interpreter: Interpreter) -> dict[str, str]:
    """The whole environment a worker starts with: this process's (or, for another environment's Python,
    what of it does not leak packages across) as it was before it imported TensorFlow, the interpreter's
    own variables, then ``overrides``."""
    env = without_import_side_effects(isolated_environment(os.environ) if interpreter.isolated else dict(os.environ))
    for name in MOMENT_VARIABLES:
        env.pop(name, None)
    env.update(interpreter.env)
    # TensorFlow's C++ start-up notes go to a log nobody reads; errors still come through.
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def _signature(interpreter: Interpreter, env: dict[str, str]) -> Signature:
    return interpreter.executable, interpreter.lab_root, tuple(sorted(env.items()))


def signature_of(overrides: dict[str, str | None], interpreter: Interpreter | None = None) -> Signature:
    """What a worker started now with ``overrides`` would be: a kept worker serves a batch only when equal."""
    interpreter = interpreter or this_python()
    return _signature(interpreter, process_environment(overrides, interpreter))


class Worker:
    """One worker process speaking the JSON-lines protocol of :mod:`helpers.running.worker`."""

    def __init__(self, key: EnvKey, overrides: dict[str, str | None], interpreter: Interpreter | None = None):
        self.key = key
        interpreter = interpreter or this_python()
        env = process_environment(overrides, interpreter)
        self.signature = _signature(interpreter, env)
        self._stderr: collections.deque[str] = collections.deque(maxlen=STDERR_LINES_KEPT)
        self.process = subprocess.Popen(
            [interpreter.executable, "-c", BOOTSTRAP, interpreter.lab_root],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",  # a stray byte in TensorFlow's stderr (Windows' code page) must not stop the reader
            env=env,
        )
        self._drain = threading.Thread(target=self._keep_stderr, daemon=True)
        self._drain.start()

    def _keep_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._stderr.append(line.rstrip())

    def last_error_line(self) -> str:
        for line in reversed(self._stderr):
            if line.strip():
                return line.strip()
        return "no message"

    def run(self, config: RunConfig, record_epochs: bool = False, record_steps: str | None = None) -> dict[str, Any]:
        """Send one run and wait for its answer; raises RuntimeError with one sentence."""
        assert self.process.stdin is not None and self.process.stdout is not None
        request: dict[str, Any] = {"config": config.to_dict(), "record_epochs": record_epochs}
        if record_steps:
            request["record_steps"] = record_steps
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the read below reports why the worker is gone
        line = self.process.stdout.readline()
        if not line:
            self.process.wait()
            self._drain.join(timeout=5)
            raise WorkerStopped(
                f"the worker process stopped (exit code {self.process.returncode}): {self.last_error_line()}"
            )
        answer = json.loads(line)
        if not answer["ok"]:
            raise (EnvironmentRefused if answer.get("fatal") else RuntimeError)(answer["error"])
        return answer["result"]

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """End the process now, mid-run if need be (the user stopped the runs)."""
        with contextlib.suppress(OSError):
            self.process.kill()

    def close(self, wait: bool = True) -> None:
        """Close stdin so the worker exits: it then leaves at once, skipping TensorFlow's shutdown
        (:func:`helpers.running.worker.end_now`). ``wait=False`` leaves reaping it, and killing one still busy
        after 30 s, to a background thread while the slot moves on."""
        if self.process.poll() is None:
            assert self.process.stdin is not None
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        if wait:
            self._reap()
        else:
            threading.Thread(target=self._reap, daemon=True).start()

    def _reap(self) -> None:
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._drain.join(timeout=5)
