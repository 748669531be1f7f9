"""Keras callbacks that record a run without changing it: weights after chosen epochs, or after every step.

They only read (weights copied out, predictions made in inference mode, which draws no random
numbers), so a run's bits are the same with or without them; tests check that.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from helpers.core.weights import snapshot_epochs


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
            shapes = [list(w.shape) for w in self.model.get_weights()]  # to split a row into layers
            return {**self.paths, "steps": self.step - 1, "shapes": shapes}

    return StepRecorder()
