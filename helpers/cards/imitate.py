"""Imitate another machine here: which settings make this machine's seeded run give a card's bits?

A card from another machine records what its runs' arithmetic depended on: the CPU's best
instruction set, oneDNN's cap and on/off switch, op determinism, XLA, the device and the
threads. Each of those that can be set on this machine is tried here -- alone, then all
together -- in warm worker processes running in parallel, and every attempt is compared with
the card: identical weights, or how far apart. What cannot be set here (another TensorFlow or
Keras version, a GPU this machine lacks, another CPU architecture) is listed as such.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.cards.compare import representative_runs, setting_key, setting_label
from helpers.cards.fileformat import Card, as_card
from helpers.core.config import ConfigError, RunConfig, shown
from helpers.core.results import RunResult
from helpers.core.stages import compare_stages, first_differing_stage
from helpers.core.text_table import text_table
from helpers.core.weights import decode, max_abs_difference
from helpers.machines.effective import onednn_block
from helpers.machines.fingerprint import effective_settings, installed_tensorflow, machine_fingerprint
from helpers.machines.onednn import PREFERENCE, cpu_has, missing_for
from helpers.running.runner import run_configs

THREAD_KEYS = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


@dataclass(frozen=True)
class Settings:
    """What one attempt changes on this machine to look like the card's."""

    description: str
    device: str = "auto"
    env: tuple[tuple[str, str], ...] = ()
    op_determinism: bool = False
    jit_compile: bool | None = None  # None: as Keras decides, as the article compiles

    def config(self, target: RunResult) -> RunConfig:
        return target.config.replace(device=self.device, env=self.env, op_determinism=self.op_determinism,
                                     jit_compile=self.jit_compile)

    def to_dict(self) -> dict[str, Any]:
        return {"device": self.device, "env": dict(self.env), "op_determinism": self.op_determinism,
                "xla": self.jit_compile}


@dataclass
class Attempt:
    settings: Settings
    result: RunResult
    identical: bool
    max_abs_weight_difference: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"description": self.settings.description, "settings": self.settings.to_dict(),
                "identical": self.identical, "max_abs_weight_difference": self.max_abs_weight_difference,
                "weights_sha256": self.result.weights_sha256, "test_accuracy": self.result.test_accuracy}


@dataclass
class Imitation:
    """Every attempt, the one that matched (if any), the closest, and what could not be imitated."""

    card: Card
    target: RunResult
    tried: list[Attempt]
    not_imitated: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stack: str | None = None  # their TensorFlow stack, built here, when the attempts ran there

    @property
    def where(self) -> str:
        return f"here, in their stack ({self.stack})" if self.stack else "here"

    @property
    def match(self) -> Attempt | None:
        return next((a for a in self.tried if a.identical), None)

    @property
    def closest(self) -> Attempt | None:
        known = [a for a in self.tried if a.max_abs_weight_difference is not None]
        return min(known, key=lambda a: a.max_abs_weight_difference or 0.0) if known else None

    @property
    def conclusion(self) -> str:
        their = f"{self.card.name}'s {self.target.mode} runs"
        if self.match is not None:
            text = f"Reproduced {their} bit for bit {self.where} with: {self.match.settings.description}."
        elif self.closest is not None:
            text = (f"No setting tried {self.where} reproduces {their} bit for bit; the closest is "
                    f"{self.closest.settings.description} ({self.closest.max_abs_weight_difference:.2g} apart).")
        else:
            text = (f"No setting tried here reproduces {their} bit for bit (the card carries no per-epoch "
                    "weights, so the distance is unknown).")
        if self.not_imitated and self.match is None:
            text += f" Not imitable here: {'; '.join(self.not_imitated)}."
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "card": self.card.name,
            "setting": setting_label(setting_key(self.target)),
            "target_weights_sha256": self.target.weights_sha256,
            "match": None if self.match is None else self.match.settings.to_dict(),
            "match_description": None if self.match is None else self.match.settings.description,
            "closest": None if self.closest is None else self.closest.to_dict(),
            "tried": [a.to_dict() for a in self.tried],
            "not_imitated": list(self.not_imitated),
            "notes": list(self.notes),
            "stack": self.stack,
            "conclusion": self.conclusion,
        }

    def rows(self) -> list[dict[str, Any]]:
        """The rows of :meth:`table`, as dicts (the CLI prints them without pandas)."""
        return [{"settings": a.settings.description, "identical": a.identical,
                 "max |Δw|": a.max_abs_weight_difference, "test accuracy": a.result.test_accuracy,
                 "weights": a.result.weights_sha256[:12]} for a in self.tried]

    def table(self) -> Any:
        """Every attempt as a DataFrame row."""
        import pandas as pd

        return pd.DataFrame(self.rows()).set_index("settings")

    def text(self) -> str:
        lines = [f"Imitating {self.card.name}: {setting_label(setting_key(self.target))}, "
                 f"weights {self.target.weights_sha256[:12]}", *self.notes, "",
                 text_table(self.rows(), "settings", number=lambda v: f"{v:.3g}"), "", self.conclusion]
        return "\n".join(lines)


def _their(target: RunResult, key: str) -> str | None:
    return (target.fingerprint.get("env") or {}).get(key) or dict(target.config.env).get(key)


def their_settings(target: RunResult) -> dict[str, Any]:
    """What ran on their machine: recorded, or inferred for an older card."""
    return effective_settings(target.fingerprint, target.xla if target.xla is not None else target.config.jit_compile)


def settings_here(here: dict[str, Any], tensorflow: str | None = None) -> dict[str, Any]:
    """What a run here does by default, predicted without starting TensorFlow (the baseline run records it);
    ``tensorflow``: the version the runs will use (default: the one installed in this environment)."""
    system = str(here.get("os") or platform.system()).split(" ", 1)[0]
    cpu = here.get("cpu") or {}
    return onednn_block(system, str(cpu.get("arch") or platform.machine()), tensorflow or installed_tensorflow(),
                        list(cpu.get("vector_flags") or []), dict(os.environ))


def candidate_settings(target: RunResult, here: dict[str, Any], tensorflow: str | None = None) -> list[Settings]:
    """The attempts worth making for ``target`` on a machine whose fingerprint is ``here``.

    oneDNN's state and instruction set are tried alone and together: a card from a Linux CPU with
    AVX-512 but without VNNI ran with oneDNN off *and* at AVX512_CORE, and only both reproduce it.
    """
    # Their runs used the CPU (forced, or there was no GPU): ours must too, GPU or not.
    device = "cpu" if target.config.device == "cpu" or target.device.startswith("CPU") else "auto"
    base = Settings("this machine as it is", device=device)
    theirs, ours = their_settings(target), settings_here(here, tensorflow)
    flags = (here.get("cpu") or {}).get("vector_flags") or []
    changes: list[tuple[str, dict[str, Any]]] = []
    state = theirs.get("onednn_enabled")
    onednn = None
    if state is not None and state != ours.get("onednn_enabled"):
        onednn = {"TF_ENABLE_ONEDNN_OPTS": "1" if state else "0"}
        changes.append((f"oneDNN {'on' if state else 'off'}, as theirs ({theirs.get('onednn_why')})",
                        {"env": onednn}))
    level, cap = theirs.get("isa"), None
    if level and level in PREFERENCE and cpu_has(level, flags) and (level != ours.get("isa") or theirs.get("isa_cap")):
        cap = {"ONEDNN_MAX_CPU_ISA": level}
        changes.append((f"oneDNN at {level}, as theirs", {"env": cap}))
    if onednn and cap:
        changes.append(("their oneDNN state and instruction set together", {"env": {**onednn, **cap}}))
    if bool(target.fingerprint.get("op_determinism")) or target.config.op_determinism:
        changes.append(("op determinism on, as theirs", {"op_determinism": True}))
    if theirs.get("jit_compile"):
        changes.append(("XLA on, as theirs", {"jit_compile": True}))
    # "0" is TensorFlow's own default; the runner would otherwise share the cores between workers.
    threads = {key: _their(target, key) or "0" for key in THREAD_KEYS}
    changes.append((f"threads {threads[THREAD_KEYS[0]]} / {threads[THREAD_KEYS[1]]}, as theirs", {"env": threads}))

    attempts = [base] + [_apply(base, description, change) for description, change in changes]
    if len(changes) > 1:
        combined = base
        for _, change in changes:
            combined = _apply(combined, "all of the above together", change)
        attempts.append(combined)
    return _unique(attempts)


def not_imitable(target: RunResult, here: dict[str, Any]) -> list[str]:
    """What differs between ``target``'s machine and this one (fingerprint ``here``) that no setting can change."""
    found = []
    level = their_settings(target).get("isa")
    flags = (here.get("cpu") or {}).get("vector_flags") or []
    if level in PREFERENCE and not cpu_has(level, flags):
        found.append(f"oneDNN's {level} kernels, which need {', '.join(missing_for(level, flags))} that this CPU "
                     "lacks")
    if target.device.startswith("GPU"):
        models = ", ".join(target.fingerprint.get("gpu_models") or target.fingerprint.get("gpus") or ["a GPU"])
        found.append(f"their GPU ({models}): these runs used this machine's own device")
    for name, key in (("TensorFlow", "tensorflow"), ("Keras", "keras")):
        if target.fingerprint.get(key) != here.get(key):
            found.append(f"{name} {target.fingerprint.get(key)} (here {here.get(key)}): another version needs "
                         "an environment of its own")
    their_arch, our_arch = (target.fingerprint.get("cpu") or {}).get("arch"), (here.get("cpu") or {}).get("arch")
    if their_arch and our_arch and their_arch != our_arch:
        found.append(f"their {their_arch} CPU (here {our_arch})")
    if target.fingerprint.get("os") != here.get("os"):
        found.append(f"TensorFlow's build for their operating system ({target.fingerprint.get('os')})")
    return found


def _apply(settings: Settings, description: str, change: dict[str, Any]) -> Settings:
    env = dict(settings.env)
    env.update(change.get("env", {}))
    return Settings(description, settings.device, tuple(sorted(env.items())),
                    change.get("op_determinism", settings.op_determinism),
                    change.get("jit_compile", settings.jit_compile))


def _unique(attempts: list[Settings]) -> list[Settings]:
    seen: set[tuple[Any, ...]] = set()
    kept = []
    for attempt in attempts:
        what = (attempt.device, attempt.env, attempt.op_determinism, attempt.jit_compile)
        if what not in seen:
            seen.add(what)
            kept.append(attempt)
    return kept


def _choose_target(card: Card, setting: str | None) -> tuple[RunResult, list[str]]:
    if setting is not None and setting not in ("seeded", "cpu"):
        raise ConfigError(f"setting must be seeded or cpu, not {shown(setting)}.")
    runs = {key[0]: run for key, run in representative_runs(card).items()}
    notes: list[str] = []
    if not runs:
        raise ConfigError(f"{card.name} has no seeded or CPU-forced runs to imitate (unseeded runs differ by design); "
                          "make it with `python -m helpers card`.")
    if setting is None:
        seeded = runs.get("seeded")
        if seeded is not None and seeded.device.startswith("GPU") and "cpu" in runs:
            notes.append(f"Their seeded runs ran on a GPU ({seeded.device}); imitating their CPU-forced runs "
                         "instead, which any machine can.")
            setting = "cpu"
        else:
            setting = "seeded" if seeded is not None else "cpu"
    if setting not in runs:
        raise ConfigError(f"{card.name} has no {setting} runs to imitate; make it with `python -m helpers card`.")
    return runs[setting], notes


def their_stack(target: RunResult) -> tuple[Any, str | None]:
    """Their TensorFlow stack as an interpreter to run the attempts in, when theirs is not this environment's.

    Returns (None, None) when the versions are this environment's; (None, sentence) when their stack
    cannot be built here, in which case the attempts run here anyway.
    """
    from importlib import metadata

    from helpers.stacks.environments import StackError
    from helpers.stacks.runs import stack_for_card, stack_interpreter

    fingerprint = target.fingerprint
    try:
        keras_here = metadata.version("keras")
    except metadata.PackageNotFoundError:
        keras_here = None
    if fingerprint.get("tensorflow") == installed_tensorflow() and fingerprint.get("keras") == keras_here:
        return None, None
    try:
        stack = stack_for_card(fingerprint)
        return (stack, stack_interpreter(stack)), None
    except (StackError, ConfigError) as exc:
        return None, (f"Their stack (TensorFlow {fingerprint.get('tensorflow')}, Keras {fingerprint.get('keras')}) "
                      f"could not be built here ({str(exc).rstrip('.')}), so the settings were tried in this "
                      "environment's own stack.")


def imitate(card: Card | str | Path, setting: str | None = None, *, progress: bool = True,
            parallel: int | None = None, other_stacks: bool = True) -> Imitation:
    """Try, on this machine, the settings that could reproduce ``card``'s seeded (or CPU-forced) weights.

    A card from another TensorFlow or Keras version is imitated in that stack, built here once and
    cached (``other_stacks=False`` keeps to this environment).
    """
    card = as_card(card, "to imitate")
    target, notes = _choose_target(card, setting)
    found, problem = their_stack(target) if other_stacks else (None, None)
    if problem:
        notes.append(problem)
    stack, interpreter = found if found else (None, None)
    attempts = candidate_settings(target, machine_fingerprint(), tensorflow=stack.tensorflow if stack else None)
    results = run_configs([a.config(target) for a in attempts], progress=progress, parallel=parallel,
                          record_epochs=True, tag="imitate", python=interpreter)
    theirs = card.trajectory(target)
    tried = []
    for settings, result in zip(attempts, results):
        identical = result.weights_sha256 == target.weights_sha256
        distance = 0.0 if identical else None
        if not identical and theirs is not None and result.weights_per_epoch is not None:
            try:
                distance = max_abs_difference(decode(result.weights_per_epoch)[1][-1], theirs[1][-1])
            except ValueError:  # another model's shapes: no distance to speak of
                distance = None
        tried.append(Attempt(settings, result, identical, distance))
    baseline = results[0]
    stage = first_differing_stage(compare_stages(baseline, target))
    if stage in ("data", "initial weights"):
        notes.append(f"Their {stage} differ from this machine's, so no arithmetic setting can reproduce "
                     "their weights (`python -m helpers compare` says why).")
    return Imitation(card, target, tried, not_imitable(target, baseline.fingerprint), notes,
                     stack=_stack_words(baseline.fingerprint) if stack else None)


def _stack_words(fingerprint: dict[str, Any]) -> str:
    return (f"TensorFlow {fingerprint.get('tensorflow')}, Keras {fingerprint.get('keras')}, "
            f"Python {fingerprint.get('python')}")
