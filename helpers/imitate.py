"""Imitate another machine here: which settings make this machine's seeded run give a card's bits?

A card from another machine records what its runs' arithmetic depended on: the CPU's best
instruction set, oneDNN's cap and on/off switch, op determinism, XLA, the device and the
threads. Each of those that can be set on this machine is tried here -- alone, then all
together -- in warm worker processes running in parallel, and every attempt is compared with
the card: identical weights, or how far apart. What cannot be set here (another TensorFlow or
Keras version, a GPU this machine lacks, another CPU architecture) is listed as such.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.cardfile import Card, load_card
from helpers.compare import representative_runs, setting_key, setting_label
from helpers.config import ConfigError, RunConfig, shown
from helpers.fingerprint import machine_fingerprint
from helpers.results import RunResult
from helpers.runner import run_configs
from helpers.weights import decode, max_abs_difference

# oneDNN's names for its instruction-set levels (ONEDNN_MAX_CPU_ISA), best first, with the CPU
# flags (as /proc/cpuinfo spells them) a CPU needs for each.
ONEDNN_ISA_LEVELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("AVX512_CORE_AMX", ("amx_tile", "amx_bf16", "avx512_bf16", "avx512_vnni", "avx512f", "avx512bw", "avx512vl")),
    ("AVX512_CORE_FP16", ("avx512_fp16", "avx512_bf16", "avx512_vnni", "avx512f", "avx512bw", "avx512vl")),
    ("AVX512_CORE_BF16", ("avx512_bf16", "avx512_vnni", "avx512f", "avx512bw", "avx512vl")),
    ("AVX512_CORE_VNNI", ("avx512_vnni", "avx512f", "avx512bw", "avx512vl")),
    ("AVX512_CORE", ("avx512f", "avx512bw", "avx512vl")),
    ("AVX2_VNNI", ("avx_vnni", "avx2", "fma")),
    ("AVX2", ("avx2", "fma")),
    ("AVX", ("avx",)),
    ("SSE41", ("sse4_1",)),
)
THREAD_KEYS = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def onednn_isa(flags: Sequence[str]) -> str | None:
    """The best oneDNN instruction-set level a CPU with these flags has (None: not an x86 CPU we know)."""
    have = set(flags)
    return next((name for name, needed in ONEDNN_ISA_LEVELS if have.issuperset(needed)), None)


def _isa_rank(name: str | None) -> int:
    names = [level for level, _ in ONEDNN_ISA_LEVELS]
    return len(names) - names.index(name) if name in names else 0


@dataclass(frozen=True)
class Settings:
    """What one attempt changes on this machine to look like the card's."""

    description: str
    device: str = "auto"
    env: tuple[tuple[str, str], ...] = ()
    op_determinism: bool = False
    jit_compile: bool = False

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
            text = f"Reproduced {their} bit for bit here with: {self.match.settings.description}."
        elif self.closest is not None:
            text = (f"No setting tried here reproduces {their} bit for bit; the closest is "
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
            "conclusion": self.conclusion,
        }

    def table(self) -> Any:
        """Every attempt as a DataFrame row."""
        import pandas as pd

        rows = [{"settings": a.settings.description, "identical": a.identical,
                 "max |Δw|": a.max_abs_weight_difference, "test accuracy": a.result.test_accuracy,
                 "weights": a.result.weights_sha256[:12]} for a in self.tried]
        return pd.DataFrame(rows).set_index("settings")

    def text(self) -> str:
        lines = [f"Imitating {self.card.name}: {setting_label(setting_key(self.target))}, "
                 f"weights {self.target.weights_sha256[:12]}", *self.notes, "",
                 self.table().to_string(float_format=lambda v: f"{v:.3g}"), "", self.conclusion]
        return "\n".join(lines)


def _their(target: RunResult, key: str) -> str | None:
    return (target.fingerprint.get("env") or {}).get(key) or dict(target.config.env).get(key)


def candidate_settings(target: RunResult, here: dict[str, Any]) -> list[Settings]:
    """The attempts worth making for ``target`` on a machine whose fingerprint is ``here``."""
    # Their runs used the CPU (forced, or there was no GPU): ours must too, GPU or not.
    device = "cpu" if target.config.device == "cpu" or target.device.startswith("CPU") else "auto"
    base = Settings("this machine as it is", device=device)
    changes: list[tuple[str, dict[str, Any]]] = []
    cap = _their(target, "ONEDNN_MAX_CPU_ISA")
    theirs, ours = _isa(target.fingerprint), _isa(here)
    if cap:
        changes.append((f"ONEDNN_MAX_CPU_ISA={cap}, as theirs", {"env": {"ONEDNN_MAX_CPU_ISA": cap}}))
    elif theirs and ours and _isa_rank(theirs) < _isa_rank(ours):
        changes.append((f"ONEDNN_MAX_CPU_ISA={theirs}, their CPU's best", {"env": {"ONEDNN_MAX_CPU_ISA": theirs}}))
    onednn = _their(target, "TF_ENABLE_ONEDNN_OPTS")
    if onednn is not None:
        changes.append((f"TF_ENABLE_ONEDNN_OPTS={onednn}, as theirs", {"env": {"TF_ENABLE_ONEDNN_OPTS": onednn}}))
    if bool(target.fingerprint.get("op_determinism")) or target.config.op_determinism:
        changes.append(("op determinism on, as theirs", {"op_determinism": True}))
    if target.config.jit_compile:
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
    theirs, ours = _isa(target.fingerprint), _isa(here)
    if theirs and ours and _isa_rank(theirs) > _isa_rank(ours):
        found.append(f"their CPU's {theirs} instructions, which this CPU lacks")
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


def _isa(fingerprint: dict[str, Any]) -> str | None:
    return onednn_isa((fingerprint.get("cpu") or {}).get("vector_flags") or [])


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


def imitate(card: Card | str | Path, setting: str | None = None, *, progress: bool = True,
            parallel: int | None = None) -> Imitation:
    """Try, on this machine, the settings that could reproduce ``card``'s seeded (or CPU-forced) weights."""
    card = card if isinstance(card, Card) else load_card(card)
    target, notes = _choose_target(card, setting)
    attempts = candidate_settings(target, machine_fingerprint())
    results = run_configs([a.config(target) for a in attempts], progress=progress, parallel=parallel,
                          record_epochs=True, tag="imitate")
    theirs = card.trajectory(target)
    tried = []
    for settings, result in zip(attempts, results, strict=True):
        identical = result.weights_sha256 == target.weights_sha256
        distance = 0.0 if identical else None
        if not identical and theirs is not None and result.weights_per_epoch is not None:
            try:
                distance = max_abs_difference(decode(result.weights_per_epoch)[1][-1], theirs[1][-1])
            except ValueError:  # another model's shapes: no distance to speak of
                distance = None
        tried.append(Attempt(settings, result, identical, distance))
    baseline = results[0]
    for stage, ours_hash, their_hash in (("data", baseline.data_sha256, target.data_sha256),
                                         ("initial weights", baseline.initial_weights_sha256,
                                          target.initial_weights_sha256)):
        if their_hash and ours_hash != their_hash:
            notes.append(f"Their {stage} differ from this machine's, so no arithmetic setting can reproduce "
                         "their weights (`python -m helpers compare` says why).")
            break
    return Imitation(card, target, tried, not_imitable(target, baseline.fingerprint), notes)
