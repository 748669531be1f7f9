"""A worker process: starts TensorFlow once, then runs the experiment for each request it reads.

The protocol is JSON lines. The parent writes ``{"config": {...}, "record_epochs": false}`` per
run to stdin (``"record_steps": "PREFIX"`` also writes every batch step's weights to files); the
worker answers one line per run, ``{"ok": true, "result": {...}}`` or
``{"ok": false, "error": "one sentence"}``. A fresh-process run is a worker that gets one
request; a warm worker gets many. Everything that must be fixed before TensorFlow starts
(``CUDA_VISIBLE_DEVICES``, ``PYTHONHASHSEED``, oneDNN variables, op determinism) comes from
the environment the parent gave this process, so one worker only ever serves one environment.

Started by :class:`helpers.running.processes.Worker` (its bootstrap keeps a learner's own ``helpers.py``
out of the way); not meant to be started by hand. Before TensorFlow starts, the worker checks that
this environment can run the lab (:mod:`helpers.running.preflight`); when it cannot, it answers every
request with ``{"ok": false, "fatal": true, "error": "one sentence"}`` and the runner stops the batch.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import sys
import threading
import time
from typing import Any, TextIO

OP_DETERMINISM_ENV = "REPRO_LAB_OP_DETERMINISM"
ISA_WAIT = 0.2  # seconds the first run waits for oneDNN's header, when none came (it is printed before any kernel)


class OneDnnHeader:
    """Reads what this process prints to its stdout (fd 1) and passes it on to stderr, keeping the
    line of oneDNN's verbose header that names the instruction set it dispatched to."""

    def __init__(self, read_fd: int):
        self.line: str | None = None
        self.seen = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(read_fd,), daemon=True)
        self._thread.start()

    def _read(self, read_fd: int) -> None:
        with os.fdopen(read_fd, "rb") as stream:
            for raw in stream:
                line = raw.decode("utf-8", "replace")
                if line.startswith("onednn_verbose"):
                    if ",isa:" in line and self.line is None:
                        self.line = line.strip()
                        self.seen.set()
                    continue  # the header the worker asked for, not the learner's business
                sys.stderr.write(line)
                sys.stderr.flush()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def isa(self, wait: float = 0.0) -> str | None:
        if wait:
            self.seen.wait(wait)
        return self.line


def _protocol_stream() -> tuple[TextIO, OneDnnHeader]:
    """Keep the real stdout for answers; anything else printed to fd 1 (TensorFlow, Keras, oneDNN,
    article code) goes through a pipe to stderr, so a stray print can never corrupt the protocol."""
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1, encoding="utf-8")
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, sys.stdout.fileno())
    os.close(write_fd)
    return answers, OneDnnHeader(read_fd)


def with_run_settings(fingerprint: dict[str, Any], isa_line: str | None, xla: bool) -> dict[str, Any]:
    """The process's fingerprint with what this run resolved: oneDNN's reported level, the model's XLA."""
    from helpers.machines.onednn import level_from_verbose

    effective = dict(fingerprint.get("effective") or {})
    level = level_from_verbose(isa_line) if isa_line else None
    if level:
        effective.update(isa=level, isa_from="oneDNN")
    effective["jit_compile"] = xla
    return {**fingerprint, "effective": effective}


def _start_tensorflow() -> tuple[float, str | None]:
    """Check this environment, import TensorFlow (and turn on op determinism if asked); return the seconds
    it took and, when this environment cannot run the lab, the one sentence that says why."""
    from helpers.running.preflight import before_tensorflow, import_tensorflow

    started = time.perf_counter()
    refusal = before_tensorflow()
    if refusal:
        return 0.0, refusal
    # After the check: the experiment's module needs NumPy, which the check may have found missing.
    from helpers.running.experiment import leave_out_what_the_article_does_not_use

    leave_out_what_the_article_does_not_use()
    tf, refusal = import_tensorflow()
    if refusal:
        return 0.0, refusal
    if os.environ.get(OP_DETERMINISM_ENV) == "1":
        tf.config.experimental.enable_op_determinism()
    return time.perf_counter() - started, None


def refuse(requests: TextIO, answers: TextIO, sentence: str) -> None:
    """Answer every request with the sentence that says why this environment cannot run the lab."""
    for line in requests:
        if line.strip():
            answers.write(json.dumps({"ok": False, "fatal": True, "error": sentence}) + "\n")
            answers.flush()


def serve(requests: TextIO, answers: TextIO, header: OneDnnHeader | None = None) -> None:
    """Answer each request line until stdin closes. ``header`` hears oneDNN's verbose header."""
    import_seconds, refusal = _start_tensorflow()
    if refusal:
        refuse(requests, answers, refusal)
        return
    # Only now: these import NumPy and TensorFlow, which the checks above found usable.
    from helpers.core.config import ConfigError, RunConfig
    from helpers.machines.devices import configure_worker_devices
    from helpers.machines.fingerprint import process_fingerprint
    from helpers.running.experiment import run_experiment

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
            isa = header.isa(wait=ISA_WAIT if runs == 1 else 0.0) if header is not None else None
            result.update(
                worker_pid=os.getpid(),
                run_in_worker=runs,
                tensorflow_import_seconds=import_seconds if runs == 1 else 0.0,
                process_fingerprint=with_run_settings(fingerprint, isa, result["xla"]),
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
    answers, header = _protocol_stream()
    serve(sys.stdin, answers, header)
    end_now(header)


def end_now(header: OneDnnHeader | None = None) -> None:
    """Leave without Python's and TensorFlow's shutdown: it cost about 0.65 s of CPU per worker here (2026-12-07,
    docs/speed.md), for nothing the parent reads. Every answer was flushed and every recorded file closed
    before its answer was sent; what the process printed last still reaches stderr. The functions registered
    with ``atexit`` still run (in no measurable time): Keras 2's autograph removes its generated files there,
    and skipping them left two in the temporary folder per worker."""
    # What a normal exit runs before the shutdown skipped here; CPython's own (since 3.0), hence looked up.
    getattr(atexit, "_run_exitfuncs", lambda: None)()
    sys.stdout.flush()
    if header is not None:
        os.close(sys.stdout.fileno())  # the pipe's only write end: its reader passes on what is left, then ends
        header.join(timeout=1.0)
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
