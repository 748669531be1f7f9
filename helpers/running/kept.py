"""Warm workers kept between batches, so the next batch for the same environment skips TensorFlow's start.

A warm run gives a fresh process's bits whatever ran in its worker before (the warm-against-fresh proofs
in the tests), so a warm worker need not end with its batch: the next cell of a notebook, the next press
of the playground's Run, or the next test asking for the same environment takes it up where starting
TensorFlow would cost seconds. A worker is taken up only when every variable of its environment and its
Python are the ones a new worker would get (:func:`helpers.running.processes.signature_of`). Two are kept
at most (one on a one-core machine), the oldest ending first. Fresh runs never take one up, since a new
process is their subject; but after its one run a fresh run's worker is as warm as any, so it is kept
like one: a warm batch right after a notebook's fresh sessions, in the same environment, takes up
their workers instead of starting TensorFlow again.
"""

from __future__ import annotations

import atexit
import threading

from helpers.running.processes import EnvKey, Signature, Worker, available_cores


class KeptWorkers:
    """Idle workers, by signature, oldest first."""

    def __init__(self, limit: int):
        self.limit = limit
        self._idle: list[Worker] = []
        self._lock = threading.Lock()

    def take(self, key: EnvKey, signature: Signature) -> Worker | None:
        """An idle worker still running for this environment (``key``: the device too, which a worker sets
        once) and signature, or None."""
        with self._lock:
            self._idle = [worker for worker in self._idle if worker.alive()]
            for worker in self._idle:
                if worker.key == key and worker.signature == signature:
                    self._idle.remove(worker)
                    return worker
        return None

    def keep(self, worker: Worker) -> None:
        """Keep ``worker`` for a later batch (a stopped one is let go); beyond the limit the oldest ends."""
        if not worker.alive():
            worker.close(wait=False)
            return
        with self._lock:
            self._idle.append(worker)
            excess = max(0, len(self._idle) - self.limit)
            ended, self._idle = self._idle[:excess], self._idle[excess:]
        for old in ended:
            old.close(wait=False)

    def end_all(self, wait: bool = False) -> int:
        """End every idle worker (``wait``: until each has exited); returns how many there were."""
        with self._lock:
            ended, self._idle = self._idle, []
        for worker in ended:
            worker.close(wait=wait)
        return len(ended)

    def __len__(self) -> int:
        with self._lock:
            return len(self._idle)


# One per process. An idle worker holds a started TensorFlow and its compiled model: 0.6 GB here (TF 2.21,
# Linux). Two cover a notebook's usual batch (seeded and CPU-forced, or two parallel slots) on any machine.
KEPT_LIMIT = 2
KEPT = KeptWorkers(limit=min(KEPT_LIMIT, available_cores()))
atexit.register(KEPT.end_all)  # closing stdin is enough: each worker ends when it reads the end


def end_kept_workers(wait: bool = False) -> int:
    """End the warm workers kept between batches (they end with this process anyway); returns how many."""
    return KEPT.end_all(wait)
