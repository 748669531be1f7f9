"""The parent's side of a script run: each run a fresh Python process, recorded, with a time limit.

:func:`run_scripts` starts one :mod:`helpers.scripts.worker` process per run (a new process is
what a learner's ``python SCRIPT.py`` is), at most ``parallel`` at once, each with the machine's
own thread settings unless a fix says otherwise, and reads back a :class:`ScriptRun`. A run that
fails stops the batch with one sentence (:class:`ScriptError`) that keeps the runs that finished;
Ctrl-C ends the runs in flight and keeps the finished ones (:class:`ScriptInterrupted`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from helpers.core.config import ConfigError, shown
from helpers.machines.fingerprint import machine_fingerprint
from helpers.running.processes import available_cores
from helpers.running.runner import RunError, RunInterrupted
from helpers.scripts import DEFAULT_TIMEOUT
from helpers.scripts.source import Script

OUTPUT_LINES_KEPT = 12
STARTUP_LIMIT = 300.0  # seconds a worker may take to start TensorFlow before the script's own clock runs
LAB_ROOT = Path(__file__).resolve().parents[2]  # the folder holding helpers/: where a worker starts


class ScriptError(RunError):
    """A script run failed; ``kind`` names the bad input, ``completed`` holds the runs that finished."""

    def __init__(self, message: str, completed: list[ScriptRun], kind: str = "failed"):
        super().__init__(message, completed)  # type: ignore[arg-type]
        self.kind = kind


class ScriptInterrupted(RunInterrupted):
    """The user stopped the runs; ``completed`` holds the runs that had finished."""


@dataclass(frozen=True)
class Fix:
    """What a run does before the script starts: the doctor's fixes, and a card's seeded setting."""

    seed: int | None = None  # keras.utils.set_random_seed(seed) before the script's first line
    op_determinism: bool = False  # tf.config.experimental.enable_op_determinism() before it
    threads: int | None = None  # TensorFlow's intra- and inter-op threads
    env: tuple[tuple[str, str], ...] = ()  # more variables set before TensorFlow starts (an ISA cap, say)

    @property
    def label(self) -> str:
        parts = [] if self.seed is None else [f"set_random_seed({self.seed})"]
        parts += ["op determinism"] * self.op_determinism + [f"{self.threads} thread"] * (self.threads is not None)
        parts += [f"{k}={v}" for k, v in self.env]
        return " + ".join(parts) or "as written"

    def environment(self) -> dict[str, str | None]:
        env: dict[str, str | None] = dict(self.env)
        if self.threads is not None:
            env.update(TF_NUM_INTRAOP_THREADS=str(self.threads), TF_NUM_INTEROP_THREADS=str(self.threads))
        return env

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "op_determinism": self.op_determinism, "threads": self.threads,
                "env": dict(self.env)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fix:
        return cls(data.get("seed"), bool(data.get("op_determinism")), data.get("threads"),
                   tuple(sorted((data.get("env") or {}).items())))


@dataclass(frozen=True)
class RunView:
    """The few settings the factor rules read from a run (``run.config``), for a script run."""

    env: tuple[tuple[str, str], ...]
    op_determinism: bool
    jit_compile: bool
    device: str = "auto"


@dataclass
class ScriptRun:
    """One run of a script: each fit and evaluate call, the model, and the process's fingerprint."""

    script: str  # the file's name, never its folder
    script_sha256: str
    fix: Fix
    fits: list[dict[str, Any]]
    evaluations: list[dict[str, Any]]
    model: dict[str, Any]
    fingerprint: dict[str, Any]
    import_seconds: float = 0.0
    script_seconds: float = 0.0
    wall_seconds: float = 0.0
    capped: bool = False
    output: list[str] = field(default_factory=list)  # the script's last lines of output (not kept in cards)

    # The stages (helpers.core.stages): the first fit's data and starting weights, the last fit's
    # trained weights, the last evaluate's results.
    @property
    def data_sha256(self) -> str | None:
        return self.fits[0].get("data_sha256") if self.fits else None

    @property
    def data_values_sha256(self) -> str | None:
        return self.fits[0].get("data_values_sha256") if self.fits else None

    @property
    def initial_weights_sha256(self) -> str | None:
        return self.fits[0].get("initial_weights_sha256") if self.fits else None

    @property
    def weights_sha256(self) -> str | None:
        return self.fits[-1].get("weights_sha256") if self.fits else None

    @property
    def evaluation_values(self) -> tuple[tuple[str, float | None], ...] | None:
        if not self.evaluations:
            return None
        return tuple(sorted(self.evaluations[-1]["results"].items()))

    @property
    def test_loss(self) -> float | None:
        return self.metric("loss")

    @property
    def test_accuracy(self) -> float | None:
        return self.metric("acc")

    def metric(self, part: str) -> float | None:
        """The last evaluate's first result whose name contains ``part`` ("loss", "acc")."""
        for name, value in self.evaluation_values or ():
            if part in name:
                return value
        return None

    @property
    def device(self) -> str:
        return str(self.model.get("device", "unknown"))

    @property
    def xla(self) -> bool | None:
        """XLA as the script's model resolved it (None: no model was recorded)."""
        if not self.model:
            return None
        return bool(self.model.get("compile", {}).get("jit_compile"))

    @property
    def config(self) -> RunView:
        jit = self.model.get("compile", {}).get("jit_compile")
        return RunView(self.fix.env, self.fix.op_determinism or bool(self.fingerprint.get("op_determinism")),
                       bool(jit))

    @property
    def mode(self) -> str:
        return "seeded" if self.fix.seed is not None else "as written"

    @property
    def label(self) -> str:
        return f"{self.script}, {self.fix.label}"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["fix"] = self.fix.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScriptRun:
        known = {name for name in cls.__dataclass_fields__}
        values = {key: value for key, value in data.items() if key in known}
        values["fix"] = Fix.from_dict(data.get("fix") or {})
        return cls(**values)


def _wait(process: subprocess.Popen, started: Path, timeout: float) -> None:
    """Wait for the run; the time limit counts from the script's first line (TensorFlow's start-up,
    seconds on a busy machine, is not the script's), with a limit of its own for the start-up."""
    begun: float | None = None
    launched = time.monotonic()
    while process.poll() is None:
        now = time.monotonic()
        if begun is None and started.exists():
            begun = now
        if (begun is not None and now - begun > timeout) or now - launched > timeout + STARTUP_LIMIT:
            raise subprocess.TimeoutExpired(process.args, timeout)
        time.sleep(0.05)


def _tail(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    return [line for line in lines if line.strip()][-OUTPUT_LINES_KEPT:]


class _Batch:
    """The processes of one batch of runs, so Ctrl-C can end them all at once."""

    def __init__(self) -> None:
        self.live: set[subprocess.Popen] = set()
        self.lock = threading.Lock()
        self.stopped = False

    def kill_all(self) -> None:
        self.stopped = True
        with self.lock:
            for process in list(self.live):
                process.kill()


def _run_one(script: Script, fix: Fix, folder: Path, *, record: bool, max_epochs: int | None,
             max_steps: int | None, timeout: float, python: str, batch: _Batch) -> ScriptRun:
    request = {"script": str(script.path), "result": str(folder / "result.json"), "started": str(folder / "started"),
               "seed": fix.seed,
               "op_determinism": fix.op_determinism, "max_epochs": max_epochs, "max_steps": max_steps,
               "record": record}
    (folder / "request.json").write_text(json.dumps(request), encoding="utf-8")
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up notes are not the script's output
    for key, value in fix.environment().items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    started = time.perf_counter()
    with open(folder / "out.txt", "wb") as out:
        process = subprocess.Popen([python, "-m", "helpers.scripts.worker", str(folder / "request.json")],
                                   stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=LAB_ROOT,
                                   env=env)
        with batch.lock:
            batch.live.add(process)
        try:
            _wait(process, folder / "started", timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise ScriptError(f"{script.name} ran past the time limit of {timeout:g} s and was stopped; give it "
                              "more with --timeout, or cap the training with --max-epochs.", [], "timeout") from None
        finally:
            with batch.lock:
                batch.live.discard(process)
    output = _tail(folder / "out.txt")
    if batch.stopped:
        raise ScriptInterrupted("stopped by the user.", [])
    try:
        answer = json.loads((folder / "result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        last = output[-1].strip() if output else f"exit code {process.returncode}"
        raise ScriptError(f"the run of {script.name} stopped without an answer: {last}", [], "crashed") from None
    if not answer["ok"]:
        raise ScriptError(answer["error"], [], answer.get("kind", "failed"))
    fingerprint = {**machine_fingerprint(), **answer["fingerprint"]}
    return ScriptRun(script=script.name, script_sha256=script.sha256, fix=fix, fits=answer["fits"],
                     evaluations=answer["evaluations"], model=answer["model"], fingerprint=fingerprint,
                     import_seconds=answer["import_seconds"], script_seconds=answer["script_seconds"],
                     wall_seconds=time.perf_counter() - started,
                     capped=any(fit.get("capped") for fit in answer["fits"]), output=output)


def check_keras_backend(environ: dict[str, str] | None = None) -> None:
    """Refuse, before any run, a Keras set to run on another backend (the lab records TensorFlow runs)."""
    environ = dict(os.environ if environ is None else environ)
    backend, where = environ.get("KERAS_BACKEND"), "KERAS_BACKEND"
    if not backend:
        config = Path(environ.get("KERAS_HOME") or Path.home() / ".keras") / "keras.json"
        try:
            backend, where = json.loads(config.read_text(encoding="utf-8")).get("backend"), str(config)
        except (OSError, ValueError, AttributeError):
            backend = None
    if backend and backend != "tensorflow":
        raise ConfigError(f"Keras is set to the {backend} backend here ({where}); the lab records TensorFlow runs, "
                          "so set KERAS_BACKEND=tensorflow for the check.")


def check_limits(timeout: Any, max_epochs: Any, max_steps: Any) -> None:
    """Validate the time limit and the caps, in one sentence each."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 1 <= timeout <= 86400:
        raise ConfigError(f"the time limit must be from 1 to 86400 seconds, not {shown(timeout)}.")
    for name, value in (("--max-epochs", max_epochs), ("--max-steps", max_steps)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ConfigError(f"{name} must be a whole number of at least 1, not {shown(value)}.")


def run_scripts(
    script: Script,
    fixes: Sequence[Fix],
    *,
    record: bool = True,
    max_epochs: int | None = None,
    max_steps: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    parallel: int | None = None,
    python: str | None = None,
    on_result: Callable[[ScriptRun], None] | None = None,
) -> list[ScriptRun]:
    """Run ``script`` once per fix, each in a fresh process; results in the order given."""
    check_limits(timeout, max_epochs, max_steps)
    check_keras_backend()
    parallel = min(len(fixes), parallel or available_cores()) or 1
    root = Path(tempfile.mkdtemp(prefix="repro-lab-script-"))
    batch = _Batch()
    results: dict[int, ScriptRun] = {}
    errors: list[ScriptError] = []

    def one(index: int) -> None:
        if batch.stopped or errors:
            return
        folder = root / str(index)
        folder.mkdir()
        try:
            run = _run_one(script, fixes[index], folder, record=record, max_epochs=max_epochs, max_steps=max_steps,
                           timeout=timeout, python=python or sys.executable, batch=batch)
        except ScriptInterrupted:
            return
        except ScriptError as exc:
            errors.append(exc)
            batch.kill_all()  # every run of the same script would fail alike: do not wait for them
            return
        results[index] = run
        if on_result is not None:
            on_result(run)

    pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="script-run")
    futures = [pool.submit(one, i) for i in range(len(fixes))]
    try:
        while not all(f.done() for f in futures):
            time.sleep(0.05)  # short steps, so Ctrl-C is seen at once
    except KeyboardInterrupt:
        batch.kill_all()
        pool.shutdown(wait=True)
        shutil.rmtree(root, ignore_errors=True)
        done = [results[i] for i in sorted(results)]
        raise ScriptInterrupted(f"stopped by the user: {len(done)} of {len(fixes)} runs had finished and are kept; "
                                "the runs still going were ended.", done, len(fixes)) from None  # type: ignore[arg-type]
    pool.shutdown(wait=True)
    shutil.rmtree(root, ignore_errors=True)
    done = [results[i] for i in sorted(results)]
    if errors:
        raise ScriptError(str(errors[0]), done, errors[0].kind)
    return done
