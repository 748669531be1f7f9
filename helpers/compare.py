"""Compare two cards: do their runs agree, and if not, *why*?

The question the lab is named after -- "my Colab run and my PC run disagree" -- is answered in
two ways at once:

* **by stage**, from the hashes every run carries: the same data? the same initial weights? the
  same trained weights? The first stage that differs already narrows the cause: different data
  point at the seeding, different initial weights at Keras/TensorFlow (or the seeding), and a
  difference that only appears in training at the arithmetic. When both cards carry per-epoch
  weights, the distance after every epoch shows where the runs part and how far they drift.
* **by factor**: every fingerprint field that differs between the two runs (versions, CPU and
  instruction set, oneDNN, GPU, CUDA, TF32, XLA, op determinism, threads, OS, Colab), ranked so
  that the factors that can explain the first differing stage come first, each with one
  sentence of why.

Comparing reads two files and never starts TensorFlow.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from helpers.cardfile import Card, load_card
from helpers.config import ConfigError, shown
from helpers.fingerprint import best_instruction_set, machine_label
from helpers.results import RunResult
from helpers.weights import max_abs_difference

STAGES = ("data", "initial_weights", "trained_weights")
STAGE_NAMES = {"data": "data", "initial_weights": "initial weights", "trained_weights": "trained weights"}
# What a difference first seen at a stage can be caused by ("training" = only the trained weights differ).
DATA, INITIAL, TRAINING = "data", "initial_weights", "training"
SettingKey = tuple[str, int | None, str, int, int, tuple[str, ...]]


def setting_key(run: RunResult) -> SettingKey:
    """Runs of equal keys are the same experiment: mode, seed, task, epochs, batch size, seed calls."""
    c = run.config
    return (run.mode, run.seed, c.task, c.epochs, c.batch_size, c.seed_calls)


def short_setting_label(key: SettingKey) -> str:
    """'seeded, seed 42' or 'CPU-forced, seed 42': enough to tell a card's settings apart."""
    return f"{ {'seeded': 'seeded', 'cpu': 'CPU-forced'}.get(key[0], key[0])}, seed {key[1]}"


def setting_label(key: SettingKey) -> str:
    mode, seed, task, epochs, batch_size, calls = key
    text = f"{mode}, seed {seed}, {task} task, {epochs} epochs, batch {batch_size}"
    return text if len(calls) == 3 else f"{text}, calls: {'+'.join(calls) or 'none'}"


# --------------------------------------------------------------------------- factors


@dataclass(frozen=True)
class _Rule:
    name: str
    value: Callable[[RunResult], Any]
    explains: frozenset[str]
    why: str
    major: bool = False  # a different major version (Keras 2 against 3) outranks everything else


def _show(value: Any) -> str:
    return {None: "unknown", True: "yes", False: "no"}.get(value, str(value)) if not isinstance(value, str) else value


def _major(value: Any) -> str:
    return str(value).split(".", 1)[0]


def _fp(run: RunResult, key: str, default: Any = None) -> Any:
    return run.fingerprint.get(key, default)


def _env(run: RunResult, key: str) -> str | None:
    return (run.fingerprint.get("env") or {}).get(key) or dict(run.config.env).get(key)


def _gpu_model(run: RunResult) -> str:
    models = _fp(run, "gpu_models") or _fp(run, "gpus") or []
    return ", ".join(models) or "none"


def _tf32(run: RunResult) -> str:
    # The setting only matters for matrix products on a GPU; say so rather than report a phantom difference.
    return "n/a (CPU)" if not run.device.startswith("GPU") else ("on" if _fp(run, "tf32") else "off")


def _threads(run: RunResult) -> str:
    intra = _env(run, "TF_NUM_INTRAOP_THREADS") or _fp(run, "intra_op_threads")
    inter = _env(run, "TF_NUM_INTEROP_THREADS") or _fp(run, "inter_op_threads")
    return f"{intra or 'default'} / {inter or 'default'}"


def _other_env(run: RunResult) -> str:
    covered = {"ONEDNN_MAX_CPU_ISA", "TF_ENABLE_ONEDNN_OPTS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS",
               "CUDA_VISIBLE_DEVICES", "PYTHONHASHSEED"}
    env = {k: v for k, v in dict(run.config.env).items() if k not in covered}
    return ", ".join(f"{k}={v}" for k, v in sorted(env.items())) or "none"


# In the order of how often each is the cause when it differs; it ranks factors of equal standing.
RULES = (
    _Rule("device", lambda r: r.device, frozenset({TRAINING}),
          "A GPU and a CPU run different kernels that add numbers in a different order, so the last bits "
          "differ and every later step of training builds on them."),
    _Rule("GPU", _gpu_model, frozenset({TRAINING}),
          "Different GPU models choose different cuDNN and cuBLAS kernels."),
    _Rule("CPU architecture", lambda r: (_fp(r, "cpu") or {}).get("arch"), frozenset({TRAINING}),
          "An ARM CPU (Apple silicon, say) runs entirely different kernels from an x86 one."),
    _Rule("Keras backend", lambda r: _fp(r, "keras_backend", "tensorflow"), frozenset({INITIAL, TRAINING}),
          "Keras 3 on JAX or PyTorch runs every operation through another library."),
    _Rule("CUDA / cuDNN", lambda r: f"CUDA {_fp(r, 'cuda_version')}, cuDNN {_fp(r, 'cudnn_version')}",
          frozenset({TRAINING}), "Each CUDA and cuDNN release brings GPU kernels of its own."),
    _Rule("TensorFloat-32", _tf32, frozenset({TRAINING}),
          "On Ampere and newer GPUs, TensorFloat-32 rounds the inputs of matrix products to 10 bits of mantissa."),
    _Rule("oneDNN instruction-set cap (ONEDNN_MAX_CPU_ISA)", lambda r: _env(r, "ONEDNN_MAX_CPU_ISA") or "none",
          frozenset({TRAINING}),
          "Capping oneDNN's instruction set makes it use the kernels an older CPU would (the lab's way to "
          "imitate one), and another kernel sums in another order."),
    _Rule("best CPU instruction set", lambda r: best_instruction_set(r.fingerprint), frozenset({TRAINING}),
          "oneDNN and Eigen pick CPU kernels by the instruction set (AVX-512, AVX2, ...); another kernel sums "
          "in another order and rounds differently."),
    _Rule("oneDNN (TF_ENABLE_ONEDNN_OPTS)", lambda r: _env(r, "TF_ENABLE_ONEDNN_OPTS") or "default",
          frozenset({TRAINING}),
          "With oneDNN off, TensorFlow computes with its own Eigen kernels instead of oneDNN's."),
    _Rule("XLA", lambda r: r.config.jit_compile, frozenset({TRAINING}),
          "XLA compiles and fuses the model's operations, which reorders the arithmetic."),
    _Rule("op determinism", lambda r: bool(_fp(r, "op_determinism")) or r.config.op_determinism,
          frozenset({TRAINING}),
          "Op determinism makes TensorFlow choose deterministic kernels, which may sum in another order."),
    _Rule("Keras", lambda r: _fp(r, "keras"), frozenset({INITIAL, TRAINING}),
          "Keras draws each layer's initial weights and shuffles the batches; another major version "
          "(Keras 2 against 3) does both differently.", major=True),
    _Rule("TensorFlow", lambda r: _fp(r, "tensorflow"), frozenset({INITIAL, TRAINING}),
          "Another TensorFlow release can change kernels and random ops, and from 2.16 on it comes with "
          "Keras 3, which draws initial weights differently from Keras 2."),
    _Rule("CPU model", lambda r: (_fp(r, "cpu") or {}).get("model"), frozenset({TRAINING}),
          "Another CPU model, even with the same instruction set, can make oneDNN block a matrix product "
          "differently (it sizes blocks by the caches)."),
    _Rule("threads (intra-op / inter-op)", _threads, frozenset({TRAINING}),
          "Splitting a sum across another number of threads can change the order of its additions."),
    _Rule("logical cores", lambda r: (_fp(r, "cpu") or {}).get("logical_cores"), frozenset({TRAINING}),
          "TensorFlow sizes its thread pools by the cores, so sums can be split differently."),
    _Rule("operating system", lambda r: _fp(r, "os"), frozenset({TRAINING}),
          "TensorFlow for each OS is built with another compiler (article 004: Windows against Ubuntu), which "
          "can order floating-point operations differently."),
    _Rule("other environment variables", _other_env, frozenset({TRAINING}),
          "Variables read by TensorFlow or oneDNN at start-up can change how it computes."),
    _Rule("NumPy", lambda r: _fp(r, "numpy"), frozenset({DATA}),
          "The article's data come from np.random's legacy generator, which NumPy keeps stable across "
          "versions, so a NumPy change rarely explains different data."),
    _Rule("Python", lambda r: _fp(r, "python"), frozenset({INITIAL}),
          "Keras 3 draws initializer seeds from Python's random module, whose numbers for a seed are stable "
          "across versions, so this is rarely the cause."),
    _Rule("Colab", lambda r: _fp(r, "colab"), frozenset(),
          "Being in Colab changes nothing by itself; its hardware and versions, listed separately, do."),
)


@dataclass(frozen=True)
class Factor:
    """One thing that differs between the two runs, and why it can matter."""

    name: str
    a: str
    b: str
    why: str
    consistent: bool  # can it explain the first stage at which the runs differ?

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "a": self.a, "b": self.b, "why": self.why,
                "consistent_with_stage": self.consistent}


def differing_factors(a: RunResult, b: RunResult, first_stage: str | None) -> list[Factor]:
    """Every recorded factor that differs between ``a`` and ``b``, those that explain ``first_stage`` first."""
    found = []
    for rank, rule in enumerate(RULES):
        va, vb = rule.value(a), rule.value(b)
        if va != vb:
            consistent = first_stage in rule.explains
            if rule.major and _major(va) != _major(vb):
                rank = -1
            found.append((not consistent, rank, Factor(rule.name, _show(va), _show(vb), rule.why, consistent)))
    return [factor for *_, factor in sorted(found, key=lambda item: item[:2])]


# --------------------------------------------------------------------------- one setting


def _number(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value


@dataclass
class SettingComparison:
    """The two cards' runs of one setting, compared stage by stage and epoch by epoch."""

    key: SettingKey
    a: RunResult
    b: RunResult
    stages: dict[str, str]  # each of STAGES: "same", "different" or "unknown" (a card too old to say)
    epochs: list[int] | None  # epochs both cards carry weights for (0 = before training)
    distance: list[float] | None  # largest absolute weight difference after each of those epochs

    @property
    def label(self) -> str:
        return setting_label(self.key)

    @property
    def first_stage(self) -> str | None:
        """Where the runs first differ: "data", "initial_weights", "training", or None if nowhere."""
        if self.stages["data"] == "different":
            return DATA
        if self.stages["initial_weights"] == "different":
            return INITIAL
        return TRAINING if self.stages["trained_weights"] == "different" else None

    @property
    def first_differing_epoch(self) -> int | None:
        """The first epoch after which the weights differ (0: before training), None if they never do
        or the cards carry no per-epoch weights to tell."""
        if self.distance is not None and self.epochs is not None:
            return next((e for e, d in zip(self.epochs, self.distance, strict=True) if d != 0), None)
        return 0 if self.stages["initial_weights"] == "different" else None

    @property
    def max_abs_weight_difference(self) -> float | None:
        """After the last epoch: 0.0 for identical weights, None when the cards cannot tell."""
        if self.stages["trained_weights"] == "same":
            return 0.0
        return _number(self.distance[-1]) if self.distance else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "setting": self.label,
            "stages": dict(self.stages),
            "first_differing_epoch": self.first_differing_epoch,
            "max_abs_weight_difference": self.max_abs_weight_difference,
            "epochs": self.epochs,
            "max_abs_weight_difference_per_epoch": (None if self.distance is None
                                                    else [_number(d) for d in self.distance]),
            "test_accuracy": {"a": self.a.test_accuracy, "b": self.b.test_accuracy},
            "test_loss": {"a": self.a.test_loss, "b": self.b.test_loss},
            "device": {"a": self.a.device, "b": self.b.device},
        }


def _stage(x: str, y: str) -> str:
    if not x or not y:
        return "unknown"
    return "same" if x == y else "different"


def compare_runs(card_a: Card, a: RunResult, card_b: Card, b: RunResult) -> SettingComparison:
    stages = {
        "data": _stage(a.data_sha256, b.data_sha256),
        "initial_weights": _stage(a.initial_weights_sha256, b.initial_weights_sha256),
        "trained_weights": _stage(a.weights_sha256, b.weights_sha256),
    }
    epochs = distance = None
    ta, tb = card_a.trajectory(a), card_b.trajectory(b)
    if ta is not None and tb is not None:
        common = sorted(set(ta[0]) & set(tb[0]))
        snaps_a, snaps_b = dict(zip(*ta, strict=True)), dict(zip(*tb, strict=True))
        try:
            distance = [max_abs_difference(snaps_a[e], snaps_b[e]) for e in common]
            epochs = common
        except ValueError:  # another model entirely: the stages already say everything differs
            epochs = distance = None
    return SettingComparison(setting_key(a), a, b, stages, epochs, distance)


# --------------------------------------------------------------------------- two cards


@dataclass
class Comparison:
    """Two cards compared: every seeded setting they share, the factors, and a conclusion."""

    a: Card
    b: Card
    settings: list[SettingComparison]
    primary: SettingComparison
    factors: list[Factor]
    conclusion: str
    only_in_one: list[str]

    @property
    def same_machine(self) -> bool:
        """No recorded factor differs: same machine, same software, same settings."""
        return not self.factors

    def to_dict(self) -> dict[str, Any]:
        primary = self.primary.to_dict()
        return {
            "a": _card_summary(self.a, self.primary.a),
            "b": _card_summary(self.b, self.primary.b),
            **primary,
            "factors": [f.to_dict() for f in self.factors],
            "same_machine_and_settings": self.same_machine,
            "conclusion": self.conclusion,
            "settings": [s.to_dict() for s in self.settings],
            "settings_in_one_card_only": list(self.only_in_one),
        }

    def stages_table(self) -> pd.DataFrame:
        """One row per shared setting: each stage same or different, the first differing epoch, the
        distance, and both test accuracies (A is the first card, B the second)."""
        rows = []
        for s in self.settings:
            never = s.first_differing_epoch is None and s.first_stage is None
            rows.append({
                "runs": short_setting_label(s.key),
                **{STAGE_NAMES[stage]: s.stages[stage] for stage in STAGES},
                "first differing epoch": "never" if never else s.first_differing_epoch,
                "max |Δw| at the end": s.max_abs_weight_difference,
                "test accuracy A": s.a.test_accuracy,
                "test accuracy B": s.b.test_accuracy,
            })
        return pd.DataFrame(rows).set_index("runs")

    def factors_table(self) -> pd.DataFrame:
        """The differing factors, most likely cause first (A is the first card, B the second)."""
        rows = [[f.name, f.a, f.b, f.consistent, f.why] for f in self.factors]
        return pd.DataFrame(rows, columns=["factor", "A", "B", "explains the stage", "why"]).set_index("factor")

    def text(self) -> str:
        """The comparison as plain text (the CLI's output)."""
        lines = [f"A: {self.a.name}  ({machine_label(self.primary.a.fingerprint)})",
                 f"B: {self.b.name}  ({machine_label(self.primary.b.fingerprint)})"]
        lines += [f"   note on {c.name}: {c.note}" for c in (self.a, self.b) if c.note]
        _, seed, task, epochs, batch_size, _ = self.primary.key
        lines.append(f"Runs compared: seed {seed}, {task} task, {epochs} epochs, batch {batch_size}")
        lines += ["", self.stages_table().to_string(float_format=lambda v: f"{v:.6g}"), ""]
        if self.factors:
            lines.append("What differs, most likely cause first:")
            for f in self.factors:
                mark = "*" if f.consistent else " "
                lines.append(f" {mark} {f.name}: {f.a}  |  {f.b}")
                lines.append(f"     {f.why}")
            lines.append(" (* can explain the first stage that differs)")
        else:
            lines.append("No recorded factor differs: same machine, same software, same settings.")
        if self.only_in_one:
            lines.append(f"Not compared (in one card only): {'; '.join(self.only_in_one)}.")
        lines += ["", self.conclusion]
        return "\n".join(lines)


def _card_summary(card: Card, run: RunResult) -> dict[str, Any]:
    return {"name": card.name, "note": card.note, "machine": machine_label(run.fingerprint)}


def representative_runs(card: Card) -> dict[SettingKey, RunResult]:
    """Per seeded setting, the run to compare: the first that carries per-epoch weights, else the first."""
    chosen: dict[SettingKey, RunResult] = {}
    for run in card.runs:
        if run.mode == "unseeded":
            continue  # unseeded runs differ by design; there is nothing to explain
        key = setting_key(run)
        if key not in chosen or (card.trajectory(chosen[key]) is None and card.trajectory(run) is not None):
            chosen[key] = run
    return chosen


def _as_card(card: Card | str | Path, name: str) -> Card:
    if isinstance(card, Card):
        return card
    if isinstance(card, (str, Path)):
        return load_card(card)
    raise ConfigError(f"card {name} must be a Card or the path of a card file, not {type(card).__name__}.")


def compare_cards(a: Card | str | Path, b: Card | str | Path, setting: str | None = None) -> Comparison:
    """Compare two cards (loaded, or paths). ``setting`` picks the mode to explain ("seeded" or
    "cpu"); by default the seeded runs, else the CPU-forced ones."""
    card_a, card_b = _as_card(a, "A"), _as_card(b, "B")
    reps_a, reps_b = representative_runs(card_a), representative_runs(card_b)
    shared = [key for key in reps_a if key in reps_b]
    only = [f"{setting_label(k)} ({card.name})" for card, reps, other in ((card_a, reps_a, reps_b),
                                                                            (card_b, reps_b, reps_a))
            for k in reps if k not in other]
    if not shared:
        raise ConfigError(f"{card_a.name} and {card_b.name} have no seeded runs of the same setting to compare; "
                          "make both with `python -m helpers card` (same seed, task and epochs).")
    settings = [compare_runs(card_a, reps_a[k], card_b, reps_b[k]) for k in shared]
    if setting is not None and setting not in ("seeded", "cpu"):
        raise ConfigError(f"setting must be seeded or cpu, not {shown(setting)}.")
    wanted = [setting] if setting else ["seeded", "cpu"]
    primary = next((s for mode in wanted for s in settings if s.key[0] == mode), None)
    if primary is None:
        raise ConfigError(f"{card_a.name} and {card_b.name} have no {setting} runs of the same setting to compare.")
    factors = differing_factors(primary.a, primary.b, primary.first_stage)
    conclusion = _conclusion(primary, factors, settings)
    return Comparison(card_a, card_b, settings, primary, factors, conclusion, only)


def _conclusion(primary: SettingComparison, factors: list[Factor], settings: list[SettingComparison]) -> str:
    stage = primary.first_stage
    likely = next((f for f in factors if f.consistent), None)
    cause = (f"most likely because of the {likely.name} ({likely.a} against {likely.b})" if likely
             else "and none of the recorded factors that differ can explain it")
    what = f"{primary.key[0]} runs with seed {primary.key[1]}"
    if stage is None:
        if not factors:
            first = f"Both cards come from the same machine and settings and trained bit-identical weights ({what})."
        else:
            names = ", ".join(f.name for f in factors)
            first = (f"The two cards trained bit-identical weights ({what}) although some things differ ({names}): "
                     "none of them changed this model's arithmetic.")
    elif not factors:
        first = (f"Both cards come from the same machine and settings, yet their {what} differ from the "
                 f"{STAGE_NAMES.get(stage, 'trained weights')} on: this is real nondeterminism, not a difference "
                 "between machines.")
    elif stage == DATA:
        first = (f"The training data already differ ({what}): the seeding differs, or something drew from "
                 "np.random before the data were made, so nothing after can agree.")
    elif stage == INITIAL:
        first = f"Same data, but the initial weights already differ ({what}): Keras drew them differently, {cause}."
    else:
        epoch, distance = primary.first_differing_epoch, primary.max_abs_weight_difference
        where = "" if epoch is None else f" after epoch {epoch}"
        size = "" if distance is None else f" and end {distance:.2g} apart"
        first = (f"Same data and initial weights; the weights part during training{where}{size} ({what}): "
                 f"the arithmetic differs, {cause}.")
    acc_a, acc_b = primary.a.test_accuracy, primary.b.test_accuracy
    second = (f"Test accuracy {acc_a:.6f} against {acc_b:.6f}"
              + (": the same despite the different bits." if acc_a == acc_b and stage else
                 "." if acc_a == acc_b else f": a visible difference of {abs(acc_a - acc_b):.6f}."))
    others = [s for s in settings if s is not primary and (s.first_stage is None) != (stage is None)]
    third = "".join(f" Their {s.key[0]} runs {'are bit-identical' if s.first_stage is None else 'differ'}"
                    + (", so the device is what differs." if s.first_stage is None and s.key[0] == "cpu"
                       and primary.a.device != primary.b.device else ".")
                    for s in others)
    return f"{first} {second}{third}"
