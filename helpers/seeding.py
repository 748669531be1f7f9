"""Seeding the way the article does it, and undoing it so an unseeded run is really unseeded.

The article's Example 2 makes three calls: ``random.seed``, ``np.random.seed`` and
``tf.random.set_seed``. With Keras 3 each one controls a different part of the run:

* ``random.seed`` -- Keras 3 draws each initializer's seed from Python's ``random``, so this
  fixes the initial weights;
* ``np.random.seed`` -- the article makes its data with ``np.random``, so this fixes the data;
* ``tf.random.set_seed`` -- ``model.fit`` shuffles the batches with TensorFlow ops, so this fixes
  the order the batches are seen in.

``PYTHONHASHSEED`` is different: Python reads it once, when the interpreter starts, so setting
it inside a running kernel does nothing. The runner sets it in each worker's environment
before that worker starts (see :func:`hashseed_environment`).
"""

from __future__ import annotations

import random

import numpy as np

from helpers.config import SEED_CALLS, RunConfig


def apply_seeds(config: RunConfig) -> dict[str, int | None]:
    """Make the article's seed calls that ``config`` asks for, and reseed the rest from the OS.

    Reseeding the calls that are *not* made from fresh OS entropy is what a new Python process
    would have; it keeps a reused (warm) process honest: an unseeded run after a seeded one
    must not inherit the seeded run's random state. Returns the seed each generator got
    (None for "fresh entropy").
    """
    import tensorflow as tf

    wanted = set(config.seed_calls) if config.seed is not None else set()
    seeds: dict[str, int | None] = {}
    for call in SEED_CALLS:
        seed = config.seed if call in wanted else None
        seeds[call] = seed
        if call == "python":
            random.seed(seed)  # None: seeded from os.urandom, as at interpreter start
        elif call == "numpy":
            np.random.seed(seed)  # None: seeded from OS entropy, as at import
        else:
            tf.random.set_seed(seed)  # None: no global seed, as in a new process
    return seeds


def hashseed_environment(config: RunConfig) -> dict[str, str | None]:
    """Environment for a worker process: PYTHONHASHSEED fixed for seeded runs, unset otherwise.

    ``None`` means "remove it", so an unseeded run does not inherit a value from the caller.
    """
    return {"PYTHONHASHSEED": str(config.seed) if config.seeded else None}
