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

import time
from typing import Any

import numpy as np

from helpers.config import RunConfig
from helpers.devices import describe_tensor_device
from helpers.seeding import apply_seeds
from helpers.weights import encode, snapshot_epochs, weights_sha256

N_FEATURES = 10
N_CLASSES = 10
N_TRAIN = 1000
N_TEST = 200
# The learnable task's teacher is part of the task's definition, not of a run: it comes from
# its own generator, so it is the same in seeded and unseeded runs and leaves np.random alone.
TEACHER_SEED = 20250130


def build_model(jit_compile: bool = False) -> Any:
    """The article's model, optimizer and loss, compiled."""
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
    model.compile(optimizer=optimizer, loss=loss_fn, metrics=["accuracy"], jit_compile=jit_compile)
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


def epoch_recorder(epochs: int) -> Any:
    """A Keras callback that keeps the weights after the epochs :func:`snapshot_epochs` picks.

    It only reads the weights, so the run's bits are the same with or without it (tested).
    """
    from tensorflow import keras

    keep = set(snapshot_epochs(epochs))

    class EpochRecorder(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.epochs: list[int] = []
            self.snapshots: list[list[np.ndarray]] = []

        def keep(self, epoch: int) -> None:
            if epoch in keep:
                self.epochs.append(epoch)
                self.snapshots.append(self.model.get_weights())

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            self.keep(epoch + 1)  # Keras counts epochs from 0; epoch 0 here is "before training"

    return EpochRecorder()


def step_recorder(path_prefix: str, steps: int, x_test: np.ndarray, y_test: np.ndarray) -> Any:
    """A Keras callback that writes the weights before training and after every batch step to
    ``PREFIX.weights.npy`` (one float32 row per step, written in place through a memory map, so
    a long run costs no memory), each epoch's test-set predictions to ``PREFIX.predictions.npy`` and
    the test labels to ``PREFIX.labels.npy``.

    It only reads: the weights are copied out, and the predictions come from calling the model
    in inference mode, which draws no random numbers. So the run's bits are the same with or
    without it (tested). The parent process diffs two runs' files step by step.
    """
    from tensorflow import keras

    class StepRecorder(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.paths = {name: f"{path_prefix}.{name}.npy" for name in ("weights", "predictions", "labels")}
            self.rows: Any = None
            self.step = 0
            self.predictions: list[np.ndarray] = []

        def keep(self) -> None:
            weights = self.model.get_weights()
            if self.rows is None:
                size = sum(w.size for w in weights)
                self.rows = np.lib.format.open_memmap(self.paths["weights"], mode="w+", dtype=np.float32,
                                                      shape=(steps + 1, size))
            self.rows[self.step] = np.concatenate([w.ravel() for w in weights])
            self.step += 1

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            self.keep()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            self.predictions.append(np.asarray(self.model(x_test, training=False), dtype=np.float32))

        def finish(self) -> dict[str, Any]:
            self.rows.flush()
            self.rows = None  # closes the memory map, so the parent may read and remove the file
            np.save(self.paths["predictions"], np.stack(self.predictions))
            np.save(self.paths["labels"], np.argmax(y_test, axis=1))
            return {**self.paths, "steps": self.step - 1}

    return StepRecorder()


def steps_per_epoch(batch_size: int) -> int:
    return -(-N_TRAIN // batch_size)


def run_experiment(config: RunConfig, record_epochs: bool = False, record_steps: str | None = None) -> dict[str, Any]:
    """Seed, build, train and evaluate once; return the measurements as plain values.

    ``record_epochs`` adds ``weights_per_epoch``: the weights before training and after each
    epoch (see :mod:`helpers.weights`), so that runs on two machines can be compared by distance.
    ``record_steps`` (a path prefix) writes the weights after every batch step and the test-set
    predictions after every epoch to files (see :func:`step_recorder`) and adds ``step_record``.
    """
    from tensorflow import keras

    # A reused process must look like a new one: drop the previous run's graphs and Keras state.
    keras.backend.clear_session(free_memory=False)  # gc.collect() would cost 0.2 s a run
    started = time.perf_counter()
    apply_seeds(config)
    model = build_model(jit_compile=config.jit_compile)
    initial_weights = weights_sha256(model.get_weights())
    callbacks = []
    if record_epochs:
        recorder = epoch_recorder(config.epochs)
        recorder.set_model(model)
        recorder.keep(0)
        callbacks.append(recorder)
    x_train, y_train, x_test, y_test = make_data(config.task)
    data = weights_sha256([x_train, y_train, x_test, y_test])
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
        "test_loss": float(test_loss),
        "weights_sha256": weights_sha256(model.get_weights()),
        "initial_weights_sha256": initial_weights,
        "data_sha256": data,
        "device": describe_tensor_device(model.weights[0].value.device),
        "loss_per_epoch": [float(v) for v in history.history["loss"]],
        "accuracy_per_epoch": [float(v) for v in history.history["accuracy"]],
        "fit_evaluate_seconds": finished - fit_started,
        "run_seconds": finished - started,
        "weights_per_epoch": recorded,
        "step_record": step_record,
    }
