"""A card of the learner's own script: its runs in their environment, to compare with another machine's.

``python -m helpers card --script SCRIPT.py --out FILE`` (or :func:`make_script_card`) runs the
script ``repeats`` times as written and ``repeats`` times with ``keras.utils.set_random_seed``
before it starts (the seeded runs: what two machines can be compared by, even for a script
that seeds nothing), each in a fresh process, recorded. The card is the lab's card file with an
extra ``"script"`` part (its own schema, ``script.schema.json``): the script's name and content
hash -- never its source, its folder or its output -- and every run's fits, evaluations, model
settings and fingerprint; the first run of each setting keeps its weights after every epoch.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers.cards import validation
from helpers.cards.fileformat import (
    Card,
    card_document,
    card_from_document,
    check_writable,
    load_card,
    parse_document,
    write_card,
)
from helpers.core.config import DEFAULT_SEED, ConfigError, RunConfig, check_repeats
from helpers.core.results import Verdict
from helpers.core.weights import WeightsError, decode
from helpers.scripts import DEFAULT_TIMEOUT
from helpers.scripts.doctor import repeats_exactly, stages_of
from helpers.scripts.runs import Fix, ScriptError, ScriptInterrupted, ScriptRun, check_keras_backend, run_scripts
from helpers.scripts.source import load_script, read_script

MAX_TRAJECTORY_CHARS = 1_000_000  # per run: a card stays well under the 4 MB a card may be


@dataclass
class ScriptCard:
    """A loaded card of a script: which script, and its runs by setting."""

    card: Card
    name: str
    sha256: str
    runs: list[ScriptRun]
    caps: dict[str, Any]
    facts: dict[str, Any]

    @property
    def capped(self) -> bool:
        return any(run.capped for run in self.runs)

    def settings(self) -> dict[tuple[str, int | None], list[ScriptRun]]:
        """The runs by setting: ("as written", None) and ("seeded", seed)."""
        found: dict[tuple[str, int | None], list[ScriptRun]] = {}
        for run in self.runs:
            found.setdefault((run.mode, run.fix.seed), []).append(run)
        return found

    def verdicts(self) -> list[Verdict]:
        return script_verdicts(self.name, self.runs)


def setting_name(key: tuple[str, int | None]) -> str:
    return "as written" if key[0] == "as written" else f"seeded with set_random_seed({key[1]})"


def script_verdicts(name: str, runs: Sequence[ScriptRun]) -> list[Verdict]:
    verdicts = []
    for key in dict.fromkeys((run.mode, run.fix.seed) for run in runs):
        mine = [run for run in runs if (run.mode, run.fix.seed) == key]
        if len(mine) >= 2:
            stages = stages_of(mine)
            verdicts.append(Verdict(f"{name} {setting_name(key)}: fresh runs identical", repeats_exactly(stages),
                                    f"{len(mine)} runs; " + ", ".join(f"{s} {o}" for s, o in stages.items())))
    return verdicts


def is_script_card(card: Card) -> bool:
    return isinstance(card.document.get("script"), dict)


def script_card(card: Card | str | Path, validate: bool = True) -> ScriptCard:
    """The script part of ``card`` (a loaded card or a path), checked and decoded; one sentence if it is bad.
    ``validate=False`` skips the schema for a card this process has just made itself (no validator needed in the
    learner's environment)."""
    card = card if isinstance(card, Card) else load_card(card)
    part = card.document.get("script")
    if not isinstance(part, dict):
        raise ConfigError(f"{card.name} is a card of the article's model, not of a script; make one with "
                          "`python -m helpers card --script SCRIPT.py --out FILE`.")
    error = validation.first_error("script", part) if validate else None
    if error is not None:
        steps, message = error
        raise ConfigError(f"{card.name} is not a valid script card: {validation.where(['script', *steps])}: "
                          f"{message[:160].rstrip('.')}.")
    runs = [ScriptRun.from_dict({**run, "output": []}) for run in part["runs"]]
    for position, run in enumerate(runs):
        for fit in run.fits:
            if fit.get("weights_per_epoch"):
                try:
                    _, snapshots = decode(fit["weights_per_epoch"])
                except WeightsError as exc:
                    raise ConfigError(f"{card.name} run {position}: {str(exc).rstrip('.')}.") from None
                if fit["weights_per_epoch"]["sha256"][-1] != fit["weights_sha256"]:
                    raise ConfigError(f"{card.name} run {position}: the weights per epoch do not match the run's "
                                      "own weight hash.")
    return ScriptCard(card, part["name"], part["sha256"], runs, dict(part.get("caps") or {}),
                      dict(part.get("facts") or {}))


def _for_card(run: ScriptRun, keep_trajectory: bool) -> dict[str, Any]:
    """A run as the card stores it: no output (it may print paths), trajectories only where kept and small."""
    data = run.to_dict()
    data["output"] = []
    for fit in data["fits"]:
        encoded = fit.get("weights_per_epoch")
        if encoded and (not keep_trajectory or len(encoded["data"]) > MAX_TRAJECTORY_CHARS):
            del fit["weights_per_epoch"]  # the per-layer hashes stay: which layer parts first, not by how much
    return data


def _command(script: Path, path: Path | None, seed: int, repeats: int, env: Mapping[str, str],
             op_determinism: bool, max_epochs: int | None, max_steps: int | None) -> str:
    """The command that makes the same card, with file names only (a card carries no home-folder paths)."""
    args = ["python", "-m", "helpers", "card", "--script", script.name, "--seed", str(seed), "--repeats",
            str(repeats)]
    args += ["--out", path.name] if path is not None else []
    for key, value in env.items():
        args += ["--env", f"{key}={value}"]
    args += ["--op-determinism"] * op_determinism
    args += ["--max-epochs", str(max_epochs)] * (max_epochs is not None)
    args += ["--max-steps", str(max_steps)] * (max_steps is not None)
    return shlex.join(args)


def script_document(script_name: str, sha256: str, runs: Sequence[ScriptRun], command: str, note: str,
                    caps: Mapping[str, Any], facts: Mapping[str, Any]) -> dict[str, Any]:
    kept: set[tuple[str, int | None]] = set()
    stored = []
    for run in runs:
        key = (run.mode, run.fix.seed)
        stored.append(_for_card(run, key not in kept))
        kept.add(key)
    document = card_document([], command, script_verdicts(script_name, runs), note)
    document["script"] = {"name": script_name, "sha256": sha256, "caps": dict(caps),
                          "capped": any(run.capped for run in runs), "facts": dict(facts), "runs": stored}
    return document


def make_script_card(
    script: str | Path,
    path: str | Path | None = None,
    *,
    repeats: int = 2,
    seed: int = DEFAULT_SEED,
    env: Mapping[str, str] | None = None,
    op_determinism: bool = False,
    max_epochs: int | None = None,
    max_steps: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    note: str = "",
    parallel: int | None = None,
    python: str | None = None,
) -> ScriptCard:
    """Make the card of ``script`` on this machine and, if ``path`` is given, write it there.

    If a run fails or the user stops the runs, the runs that finished are written to ``path``
    and the error (:class:`ScriptError`, :class:`ScriptInterrupted`) says so.
    """
    repeats = check_repeats(repeats)
    env = dict(env or {})
    RunConfig(seed=seed, env=tuple(env.items()))  # the seed and the variables, checked in one sentence each
    if not isinstance(note, str) or len(note) > 300:
        raise ConfigError("the note must be text of at most 300 characters.")
    target = None if path is None else check_writable(path)  # refused before the first run, not after
    loaded = load_script(script)
    check_keras_backend()
    pairs = tuple(sorted(env.items()))
    fixes = [Fix(env=pairs, op_determinism=op_determinism)] * repeats
    fixes += [Fix(seed=seed, env=pairs, op_determinism=op_determinism)] * repeats
    caps = {"max_epochs": max_epochs, "max_steps": max_steps}
    facts = read_script(loaded).to_dict()
    command = _command(loaded.path, target, seed, repeats, env, op_determinism, max_epochs, max_steps)
    try:
        runs = run_scripts(loaded, fixes, max_epochs=max_epochs, max_steps=max_steps, timeout=timeout,
                           parallel=parallel, python=python)
    except (ScriptError, ScriptInterrupted) as exc:
        if target is not None and exc.completed:
            write_card(target, script_document(loaded.name, loaded.sha256, exc.completed, command, note, caps, facts))
            message = f"{str(exc).rstrip('.')}. The {len(exc.completed)} runs that finished are in {target}."
            if isinstance(exc, ScriptInterrupted):
                raise ScriptInterrupted(message, exc.completed, exc.total, saved_to=str(target)) from None
            raise ScriptError(message, exc.completed, exc.kind) from None
        raise
    document = script_document(loaded.name, loaded.sha256, runs, command, note, caps, facts)
    name = target.name if target is not None else loaded.name
    if target is not None:
        write_card(target, document)
    card = card_from_document(parse_document(json.dumps(document), name), name, target)
    return script_card(card, validate=False)



def script_rows(cards: Sequence[Card]) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """The workshop's rows for the seeded runs of every script card among ``cards`` (the runs as written
    are kept as unseeded ones: an unseeded script differs by design), and the script cards set aside."""
    from helpers.machines.fingerprint import machine_key, machine_label

    rows, rejected = [], []
    for card in cards:
        if not is_script_card(card):
            continue
        try:
            found = script_card(card)
        except ConfigError as exc:
            rejected.append((card.name, str(exc)))
            continue
        for run in found.runs:
            seeded = run.fix.seed is not None
            accuracy = run.test_accuracy if run.test_accuracy is not None else run.test_loss
            rows.append({
                "setting": (f"{found.name} seeded, seed {run.fix.seed}, script {found.sha256[:12]}" if seeded
                            else "unseeded"),
                "machine": machine_label(run.fingerprint), "card": card.name,
                "machine_key": machine_key(run.fingerprint), "mode": "seeded" if seeded else "unseeded",
                "seed": run.fix.seed, "task": found.name, "device": run.device,
                "test_accuracy": float("nan") if accuracy is None else accuracy,
                "weights": str(run.weights_sha256)[:12], "weights_sha256": run.weights_sha256,
            })
    return rows, rejected


def card_from_check(check: Any, path: str | Path | None = None, note: str = "") -> ScriptCard:
    """The card of a checked script, from the doctor's own runs (no run made twice): its runs as written
    and, if it tried the seeding fix, those seeded runs -- what ``card --script --repeats N`` makes."""
    target = None if path is None else check_writable(path)
    seed = check.seed
    runs = [run for run in check.runs if run.fix in (Fix(), Fix(seed=seed))]
    repeats = len([run for run in runs if run.fix == Fix()])
    caps = {"max_epochs": check.max_epochs, "max_steps": check.max_steps}
    command = _command(check.script.path, target, seed, repeats, {}, False, check.max_epochs, check.max_steps)
    document = script_document(check.script.name, check.script.sha256, runs, command, note, caps,
                               check.facts.to_dict())
    name = target.name if target is not None else check.script.name
    if target is not None:
        write_card(target, document)
    return script_card(card_from_document(parse_document(json.dumps(document), name), name, target), validate=False)
