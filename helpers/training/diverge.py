"""Divergence over training: watch a last-bit difference between two runs grow, step by step.

Two seeded runs that differ in one setting -- an ``ONEDNN_MAX_CPU_ISA`` cap (an older CPU),
oneDNN off, op determinism, XLA, another seed, no seed -- train side by side, each in a warm
worker of its own. Each worker writes its weights after every batch step to a file (a memory
map: one float32 row per step) and its test-set predictions after every epoch; this process
then compares the two files step by step, a block of rows at a time, so neither the pipe
between the processes nor this process ever holds a whole training's weights.

What comes out: the largest absolute difference between the two runs' weights after every
step, the first step where they differ, and per epoch each run's test accuracy and how many
test examples the two runs classify differently. The lab's claim that "last bits can grow into
visible differences" is then a number, not a sentence.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from helpers.core.config import ConfigError, RunConfig
from helpers.core.layers import guess_layers, parting, parting_sentence
from helpers.core.results import RunResult, Verdict
from helpers.core.weights import weights_sha256
from helpers.machines.fingerprint import effective_settings
from helpers.running.experiment import steps_per_epoch
from helpers.running.runner import run_configs

ROWS_PER_BLOCK = 256  # rows of weights compared at once: bounded memory however long the training


@dataclass
class Divergence:
    """Two runs compared step by step. Steps count from 1 (after the first batch step)."""

    a: RunResult
    b: RunResult
    initial_difference: float  # before training: not 0 only if the initial weights differ
    max_abs_difference: np.ndarray  # one per step, after steps 1 .. steps
    prediction_difference: np.ndarray  # one per epoch: the largest |p_a - p_b| over the test set
    disagreements: np.ndarray  # one per epoch: test examples the two runs classify differently
    correct: tuple[np.ndarray, np.ndarray]  # one per epoch and run: test examples classified right
    test_examples: int
    steps_per_epoch: int
    # Per run, the SHA-256 of its weights before training (0) and after every epoch: the first
    # 10 of a longer run are the article's 10-epoch run, bit for bit, if training is deterministic.
    epoch_sha256: list[list[str]]
    # Which layer parts first (rows of helpers.core.layers.parting; "epoch" there is the step), if any.
    layers: list[dict[str, Any]] | None = None

    @property
    def steps(self) -> int:
        return len(self.max_abs_difference)

    @property
    def epochs(self) -> int:
        return len(self.disagreements)

    @property
    def first_differing_step(self) -> int | None:
        """The first step after which the weights differ; 0 if they differ before training; None if never."""
        if self.initial_difference > 0:
            return 0
        differing = np.flatnonzero(self.max_abs_difference > 0)
        return int(differing[0]) + 1 if differing.size else None

    @property
    def test_accuracy(self) -> tuple[list[float], list[float]]:
        """Each run's test accuracy after every epoch (from the recorded predictions)."""
        return tuple([float(c) / self.test_examples for c in runs] for runs in self.correct)  # type: ignore[return-value]

    @property
    def final_difference(self) -> float:
        return float(self.max_abs_difference[-1]) if self.steps else self.initial_difference

    @property
    def first_visible_epoch(self) -> int | None:
        """The first epoch (from 1) after which at least one test example is classified differently."""
        visible = np.flatnonzero(self.disagreements > 0)
        return int(visible[0]) + 1 if visible.size else None

    @property
    def growth(self) -> float | None:
        """How many times larger the difference is at the end than at the first differing step."""
        first = self.first_differing_step
        if not first:
            return None
        start = float(self.max_abs_difference[first - 1])
        return self.final_difference / start if start > 0 else None

    def setting(self) -> str:
        """What run B changes, in words."""
        return describe_change(self.a.config, self.b.config)

    def verdicts(self) -> list[Verdict]:
        """The claims this comparison settles, each computed from the two runs."""
        first = self.first_differing_step
        where = "never" if first is None else ("before training" if first == 0 else
                                               f"at step {first} of {self.steps}")
        verdicts = [Verdict(f"{self.setting()}: the weights differ after training", self.final_difference > 0,
                            f"first differ {where}; largest difference at the end {self.final_difference:.3g}")]
        if first:
            verdicts.append(Verdict(f"{self.setting()}: the difference grows at least a hundredfold from the first "
                                    "differing step to the end", (self.growth or 0) >= 100,
                                    f"{self.growth:.3g} times" if self.growth else "no growth"))
        changed = int(self.disagreements[-1])
        verdicts.append(Verdict(f"{self.setting()}: at least one test example is classified differently at the end",
                                changed > 0, f"{changed} of {self.test_examples} test examples"))
        return verdicts

    def notes(self) -> list[str]:
        """What the settings really changed: a cap at or above the CPU's own level changes nothing."""
        said = []
        for run, other in ((self.b, self.a), (self.a, self.b)):
            mine, theirs = effective_settings(run.fingerprint), effective_settings(other.fingerprint)
            if mine.get("isa_cap") and mine.get("isa") == theirs.get("isa"):
                said.append(f"ONEDNN_MAX_CPU_ISA={mine['isa_cap']} changes nothing on this CPU: oneDNN runs at "
                            f"{mine.get('isa')} either way, the best this CPU has under that cap.")
        return said

    def summary(self) -> str:
        accuracy_a, accuracy_b = self.test_accuracy
        first = self.first_differing_step
        lines = [
            f"run A: {self.a.config.label}",
            f"run B: {self.b.config.label}",
            f"{self.epochs} epochs x {self.steps_per_epoch} steps = {self.steps} steps",
            "first differing step: " + ("none: the weights are identical at every step" if first is None else
                                        "before training (the initial weights differ)" if first == 0 else
                                        f"{first} (epoch {(first - 1) // self.steps_per_epoch + 1}), "
                                        f"largest difference there {self.max_abs_difference[first - 1]:.3g}"),
            f"largest difference at the end: {self.final_difference:.3g}",
            *([parting_sentence(self.layers).replace("after epoch", "after step")] if self.layers else []),
            f"test accuracy at the end: A {accuracy_a[-1]:.4f}, B {accuracy_b[-1]:.4f}; "
            f"{int(self.disagreements[-1])} of {self.test_examples} test examples classified differently",
            *self.notes(),
        ]
        return "\n".join(lines)

    def per_epoch(self) -> Any:
        """One row per epoch: largest weight difference at its end, both accuracies, disagreements (a DataFrame)."""
        import pandas as pd

        accuracy_a, accuracy_b = self.test_accuracy
        ends = [self.steps_per_epoch * (e + 1) - 1 for e in range(self.epochs)]
        frame = pd.DataFrame({
            "max |Δw|": [float(self.max_abs_difference[min(i, self.steps - 1)]) for i in ends],
            "max |Δp| (test)": self.prediction_difference,
            "test accuracy A": accuracy_a,
            "test accuracy B": accuracy_b,
            "classified differently": self.disagreements,
        }, index=pd.RangeIndex(1, self.epochs + 1, name="epoch"))
        return frame

    def to_dict(self) -> dict[str, Any]:
        accuracy_a, accuracy_b = self.test_accuracy
        return {
            "run_a": self.a.config.to_dict(), "run_b": self.b.config.to_dict(),
            "label_a": self.a.config.label, "label_b": self.b.config.label, "setting": self.setting(),
            "steps": self.steps, "epochs": self.epochs, "steps_per_epoch": self.steps_per_epoch,
            "first_differing_step": self.first_differing_step,
            "initial_max_abs_difference": self.initial_difference,
            "max_abs_difference": [float(v) for v in self.max_abs_difference],
            "max_abs_prediction_difference": [float(v) for v in self.prediction_difference],
            "classified_differently": [int(v) for v in self.disagreements],
            "test_accuracy": {"a": accuracy_a, "b": accuracy_b},
            "final_test_accuracy": {"a": self.a.test_accuracy, "b": self.b.test_accuracy},
            "weights_sha256": {"a": self.a.weights_sha256, "b": self.b.weights_sha256},
            "epoch_weights_sha256": {"a": self.epoch_sha256[0], "b": self.epoch_sha256[1]},
            "layers": self.layers,
            "verdicts": [{"claim": v.claim, "holds": v.holds, "detail": v.detail} for v in self.verdicts()],
            "notes": self.notes(),
        }


def describe_change(a: RunConfig, b: RunConfig) -> str:
    """What run B does differently from run A, in a few words."""
    said = []
    if a.seeded != b.seeded or (b.seeded and a.seed != b.seed):
        said.append("unseeded" if not b.seeded else f"seed {b.seed}")
    for name, words in (("op_determinism", "op determinism"), ("jit_compile", "XLA")):
        if getattr(a, name) != getattr(b, name):
            said.append(f"{words} {'on' if getattr(b, name) else 'off'}")
    env_a, env_b = dict(a.env), dict(b.env)
    for key in sorted(set(env_a) | set(env_b)):
        if env_a.get(key) != env_b.get(key):
            said.append(f"{key}={env_b[key]}" if key in env_b else f"{key} unset")
    for name in ("device", "task", "epochs", "batch_size", "seed_calls"):
        if getattr(a, name) != getattr(b, name):
            said.append(f"{name.replace('_', ' ')} {getattr(b, name)}")
    return ", ".join(said) or "no change"


def _compare(path_a: str, path_b: str, per_epoch: int) -> tuple[float, np.ndarray, list[list[str]]]:
    """Largest difference before training and after every step; each run's weights hash at every
    epoch's end (row 0: before training), comparable with any run's ``weights_sha256``."""
    rows_a = np.load(path_a, mmap_mode="r")
    rows_b = np.load(path_b, mmap_mode="r")
    if rows_a.shape != rows_b.shape:
        raise ConfigError("runs A and B must train the same model for the same steps to be compared step by step.")
    distances = np.empty(rows_a.shape[0], dtype=np.float64)
    for start in range(0, rows_a.shape[0], ROWS_PER_BLOCK):
        block = slice(start, start + ROWS_PER_BLOCK)
        distances[block] = np.max(np.abs(rows_a[block].astype(np.float64) - rows_b[block]), axis=1, initial=0.0)
    ends = list(range(0, rows_a.shape[0], per_epoch))
    hashes = [[weights_sha256([rows[i]]) for i in ends] for rows in (rows_a, rows_b)]
    del rows_a, rows_b  # release the memory maps before the files are removed
    return float(distances[0]), distances[1:], hashes


def _step_layers(records: list[dict[str, Any]], initial: float, distances: np.ndarray) -> list[dict[str, Any]] | None:
    """Per layer, the largest |Δw| at the first differing step (0: before training) and at the end."""
    shapes = records[0].get("shapes")
    differing = [0] if initial > 0 else [int(i) + 1 for i in np.flatnonzero(distances > 0)[:1]]
    if not shapes or not differing:
        return None
    rows = [np.load(r["weights"], mmap_mode="r") for r in records]
    split = np.cumsum([int(np.prod(shape)) for shape in shapes])[:-1]

    def arrays(row: np.ndarray) -> list[np.ndarray]:
        return [np.asarray(part).reshape(shape) for part, shape in zip(np.split(np.asarray(row), split), shapes)]

    steps = [differing[0], rows[0].shape[0] - 1]
    found = parting(steps, [arrays(rows[0][i]) for i in steps], [arrays(rows[1][i]) for i in steps],
                    guess_layers(shapes))
    del rows  # release the memory maps before the files are removed
    return found


def diverge(a: RunConfig, b: RunConfig, *, progress: bool = True, parallel: int | None = None) -> Divergence:
    """Train ``a`` and ``b`` side by side, recording every step, and compare them step by step.

    The two runs must train the same model for the same number of steps (same task, epochs and
    batch size); they may differ in anything else.
    """
    for config in (a, b):
        if not isinstance(config, RunConfig):
            raise ConfigError(f"runs A and B must be RunConfigs, not {type(config).__name__}.")
    if (a.epochs, a.batch_size, a.task) != (b.epochs, b.batch_size, b.task):
        raise ConfigError("runs A and B must have the same task, epochs and batch size to be compared step by step.")
    if a == b:
        raise ConfigError("run B is the same as run A; change one setting of B (e.g. an environment variable "
                          "such as ONEDNN_MAX_CPU_ISA=AVX2, or another seed).")
    folder = Path(tempfile.mkdtemp(prefix="repro-lab-diverge-"))
    try:
        results = run_configs([a, b], progress=progress, parallel=parallel, tag="diverge",
                              record_steps=[str(folder / "a"), str(folder / "b")])
        records = [r.step_record or {} for r in results]
        initial, distances, hashes = _compare(records[0]["weights"], records[1]["weights"],
                                              steps_per_epoch(a.batch_size))
        predictions = [np.load(r["predictions"]) for r in records]
        labels = np.load(records[0]["labels"])
        correct = tuple(np.sum(np.argmax(p, axis=2) == labels, axis=1) for p in predictions)
        disagreements = np.sum(np.argmax(predictions[0], axis=2) != np.argmax(predictions[1], axis=2), axis=1)
        prediction_difference = np.max(np.abs(predictions[0].astype(np.float64) - predictions[1]), axis=(1, 2))
        layers = _step_layers(records, initial, distances)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for result in results:
        result.step_record = None  # the files are gone
    return Divergence(results[0], results[1], initial, distances, prediction_difference, disagreements,
                      correct, int(labels.shape[0]), steps_per_epoch(a.batch_size), hashes, layers)


def run_b(a: RunConfig, *, env: dict[str, str] | Sequence[tuple[str, str]] = (), seed: int | None | str = "same",
          op_determinism: bool | None = None, xla: bool | None = None, device: str | None = None) -> RunConfig:
    """Run A with one or more settings changed: extra environment (merged), another seed (None:
    unseeded), op determinism, XLA, device."""
    changes: dict[str, Any] = {}
    merged = {**dict(a.env), **dict(env)}
    if merged != dict(a.env):
        changes["env"] = tuple(merged.items())
    if seed != "same":
        changes["seed"] = seed
    if op_determinism is not None:
        changes["op_determinism"] = op_determinism
    if xla is not None:
        changes["jit_compile"] = xla
    if device is not None:
        changes["device"] = device
    return a.replace(**changes)
