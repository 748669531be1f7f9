"""Seeding the way the article does it, and undoing it so an unseeded run is really unseeded.

The article's Example 2 makes three calls: ``random.seed``, ``np.random.seed`` and
``tf.random.set_seed``. With Keras 3 each one controls a different part of the run:

* ``random.seed`` -- Keras 3 draws each initializer's seed from Python's ``random``, so this
  fixes the initial weights;
* ``np.random.seed`` -- the article makes its data with ``np.random``, so this fixes the data;
* ``tf.random.set_seed`` -- ``model.fit`` shuffles the batches with TensorFlow ops, so this fixes
  the order the batches are seen in.

Keras 2 (``tf.keras`` up to TensorFlow 2.15, and ``tf_keras``) also draws initializer seeds from
Python's ``random`` -- unless ``keras.utils.set_random_seed`` has run in the process: from then on they
come from a generator of its own, which ``clear_session`` does not reset. A new process has none, so
a reused one drops it before each run (:func:`forget_keras2_seed_generator`).

``PYTHONHASHSEED`` is different: Python reads it once, when the interpreter starts, so setting
it inside a running kernel does nothing. The runner sets it in each worker's environment
before that worker starts (see :func:`hashseed_environment`).
"""

from __future__ import annotations

import importlib
import random

import numpy as np

from helpers.core.config import SEED_CALLS, RunConfig


def apply_seeds(config: RunConfig) -> dict[str, int | None]:
    """Make the article's seed calls that ``config`` asks for, and reseed the rest from the OS.

    Reseeding the calls that are *not* made from fresh OS entropy is what a new Python process
    would have; it keeps a reused (warm) process honest: an unseeded run after a seeded one
    must not inherit the seeded run's random state. Returns the seed each generator got
    (None for "fresh entropy").
    """
    import tensorflow as tf

    forget_keras2_seed_generator()
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


def forget_keras2_seed_generator() -> None:
    """Keras 2: drop the generator ``keras.utils.set_random_seed`` leaves behind, as a new process has none.

    It lives in Keras 2's backend module (``keras.backend``, ``keras.src.backend`` from 2.13,
    ``tf_keras.src.backend``), which no public name reaches; Keras 3 has no such thing.
    """
    from tensorflow import keras

    root, found, _ = keras.Model.__module__.partition(".engine")  # keras.engine.training -> keras
    if not found:
        return  # Keras 3
    try:
        backend = importlib.import_module(root + ".backend")
    except ImportError:
        return
    state = getattr(backend, "_SEED_GENERATOR", None)
    if state is not None and getattr(state, "generator", None) is not None:
        state.generator = None


def hashseed_environment(config: RunConfig) -> dict[str, str | None]:
    """Environment for a worker process: PYTHONHASHSEED fixed for seeded runs, unset otherwise.

    ``None`` means "remove it", so an unseeded run does not inherit a value from the caller.
    """
    return {"PYTHONHASHSEED": str(config.seed) if config.seeded else None}


def hash_in_a_new_interpreter(text: str, hashseed: str | None) -> int:
    """``hash(text)`` in a new Python interpreter started with ``PYTHONHASHSEED=hashseed`` (None: unset):
    string hashes are fixed when the interpreter starts, which is why a running kernel cannot change them."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}
    if hashseed is not None:
        env["PYTHONHASHSEED"] = hashseed
    done = subprocess.run([sys.executable, "-c", f"print(hash({text!r}))"], capture_output=True, text=True,
                          env=env, timeout=60, check=True)
    return int(done.stdout.strip())
