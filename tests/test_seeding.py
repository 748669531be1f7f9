"""apply_seeds, tested directly: what a warm worker does before every run.

A warm worker serves many runs in one process. Before each, ``apply_seeds`` makes the seed calls
the run asks for and reseeds every other generator from the OS, so that (1) a seeded run starts
from exactly the state a fresh process would have after the article's calls, and (2) a call a
run does *not* make leaves no trace of an earlier run's seed: that generator must differ from one
repetition to the next, as in a new process.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from helpers.core.config import RunConfig  # noqa: E402
from helpers.running.seeding import apply_seeds, hashseed_environment  # noqa: E402

SEEDED = RunConfig(seed=42)


def draws() -> dict[str, list[float]]:
    """A few numbers from each generator the article's seed calls touch, as a run would use them."""
    return {
        "python": [random.random() for _ in range(3)],
        "numpy": np.random.rand(3).tolist(),
        "tensorflow": tf.random.uniform([3]).numpy().tolist(),
    }


def keras_initial_weights() -> np.ndarray:
    """Keras 3 draws an initializer's seed from Python's ``random``: what random.seed fixes."""
    tf.keras.backend.clear_session()
    layer = tf.keras.layers.Dense(4)
    layer.build((None, 3))
    return layer.get_weights()[0]


def after(config: RunConfig) -> dict[str, list[float]]:
    apply_seeds(config)
    return draws()


def test_seeded_state_is_exactly_the_articles_three_calls() -> None:
    random.seed(42)
    np.random.seed(42)
    tf.random.set_seed(42)
    article = draws()
    draws()  # a run in between moves every generator on
    assert after(SEEDED) == article
    assert after(SEEDED) == article


def test_seeded_initial_weights_repeat_after_other_runs() -> None:
    apply_seeds(SEEDED)
    first = keras_initial_weights()
    apply_seeds(RunConfig(seed=None))
    keras_initial_weights()
    apply_seeds(SEEDED)
    assert np.array_equal(keras_initial_weights(), first)


def test_an_unseeded_run_after_a_seeded_one_inherits_nothing() -> None:
    """The leak a warm worker could have: the same seeded run, then an unseeded one, twice over.

    Were any generator left as the seeded run left it, both unseeded runs would draw the same.
    """
    unseeded = []
    for _ in range(2):
        after(SEEDED)
        unseeded.append(after(RunConfig(seed=None)))
    for generator in ("python", "numpy", "tensorflow"):
        assert unseeded[0][generator] != unseeded[1][generator], f"{generator} kept the seeded run's state"


@pytest.mark.parametrize("kept", ["python", "numpy", "tensorflow"])
def test_partial_seed_calls_seed_only_what_they_name(kept: str) -> None:
    """Dropping calls (02_seeded's lesson): the kept generator repeats, the dropped ones differ."""
    config = RunConfig(seed=42, seed_calls=(kept,))
    assert apply_seeds(config) == {call: (42 if call == kept else None) for call in ("python", "numpy", "tensorflow")}
    article = after(SEEDED)
    first = []
    for _ in range(2):
        after(SEEDED)  # the same seeded state before each: only the dropped calls' reseeding can differ
        first.append(after(config))
    assert first[0][kept] == first[1][kept] == article[kept]
    for dropped in {"python", "numpy", "tensorflow"} - {kept}:
        assert first[0][dropped] != first[1][dropped], f"{dropped} was not reseeded although its call was dropped"
        assert first[0][dropped] != article[dropped]


def test_dropping_random_seed_changes_the_initial_weights() -> None:
    without_python = RunConfig(seed=42, seed_calls=("numpy", "tensorflow"))
    apply_seeds(SEEDED)
    seeded = keras_initial_weights()
    apply_seeds(without_python)
    first = keras_initial_weights()
    apply_seeds(SEEDED)
    keras_initial_weights()
    apply_seeds(without_python)
    second = keras_initial_weights()
    assert not np.array_equal(first, second)
    assert not np.array_equal(first, seeded)


def test_another_seed_gives_other_draws() -> None:
    assert after(RunConfig(seed=43)) != after(SEEDED)


def test_no_seed_calls_is_unseeded() -> None:
    config = RunConfig(seed=42, seed_calls=())
    assert not config.seeded
    assert apply_seeds(config) == {"python": None, "numpy": None, "tensorflow": None}
    assert hashseed_environment(config) == {"PYTHONHASHSEED": None}


def test_hash_seed_is_set_for_seeded_runs_and_removed_otherwise() -> None:
    assert hashseed_environment(RunConfig(seed=7)) == {"PYTHONHASHSEED": "7"}
    assert hashseed_environment(RunConfig(seed=7, seed_calls=("numpy",))) == {"PYTHONHASHSEED": "7"}
    assert hashseed_environment(RunConfig(seed=None)) == {"PYTHONHASHSEED": None}
