"""Watch a learner's Keras script train, without changing a bit of what it computes.

:func:`install` wraps ``Model.fit`` and ``Model.evaluate`` of every Keras the process has loaded
(``tf.keras``, and ``keras`` when it is another module). The wrappers only *add* to a call:

* a callback that copies the weights when training begins (before the first step) and after
  every epoch, and the results Keras hands every callback;
* for a ``tf.data`` pipeline, one last ``map`` that hashes each batch as it passes and gives it
  on unchanged (an identity; no random op, no seed drawn, no reordering), so the batches are
  recorded in the order training saw them;
* the caps (``max_epochs``, ``max_steps``) when asked for, recorded as such.

Everything else -- the arguments, the data, the order of calls -- goes to Keras as the script
gave it. Runs in the learner's own environment: Python 3.9+, NumPy and TensorFlow 2.10-2.21
with Keras 2 or 3, nothing else (and no lab module besides :mod:`helpers.core.weights`).
"""

from __future__ import annotations

import hashlib
import inspect
import time
from typing import Any

import numpy as np

from helpers.core.weights import encode, snapshot_epochs, weights_sha256

# Per-epoch weights travel (to the parent, and into cards) only for models up to this many values a
# snapshot; bigger models keep their per-epoch, per-layer hashes, which still say which layer parts first.
TRAJECTORY_VALUES = 50_000


def device_of(variable: Any) -> str:
    """'CPU:0' for a Keras 2 or Keras 3 variable (Keras 3: ``v.value.device``; Keras 2: ``v.device``)."""
    inner = getattr(variable, "value", None)
    device = getattr(inner, "device", None) if inner is not None and not callable(inner) else None
    device = device if device is not None else getattr(variable, "device", "")
    text = str(device() if callable(device) else device)
    return text.split("device:", 1)[1] if "device:" in text else (text or "unknown")


def plain(value: Any, depth: int = 0) -> Any:
    """A compile or layer setting as JSON-safe data (NumPy numbers as numbers, objects by their name)."""
    if depth > 6:
        return "..."
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if np.isfinite(value) else str(value)
    if isinstance(value, np.generic):
        return plain(value.item(), depth)
    if isinstance(value, dict):
        return {str(k): plain(v, depth + 1) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [plain(v, depth + 1) for v in value]
    get_config = getattr(value, "get_config", None)
    if callable(get_config):
        try:
            return {"class": type(value).__name__, "config": plain(get_config(), depth + 1)}
        except Exception:  # a custom object whose config cannot be read: its name says enough
            pass
    name = getattr(value, "__name__", None) or getattr(value, "name", None)
    return str(name) if name else type(value).__name__


def _arrays(structure: Any) -> list[np.ndarray]:
    """The arrays in ``x``, ``y`` or a batch: nested lists, tuples and dicts (by key) of arrays or tensors."""
    if structure is None:
        return []
    if isinstance(structure, dict):
        return [a for key in sorted(structure, key=str) for a in _arrays(structure[key])]
    if isinstance(structure, (list, tuple)) and not (structure and isinstance(structure[0], (int, float))):
        return [a for item in structure for a in _arrays(item)]
    numpy = getattr(structure, "numpy", None)
    return [np.asarray(numpy() if callable(numpy) else structure)]


def _value_hash(arrays: list[np.ndarray]) -> str | None:
    """The arrays' values as float64: Keras 2 keeps one-hot labels as float32, Keras 3 as float64."""
    try:
        return weights_sha256([a.astype(np.float64) for a in arrays])
    except (TypeError, ValueError):  # text or objects: no numeric value to compare
        return None


class BatchLog:
    """The batches of a tf.data pipeline as training drew them: a running SHA-256 and a count."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.batches = 0
        self.open = False  # only while training runs: Keras 3 peeks at one batch before, to build

    def add(self, *parts: Any) -> np.int64:
        if self.open:
            for part in parts:
                self.digest.update(np.ascontiguousarray(part.numpy()).tobytes())
            self.batches += 1
        return np.int64(0)


def watched_dataset(dataset: Any, log: BatchLog) -> Any:
    """``dataset`` with one last step that hashes each batch and passes it on as it came."""
    import tensorflow as tf

    def identity(*element: Any) -> Any:
        structure = element if len(element) > 1 else element[0]
        flat = tf.nest.flatten(structure, expand_composites=True)
        token = tf.py_function(log.add, flat, Tout=tf.int64)
        # The batch leaves only after it was hashed; tf.identity copies no values and draws no seed.
        with tf.control_dependencies([token]):
            flat = [tf.identity(t) for t in flat]
        return tf.nest.pack_sequence_as(structure, flat, expand_composites=True)

    return dataset.map(identity)  # sequential: the order is the order the pipeline gives


class Recorder:
    """What the script's ``fit`` and ``evaluate`` calls did, call by call."""

    def __init__(self, max_epochs: int | None = None, max_steps: int | None = None,
                 trajectory_values: int = TRAJECTORY_VALUES) -> None:
        self.max_epochs, self.max_steps = max_epochs, max_steps
        self.trajectory_values = trajectory_values
        self.fits: list[dict[str, Any]] = []
        self.evaluations: list[dict[str, Any]] = []
        self.model_info: dict[str, Any] = {}
        self.first_fit_started: float | None = None
        self.fitting = 0  # fit calls under way: evaluate calls inside them are fit's own validation

    # ------------------------------------------------------------------ fit

    def wrap_fit(self, keras: Any, original: Any) -> Any:
        signature = inspect.signature(original)
        recorder = self

        def fit(model: Any, *args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(model, *args, **kwargs)
            record: dict[str, Any] = {"call": len(recorder.fits) + 1}
            recorder.fits.append(record)
            callback = recorder._prepare_fit(keras, model, bound.arguments, record)
            started = time.perf_counter()
            if recorder.first_fit_started is None:
                recorder.first_fit_started = started
            recorder.fitting += 1
            try:
                history = original(*bound.args, **bound.kwargs)
            finally:
                recorder.fitting -= 1
            record["seconds"] = time.perf_counter() - started
            recorder._finish_fit(model, record, callback, history)
            return history

        fit.__wrapped__ = original  # type: ignore[attr-defined]
        return fit

    def _prepare_fit(self, keras: Any, model: Any, arguments: dict[str, Any], record: dict[str, Any]) -> Any:
        epochs = arguments.get("epochs", 1)
        record["epochs_asked"] = epochs
        if self.max_epochs is not None and isinstance(epochs, int) and epochs > self.max_epochs:
            arguments["epochs"] = epochs = self.max_epochs
            record["capped"] = True
        record["epochs"] = epochs
        x = arguments.get("x")
        log = None
        if _is_dataset(x):
            log = BatchLog()
            arguments["x"] = watched_dataset(x, log)
            record["data_kind"] = "tf.data"
        elif x is not None and not _is_generator(x):
            arrays = _arrays(x) + _arrays(arguments.get("y")) + _arrays(arguments.get("sample_weight"))
            record["data_kind"] = "arrays"
            record["data_sha256"] = weights_sha256(arrays)
            record["data_values_sha256"] = _value_hash(arrays)
        else:
            record["data_kind"] = type(x).__name__  # a generator or Sequence: not recorded
        callback = _callback_class(keras)(self, record, log, epochs if isinstance(epochs, int) else 0)
        _add_callback(arguments, callback, model)
        return callback

    def _finish_fit(self, model: Any, record: dict[str, Any], callback: Any, history: Any) -> None:
        weights = model.get_weights()
        record["weights_sha256"] = weights_sha256(weights)
        record["history"] = {str(k): [float(v) for v in values]
                             for k, values in (getattr(history, "history", None) or {}).items()}
        record["epochs_run"] = len(callback.epochs_done)
        record["steps"] = callback.steps
        if callback.log is not None:
            record["data_sha256"] = callback.log.digest.hexdigest()
            record["batches"] = callback.log.batches
        self._trajectory(model, record, callback)
        if len(self.fits) == 1 or not self.model_info:
            self.model_info = describe_model(model)

    def _trajectory(self, model: Any, record: dict[str, Any], callback: Any) -> None:
        """The kept snapshots, as per-layer hashes always and as encoded weights when the model is small."""
        snapshots, epochs = callback.snapshots, callback.kept_epochs
        if not snapshots:
            return
        groups = layer_arrays(model)
        record["layer_sha256_per_epoch"] = [[weights_sha256([s[i] for i in group]) for group in groups.values()]
                                            for s in snapshots]
        record["trajectory_epochs"] = list(epochs)
        size = sum(int(np.size(a)) for a in snapshots[0])
        if size <= self.trajectory_values:
            record["weights_per_epoch"] = encode(snapshots, epochs)

    # ------------------------------------------------------------------ evaluate

    def wrap_evaluate(self, keras: Any, original: Any) -> Any:
        signature = inspect.signature(original)
        recorder = self

        def evaluate(model: Any, *args: Any, **kwargs: Any) -> Any:
            if recorder.fitting:  # fit's own validation: part of training, not a call of the script's
                return original(model, *args, **kwargs)
            bound = signature.bind(model, *args, **kwargs)
            logs: dict[str, Any] = {}
            _add_callback(bound.arguments, _results_callback(keras)(logs), model)
            result = original(*bound.args, **bound.kwargs)
            recorder.evaluations.append({"call": len(recorder.evaluations) + 1,
                                         "after_fit": len(recorder.fits),
                                         "results": {str(k): _number(v) for k, v in sorted(logs.items())}})
            return result

        evaluate.__wrapped__ = original  # type: ignore[attr-defined]
        return evaluate


def _add_callback(arguments: dict[str, Any], callback: Any, model: Any) -> None:
    """Add ``callback`` after the script's own callbacks (a list, or a CallbackList it built itself)."""
    callbacks = arguments.get("callbacks")
    if callbacks is None:
        arguments["callbacks"] = [callback]
    elif isinstance(callbacks, (list, tuple)):
        arguments["callbacks"] = [*callbacks, callback]
    elif hasattr(callbacks, "append"):  # Keras 2's CallbackList
        callbacks.append(callback)
    else:  # Keras 3's CallbackList keeps its callbacks in a list and gave them the model already
        callback.set_model(model)
        callbacks.callbacks.append(callback)


def _number(value: Any) -> float | None:
    try:
        number = float(np.asarray(value))
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _is_dataset(x: Any) -> bool:
    import tensorflow as tf

    return isinstance(x, tf.data.Dataset)


def _is_generator(x: Any) -> bool:
    return inspect.isgenerator(x) or hasattr(x, "__getitem__") and hasattr(x, "on_epoch_end")


_CLASSES: dict[Any, Any] = {}  # (kind, id of the Keras module) -> callback class


def _callback_class(keras: Any) -> Any:
    """The recording callback, made once per Keras module (Keras 2 and 3 each have their own base)."""
    key = id(keras)
    if ("fit", key) in _CLASSES:
        return _CLASSES[("fit", key)]

    class FitRecorder(keras.callbacks.Callback):  # type: ignore[name-defined,misc]
        def __init__(self, recorder: Recorder, record: dict[str, Any], log: BatchLog | None, epochs: int) -> None:
            super().__init__()
            self.recorder, self.record, self.log = recorder, record, log
            self.keep = set(snapshot_epochs(epochs)) if epochs > 0 else {0}
            self.snapshots: list[list[np.ndarray]] = []
            self.kept_epochs: list[int] = []
            self.epochs_done: list[int] = []
            self.steps = 0
            if recorder.max_steps is not None:
                # Only when capping: a batch hook makes Keras hand over each batch's logs, which costs time.
                self.on_train_batch_end = self._count_step  # type: ignore[method-assign]

        def _count_step(self, batch: int, logs: Any = None) -> None:
            self.steps += 1
            if self.steps >= (self.recorder.max_steps or 0):
                self.model.stop_training = True
                self.record["capped"] = True

        def on_train_begin(self, logs: Any = None) -> None:
            weights = self.model.get_weights()
            self.record["initial_weights_sha256"] = weights_sha256(weights) if weights else None
            if weights:
                self.snapshots.append(weights)
                self.kept_epochs.append(0)
            if self.log is not None:
                self.log.open = True

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            self.epochs_done.append(epoch + 1)
            if epoch + 1 in self.keep or self.model.stop_training:
                self.snapshots.append(self.model.get_weights())
                self.kept_epochs.append(epoch + 1)

        def on_train_end(self, logs: Any = None) -> None:
            if self.log is not None:
                self.log.open = False
            if self.kept_epochs and self.epochs_done and self.kept_epochs[-1] != self.epochs_done[-1]:
                self.snapshots.append(self.model.get_weights())  # stopped early: keep where it ended
                self.kept_epochs.append(self.epochs_done[-1])

    _CLASSES[("fit", key)] = FitRecorder
    return FitRecorder


def _results_callback(keras: Any) -> Any:
    key = id(keras)
    if ("evaluate", key) not in _CLASSES:

        class EvaluateRecorder(keras.callbacks.Callback):  # type: ignore[name-defined,misc]
            def __init__(self, logs: dict[str, Any]) -> None:
                super().__init__()
                self.logs = logs

            def on_test_end(self, logs: Any = None) -> None:
                self.logs.update(logs or {})

        _CLASSES[("evaluate", key)] = EvaluateRecorder
    return _CLASSES[("evaluate", key)]


def layer_arrays(model: Any) -> dict[str, list[int]]:
    """Each top-level layer's positions in ``model.get_weights()`` (Keras 2 lists every trainable
    weight before the non-trainable ones, so positions are matched by variable, not assumed)."""
    position = {id(v): i for i, v in enumerate(model.weights)}
    groups: dict[str, list[int]] = {}
    for layer in model.layers:
        found = sorted(position[id(v)] for v in layer.weights if id(v) in position)
        if found:
            groups[layer.name] = found
    listed = {i for group in groups.values() for i in group}
    rest = [i for i in range(len(position)) if i not in listed]
    if rest:
        groups["(other weights)"] = rest
    return groups


def describe_model(model: Any) -> dict[str, Any]:
    """The compile settings and the layer configuration: what compare names before it compares weights."""
    optimizer = getattr(model, "optimizer", None)
    compile_settings = {
        "optimizer": plain(optimizer) if optimizer is not None else None,
        "loss": plain(getattr(model, "loss", None)),
        "jit_compile": plain(getattr(model, "jit_compile", getattr(model, "_jit_compile", None))),
        "run_eagerly": plain(getattr(model, "run_eagerly", None)),
    }
    layers = []
    for name, positions in layer_arrays(model).items():
        layer = next((candidate for candidate in model.layers if candidate.name == name), None)
        config: Any = None
        if layer is not None:
            try:
                config = plain(layer.get_config())
            except Exception:  # a custom layer without get_config: its class still says what it is
                config = None
        layers.append({"name": name, "class": type(layer).__name__ if layer is not None else "",
                       "arrays": positions, "config": config})
    weights = list(model.weights)
    return {"class": type(model).__name__, "compile": compile_settings, "layers": layers,
            "shapes": [list(np.shape(w)) for w in model.get_weights()],
            "device": device_of(weights[0]) if weights else "unknown"}


def install(recorder: Recorder, keras_modules: list[Any]) -> None:
    """Wrap ``fit`` and ``evaluate`` of each distinct Model class among ``keras_modules``."""
    seen = set()
    for keras in keras_modules:
        model_class = keras.Model
        if id(model_class) in seen:
            continue
        seen.add(id(model_class))
        model_class.fit = recorder.wrap_fit(keras, model_class.fit)
        model_class.evaluate = recorder.wrap_evaluate(keras, model_class.evaluate)
