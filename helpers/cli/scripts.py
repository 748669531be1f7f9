"""``check``: the doctor, for the learner's own training script."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from helpers.cli.common import add_script_limits
from helpers.core.config import DEFAULT_SEED


def add_script_options(parser: argparse.ArgumentParser, timeout_default: float) -> None:
    """The options every command that runs a learner's script shares: the seed, the time limit, the caps."""
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help="the seed the fixes (and a card's seeded runs) use (default: %(default)s)")
    add_script_limits(parser, timeout_default)
    parser.add_argument("--parallel", type=int, default=None, help="how many runs at once (default: the cores)")


def add_parsers(commands: argparse._SubParsersAction) -> None:
    from helpers.scripts import DEFAULT_TIMEOUT

    check = commands.add_parser(
        "check", help="check your own Keras script: does it repeat, where does it part, which fix makes it repeat",
        description="Run SCRIPT.py as written twice, each in a fresh process in its own folder, with Keras's fit "
                    "and evaluate watched (not changed). If the runs differ, name the first stage that differs "
                    "(data, initial weights, training, evaluation) and try fixes, each in its own fresh runs and "
                    "each added to the ones before: keras.utils.set_random_seed before the script starts, then op "
                    "determinism, then one thread. Report the first that works, with the lines to add and where.")
    check.add_argument("script", metavar="SCRIPT.py", help="your training script")
    check.add_argument("--repeats", type=int, default=2, help="fresh runs per trial, 2 to 50 (default: %(default)s)")
    add_script_options(check, DEFAULT_TIMEOUT)
    check.add_argument("--json", action="store_true",
                       help="print one JSON object (repeatable, stages, first_differing_stage, fixes, advice, runs, "
                            "capped, ...) instead of text")
    check.add_argument("--quiet", action="store_true", help="no progress lines")


def check(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from helpers.scripts.doctor import check_script

    try:
        found = check_script(args.script, repeats=args.repeats, seed=args.seed, timeout=args.timeout,
                             max_epochs=args.max_epochs, max_steps=args.max_steps, parallel=args.parallel,
                             progress=not (args.quiet or args.json))
    except (RuntimeError, KeyboardInterrupt) as exc:
        partial = getattr(exc, "check", None)
        if partial is not None and partial.trials:  # what was found before the failure is not lost
            print(json.dumps(partial.to_dict()) if args.json else partial.text())
            sys.stdout.flush()
        raise
    print(json.dumps(found.to_dict()) if args.json else found.text())
    return 0


HANDLERS = {"check": check}
