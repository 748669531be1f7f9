"""Imitate another machine's card of a script here: which settings reproduce its seeded runs' bits?

The same attempts as for the article's cards (:func:`helpers.cards.imitate.candidate_settings`:
oneDNN's instruction-set cap and on/off switch, op determinism, the threads, the CPU; each alone,
then all together), each a fresh run of the script with ``set_random_seed`` at the card's seed.
XLA is set by the script's own compile call, so it is not a setting to try.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.cards.fileformat import Card
from helpers.cards.imitate import candidate_settings, not_imitable
from helpers.cards.script_cards import ScriptCard, script_card
from helpers.core.config import ConfigError
from helpers.core.stages import compare_stages, first_differing_stage
from helpers.core.weights import decode, max_abs_difference
from helpers.machines.fingerprint import machine_fingerprint
from helpers.scripts import DEFAULT_TIMEOUT
from helpers.scripts.runs import Fix, ScriptRun, run_scripts
from helpers.scripts.source import load_script


@dataclass
class ScriptAttempt:
    description: str
    fix: Fix
    run: ScriptRun
    identical: bool
    max_abs_weight_difference: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"description": self.description, "settings": self.fix.to_dict(), "identical": self.identical,
                "max_abs_weight_difference": self.max_abs_weight_difference,
                "weights_sha256": self.run.weights_sha256, "evaluation": dict(self.run.evaluation_values or ())}


@dataclass
class ScriptImitation:
    card: ScriptCard
    target: ScriptRun
    tried: list[ScriptAttempt]
    not_imitated: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def match(self) -> ScriptAttempt | None:
        return next((a for a in self.tried if a.identical), None)

    @property
    def conclusion(self) -> str:
        their = f"{self.card.card.name}'s runs of {self.card.name} (set_random_seed({self.target.fix.seed}))"
        if self.match is not None:
            return f"Reproduced {their} bit for bit here with: {self.match.description}."
        known = [a for a in self.tried if a.max_abs_weight_difference is not None]
        closest = min(known, key=lambda a: a.max_abs_weight_difference or 0.0) if known else None
        text = f"No setting tried here reproduces {their} bit for bit" + (
            f"; the closest is {closest.description} ({closest.max_abs_weight_difference:.2g} apart)." if closest
            else ".")
        return text + (f" Not imitable here: {'; '.join(self.not_imitated)}." if self.not_imitated else "")

    def to_dict(self) -> dict[str, Any]:
        return {"card": self.card.card.name, "script": self.card.name, "target_weights_sha256":
                self.target.weights_sha256, "match": None if self.match is None else self.match.fix.to_dict(),
                "match_description": None if self.match is None else self.match.description,
                "tried": [a.to_dict() for a in self.tried], "not_imitated": list(self.not_imitated),
                "notes": list(self.notes), "conclusion": self.conclusion}

    def text(self) -> str:
        lines = [f"Imitating {self.card.card.name}: {self.card.name} seeded with set_random_seed("
                 f"{self.target.fix.seed}), weights {str(self.target.weights_sha256)[:12]}", *self.notes, ""]
        for attempt in self.tried:
            distance = attempt.max_abs_weight_difference
            lines.append(f"  {'identical' if attempt.identical else 'differs  '}  {attempt.description}"
                         + ("" if attempt.identical or distance is None else f"  ({distance:.3g} apart)"))
        return "\n".join([*lines, "", self.conclusion])


def _last_snapshot(run: ScriptRun) -> list[Any] | None:
    encoded = run.fits[-1].get("weights_per_epoch") if run.fits else None
    return decode(encoded)[1][-1] if encoded else None


def imitate_script(card: Card | ScriptCard | str | Path, script: str | Path, *, timeout: float = DEFAULT_TIMEOUT,
                   parallel: int | None = None, python: str | None = None) -> ScriptImitation:
    """Run ``script`` here with each setting that could reproduce ``card``'s seeded runs; the script must be
    the card's (same content), since a card carries only its hash."""
    found = card if isinstance(card, ScriptCard) else script_card(card)
    loaded = load_script(script)
    if loaded.sha256 != found.sha256:
        raise ConfigError(f"{loaded.name} is not the script {found.card.name} was made with (its content differs: "
                          f"{loaded.sha256[:12]} against {found.sha256[:12]}); give the same file.")
    seeded = [run for run in found.runs if run.fix.seed is not None]
    if not seeded:
        raise ConfigError(f"{found.card.name} has no seeded runs to imitate; make it with `python -m helpers card "
                          "--script`.")
    target = next((r for r in seeded if any(f.get("weights_per_epoch") for f in r.fits)), seeded[0])
    here = machine_fingerprint()
    attempts = candidate_settings(target, here)  # type: ignore[arg-type]
    fixes = []
    for attempt in attempts:
        env = dict(attempt.env)
        if attempt.device == "cpu":
            env["CUDA_VISIBLE_DEVICES"] = "-1"
        fixes.append(Fix(seed=target.fix.seed, op_determinism=attempt.op_determinism, env=tuple(sorted(env.items()))))
    runs = run_scripts(loaded, fixes, max_epochs=found.caps.get("max_epochs"), max_steps=found.caps.get("max_steps"),
                       timeout=timeout, parallel=parallel, python=python)  # the card's caps: the same training
    theirs = _last_snapshot(target)
    tried = []
    for attempt, fix, run in zip(attempts, fixes, runs):
        identical = run.weights_sha256 == target.weights_sha256
        distance = 0.0 if identical else None
        mine = _last_snapshot(run)
        if not identical and theirs is not None and mine is not None:
            try:
                distance = max_abs_difference(mine, theirs)
            except ValueError:
                distance = None
        tried.append(ScriptAttempt(attempt.description, fix, run, identical, distance))
    notes = []
    stage = first_differing_stage(compare_stages(runs[0], target))
    if stage in ("data", "initial weights"):
        notes.append(f"Their {stage} differ from this machine's, so no arithmetic setting can reproduce their "
                     "weights (`python -m helpers compare` says why).")
    if any(a.jit_compile for a in attempts):
        notes.append("Their model was compiled with XLA by the script's own compile call; that is not a setting "
                     "to try here.")
    return ScriptImitation(found, target, tried, not_imitable(target, runs[0].fingerprint), notes)  # type: ignore[arg-type]
