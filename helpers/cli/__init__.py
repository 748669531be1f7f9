"""Command line: ``python -m helpers`` with one command per job (``--help`` lists them).

Every error is one line on stderr and exit code 2, never a traceback: the CLI is used by
teachers in front of a class. Each group of commands lives in a module of its own
(:mod:`~helpers.cli.runs`, :mod:`~helpers.cli.cards`, :mod:`~helpers.cli.training`,
:mod:`~helpers.cli.scripts`) that adds its
parsers and maps each command to a handler taking the parsed arguments and the raw ones.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from helpers.cli import cards, common, runs, scripts, training
from helpers.cli.common import EXIT_ERROR, Parser, stopped_sentence
from helpers.core.config import ConfigError
from helpers.running.preflight import numpy_missing_sentence

GROUPS = (runs, cards, training, scripts)


def build_parser(prog: str = "python -m helpers") -> argparse.ArgumentParser:
    parser = Parser(
        prog=prog,
        description="Keras reproducibility lab: run the article's experiments and check its claims.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for group in GROUPS:
        group.add_parsers(commands)
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "python -m helpers") -> int:
    """Run one command; ``prog`` is how the user called the lab (``python -m helpers`` or ``keras-repro-lab``),
    used in its messages and in the command line a card records."""
    argv = list(sys.argv[1:] if argv is None else argv)
    common.PROG = prog
    args = build_parser(prog).parse_args(argv)
    # Every command needs NumPy; a learner's environment may lack it (the parser above does not need it).
    refusal = numpy_missing_sentence()
    if refusal:
        print(f"{prog}: error: {refusal}", file=sys.stderr)
        return EXIT_ERROR
    from helpers.running.runner import RunError

    handlers = {name: handler for group in GROUPS for name, handler in group.HANDLERS.items()}
    try:
        return handlers[args.command](args, argv)
    except (ConfigError, RunError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt as exc:
        print(f"{prog}: {stopped_sentence(exc)}", file=sys.stderr)
        return 130
