"""Training the way a notebook's training cell does it: in this kernel, with no seed of its own.

:func:`helpers.experiment.run_experiment` seeds (or un-seeds) every generator and clears Keras's
state before it trains, so re-running it always starts from the same place. A learner's
notebook usually does not: the seeds sit in a cell near the top, run once, and the training cell
draws from wherever Python's, NumPy's and TensorFlow's generators happen to be when it runs.
:func:`train_in_this_kernel` is that training cell -- the same model, data and order as
``run_experiment``, minus the seeding -- so a notebook can show what re-running it, or drawing
something random in between, does to the result.

Each run records the lab's three per-stage hashes (data, initial weights, trained weights);
comparing them with a reference run says which generator had moved (:func:`moved_generators`).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from helpers.config import ConfigError, RunConfig
from helpers.experiment import build_model, make_data
from helpers.weights import weights_sha256

# Each stage of a run and the generator it draws from, with Keras 3 (02_seeded shows this by
# dropping one seed call at a time). Only the trained weights depend on TensorFlow's seed,
# through the order in which model.fit shuffles the batches.
STAGES: tuple[str, ...] = ("data", "initial weights", "trained weights")
STAGE_HASH = {"data": "data_sha256", "initial weights": "initial_weights_sha256", "trained weights": "weights_sha256"}
GENERATOR_OF_STAGE = {
    "data": "NumPy's generator (the data)",
    "initial weights": "Python's random (the initial weights)",
    "trained weights": "TensorFlow's seed (the batch order)",
}


class StageHashes(Protocol):
    """Anything with the lab's three per-stage hashes: a :class:`KernelRun` or a ``RunResult``."""

    test_accuracy: float
    data_sha256: str
    initial_weights_sha256: str
    weights_sha256: str


@dataclass(frozen=True)
class KernelRun:
    """One training run in this kernel; the hashes are comparable with a ``RunResult``'s."""

    test_accuracy: float
    test_loss: float
    data_sha256: str
    initial_weights_sha256: str
    weights_sha256: str

    def summary(self) -> str:
        """One line a learner can compare by eye: accuracy and the first 12 digits of each hash."""
        return (f"test accuracy {self.test_accuracy:.3f} | data {self.data_sha256[:12]} | "
                f"initial weights {self.initial_weights_sha256[:12]} | trained weights {self.weights_sha256[:12]}")


def train_in_this_kernel(task: str = "article", epochs: int = 10, batch_size: int = 32) -> KernelRun:
    """The notebook's training cell: build, make the data, fit and evaluate, in this process.

    It deliberately neither seeds nor clears anything first, so each generator continues from
    wherever earlier cells left it. Right after the article's three seed calls it gives the same
    bits as ``run_experiment`` (and a fresh session) with that seed. Bad settings raise
    ``ConfigError`` with one sentence, as a ``RunConfig`` would.
    """
    RunConfig(seed=None, task=task, epochs=epochs, batch_size=batch_size)  # validation only
    model = build_model()  # Keras 3 draws each initializer's seed from Python's random
    initial_weights = weights_sha256(model.get_weights())
    x_train, y_train, x_test, y_test = make_data(task)  # np.random.rand and np.random.randint
    model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=0)  # shuffles with TensorFlow
    test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
    return KernelRun(
        test_accuracy=float(test_accuracy),
        test_loss=float(test_loss),
        data_sha256=weights_sha256([x_train, y_train, x_test, y_test]),
        initial_weights_sha256=initial_weights,
        weights_sha256=weights_sha256(model.get_weights()),
    )


def changed_stages(run: StageHashes, reference: StageHashes) -> dict[str, bool]:
    """For each stage, whether ``run``'s hash differs from ``reference``'s."""
    changed = {}
    for stage in STAGES:
        hashes = getattr(run, STAGE_HASH[stage]), getattr(reference, STAGE_HASH[stage])
        if not all(hashes):
            # Results saved before the lab recorded every stage have blanks: "same" would be a lie.
            raise ConfigError(f"a run has no {stage} hash, so its stages cannot be compared; run it again.")
        changed[stage] = hashes[0] != hashes[1]
    return changed


def moved_generators(run: StageHashes, reference: StageHashes) -> list[str]:
    """Which generators the hashes show were elsewhere than in ``reference``'s run.

    New data means NumPy's generator had moved; new initial weights, Python's ``random``. New
    trained weights from the same data and initial weights can only come from the batch order,
    that is from TensorFlow. When the data or the initial weights changed too, the trained
    weights would change anyway, so the hashes cannot tell whether TensorFlow's seed moved as
    well, and this does not claim it.
    """
    changed = changed_stages(run, reference)
    moved = [GENERATOR_OF_STAGE[stage] for stage in ("data", "initial weights") if changed[stage]]
    if changed["trained weights"] and not moved:
        moved.append(GENERATOR_OF_STAGE["trained weights"])
    return moved


def stage_table(runs: Mapping[str, StageHashes], reference: StageHashes) -> pd.DataFrame:
    """One row per run: each stage "same" or "changed" against ``reference``, and what moved."""
    rows = []
    for label, run in runs.items():
        changed = changed_stages(run, reference)
        row: dict[str, object] = {"run": label}
        row.update({stage: "changed" if changed[stage] else "same" for stage in STAGES})
        row["test accuracy"] = run.test_accuracy
        row["what had moved"] = ", ".join(moved_generators(run, reference)) or "nothing"
        rows.append(row)
    return pd.DataFrame(rows, columns=["run", *STAGES, "test accuracy", "what had moved"]).set_index("run")


def generator_states() -> dict[str, str]:
    """Short hashes of the state of Python's and NumPy's global generators; reading draws nothing.

    Equal before and after a call means the call neither drew from nor reseeded that generator.
    TensorFlow offers no public way to read its global seed's state, so it is not here.
    """
    kind, keys, position, has_gauss, cached_gauss = np.random.get_state()
    numpy_state = hashlib.sha256(
        f"{kind}:{position}:{has_gauss}:{cached_gauss!r}:".encode() + np.ascontiguousarray(keys).tobytes()
    )
    python_state = hashlib.sha256(repr(random.getstate()).encode())
    return {"Python's random": python_state.hexdigest()[:12], "NumPy's generator": numpy_state.hexdigest()[:12]}
