"""The standard card: the runs a learner makes on one machine to compare it with another.

A card is the lab's results file made to travel: two seeded runs (the article's Example 2),
two unseeded runs (Example 1) and two CPU-forced runs (Example 3), the fingerprint of every
run's process, the audit's verdicts, and -- for the first seeded and the first CPU-forced run
-- the weights after every epoch, so that two cards can be compared by distance, not only by
hash. ``python -m helpers card --out FILE`` and :func:`make_card` make one in about 10 s.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers.cards.fileformat import Card, card_document, card_from_document, check_writable, parse_document, write_card
from helpers.core.config import DEFAULT_SEED, ConfigError, RunConfig, shown
from helpers.core.results import RunResult
from helpers.running.audit import audit_plan, audit_verdicts
from helpers.running.runner import RunError, RunInterrupted, run_configs

STANDARD_REPEATS = 2


@dataclass(frozen=True)
class _Planned:
    path: Path | None
    note: str
    command: str
    size: int  # how many runs of the batch are this card's


def make_card(
    path: str | Path | None = None,
    *,
    seed: int = DEFAULT_SEED,
    task: str = "article",
    epochs: int = 10,
    repeats: int = STANDARD_REPEATS,
    env: Mapping[str, str] | None = None,
    op_determinism: bool = False,
    jit_compile: bool | None = None,
    note: str = "",
    processes: str = "warm",
    progress: bool = True,
    command: str | None = None,
) -> Card:
    """Make this machine's card and, if ``path`` is given, write it there.

    ``env`` sets variables in every run's process before TensorFlow starts, e.g.
    ``{"ONEDNN_MAX_CPU_ISA": "AVX2"}`` to imitate an older CPU; say so in ``note``, since the
    card then stands for a machine this is not. If some runs fail, :class:`RunError` carries
    the ones that finished and, when ``path`` was given, they are written there; so does
    :class:`RunInterrupted` when the user stops the runs.
    """
    card = {"path": path, "seed": seed, "task": task, "epochs": epochs, "repeats": repeats, "env": env,
            "op_determinism": op_determinism, "jit_compile": jit_compile, "note": note, "command": command}
    return make_cards([card], processes=processes, progress=progress)[0]


def make_cards(cards: Sequence[Mapping[str, Any]], *, processes: str = "warm", progress: bool = True) -> list[Card]:
    """Several cards (each a mapping of :func:`make_card`'s arguments) from one batch of runs.

    One batch lets the workers of every card share the cores, which is quicker than one card
    after another (the demonstration workshop makes four this way).
    """
    planned: list[_Planned] = []
    configs: list[RunConfig] = []
    recording: list[bool] = []
    for card in cards:
        spec = {"seed": DEFAULT_SEED, "task": "article", "epochs": 10, "repeats": STANDARD_REPEATS, "env": None,
                "op_determinism": False, "jit_compile": None, "note": "", "command": None, "path": None, **card}
        path = None if spec["path"] is None else check_writable(spec["path"])
        note, env = spec["note"], spec["env"]
        if not isinstance(note, str) or len(note) > 300:
            raise ConfigError("the note must be text of at most 300 characters.")
        if env is not None and not isinstance(env, Mapping):
            raise ConfigError("env must map names to values, such as {'ONEDNN_MAX_CPU_ISA': 'AVX2'}, "
                              f"not {shown(env)}.")
        settings = {"env": tuple((env or {}).items()), "op_determinism": spec["op_determinism"],
                    "jit_compile": spec["jit_compile"]}
        mine, keep = audit_plan(spec["repeats"], spec["task"], spec["seed"], spec["epochs"], True, **settings)
        command = spec["command"] or _api_command(spec["seed"], spec["task"], spec["epochs"], spec["repeats"],
                                                  dict(env or {}), spec["op_determinism"], spec["jit_compile"])
        planned.append(_Planned(path, note, command, len(mine)))
        configs += mine
        recording += keep
    try:
        results = run_configs(configs, processes=processes, progress=progress, record_epochs=recording)
    except (RunError, RunInterrupted) as exc:
        raise _kept(exc, planned) from None
    made = []
    for plan, mine in zip(planned, _split(results, planned)):
        document = card_document(mine, plan.command, audit_verdicts(mine), plan.note)
        name = plan.path.name if plan.path is not None else "this machine"
        if plan.path is not None:
            write_card(plan.path, document)
        # Through JSON and the loader, so this card is exactly what anyone who loads the file gets.
        made.append(card_from_document(parse_document(json.dumps(document), name, require_schema=False), name,
                                       plan.path))
    return made


def _split(results: Sequence[RunResult], planned: Sequence[_Planned]) -> list[list[RunResult]]:
    """Each card's runs, by their position in the batch."""
    bounds, start = [], 0
    for plan in planned:
        bounds.append((start, start + plan.size))
        start += plan.size
    return [[r for r in results if low <= r.index < high] for low, high in bounds]


def _kept(exc: RunError | RunInterrupted, planned: Sequence[_Planned]) -> RunError | RunInterrupted:
    """Write what finished of each card to its file, and say where."""
    written = []
    for plan, mine in zip(planned, _split(exc.completed, planned)):
        if plan.path is not None and mine:
            write_card(plan.path, card_document(mine, plan.command, note=plan.note))
            written.append(str(plan.path))
    if not written:
        return exc
    where = ", ".join(written)
    message = f"{str(exc).rstrip('.')}. The {len(exc.completed)} runs that finished are in {where}."
    if isinstance(exc, RunInterrupted):
        return RunInterrupted(message, exc.completed, exc.total, saved_to=where)
    return RunError(message, exc.completed)


def _api_command(seed: int, task: str, epochs: int, repeats: int, env: dict[str, str], op_determinism: bool,
                 jit_compile: bool | None) -> str:
    """The command line that makes the same card, recorded in it so anyone can make it again."""
    args = ["python", "-m", "helpers", "card", "--seed", str(seed), "--task", task, "--epochs", str(epochs),
            "--repeats", str(repeats)]
    for key, value in env.items():
        args += ["--env", f"{key}={value}"]
    if op_determinism:
        args.append("--op-determinism")
    if jit_compile is not None:
        args += ["--xla", "on" if jit_compile else "off"]
    return shlex.join(args)
