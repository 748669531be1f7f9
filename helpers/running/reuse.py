"""A warm worker's model, kept between runs: its traced training and evaluation functions are reused.

Building, compiling and above all tracing a new model costs about half a warm run of the article's
model (TensorFlow turns ``fit``'s and ``evaluate``'s Python into graphs the first time they run). A
warm worker keeps the compiled model of its last run and, for each new run with the same XLA
setting, puts it back exactly where a fresh build would have started:

* the initial weights are drawn as a fresh build draws them: Keras 3 gives each layer's initializer
  a seed from Python's ``random`` when the layer is created, so new initializers of the same kinds
  are created in the same order (drawing the same seeds) and called on the same shapes;
* the optimizer's state (its step count and Adam's running averages) goes back to zero;
* everything else a run reads -- the generators, the data, the batch order -- is set by the run
  itself, as before.

The warm-against-fresh proofs in ``tests/test_runner.py`` hold for every setting with this reuse,
bit for bit. Only Keras 3 models are kept: Keras 2 (another environment's) builds afresh each run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# The last run's XLA setting and compiled model; a run with another setting clears Keras's state and builds
# afresh. The setting is RunConfig.jit_compile and, for None (Keras's "auto"), what "auto" reads: whether
# TensorFlow lists a GPU (Keras 3 compiles with XLA when it does).
_KEPT: dict[Any, Any] = {}


def xla_setting(jit_compile: bool | None) -> tuple[bool | None, bool]:
    import tensorflow as tf

    return jit_compile, jit_compile is None and bool(tf.config.list_physical_devices("GPU"))


def keras_3() -> bool:
    from tensorflow import keras

    return int(str(getattr(keras, "__version__", "2")).split(".")[0]) >= 3


def model_for(jit_compile: bool | None, build: Callable[[], Any]) -> tuple[Any, bool]:
    """The model for this run, and whether it was reused. Call it right after the run's seeds are set:
    a reused model draws its initial weights then, as ``build()`` would have."""
    setting = xla_setting(jit_compile)
    model = _KEPT.get(setting)
    if model is None:
        forget()
        model = build()
        if keras_3():
            _KEPT[setting] = model
        return model, False
    reinitialize(model)
    return model, True


def forget() -> None:
    """Drop the kept models (before Keras's own state is cleared)."""
    _KEPT.clear()


def reinitialize(model: Any) -> None:
    """New initial weights and a new optimizer, drawn exactly as building the model again would draw them."""
    # A fresh build creates every layer (and each layer its initializers, drawing their seeds) before
    # any weight is made; so: all initializers first, in layer order, then the values.
    plan = []
    for layer in model.layers:
        for weight, name in ((getattr(layer, "kernel", None), "kernel_initializer"),
                             (getattr(layer, "bias", None), "bias_initializer")):
            initializer = getattr(layer, name, None)
            if weight is not None and initializer is not None:
                plan.append((weight, type(initializer).from_config(initializer.get_config())))
    if len(plan) != len(model.weights):
        raise RuntimeError("the kept model has weights the lab does not know how to draw again")
    for weight, initializer in plan:
        weight.assign(initializer(weight.shape, dtype=weight.dtype))
    for variable in model.optimizer.variables:
        if variable is not getattr(model.optimizer, "_learning_rate", None):
            variable.assign(variable.numpy() * 0)
