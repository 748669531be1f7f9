"""The lab's own runs in another TensorFlow stack: the stack a card came from, built here and run here.

A card made in a learner's environment records its stack (TensorFlow, which Keras, Python). To
reproduce its seeded runs bit for bit, that stack is built here once (cached, with uv) and the
lab's runner starts its workers with that stack's Python, importing a copy of this lab
(:mod:`helpers.running.elsewhere`). ``imitate`` uses :func:`stack_for_card` and :func:`run_in_stack`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from helpers.core.config import ConfigError, RunConfig
from helpers.core.results import RunResult
from helpers.running.elsewhere import Interpreter, other_python
from helpers.running.preflight import FIRST_WITH_KERAS_3, version_tuple
from helpers.running.runner import run_configs
from helpers.stacks.environments import Stack, StackError, _fits, build, cached, python_range
from helpers.stacks.installers import env_python
from helpers.stacks.pythons import find_python


def _fingerprint_of(card: Any) -> Mapping[str, Any]:
    """The fingerprint of a card's first seeded (else CPU-forced) run, or ``card`` itself if it is one."""
    if isinstance(card, Mapping):
        return card
    runs = [r for r in getattr(card, "runs", []) if r.mode != "unseeded"] or list(getattr(card, "runs", []))
    if not runs:
        raise ConfigError(f"{getattr(card, 'name', 'the card')} has no runs, so it names no stack.")
    return runs[0].fingerprint


def stack_for_card(card: Any) -> Stack:
    """The stack a card's runs used (a loaded card, or one run's fingerprint), as this machine can build it.

    TensorFlow exactly; Keras 3 and tf_keras exactly (Keras 2 through ``tf.keras`` is the one that
    TensorFlow release requires, one version each); the card's Python version where this machine
    has it and that TensorFlow supports it, else one chosen when it is built; NumPy as TensorFlow
    takes it (below 2 before 2.18).
    """
    fingerprint = _fingerprint_of(card)
    tensorflow, keras = fingerprint.get("tensorflow"), str(fingerprint.get("keras") or "")
    if not tensorflow:
        raise ConfigError("the card does not record its TensorFlow version, so its stack cannot be built.")
    kind = str(fingerprint.get("keras_kind") or "")
    minor = ".".join(str(fingerprint.get("python") or "").split(".")[:2])
    allowed = python_range(tensorflow)
    fits = bool(minor) and (allowed is None or _fits(minor, allowed))  # a card is data from anyone: check it
    python = minor if fits and find_python(minor) is not None else None
    if kind.startswith("tf_keras"):
        return Stack(tensorflow, python=python, tf_keras=keras)
    if version_tuple(tensorflow) >= FIRST_WITH_KERAS_3 and keras.startswith("3."):
        return Stack(tensorflow, keras=keras, python=python)
    return Stack(tensorflow, python=python)


def stack_interpreter(stack: Stack, *, build_missing: bool = True) -> Interpreter:
    """The Python of ``stack``'s environment (built now unless cached), ready for the runner."""
    found = cached(stack)
    if found is None:
        if not build_missing:
            raise StackError(f"{stack.label} is not built on this machine yet.")
        found = build(stack)
    return other_python(env_python(Path(found.environment or "")), env=stack.environment(),
                        tensorflow=stack.tensorflow)


def run_in_stack(stack: Stack, configs: Sequence[RunConfig], *, build_missing: bool = True,
                 **runner: Any) -> list[RunResult]:
    """Run ``configs`` with the lab's runner in ``stack`` (built once, cached); ``runner``: run_configs' options.

    A stack that cannot be built here raises :class:`StackError` with one sentence; an environment
    that cannot run the lab, :class:`~helpers.running.runner.RunError` with one sentence.
    """
    return run_configs(configs, python=stack_interpreter(stack, build_missing=build_missing), **runner)
