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
from collections.abc import Mapping
from pathlib import Path

from helpers.audit import run_audit
from helpers.cardfile import Card, card_document, card_from_document, check_writable, parse_document, write_card
from helpers.config import DEFAULT_SEED, ConfigError
from helpers.runner import RunError, RunInterrupted

STANDARD_REPEATS = 2


def make_card(
    path: str | Path | None = None,
    *,
    seed: int = DEFAULT_SEED,
    task: str = "article",
    epochs: int = 10,
    repeats: int = STANDARD_REPEATS,
    env: Mapping[str, str] | None = None,
    op_determinism: bool = False,
    jit_compile: bool = False,
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
    if path is not None:
        path = check_writable(path)
    if not isinstance(note, str) or len(note) > 300:
        raise ConfigError("the note must be text of at most 300 characters.")
    if env is not None and not isinstance(env, Mapping):
        raise ConfigError(f"env must map names to values, such as {{'ONEDNN_MAX_CPU_ISA': 'AVX2'}}, not {env!r}.")
    settings = {"env": tuple((env or {}).items()), "op_determinism": op_determinism, "jit_compile": jit_compile}
    command = command or _api_command(seed, task, epochs, repeats, dict(env or {}), op_determinism, jit_compile)
    try:
        report = run_audit(repeats=repeats, task=task, seed=seed, processes=processes, progress=progress,
                           epochs=epochs, record_epochs=True, **settings)
    except (RunError, RunInterrupted) as exc:
        if path is not None and exc.completed:
            write_card(path, card_document(exc.completed, command, note=note))
            if isinstance(exc, RunInterrupted):
                raise RunInterrupted(f"{str(exc).rstrip('.')}. The {len(exc.completed)} runs that finished are "
                                     f"in {path}.", exc.completed, exc.total, saved_to=str(path)) from None
            raise RunError(f"{str(exc).rstrip('.')}. The {len(exc.completed)} runs that finished are in {path}.",
                           exc.completed) from None
        raise
    document = card_document(report.results, command, report.verdicts, note)
    name = path.name if path is not None else "this machine"
    if path is not None:
        write_card(path, document)
    # Through JSON and the loader, so this card is exactly what anyone who loads the file gets.
    return card_from_document(parse_document(json.dumps(document), name), name, path)


def _api_command(seed: int, task: str, epochs: int, repeats: int, env: dict[str, str], op_determinism: bool,
                 jit_compile: bool) -> str:
    """The command line that makes the same card, recorded in it so anyone can make it again."""
    args = ["python", "-m", "helpers", "card", "--seed", str(seed), "--task", task, "--epochs", str(epochs),
            "--repeats", str(repeats)]
    for key, value in env.items():
        args += ["--env", f"{key}={value}"]
    if op_determinism:
        args.append("--op-determinism")
    if jit_compile:
        args.append("--xla")
    return shlex.join(args)
