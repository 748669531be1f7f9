"""Run the experiment in worker processes, in parallel, fresh or warm.

* ``processes="fresh"``: every run is a new Python process that imports TensorFlow and runs once
  -- the honest stand-in for a new Colab session, and the lesson's subject. No fresh run is given
  a used process; after its run, the process is as warm as any and is kept for a later warm batch.
* ``processes="warm"``: one worker per distinct *environment* (device, hash seed, oneDNN
  variables, op determinism), reused for all runs that share it. TensorFlow starts once per
  worker instead of once per run. Each run clears Keras state and reseeds (or un-seeds) every
  generator, so a warm run gives the same bits as a fresh one; the test suite proves it for
  every mode and knob. Anything that must be fixed before TensorFlow starts is part of the
  environment, so it always gets a worker of its own.

Runs go to at most ``parallel`` workers at once (default: the cores this process may use).
"""

from __future__ import annotations

import collections
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from helpers.core.config import DEFAULT, ConfigError, RunConfig, check_choice, check_repeats, shown
from helpers.core.results import RunResult
from helpers.machines.fingerprint import installed_tensorflow, machine_fingerprint
from helpers.machines.onednn import cap_problem
from helpers.running.elsewhere import Interpreter, as_interpreter
from helpers.running.kept import KEPT
from helpers.running.processes import (
    EnvironmentRefused,
    EnvKey,
    Worker,
    WorkerStopped,
    available_cores,
    environment_key,
    signature_of,
    thread_environment,
    worker_environment,
)

PROCESS_KINDS = ("warm", "fresh")
# Starting TensorFlow costs about as much as three runs; a second worker for the same
# environment only pays off when at least this many of its runs are still waiting.
MIN_PENDING_FOR_EXTRA_WORKER = 3

ProgressCallback = Callable[[int, int, RunResult], None]


class RunError(RuntimeError):
    """Some runs failed. ``completed`` holds every run that did finish, in order."""

    def __init__(self, message: str, completed: list[RunResult]):
        super().__init__(message)
        self.completed = completed


class RunInterrupted(KeyboardInterrupt):
    """The user stopped the runs (Ctrl-C, the kernel's stop button, a Stop button). The runs in
    flight were ended at once; ``completed`` holds every run that had finished, in order."""

    def __init__(self, message: str, completed: list[RunResult], total: int = 0, saved_to: str = ""):
        super().__init__(message)
        self.completed = completed
        self.total = total or len(completed)
        self.saved_to = saved_to  # the file the finished runs were written to, if any


_interrupted: list[RunResult] = []


def interrupted_runs() -> list[RunResult]:
    """The runs that had finished when the last batch was stopped by the user (kept for notebooks,
    where an interrupted cell assigns nothing)."""
    return list(_interrupted)


def default_parallel(configs: Sequence[RunConfig], processes: str) -> int:
    """How many workers to run at once when the caller does not say.

    Fresh runs: one per core. Warm runs: also one per environment, up to twice the cores, since
    starting TensorFlow costs about as much as three runs, and a worker that moved from one
    environment to another would pay it again.
    """
    cores = available_cores()
    if processes == "fresh":
        return cores
    environments = len({environment_key(c) for c in configs})
    return max(cores, min(environments, 2 * cores))


class _Scheduler:
    """Hands runs to a fixed number of slots, each owning at most one worker at a time.

    A slot keeps its worker while runs for that worker's environment are waiting. Otherwise it
    moves to the environment with the fewest workers, so each environment starts TensorFlow
    as few times as the parallelism allows.
    """

    def __init__(self, configs: Sequence[RunConfig], fresh: bool):
        # Fresh runs start a process each anyway, so any idle slot may take any run.
        self.fresh = fresh
        self.pending: collections.OrderedDict[int, RunConfig] = collections.OrderedDict(enumerate(configs))
        self.active: collections.Counter[EnvKey] = collections.Counter()
        self.lock = threading.Lock()
        self.stopped = False

    def next_for(self, current: EnvKey | None) -> tuple[int, RunConfig] | None:
        """The next run for a slot whose worker serves ``current`` (None: no worker).

        Also keeps count of workers per environment: a slot that gets a run of another
        environment is counted there at once, so two idle slots never start the same one.
        """
        with self.lock:
            job = self._pick(current)
            key = environment_key(job[1]) if job else None
            if key != current:
                if current is not None:
                    self.active[current] -= 1
                if key is not None:
                    self.active[key] += 1
            return job

    def _pick(self, current: EnvKey | None) -> tuple[int, RunConfig] | None:
        if self.stopped or not self.pending:
            return None
        keys = {index: environment_key(config) for index, config in self.pending.items()}
        if current is not None:
            for index, key in keys.items():
                if key == current:
                    return index, self.pending.pop(index)
        waiting = collections.Counter(keys.values())
        choices = [
            key for key, count in waiting.items()
            if self.fresh or self.active[key] == 0 or count >= MIN_PENDING_FOR_EXTRA_WORKER
        ]
        if not choices:
            return None
        chosen = min(choices, key=lambda k: (self.active[k], -waiting[k]))
        index = next(i for i, key in keys.items() if key == chosen)
        return index, self.pending.pop(index)

    def release(self, key: EnvKey) -> None:
        """A slot's worker for ``key`` died; it is no longer serving that environment."""
        with self.lock:
            self.active[key] -= 1

    def retry(self, index: int, config: RunConfig) -> None:
        """Put a run back at the front of the queue (its worker died under it)."""
        with self.lock:
            self.pending[index] = config
            self.pending.move_to_end(index, last=False)


def check_environment(config: RunConfig, interpreter: Interpreter | None = None) -> None:
    """Refuse, before any run, a variable the stack would ignore in silence (an ONEDNN_MAX_CPU_ISA oneDNN
    does not know would otherwise run as if an older CPU had been imitated). The stack is the workers':
    this environment's, or the one ``interpreter`` says it has."""
    cap = dict(config.env).get("ONEDNN_MAX_CPU_ISA")
    if cap is not None:
        tensorflow = interpreter.tensorflow if interpreter is not None and interpreter.isolated else None
        problem = cap_problem(cap, tensorflow or installed_tensorflow())
        if problem:
            raise ConfigError(problem)


def run_configs(
    configs: Sequence[RunConfig],
    *,
    processes: str = "warm",
    parallel: int | None = None,
    progress: bool = True,
    on_result: ProgressCallback | None = None,
    tag: str = "",
    record_epochs: bool | Sequence[bool] = False,
    record_steps: Sequence[str | None] | None = None,
    stop: threading.Event | None = None,
    python: Interpreter | str | os.PathLike[str] | None = None,
    keep_workers: bool = True,
) -> list[RunResult]:
    """Run every config once, in worker processes; results come back in the order given.

    Workers are kept when the batch ends, and a later warm batch for the same environment takes them
    up (:mod:`helpers.running.kept`): a fresh batch's last workers too, after their one run each.
    ``keep_workers=False`` starts new ones and ends them with the batch.

    ``python`` runs the workers with another environment's Python (a path, or an
    :class:`~helpers.running.elsewhere.Interpreter`), importing a copy of this lab; None: this Python.
    An environment that cannot run the lab at all (no TensorFlow, NumPy 2 under TensorFlow 2.10, ...)
    stops the batch with :class:`RunError` and the one sentence that says why.

    ``on_result(done, total, result)`` is called as each run finishes (for progress widgets).
    ``record_epochs`` (one flag, or one per config) keeps each run's weights after every epoch.
    ``record_steps`` (one path prefix or None per config) writes each run's weights after every
    batch step to files (see :func:`helpers.running.experiment.step_recorder`); ``step_record`` says where.
    If any run fails, :class:`RunError` says why in one sentence and carries the runs that did
    finish, so nothing computed is lost. A run whose worker process dies under it is tried once
    more in a new worker (``attempts`` says so). Ctrl-C (or setting ``stop``) ends the runs in
    flight at once and raises :class:`RunInterrupted` with the runs that had finished.
    """
    check_choice("processes", processes, PROCESS_KINDS)
    configs = list(configs)
    if not configs:
        return []
    for config in configs:
        if not isinstance(config, RunConfig):
            raise ConfigError(f"each run must be a RunConfig, not {type(config).__name__}.")
    interpreter = as_interpreter(python)
    for config in configs:
        check_environment(config, interpreter)
    recording = [record_epochs] * len(configs) if isinstance(record_epochs, bool) else list(record_epochs)
    if len(recording) != len(configs) or not all(isinstance(flag, bool) for flag in recording):
        raise ConfigError("record_epochs must be True, False or one True/False per run.")
    if not isinstance(keep_workers, bool):
        raise ConfigError(f"keep_workers must be True or False, not {shown(keep_workers)}.")
    steps = [None] * len(configs) if record_steps is None else list(record_steps)
    if len(steps) != len(configs) or not all(p is None or isinstance(p, str) for p in steps):
        raise ConfigError("record_steps must be one path prefix (or None) per run.")
    if parallel is None:
        parallel = default_parallel(configs, processes)
    if isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1:
        raise ConfigError(f"parallel must be a whole number of at least 1, not {shown(parallel)}.")
    slots = min(parallel, len(configs))
    threads = thread_environment(slots)

    machine = machine_fingerprint()
    scheduler = _Scheduler(configs, fresh=processes == "fresh")
    results: dict[int, RunResult] = {}
    errors: list[str] = []
    refusals: list[str] = []
    lock = threading.Lock()
    bar = progress_bar(len(configs), f"{processes} runs", progress)

    attempts = [1] * len(configs)
    live: set[Worker] = set()

    def record(index: int, config: RunConfig, raw: dict[str, Any], wall: float) -> None:
        fingerprint = {**machine, **raw.pop("process_fingerprint")}
        result = RunResult(config=config, processes=processes, fingerprint=fingerprint, wall_seconds=wall,
                           index=index, tag=tag, attempts=attempts[index], **raw)
        with lock:
            results[index] = result
            bar.update(1)
            done = len(results)
        if on_result is not None:
            on_result(done, len(configs), result)

    reuse = keep_workers and processes == "warm"  # a fresh run never takes up a used worker

    def start_worker(key: EnvKey, config: RunConfig) -> Worker:
        # A config that sets threads itself (imitating another machine) keeps them.
        overrides = {**threads, **worker_environment(config)}
        kept = KEPT.take(key, signature_of(overrides, interpreter)) if reuse else None
        worker = kept or Worker(key, overrides, interpreter)
        with lock:
            live.add(worker)
        if scheduler.stopped:  # stopped while it was starting: it must not outlive the batch
            worker.kill()
        return worker

    def retire(worker: Worker, wait: bool = True, healthy: bool = True) -> None:
        with lock:
            live.discard(worker)
        if keep_workers and healthy and not scheduler.stopped:
            KEPT.keep(worker)  # for a later warm batch of its environment, a fresh run's worker too
        else:
            worker.close(wait=wait)

    def slot() -> None:
        worker: Worker | None = None
        key: EnvKey | None = None
        try:
            while True:
                job = scheduler.next_for(key)
                if job is None:
                    return
                index, config = job
                if worker is not None and (environment_key(config) != key or processes == "fresh"):
                    retire(worker, wait=False)
                    worker = None
                key = environment_key(config)
                if worker is None:
                    worker = start_worker(key, config)
                sent = time.perf_counter()
                try:
                    raw = worker.run(config, recording[index], steps[index])
                except RuntimeError as exc:
                    retire(worker, healthy=False)
                    worker = None
                    scheduler.release(key)
                    key = None
                    if isinstance(exc, EnvironmentRefused):  # the same answer for every run: stop the batch
                        with lock:
                            refusals.append(str(exc))
                        scheduler.stopped = True
                        return
                    if scheduler.stopped:
                        return
                    if isinstance(exc, WorkerStopped) and attempts[index] == 1:
                        attempts[index] = 2  # killed or crashed under this run: once more, in a new worker
                        scheduler.retry(index, config)
                        continue
                    twice = " twice" if attempts[index] > 1 else ""
                    with lock:
                        errors.append(f"run {index} ({config.label}) failed{twice}: {exc}")
                    continue
                record(index, config, raw, time.perf_counter() - sent)
        finally:
            if worker is not None:
                retire(worker)

    pool = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="run-slot")
    futures = [pool.submit(slot) for _ in range(slots)]
    interrupted = False
    try:
        # Wait in short steps, so Ctrl-C (delivered between steps, on Windows too) and ``stop`` act at once.
        while not all(f.done() for f in futures):
            wait(futures, timeout=0.1)
            if stop is not None and stop.is_set():
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        interrupted = True
        scheduler.stopped = True
        with lock:
            running = list(live)
        for worker in running:
            worker.kill()
    finally:
        pool.shutdown(wait=True)
        bar.close()
    for future in futures:
        future.result()  # a slot's own failure (say, Python could not start) surfaces here
    ordered = [results[i] for i in sorted(results)]
    if interrupted:
        _interrupted[:] = ordered
        raise RunInterrupted(f"stopped by the user: {len(ordered)} of {len(configs)} runs had finished and are "
                             "kept (helpers.running.runner.interrupted_runs() returns them); the runs still going were "
                             "ended.", ordered, len(configs))
    if refusals:
        raise RunError(refusals[0], ordered)
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise RunError(errors[0] + more, ordered)
    return ordered


class _PlainBar:
    """A progress line on stderr, where tqdm is not installed (a learner's own environment). Nothing is
    printed before the first run finishes, so an environment refused at once shows only its sentence."""

    def __init__(self, total: int, desc: str):
        self.total, self.desc, self.done = total, desc, 0

    def update(self, count: int = 1) -> None:
        self.done += count
        end = "\n" if self.done == self.total else ""
        print(f"\r{self.desc}: {self.done}/{self.total}", end=end, file=sys.stderr, flush=True)

    def close(self) -> None:
        if 0 < self.done < self.total:
            print(file=sys.stderr, flush=True)


class _NoBar:
    def update(self, count: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, desc: str, visible: bool) -> Any:
    """tqdm's bar (a widget in a notebook) where tqdm is installed, else a plain line on stderr."""
    if not visible:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _PlainBar(total, desc)
    return tqdm(total=total, desc=desc, unit="run", leave=True)


def run_mode(
    mode: str,
    *,
    seed: Any = DEFAULT,
    repeats: int = 3,
    processes: str = "warm",
    parallel: int | None = None,
    progress: bool = True,
    **settings: Any,
) -> list[RunResult]:
    """Run one of the article's three experiments ``repeats`` times (``settings``: RunConfig fields)."""
    repeats = check_repeats(repeats)
    config = RunConfig.for_mode(mode, seed=seed, **settings)
    return run_configs([config] * repeats, processes=processes, parallel=parallel, progress=progress)
