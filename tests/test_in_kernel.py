"""The notebook-style training cell and the per-stage comparison behind 02b_notebook_pitfalls.

The comparison tests use plain stand-ins for runs, so they need no TensorFlow. The training tests
run the article's model in this process (marked ``slow``: TensorFlow starts here, ~3 s).
"""

from __future__ import annotations

import random
from types import SimpleNamespace

import numpy as np
import pytest

from helpers.core.config import ConfigError, RunConfig
from helpers.training.in_kernel import (
    GENERATOR_OF_STAGE,
    generator_states,
    moved_generators,
    stage_table,
    stages_against,
    train_in_this_kernel,
)

NUMPY = "NumPy's generator (the data)"
PYTHON = "Python's random (the initial weights)"
TENSORFLOW = "TensorFlow's seed (the batch order)"


def run(data: str = "d", initial: str = "i", trained: str = "t", accuracy: float = 0.1,
        loss: float = 2.3) -> SimpleNamespace:
    return SimpleNamespace(data_sha256=data, initial_weights_sha256=initial, weights_sha256=trained,
                           test_accuracy=accuracy, test_loss=loss)


REFERENCE = run()


def test_the_stages_name_their_generators() -> None:
    assert GENERATOR_OF_STAGE == {"data": NUMPY, "initial weights": PYTHON, "training": TENSORFLOW}


def test_stages_against_compares_each_stage_with_the_reference() -> None:
    same = {"data": "same", "initial weights": "same", "training": "same", "evaluation": "same"}
    assert stages_against(run(), REFERENCE) == same
    assert stages_against(run(data="x", trained="y", accuracy=0.2), REFERENCE) == {
        **same, "data": "different", "training": "different", "evaluation": "different"}
    assert stages_against(run(initial="x"), REFERENCE) == {**same, "initial weights": "different"}


@pytest.mark.parametrize(
    ("changed", "moved"),
    [
        ({}, []),
        ({"data": "x", "trained": "y"}, [NUMPY]),
        ({"initial": "x", "trained": "y"}, [PYTHON]),
        ({"data": "x", "initial": "x", "trained": "y"}, [NUMPY, PYTHON]),
        # Same data and initial weights, other trained weights: only the batch order is left.
        ({"trained": "y"}, [TENSORFLOW]),
    ],
)
def test_moved_generators_follows_the_changed_stages(changed: dict, moved: list[str]) -> None:
    assert moved_generators(run(**changed), REFERENCE) == moved


def test_stage_table_has_one_row_per_run() -> None:
    table = stage_table({"same": run(), "peek": run(data="x", trained="y", accuracy=0.2)}, REFERENCE)
    assert list(table.index) == ["same", "peek"]
    assert list(table.columns) == ["data", "initial weights", "training", "evaluation", "test accuracy",
                                   "what had moved"]
    assert table.loc["same"].tolist() == ["same", "same", "same", "same", 0.1, "nothing"]
    assert table.loc["peek"].tolist() == ["different", "same", "different", "different", 0.2, NUMPY]


def test_a_run_without_stage_hashes_is_one_sentence() -> None:
    # A results file from before the lab recorded every stage: comparing blanks would say "same".
    with pytest.raises(ConfigError) as caught:
        stages_against(run(initial=""), REFERENCE)
    message = str(caught.value)
    assert "no initial weights record" in message and message.endswith(".") and "\n" not in message


def test_generator_states_see_each_generator_move_and_reading_draws_nothing() -> None:
    random.seed(1)
    np.random.seed(1)
    start = generator_states()
    assert generator_states() == start  # reading twice changes nothing
    random.random()
    after_python = generator_states()
    assert after_python["Python's random"] != start["Python's random"]
    assert after_python["NumPy's generator"] == start["NumPy's generator"]
    np.random.rand()
    after_numpy = generator_states()
    assert after_numpy["NumPy's generator"] != start["NumPy's generator"]
    assert after_numpy["Python's random"] == after_python["Python's random"]
    random.seed(1)
    np.random.seed(1)
    assert generator_states() == start


def test_numpy_gaussian_cache_is_part_of_the_state() -> None:
    # np.random.standard_normal draws two values and keeps one for the next call: that is state too.
    np.random.seed(3)
    np.random.standard_normal()
    with_cache = generator_states()
    np.random.seed(3)
    np.random.standard_normal()
    np.random.standard_normal()  # uses the cached value: the Mersenne Twister itself does not move
    assert generator_states() != with_cache


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [({"task": "mnist"}, "task must be one of"), ({"epochs": 0}, "epochs must be from 1"),
     ({"batch_size": 0}, "batch size must be from 1")],
)
def test_bad_settings_are_one_sentence_before_any_training(kwargs: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        train_in_this_kernel(**kwargs)


def seed_all(seed: int) -> None:
    import tensorflow as tf

    random.seed(seed)
    np.random.seed(seed)
    tf.random.set_seed(seed)


@pytest.mark.slow
def test_right_after_seeding_it_is_the_labs_seeded_run() -> None:
    """Same model, data and order as run_experiment: the same bits at every stage."""
    pytest.importorskip("tensorflow")
    from helpers.running.experiment import run_experiment

    reference = run_experiment(RunConfig(seed=42, epochs=2))
    seed_all(42)
    here = train_in_this_kernel(epochs=2)
    assert (here.data_sha256, here.initial_weights_sha256, here.weights_sha256) == (
        reference["data_sha256"], reference["initial_weights_sha256"], reference["weights_sha256"])
    assert (here.test_accuracy, here.test_loss) == (reference["test_accuracy"], reference["test_loss"])


@pytest.mark.slow
def test_it_does_not_seed_so_a_second_run_moves_on() -> None:
    pytest.importorskip("tensorflow")
    seed_all(42)
    first = train_in_this_kernel(epochs=1)
    second = train_in_this_kernel(epochs=1)
    assert stages_against(second, first) == dict.fromkeys(("data", "initial weights", "training", "evaluation"),
                                                           "different")
    assert moved_generators(second, first) == [NUMPY, PYTHON]
    seed_all(42)
    assert train_in_this_kernel(epochs=1) == first
