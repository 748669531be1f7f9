"""The reference experiment: the article's Keras model, trained and evaluated once, in this process.

Order matters for reproducibility, so this follows the article's Example 2 step by step:
seed calls, model definition, compile, data, fit, evaluate. With seed 42 it gives the same
test accuracy, test loss and weights, bit for bit, as running the article's script (a test
checks this against ``helpers/article/example2_seeded.py`` run as written).

Two tasks share the model:

* ``article`` -- the article's data: uniform inputs and *random* labels, so test accuracy
  hovers around chance (10 %) and its spread is noise about noise;
* ``learnable`` -- the same inputs, but labels given by a fixed linear "teacher", so accuracy
  climbs well above chance and a difference between runs means something.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

from helpers.core.config import RunConfig
from helpers.core.weights import encode, weights_sha256
from helpers.machines.devices import describe_tensor_device
from helpers.machines.effective import resolved_jit_compile
from helpers.running.recorders import epoch_recorder, step_recorder
from helpers.running.reuse import model_for
from helpers.running.seeding import apply_seeds

N_FEATURES = 10
N_CLASSES = 10
N_TRAIN = 1000
N_TEST = 200
# The learnable task's teacher is part of the task's definition, not of a run: it comes from
# its own generator, so it is the same in seeded and unseeded runs and leaves np.random alone.
TEACHER_SEED = 20250130
# Keras 3 imports these when it starts, wherever they are installed (Colab has all four; the lab's .venv too),
# each behind try/except ImportError and only for what the article's model never uses: scikit-learn for its
# wrappers, pandas so that fit also takes DataFrames, matplotlib.pyplot for keras.visualization, IPython for
# its saving tools' notebook display. Hidden, TensorFlow starts sooner: scikit-learn about 0.8 s of about 4 s,
# pandas and matplotlib about 0.5 s of the 3.1 s left (2026-12-07; docs/speed.md). The learner's scripts keep
# them all (they run in helpers.scripts.worker; the digits scripts load their data with scikit-learn).
NOT_NEEDED_BY_THE_ARTICLE = ("sklearn", "pandas", "matplotlib", "IPython")


def leave_out_what_the_article_does_not_use() -> None:
    """In a process that runs only the article's model, before TensorFlow starts: hide the modules Keras would
    import for nothing. Keras checks with try/except ImportError, which a None in sys.modules raises."""
    for name in NOT_NEEDED_BY_THE_ARTICLE:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


def build_model(jit_compile: bool | None = None) -> Any:
    """The article's model, optimizer and loss, compiled as the article compiles it: ``jit_compile``
    left to Keras (None; Keras 3 then turns XLA on when TensorFlow sees a GPU) unless asked for."""
    from tensorflow import keras

    model = keras.Sequential([
        # keras.Input replaces the article's input_shape= argument, which Keras 3 warns about;
        # it draws no random numbers, so the weights are the same bits.
        keras.Input(shape=(N_FEATURES,)),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(N_CLASSES, activation="softmax"),
    ])
    loss_fn = keras.losses.CategoricalCrossentropy()
    optimizer = keras.optimizers.Adam()
    compile_args = {} if jit_compile is None else {"jit_compile": jit_compile}
    model.compile(optimizer=optimizer, loss=loss_fn, metrics=["accuracy"], **compile_args)
    return model


def _teacher() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(TEACHER_SEED)
    return rng.normal(size=(N_FEATURES, N_CLASSES)), rng.normal(scale=0.1, size=N_CLASSES)


def _labels(task: str, x: np.ndarray, n: int) -> np.ndarray:
    if task == "article":
        return np.random.randint(0, N_CLASSES, (n,))
    weights, bias = _teacher()
    return np.argmax((x - 0.5) @ weights + bias, axis=1)


def make_data(task: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training and test data drawn from NumPy's global generator, in the article's order."""
    from tensorflow import keras

    x_train = np.random.rand(N_TRAIN, N_FEATURES)
    y_train = keras.utils.to_categorical(_labels(task, x_train, N_TRAIN), num_classes=N_CLASSES)
    x_test = np.random.rand(N_TEST, N_FEATURES)
    y_test = keras.utils.to_categorical(_labels(task, x_test, N_TEST), num_classes=N_CLASSES)
    return x_train, y_train, x_test, y_test


def clear_keras_session(keras: Any) -> None:
    """``clear_session`` without its garbage collection (0.2 s a run) where Keras offers that: Keras 3.3 and
    newer take ``free_memory``; Keras 2 (tf.keras up to TensorFlow 2.15, tf_keras) takes no argument."""
    try:
        keras.backend.clear_session(free_memory=False)
    except TypeError:
        keras.backend.clear_session()


def variable_device(variable: Any) -> str:
    """The device a Keras variable lives on: Keras 3 wraps a backend variable in ``.value`` (a property);
    Keras 2's variable is a ``tf.Variable``, whose ``.value`` is a method and which has ``.device``."""
    inner = getattr(variable, "value", None)
    if inner is not None and not callable(inner):
        device = getattr(inner, "device", "")
        return str(device() if callable(device) else device)
    return str(getattr(variable, "device", ""))


def steps_per_epoch(batch_size: int) -> int:
    return -(-N_TRAIN // batch_size)


def run_experiment(config: RunConfig, record_epochs: bool = False, record_steps: str | None = None) -> dict[str, Any]:
    """Seed, build, train and evaluate once; return the measurements as plain values.

    ``record_epochs`` adds ``weights_per_epoch``: the weights before training and after each
    epoch (see :mod:`helpers.core.weights`), so that runs on two machines can be compared by distance.
    ``record_steps`` (a path prefix) writes the weights after every batch step and the test-set
    predictions after every epoch to files (see :func:`step_recorder`) and adds ``step_record``.
    """
    from tensorflow import keras

    def fresh_model() -> Any:
        # A reused process must look like a new one: drop the previous run's graphs and Keras state.
        clear_keras_session(keras)
        return build_model(jit_compile=config.jit_compile)

    started = time.perf_counter()
    apply_seeds(config)
    # The last run's model, its initial weights and optimizer drawn again as a fresh build would draw
    # them (its traced functions are what a warm run saves), or a new one (helpers.running.reuse).
    model, _ = model_for(config.jit_compile, fresh_model)
    initial_weights = weights_sha256(model.get_weights())
    callbacks = []
    if record_epochs:
        recorder = epoch_recorder(config.epochs)
        recorder.set_model(model)
        recorder.keep(0)
        callbacks.append(recorder)
    x_train, y_train, x_test, y_test = make_data(config.task)
    arrays = [x_train, y_train, x_test, y_test]
    data = weights_sha256(arrays)
    # The same data as values: Keras 2 stores one-hot labels as float32, Keras 3 as float64.
    data_values = weights_sha256([np.asarray(a, dtype=np.float64) for a in arrays])
    if record_steps:
        stepper = step_recorder(record_steps, config.epochs * steps_per_epoch(config.batch_size), x_test,
                                y_test)
        stepper.set_model(model)
        stepper.keep()
        callbacks.append(stepper)
    fit_started = time.perf_counter()
    history = model.fit(x_train, y_train, epochs=config.epochs, batch_size=config.batch_size, verbose=0,
                        callbacks=callbacks)
    test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
    finished = time.perf_counter()
    recorded = encode(recorder.snapshots, recorder.epochs) if record_epochs else None
    step_record = stepper.finish() if record_steps else None
    return {
        "test_accuracy": float(test_accuracy),
        "test_examples": int(len(x_test)),
        "test_loss": float(test_loss),
        "weights_sha256": weights_sha256(model.get_weights()),
        "initial_weights_sha256": initial_weights,
        "data_sha256": data,
        "data_values_sha256": data_values,
        "xla": resolved_jit_compile(model),
        "device": describe_tensor_device(variable_device(model.weights[0])),
        "loss_per_epoch": [float(v) for v in history.history["loss"]],
        "accuracy_per_epoch": [float(v) for v in history.history["accuracy"]],
        "fit_evaluate_seconds": finished - fit_started,
        "run_seconds": finished - started,
        "weights_per_epoch": recorded,
        "step_record": step_record,
    }
