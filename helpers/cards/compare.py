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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from helpers.cards.factors import Factor, differing_factors
from helpers.cards.fileformat import Card, as_card
from helpers.core.config import ConfigError, shown
from helpers.core.layers import guess_layers, parting, parting_sentence
from helpers.core.results import RunResult
from helpers.core.stages import DIFFERENT, SAME, STAGES, compare_stages, first_differing_stage
from helpers.core.text_table import text_table
from helpers.core.weights import max_abs_difference
from helpers.machines.fingerprint import machine_label

SettingKey = tuple[str, Optional[int], str, int, int, tuple[str, ...]]


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


# --------------------------------------------------------------------------- one setting


def _number(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value


@dataclass
class SettingComparison:
    """The two cards' runs of one setting, compared stage by stage and epoch by epoch."""

    key: SettingKey
    a: RunResult
    b: RunResult
    stages: dict[str, str]  # each of helpers.core.stages.STAGES: "same", "different" or "not recorded"
    epochs: list[int] | None  # epochs both cards carry weights for (0 = before training)
    distance: list[float] | None  # largest absolute weight difference after each of those epochs
    layers: list[dict[str, Any]] | None = None  # which layer parts first, and by how much (helpers.core.layers)

    @property
    def label(self) -> str:
        return setting_label(self.key)

    @property
    def first_stage(self) -> str | None:
        """Where the runs first differ: one of the stages, or None if nowhere."""
        return first_differing_stage(self.stages)

    @property
    def first_differing_epoch(self) -> int | None:
        """The first epoch after which the weights differ (0: before training), None if they never do
        or the cards carry no per-epoch weights to tell."""
        if self.distance is not None and self.epochs is not None:
            return next((e for e, d in zip(self.epochs, self.distance) if d != 0), None)
        return 0 if self.stages["initial weights"] == DIFFERENT else None

    @property
    def max_abs_weight_difference(self) -> float | None:
        """After the last epoch: 0.0 for identical weights, None when the cards cannot tell."""
        if self.stages["training"] == SAME:
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
            "layers": self.layers,
        }


def compare_runs(card_a: Card, a: RunResult, card_b: Card, b: RunResult) -> SettingComparison:
    stages = compare_stages(a, b)
    epochs = distance = None
    ta, tb = card_a.trajectory(a), card_b.trajectory(b)
    if ta is not None and tb is not None:
        common = sorted(set(ta[0]) & set(tb[0]))
        snaps_a, snaps_b = dict(zip(*ta)), dict(zip(*tb))
        layers = None
        try:
            distance = [max_abs_difference(snaps_a[e], snaps_b[e]) for e in common]
            epochs = common
            shapes = [list(w.shape) for w in snaps_a[common[0]]] if common else []
            layers = parting(common, [snaps_a[e] for e in common], [snaps_b[e] for e in common], guess_layers(shapes))
        except ValueError:  # another model entirely: the stages already say everything differs
            epochs = distance = None
        return SettingComparison(setting_key(a), a, b, stages, epochs, distance, layers)
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

    def stage_rows(self) -> list[dict[str, Any]]:
        """The rows of :meth:`stages_table`, as dicts (the CLI prints them without pandas)."""
        rows = []
        for s in self.settings:
            never = s.first_differing_epoch is None and s.first_stage is None
            rows.append({
                "runs": short_setting_label(s.key),
                **{stage: s.stages[stage] for stage in STAGES},
                "first differing epoch": "never" if never else s.first_differing_epoch,
                "max |Δw| at the end": s.max_abs_weight_difference,
                "test accuracy A": s.a.test_accuracy,
                "test accuracy B": s.b.test_accuracy,
            })
        return rows

    def stages_table(self) -> Any:
        """One row per shared setting: each stage same or different, the first differing epoch, the
        distance, and both test accuracies (A is the first card, B the second); a DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.stage_rows()).set_index("runs")

    def factors_table(self) -> Any:
        """The differing factors, most likely cause first (A is the first card, B the second); a DataFrame."""
        import pandas as pd

        rows = [[f.name, f.a, f.b, f.consistent, f.why] for f in self.factors]
        return pd.DataFrame(rows, columns=["factor", "A", "B", "explains the stage", "why"]).set_index("factor")

    def text(self) -> str:
        """The comparison as plain text (the CLI's output)."""
        lines = [f"A: {self.a.name}  ({machine_label(self.primary.a.fingerprint)})",
                 f"B: {self.b.name}  ({machine_label(self.primary.b.fingerprint)})"]
        lines += [f"   note on {c.name}: {c.note}" for c in (self.a, self.b) if c.note]
        _, seed, task, epochs, batch_size, _ = self.primary.key
        lines.append(f"Runs compared: seed {seed}, {task} task, {epochs} epochs, batch {batch_size}")
        lines += ["", text_table(self.stage_rows(), "runs", number=lambda v: f"{v:.6g}"), ""]
        if self.primary.layers and self.primary.first_stage in ("training", "evaluation"):
            lines += [parting_sentence(self.primary.layers), ""]
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


def compare_cards(a: Card | str | Path, b: Card | str | Path, setting: str | None = None) -> Comparison:
    """Compare two cards (loaded, or paths). ``setting`` picks the mode to explain ("seeded" or
    "cpu"); by default the seeded runs, else the CPU-forced ones."""
    card_a, card_b = as_card(a, "A"), as_card(b, "B")
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
                 f"{stage} stage on: this is real nondeterminism, not a difference between machines.")
    elif stage == "data":
        first = (f"The training data already differ ({what}): the seeding differs, or something drew from "
                 "np.random before the data were made, so nothing after can agree.")
    elif stage == "initial weights":
        first = f"Same data, but the initial weights already differ ({what}): Keras drew them differently, {cause}."
    elif stage == "evaluation":
        first = (f"Same data, initial and trained weights, yet evaluating them gave other numbers ({what}): the "
                 f"arithmetic of the evaluation differs, {cause}.")
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
