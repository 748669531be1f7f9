"""A run's stages, defined once: where two runs of the same experiment part.

Every kind of run the lab records -- the article's model in a worker, a notebook's training
cell, the article's script under another TensorFlow, a learner's own script -- records what it
made at four points, in the order it made them. Comparing two runs stage by stage says where
they part, and that narrows the cause:

* ``data`` -- the arrays training saw (np.random, the data pipeline, the files read);
* ``initial weights`` -- the model's weights before the first training step (the initializers);
* ``training`` -- the weights after training (the batch order and the arithmetic);
* ``evaluation`` -- the test loss and accuracy computed from the trained weights.

Each stage of a comparison is ``"same"``, ``"different"`` or ``"not recorded"`` (a run too old
or too foreign to carry it). NumPy and TensorFlow are not needed here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

STAGES: tuple[str, ...] = ("data", "initial weights", "training", "evaluation")
SAME, DIFFERENT, NOT_RECORDED = "same", "different", "not recorded"
OUTCOMES: tuple[str, ...] = (SAME, DIFFERENT, NOT_RECORDED)


def stage_values(run: Any, by_value: bool = True) -> dict[str, Any]:
    """What ``run`` recorded at each stage (None where it recorded nothing).

    ``run`` is anything with the lab's per-stage fields: a ``RunResult``, a notebook's
    ``KernelRun``, a stack's ``StackResult``. ``by_value`` reads the data's value hash where the
    run has one: Keras 2 stores one-hot labels as float32 and Keras 3 as float64, the same data
    in other bytes.
    """
    loss, accuracy = getattr(run, "test_loss", None), getattr(run, "test_accuracy", None)
    # A learner's script may evaluate other metrics, or several: it carries all of its last evaluation.
    evaluation = getattr(run, "evaluation_values", None)
    data = (getattr(run, "data_values_sha256", None) if by_value else None) or getattr(run, "data_sha256", None)
    return {
        "data": data or None,
        "initial weights": getattr(run, "initial_weights_sha256", None) or None,
        "training": getattr(run, "weights_sha256", None) or None,
        "evaluation": evaluation if evaluation is not None else (
            None if loss is None or accuracy is None else (float(loss), float(accuracy))),
    }


def compare_value(a: Any, b: Any) -> str:
    """One stage of two runs: same, different, or not recorded (either side has nothing)."""
    if a is None or b is None:
        return NOT_RECORDED
    return SAME if a == b else DIFFERENT


def compare_stages(a: Any, b: Any) -> dict[str, str]:
    """Each stage of two runs, in order: ``{"data": "same", "initial weights": "same", ...}``.

    The data are compared by value when both runs carry a value hash, else by their bytes.
    """
    by_value = bool(getattr(a, "data_values_sha256", None) and getattr(b, "data_values_sha256", None))
    values_a, values_b = stage_values(a, by_value), stage_values(b, by_value)
    return {stage: compare_value(values_a[stage], values_b[stage]) for stage in STAGES}


def first_differing_stage(stages: Mapping[str, str]) -> str | None:
    """The first stage that is ``"different"``, or None when none is (or none was recorded)."""
    return next((stage for stage in STAGES if stages.get(stage) == DIFFERENT), None)


def all_same(stages: Mapping[str, str]) -> bool:
    """True only when every stage was recorded and is the same."""
    return all(stages.get(stage) == SAME for stage in STAGES)
