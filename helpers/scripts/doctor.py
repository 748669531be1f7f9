"""The doctor: does a learner's script repeat, where does it part, and which fix makes it repeat?

:func:`check_script` runs the script as written in fresh processes (two, or ``repeats``). If
they agree, it says so. If not, it names the first stage that differs (data, initial weights,
training, evaluation) and tries fixes, each in its own fresh runs and each added to the ones
before: every generator seeded before the script starts (``keras.utils.set_random_seed``), then
op determinism, then one thread. It reports the first fix that made the runs identical, with the
lines to add and where, and what the script's own seed calls are and where they stand.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.core.config import DEFAULT_SEED, check_repeats
from helpers.core.layers import parting_sentence
from helpers.core.results import Verdict
from helpers.core.stages import DIFFERENT, NOT_RECORDED, SAME, STAGES, compare_stages, first_differing_stage
from helpers.scripts import DEFAULT_TIMEOUT
from helpers.scripts.runs import (
    Fix,
    ScriptError,
    ScriptInterrupted,
    ScriptRun,
    check_keras_backend,
    check_limits,
    run_scripts,
)
from helpers.scripts.source import SEED_CALLS, Facts, Script, load_script, read_script
from helpers.scripts.trajectories import parting_layers

FIX_NAMES = ("keras.utils.set_random_seed", "op determinism", "one thread")


def fixes_for(seed: int) -> list[tuple[str, Fix]]:
    """The fixes in the order tried, each including the ones before it."""
    return [(FIX_NAMES[0], Fix(seed=seed)), (FIX_NAMES[1], Fix(seed=seed, op_determinism=True)),
            (FIX_NAMES[2], Fix(seed=seed, op_determinism=True, threads=1))]


def stages_of(runs: Sequence[Any]) -> dict[str, str]:
    """Each stage over several runs: different if any run differs from the first, else same
    (not recorded where a run lacks it)."""
    pairs = [compare_stages(runs[0], other) for other in runs[1:]]
    stages = {}
    for stage in STAGES:
        outcomes = {pair[stage] for pair in pairs}
        stages[stage] = DIFFERENT if DIFFERENT in outcomes else NOT_RECORDED if NOT_RECORDED in outcomes else SAME
    return stages


def repeats_exactly(stages: dict[str, str]) -> bool:
    """Identical runs: no stage differs, and the trained weights were recorded and are the same."""
    return DIFFERENT not in stages.values() and stages["training"] == SAME


@dataclass
class Trial:
    """One pair (or more) of fresh runs with one fix (or none: the script as written)."""

    name: str  # "as written", or the fix tried: one of FIX_NAMES
    fix: Fix
    runs: list[ScriptRun]

    @property
    def stages(self) -> dict[str, str]:
        return stages_of(self.runs)

    @property
    def repeatable(self) -> bool:
        return repeats_exactly(self.stages)

    def to_dict(self) -> dict[str, Any]:
        return {"fix": self.name, "settings": self.fix.to_dict(), "repeatable": self.repeatable,
                "stages": self.stages, "first_differing_stage": first_differing_stage(self.stages),
                "test_results": [run.evaluation_values and dict(run.evaluation_values) for run in self.runs]}


@dataclass
class ScriptCheck:
    """The doctor's findings for one script."""

    script: Script
    facts: Facts
    seed: int
    trials: list[Trial]
    max_epochs: int | None = None
    max_steps: int | None = None
    complete: bool = True  # False: stopped (a failure or Ctrl-C) before the ladder was done
    notes: list[str] = field(default_factory=list)

    @property
    def runs(self) -> list[ScriptRun]:
        return [run for trial in self.trials for run in trial.runs]

    @property
    def repeatable(self) -> bool:
        return bool(self.trials) and self.trials[0].repeatable

    @property
    def stages(self) -> dict[str, str]:
        return self.trials[0].stages if self.trials else dict.fromkeys(STAGES, NOT_RECORDED)

    @property
    def first_differing_stage(self) -> str | None:
        return first_differing_stage(self.stages)

    @property
    def fixed_by(self) -> Trial | None:
        return next((trial for trial in self.trials[1:] if trial.repeatable), None)

    @property
    def capped(self) -> bool:
        return any(run.capped for run in self.runs)

    def lines_to_add(self) -> list[str]:
        """The lines that make the script repeat: those of the fix that worked and every fix before it."""
        fixed = self.fixed_by
        if fixed is None:
            return []
        keras, tf = self.facts.keras_name, self.facts.tf_name
        lines = [] if self.facts.keras_imported or (tf is not None and not self.facts.keras_package) else [
            "import keras" if self.facts.keras_package else "from tensorflow import keras"]
        keras = "keras" if lines else keras
        lines.append(f"{keras}.utils.set_random_seed({self.seed})")
        if fixed.name != FIX_NAMES[0] and tf is None:
            lines.insert(0, "import tensorflow as tf")
        tf = tf or "tf"
        if fixed.name != FIX_NAMES[0]:
            lines.append(f"{tf}.config.experimental.enable_op_determinism()")
        if fixed.name == FIX_NAMES[2]:
            lines += [f"{tf}.config.threading.set_intra_op_parallelism_threads(1)",
                      f"{tf}.config.threading.set_inter_op_parallelism_threads(1)"]
        return lines

    def where_to_add(self) -> str:
        facts = self.facts
        places = [f"the {what} (line {line})" for what, line in (("data", facts.data_line), ("model", facts.model_line))
                  if line is not None]
        before = f", before {' and '.join(places)}" if places else ""
        return f"right after line {facts.after_imports_line} of {self.script.name} (its imports){before}"

    def seed_call_sentences(self) -> list[str]:
        calls = self.facts.seed_calls
        if not calls:
            return [f"{self.script.name} makes no seed call of its own."]
        return [f"line {c.line}: {c.name} (seeds {SEED_CALLS[c.name]}), {self.facts.where(c)}." for c in calls]

    def advice(self) -> list[str]:
        """What to do, in sentences (the lines to add are in :meth:`lines_to_add`)."""
        said = []
        late = [c for c in self.facts.seed_calls if self.facts.where(c) != "before the data and the model"]
        if late:
            said.append(f"Its own seed call{'s' * (len(late) > 1)} at line {', '.join(str(c.line) for c in late)} "
                        f"come{'s' * (len(late) == 1)} too late to fix what was drawn before: move "
                        f"{'them' if len(late) > 1 else 'it'} {self.where_to_add()}.")
        if self.repeatable:
            said.append(f"{self.script.name} repeats as written on this machine: two fresh runs trained identical "
                        "weights. To know whether another machine gets the same bits, make a card on each and "
                        "compare them.")
        elif self.fixed_by is not None:
            said.append(f"Add {'this line' if len(self.lines_to_add()) == 1 else 'these lines'} "
                        f"{self.where_to_add()}: " + "; ".join(self.lines_to_add()) + ".")
        elif self.complete:
            said.append("None of the fixes made two fresh runs agree: what still differs is not set by seeds, op "
                        "determinism or threads (data read from a source that changes, the time, os.urandom, a GPU "
                        "kernel without a deterministic version); look at the first stage that differs.")
        for call in self.facts.unsorted_listings:
            said.append(f"Line {call.line} lists files with {call.name} without sorting them: another machine lists "
                        "them in another order, which one machine cannot see; wrap it in sorted(...).")
        for call in self.facts.splits_left_unseeded():
            said.append(f"Line {call.line}'s train_test_split has no random_state and no NumPy seed before it: it "
                        "splits the data differently in every fresh run; give it random_state.")
        if self.capped:
            said.append(f"Training was capped ({self._caps()}); the verdicts hold for the capped training.")
        return said

    def _caps(self) -> str:
        caps = [f"at most {self.max_epochs} epochs"] * (self.max_epochs is not None)
        caps += [f"at most {self.max_steps} steps"] * (self.max_steps is not None)
        return " and ".join(caps) + " per fit"

    def verdicts(self) -> list[Verdict]:
        """The doctor's findings as verdicts a notebook prints (each computed from the runs)."""
        verdicts = [Verdict(f"{self.script.name} repeats as written", self.repeatable,
                            f"{len(self.trials[0].runs) if self.trials else 0} fresh runs; first differing stage: "
                            f"{self.first_differing_stage or 'none'}")]
        if self.trials and not self.repeatable:
            fixed = self.fixed_by
            verdicts.append(Verdict(f"{self.script.name}: a fix made fresh runs identical", fixed is not None,
                                    f"first fix that worked: {fixed.name if fixed else 'none'}"))
        return verdicts

    def to_dict(self) -> dict[str, Any]:
        fixed = self.fixed_by
        return {
            "script": self.script.name, "sha256": self.script.sha256, "seed": self.seed,
            "repeatable": self.repeatable, "stages": self.stages, "first_differing_stage": self.first_differing_stage,
            "fixes": [trial.to_dict() for trial in self.trials[1:]],
            "fixed_by": fixed.name if fixed else None, "lines_to_add": self.lines_to_add(),
            "where_to_add": self.where_to_add() if fixed else None, "advice": self.advice(),
            "seed_calls": self.facts.to_dict()["seed_calls"], "script_facts": self.facts.to_dict(),
            "runs": [_run_summary(trial.name, run) for trial in self.trials for run in trial.runs],
            "capped": self.capped, "caps": {"max_epochs": self.max_epochs, "max_steps": self.max_steps},
            "complete": self.complete, "layers": self.parting_layers(), "notes": list(self.notes),
        }

    def parting_layers(self) -> list[dict[str, Any]] | None:
        """Which layer parts first between the first two runs as written, and by how much."""
        if not self.trials or len(self.trials[0].runs) < 2:
            return None
        return parting_layers(self.trials[0].runs[0], self.trials[0].runs[1])

    def text(self) -> str:
        lines = [f"Checked {self.script.name} (sha256 {self.script.sha256[:12]}), each run a fresh process:"]
        for trial in self.trials:
            label = "as written" if trial.name == "as written" else f"+ {trial.name}"
            detail = "identical" if trial.repeatable else "differ from the " + (
                first_differing_stage(trial.stages) or "training") + " stage on"
            accuracy = ", ".join(_accuracy(run) for run in trial.runs)
            lines.append(f"  {label:<32} {len(trial.runs)} runs: {detail}  (test results: {accuracy})")
        if self.trials:
            lines.append("Stages as written: " + ", ".join(f"{s} {o}" for s, o in self.stages.items()))
        layers = self.parting_layers()
        if layers and self.first_differing_stage in ("training", "evaluation"):
            lines.append(parting_sentence(layers, f" of fit {layers[0]['fit']}"))
        lines.append("Its seed calls: " + " ".join(self.seed_call_sentences()))
        lines += self.advice()
        if self.lines_to_add():
            lines += ["", *(f"    {line}" for line in self.lines_to_add())]
        return "\n".join(lines)


def _accuracy(run: ScriptRun) -> str:
    value = run.test_accuracy if run.test_accuracy is not None else run.test_loss
    return "none" if value is None else f"{value:.4f}"


def _run_summary(trial: str, run: ScriptRun) -> dict[str, Any]:
    return {"trial": trial, "fix": run.fix.to_dict(), "weights_sha256": run.weights_sha256,
            "data_sha256": run.data_sha256, "initial_weights_sha256": run.initial_weights_sha256,
            "evaluation": dict(run.evaluation_values or ()), "capped": run.capped,
            "script_seconds": round(run.script_seconds, 2), "wall_seconds": round(run.wall_seconds, 2)}


def check_script(
    path: str | Path,
    *,
    repeats: int = 2,
    seed: int = DEFAULT_SEED,
    timeout: float = DEFAULT_TIMEOUT,
    max_epochs: int | None = None,
    max_steps: int | None = None,
    parallel: int | None = None,
    python: str | None = None,
    progress: bool | Callable[[str], None] = True,
) -> ScriptCheck:
    """Check whether the script at ``path`` repeats, and find the first fix that makes it repeat.

    ``repeats`` fresh runs per trial (at least 2). ``max_epochs``/``max_steps`` cap each ``fit``.
    A run that fails raises :class:`ScriptError` in one sentence; its ``check`` holds what was
    found before (so does :class:`ScriptInterrupted` after Ctrl-C).
    """
    from helpers.core.config import RunConfig

    repeats = check_repeats(repeats)
    if repeats < 2:
        from helpers.core.config import ConfigError

        raise ConfigError("the doctor compares fresh runs with each other, so it needs at least 2 repeats.")
    RunConfig(seed=seed)  # the seed's range, in one sentence
    check_limits(timeout, max_epochs, max_steps)
    script = load_script(path)
    check_keras_backend()
    say = progress if callable(progress) else (_stderr if progress else (lambda text: None))
    check = ScriptCheck(script, read_script(script), seed, [], max_epochs, max_steps)
    for name, fix in [("as written", Fix()), *fixes_for(seed)]:
        say(f"{script.name}: {repeats} fresh runs {name if name == 'as written' else 'with ' + name} ...")
        try:
            runs = run_scripts(script, [fix] * repeats, max_epochs=max_epochs, max_steps=max_steps, timeout=timeout,
                               parallel=parallel, python=python)
        except (ScriptError, ScriptInterrupted) as exc:
            check.complete = False
            if exc.completed:
                check.notes.append(f"{len(exc.completed)} run(s) {name} finished before it stopped; not compared.")
            exc.check = check  # type: ignore[attr-defined]
            raise
        check.trials.append(Trial(name, fix, runs))
        if check.trials[-1].repeatable:
            break
    return check


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
