"""A worker process: starts TensorFlow once, then runs the experiment for each request it reads.

The protocol is JSON lines. The parent writes ``{"config": {...}, "record_epochs": false}`` per
run to stdin (``"record_steps": "PREFIX"`` also writes every batch step's weights to files); the
worker answers one line per run, ``{"ok": true, "result": {...}}`` or
``{"ok": false, "error": "one sentence"}``. A fresh-process run is a worker that gets one
request; a warm worker gets many. Everything that must be fixed before TensorFlow starts
(``CUDA_VISIBLE_DEVICES``, ``PYTHONHASHSEED``, oneDNN variables, op determinism) comes from
the environment the parent gave this process, so one worker only ever serves one environment.

Run as ``python -m helpers.worker``; not meant to be started by hand.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from typing import Any, TextIO

OP_DETERMINISM_ENV = "REPRO_LAB_OP_DETERMINISM"


def _protocol_stream() -> TextIO:
    """Keep the real stdout for answers and send anything else printed (TensorFlow, Keras,
    article code) to stderr, so a stray print can never corrupt the protocol."""
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1, encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return answers


def _start_tensorflow() -> float:
    """Import TensorFlow (and turn on op determinism if asked); return the seconds it took."""
    started = time.perf_counter()
    import tensorflow as tf

    if os.environ.get(OP_DETERMINISM_ENV) == "1":
        tf.config.experimental.enable_op_determinism()
    return time.perf_counter() - started


def serve(requests: TextIO, answers: TextIO) -> None:
    """Answer each request line until stdin closes."""
    from helpers.config import ConfigError, RunConfig
    from helpers.devices import configure_worker_devices
    from helpers.experiment import run_experiment
    from helpers.fingerprint import process_fingerprint

    import_seconds = _start_tensorflow()
    fingerprint: dict[str, Any] | None = None
    configured_device: str | None = None
    runs = 0
    for line in requests:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            config = RunConfig.from_dict(request["config"])
            if configured_device is None:
                configure_worker_devices(config)
                configured_device = config.device
            elif configured_device != config.device:
                raise ConfigError("a worker serves one device setting; start a new worker for another.")
            if fingerprint is None:
                fingerprint = process_fingerprint()
            result = run_experiment(config, record_epochs=bool(request.get("record_epochs")),
                                    record_steps=request.get("record_steps"))
            runs += 1
            result.update(
                worker_pid=os.getpid(),
                run_in_worker=runs,
                tensorflow_import_seconds=import_seconds if runs == 1 else 0.0,
                process_fingerprint=fingerprint,
            )
            answer: dict[str, Any] = {"ok": True, "result": result}
        except ConfigError as exc:
            answer = {"ok": False, "error": str(exc)}
        except Exception as exc:  # reported to the parent as one sentence; the worker lives on
            answer = {"ok": False, "error": f"the run failed inside TensorFlow: {type(exc).__name__}: {exc}"}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


def main() -> None:
    # The parent ends its workers when the user presses Ctrl-C; a terminal's Ctrl-C reaches the
    # whole process group, and a worker dying of it first would look like a crash to retry.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answers = _protocol_stream()
    serve(sys.stdin, answers)


if __name__ == "__main__":
    main()
