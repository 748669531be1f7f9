"""Run one learner's script, unchanged, in this (fresh) process, and write what it did as JSON.

``python -m helpers.scripts.worker REQUEST.json``; started by :mod:`helpers.scripts.runs`, not by
hand. The request names the script, where to write the answer, and what to do before the script
starts (``keras.utils.set_random_seed``, op determinism) and to each ``fit`` (the caps). The
script then runs as ``python SCRIPT.py`` would run it: ``__name__ == "__main__"``, in its own
folder, with its folder first on ``sys.path`` and the lab's own modules out of ``sys.modules``
(a learner's ``helpers.py`` beside the script is theirs to import, as it always was).

Runs in the learner's own environment: Python 3.9+, NumPy and TensorFlow, nothing else.
"""

from __future__ import annotations

import io
import json
import os
import runpy
import signal
import sys
import time
import traceback
from typing import Any

from helpers.machines.fingerprint import process_fingerprint
from helpers.scripts.recorder import Recorder, install


class StdinRead(BaseException):
    """The script asked for typed input. A BaseException, so a script's ``except Exception`` cannot
    swallow it and go on with made-up input."""


class _NoKeyboard(io.TextIOBase):
    """Standard input for a script nobody types into: reading it stops the run with a clear reason."""

    def fileno(self) -> int:
        raise io.UnsupportedOperation("no standard input")  # input() then falls back to readline()

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> str:
        raise StdinRead()

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        raise StdinRead()


class Failure(Exception):
    """The run cannot give an answer; ``kind`` names the bad input, the message is one sentence."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _keras_modules() -> list[Any]:
    """Every Keras the script may use: ``tf.keras`` (Keras 2, Keras 3 or tf_keras), and ``keras``."""
    import tensorflow as tf

    modules = []
    try:
        keras = tf.keras
        keras.Model  # noqa: B018  (TensorFlow loads its Keras on first use: fail here, in one sentence)
        modules.append(keras)
    except (ImportError, AttributeError) as exc:
        raise Failure("keras", f"TensorFlow {tf.__version__} finds no Keras here ({exc}); install the Keras "
                               "that goes with it.") from None
    try:
        import keras

        modules.append(keras)
    except ImportError:  # TensorFlow 2.10-2.15 without the separate package: tf.keras is all there is
        pass
    for keras in modules:
        backend = getattr(getattr(keras, "backend", None), "backend", None)
        name = backend() if callable(backend) else "tensorflow"
        if name != "tensorflow":
            raise Failure("backend", f"Keras runs on the {name} backend here (KERAS_BACKEND or ~/.keras/keras.json); "
                                     "the lab records TensorFlow runs: set KERAS_BACKEND=tensorflow.")
    return modules


def _prepare(request: dict[str, Any], modules: list[Any]) -> None:
    """What a fix does before the script starts, as a line at the top of the script would."""
    import tensorflow as tf

    if request.get("op_determinism"):
        tf.config.experimental.enable_op_determinism()
    if request.get("seed") is not None:
        done = set()
        for keras in modules:
            seeder = keras.utils.set_random_seed
            if id(seeder) not in done:  # Keras 2's keras and tf.keras share it; call it once
                done.add(id(seeder))
                seeder(int(request["seed"]))


def _script_line(tb: Any, script: str) -> int | None:
    """The line of the script where the exception left it (the deepest frame in the script)."""
    line = None
    for frame in traceback.extract_tb(tb):
        if os.path.abspath(frame.filename) == script:
            line = frame.lineno
    return line


def _exception_sentence(exc: BaseException, script: str) -> str:
    name = os.path.basename(script)
    line = _script_line(exc.__traceback__, script)
    text = (str(exc).strip().splitlines() or [""])[-1][:200]
    where = f" at line {line}" if line else ""
    return f"{name} raised {type(exc).__name__}{': ' + text if text else ''}{where}."


def run_script(request: dict[str, Any]) -> dict[str, Any]:
    """Run the request's script as written (plus the request's fixes and caps); return what it did."""
    script = os.path.abspath(request["script"])
    folder, name = os.path.dirname(script), os.path.basename(script)
    started = time.perf_counter()
    import tensorflow as tf  # noqa: F401  (the script's own first import, timed as the start-up)

    modules = _keras_modules()
    import_seconds = time.perf_counter() - started
    recorder = Recorder(request.get("max_epochs"), request.get("max_steps"))
    if request.get("record", True):
        install(recorder, modules)
    _prepare(request, modules)
    lab = {key: value for key, value in sys.modules.items() if key == "helpers" or key.startswith("helpers.")}
    saved_path, saved_argv, saved_stdin = list(sys.path), list(sys.argv), sys.stdin
    for module in lab:
        del sys.modules[module]
    sys.path[0] = folder
    sys.argv = [script]
    sys.stdin = _NoKeyboard()
    os.chdir(folder)
    if request.get("started"):  # the parent's clock for --timeout starts here, not at TensorFlow's start-up
        with open(request["started"], "w", encoding="utf-8"):
            pass
    script_started = time.perf_counter()
    exit_code: Any = None
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:
        exit_code = exc.code
        if not recorder.fits and request.get("record", True):
            line = _script_line(exc.__traceback__, script)
            raise Failure("exit", f"{name} called sys.exit({exc.code!r}){f' at line {line}' if line else ''} "
                                  "before training; the lab needs it to reach model.fit.") from None
    except StdinRead as exc:
        line = _script_line(exc.__traceback__, script)
        raise Failure("stdin", f"{name} reads standard input{f' at line {line}' if line else ''}; the lab runs "
                               "it with no one to type, so put the value in the script.") from None
    except Exception as exc:
        raise Failure("raised", _exception_sentence(exc, script)) from None
    finally:
        script_seconds = time.perf_counter() - script_started
        sys.stdin, sys.argv, sys.path[:] = saved_stdin, saved_argv, saved_path
        for module in [n for n in sys.modules if n == "helpers" or n.startswith("helpers.")]:
            del sys.modules[module]  # the learner's own helpers, if the script imported one
        sys.modules.update(lab)
    if request.get("record", True) and not recorder.fits:
        raise Failure("no fit", f"{name} ran to its end without calling model.fit ({script_seconds:.1f} s), "
                                "so there is no training to check; the lab watches Keras's fit and evaluate.")
    try:
        fingerprint = process_fingerprint()
    except Exception as exc:  # an old stack the fingerprint does not know: the run itself still counts
        fingerprint = {"error": f"{type(exc).__name__}: {exc}"[:200]}
    return {"ok": True, "fits": recorder.fits, "evaluations": recorder.evaluations, "model": recorder.model_info,
            "fingerprint": fingerprint, "exit_code": exit_code if isinstance(exit_code, (int, type(None))) else 1,
            "import_seconds": import_seconds, "script_seconds": script_seconds,
            "before_first_fit_seconds": (recorder.first_fit_started or script_started) - script_started}


def main(argv: list[str]) -> int:
    # The parent ends its runs itself when the user presses Ctrl-C; a terminal's Ctrl-C reaches the
    # whole process group, and dying of it here would look like the script's own failure.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with open(argv[1], encoding="utf-8") as file:
        request = json.load(file)
    try:
        answer = run_script(request)
    except Failure as exc:
        answer = {"ok": False, "kind": exc.kind, "error": str(exc)}
    with open(request["result"], "w", encoding="utf-8") as file:
        json.dump(answer, file)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

