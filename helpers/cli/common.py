"""What every command shares: the parser that errs in one line, common options, and sentences."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from typing import NoReturn

from helpers.core.config import DEFAULT_SEED, TASKS

EXIT_ERROR = 2
PROG = "python -m helpers"  # how the user called the lab; set by helpers.cli.main


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (see --help)\n")


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", choices=TASKS, default="article",
                        help="article: the article's random labels (accuracy near chance, 10%%); "
                             "learnable: labels that depend on the inputs (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=None,
                        help=f"seed for the seeded and CPU-forced runs (default: {DEFAULT_SEED}); "
                             "unseeded runs take none")
    parser.add_argument("--epochs", type=int, default=10, help="training epochs per run (default: %(default)s)")
    parser.add_argument("--processes", choices=("warm", "fresh"), default="warm",
                        help="warm: reuse one worker process per environment (fast, same bits); "
                             "fresh: a new Python process per run, like a new Colab session (default: %(default)s)")
    parser.add_argument("--parallel", type=int, default=None,
                        help="how many runs at once (default: the number of cores)")
    parser.add_argument("--xla", choices=("on", "off"), default=None,
                        help="compile with XLA (on) or without (off); by default as the article does, leaving it to "
                             "Keras, which turns XLA on when TensorFlow sees a GPU")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def add_script_limits(parser: argparse.ArgumentParser | argparse._ArgumentGroup, timeout: float = 600.0) -> None:
    """The limits of every command that runs a learner's script: its time, and caps on each ``fit``."""
    parser.add_argument("--timeout", type=float, default=timeout, metavar="SECONDS",
                        help="stop a run of the script that takes longer (default: %(default)g)")
    parser.add_argument("--max-epochs", type=int, default=None, metavar="E",
                        help="cap every fit call at E epochs (the output and the card say the training was capped)")
    parser.add_argument("--max-steps", type=int, default=None, metavar="N",
                        help="cap every fit call at N training steps in all")


def env_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} must look like NAME=VALUE, e.g. ONEDNN_MAX_CPU_ISA=AVX2")
    return key, value


def command_line(argv: Sequence[str]) -> str:
    return f"{PROG} " + shlex.join(argv)


def xla_of(args: argparse.Namespace) -> bool | None:
    """--xla on/off as RunConfig's jit_compile (None: as Keras decides)."""
    return {"on": True, "off": False}.get(getattr(args, "xla", None))


def seed_of(args: argparse.Namespace) -> int:
    return DEFAULT_SEED if args.seed is None else args.seed


def note_retries(results: list) -> None:
    from helpers.core.results import retry_sentence

    if retry_sentence(results):
        print(f"note: {retry_sentence(results)}", file=sys.stderr)


def keep_finished(exc: BaseException, out: str | None, argv: Sequence[str]) -> BaseException:
    """Write the runs that finished before a failure or an interruption to ``out``, and say so."""
    from helpers.cards.fileformat import card_document, write_card
    from helpers.running.runner import RunError, RunInterrupted

    completed = getattr(exc, "completed", [])
    if not (out and completed):
        return exc
    write_card(out, card_document(completed, command_line(argv)))
    if isinstance(exc, RunInterrupted):
        return RunInterrupted(str(exc), completed, exc.total, saved_to=str(out))
    return RunError(f"{str(exc).rstrip('.')}. The {len(completed)} runs that finished are in {out}.", completed)


def stopped_sentence(exc: BaseException) -> str:
    """What the user is told after Ctrl-C: how many runs had finished, and where they are."""
    completed = getattr(exc, "completed", None)
    if completed is None:
        return "stopped by the user; runs still going were ended."
    saved = getattr(exc, "saved_to", "")
    return (f"stopped by the user: {len(completed)} of {getattr(exc, 'total', 0)} runs had finished"
            + (f"; they are in {saved}" if saved else "") + "; the runs still going were ended.")
