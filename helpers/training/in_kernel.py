"""Training the way a notebook's training cell does it: in this kernel, with no seed of its own.

:func:`helpers.running.experiment.run_experiment` seeds (or un-seeds) every generator and clears Keras's
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
from typing import Any

import numpy as np

from helpers.core.config import ConfigError, RunConfig, check_choice
from helpers.core.stages import DIFFERENT, NOT_RECORDED, STAGES, compare_stages
from helpers.core.weights import weights_sha256
from helpers.running.experiment import build_model, make_data

# The generator each stage draws from, with Keras 3 (02_seeded shows this by dropping one seed
# call at a time). Only the training depends on TensorFlow's seed, through the order in which
# model.fit shuffles the batches.
GENERATOR_OF_STAGE = {
    "data": "NumPy's generator (the data)",
    "initial weights": "Python's random (the initial weights)",
    "training": "TensorFlow's seed (the batch order)",
}


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


PIPELINES = ("arrays", "tf.data")


def train_in_this_kernel(task: str = "article", epochs: int = 10, batch_size: int = 32,
                         pipeline: str = "arrays") -> KernelRun:
    """The notebook's training cell: build, make the data, fit and evaluate, in this process.

    It deliberately neither seeds nor clears anything first, so each generator continues from
    wherever earlier cells left it. Right after the article's three seed calls it gives the same
    bits as ``run_experiment`` (and a fresh session) with that seed. Bad settings raise
    ``ConfigError`` with one sentence, as a ``RunConfig`` would.

    ``pipeline="tf.data"`` feeds ``fit`` from a ``tf.data.Dataset`` shuffled in this kernel
    (``Dataset.shuffle`` without a seed of its own), as many notebooks do, instead of the arrays.
    """
    RunConfig(seed=None, task=task, epochs=epochs, batch_size=batch_size)  # validation only
    check_choice("pipeline", pipeline, PIPELINES)
    model = build_model()  # Keras 3 draws each initializer's seed from Python's random
    initial_weights = weights_sha256(model.get_weights())
    x_train, y_train, x_test, y_test = make_data(task)  # np.random.rand and np.random.randint
    if pipeline == "tf.data":
        import tensorflow as tf

        # Built eagerly, here: the shuffle takes its seed from TensorFlow's global seed and a counter of
        # every random op run since, so a tf.random draw in between moves it.
        dataset = tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(len(x_train)).batch(batch_size)
        model.fit(dataset, epochs=epochs, verbose=0)
    else:
        model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=0)  # shuffles with TensorFlow
    test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
    return KernelRun(
        test_accuracy=float(test_accuracy),
        test_loss=float(test_loss),
        data_sha256=weights_sha256([x_train, y_train, x_test, y_test]),
        initial_weights_sha256=initial_weights,
        weights_sha256=weights_sha256(model.get_weights()),
    )


def stages_against(run: Any, reference: Any) -> dict[str, str]:
    """Each stage of ``run`` against ``reference``: "same" or "different" (see :mod:`helpers.core.stages`)."""
    stages = compare_stages(run, reference)
    missing = next((stage for stage in STAGES if stages[stage] == NOT_RECORDED), None)
    if missing is not None:
        # Results saved before the lab recorded every stage have blanks: "same" would be a lie.
        raise ConfigError(f"a run has no {missing} record, so its stages cannot be compared; run it again.")
    return stages


def moved_generators(run: Any, reference: Any) -> list[str]:
    """Which generators the stages show were elsewhere than in ``reference``'s run.

    New data means NumPy's generator had moved; new initial weights, Python's ``random``. New
    trained weights from the same data and initial weights can only come from the batch order,
    that is from TensorFlow. When the data or the initial weights changed too, the trained
    weights would change anyway, so the stages cannot tell whether TensorFlow's seed moved as
    well, and this does not claim it.
    """
    stages = stages_against(run, reference)
    moved = [GENERATOR_OF_STAGE[stage] for stage in ("data", "initial weights") if stages[stage] == DIFFERENT]
    if stages["training"] == DIFFERENT and not moved:
        moved.append(GENERATOR_OF_STAGE["training"])
    return moved


def stage_table(runs: Mapping[str, Any], reference: Any) -> Any:
    """One row per run: each stage "same" or "different" against ``reference``, and what moved (a DataFrame)."""
    import pandas as pd

    rows = []
    for label, run in runs.items():
        row: dict[str, object] = {"run": label, **stages_against(run, reference)}
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
