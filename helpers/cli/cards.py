"""``card``, ``compare``, ``imitate`` and ``pool``: across machines."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from helpers.cli import common
from helpers.cli.common import add_common, add_script_limits, command_line, env_pair, note_retries, seed_of, xla_of
from helpers.core.config import ConfigError


def add_parsers(commands: argparse._SubParsersAction) -> None:
    pool = commands.add_parser("pool", help="pool workshop cards and group their runs by machine",
                               description="Read cards (one or more per participant) and show, per seeded setting, "
                                           "which machines trained which weights. Cards that cannot be read are "
                                           "set aside with the reason; the rest are pooled.")
    pool.add_argument("cards", nargs="+", metavar="CARD",
                      help="cards written by `card --out`, `audit --out` or `run --json`")
    card = commands.add_parser(
        "card", help="make this machine's card: the file you compare with another machine's",
        description="Run the standard card (2 seeded, 2 unseeded and 2 CPU-forced runs of the article's model, "
                    "with the weights after every epoch) and write it to FILE. Send the file to whoever you "
                    "compare with, or compare it yourself with `compare`.")
    card.add_argument("--out", metavar="FILE", required=True, help="where to write the card (JSON)")
    card.add_argument("--repeats", type=int, default=2, help="runs per experiment, 2 to 50 (default: %(default)s)")
    card.add_argument("--env", type=env_pair, action="append", default=[], metavar="NAME=VALUE",
                      help="set a variable in every run's process before TensorFlow starts, e.g. "
                           "ONEDNN_MAX_CPU_ISA=AVX2 to imitate an older CPU (repeatable)")
    card.add_argument("--op-determinism", action="store_true", help="turn on TensorFlow's op determinism")
    card.add_argument("--note", default="", help="a note stored in the card, e.g. 'imitated: older CPU'")
    add_common(card)
    script = card.add_argument_group("your own script (instead of the article's model)")
    script.add_argument("--script", metavar="SCRIPT.py",
                        help="make the card of your own training script: --repeats runs as written and --repeats "
                             "seeded with keras.utils.set_random_seed(--seed), each a fresh process")
    add_script_limits(script)

    compare = commands.add_parser(
        "compare", help="compare two cards and explain why their runs differ",
        description="Match the two cards' seeded runs of the same setting and explain any difference by stage "
                    "(data, initial weights, training, with the distance after each epoch) and by the fingerprint "
                    "factors that differ. Never starts TensorFlow.")
    compare.add_argument("a", metavar="A.json", help="one card")
    compare.add_argument("b", metavar="B.json", help="the other card")
    compare.add_argument("--setting", choices=("seeded", "cpu"), default=None,
                         help="which runs to explain (default: seeded, else cpu)")
    compare.add_argument("--json", action="store_true", help="print one JSON object instead of text")

    imitate = commands.add_parser(
        "imitate", help="try the settings that reproduce another machine's card here",
        description="Run this machine's seeded runs with each setting of the card's machine that can be set here "
                    "(oneDNN on or off, oneDNN's instruction set, op determinism, XLA, CPU, threads) and report "
                    "which reproduces the card's weights bit for bit, else the closest. A card from another "
                    "TensorFlow or Keras version is imitated in that stack, built here once and cached.")
    imitate.add_argument("card", metavar="CARD.json", help="the other machine's card")
    imitate.add_argument("--setting", choices=("seeded", "cpu"), default=None,
                         help="which of the card's runs to reproduce (default: seeded; cpu if theirs used a GPU)")
    imitate.add_argument("--script", metavar="SCRIPT.py",
                         help="for a card of a script: the script itself (the card carries only its hash)")
    imitate.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    imitate.add_argument("--parallel", type=int, default=None, help="how many runs at once (default: the cores)")
    imitate.add_argument("--here-only", action="store_true",
                         help="try the settings in this environment only, even for a card from another stack")
    imitate.add_argument("--quiet", action="store_true", help="no progress bar")


def _expand(patterns: Sequence[str]) -> list[str]:
    """PowerShell and cmd pass ``cards/*.json`` on as it is: expand what the shell did not."""
    import glob

    paths: list[str] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) and not Path(pattern).exists() else []
        paths.extend(matches or [pattern])
    return paths


def pool(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from helpers.cards.workshop import pool_cards

    workshop = pool_cards(_expand(args.cards))
    if len(workshop.rejected) == 1 and not workshop.cards:
        raise ConfigError(workshop.rejected[0][1])
    for name, reason in workshop.rejected:
        print(f"set aside {name}: {reason}", file=sys.stderr)
    if not workshop.cards:
        raise ConfigError(f"none of the {len(workshop.rejected)} cards could be read (reasons above).")
    print(workshop.machines().to_string())
    print()
    print(workshop.by_machine().to_string())
    print(f"\n{workshop.summary()}")
    for verdict in workshop.verdicts():
        print(f"{verdict}   ({verdict.detail})")
    return 0


def script_card(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from helpers.cards.script_cards import make_script_card

    if args.xla is not None:
        raise ConfigError("--xla does not apply to a script: its own compile call decides (jit_compile=...).")
    card = make_script_card(args.script, args.out, repeats=args.repeats, seed=seed_of(args), env=dict(args.env),
                            op_determinism=args.op_determinism, max_epochs=args.max_epochs, max_steps=args.max_steps,
                            timeout=args.timeout, note=args.note, parallel=args.parallel)
    for verdict in card.verdicts():
        print(f"{verdict}   ({verdict.detail})")
    if card.capped:
        print("note: training was capped (--max-epochs/--max-steps); the card says so.")
    path = card.card.path
    size = path.stat().st_size if path else 0
    print(f"card written to {path} ({size / 1000:.0f} KB, {len(card.runs)} runs of {card.name}); compare it with "
          f"another machine's card of the same script: {common.PROG} compare {path} OTHER.json")
    return 0


def card(args: argparse.Namespace, argv: Sequence[str]) -> int:
    if args.script:
        return script_card(args, argv)
    from helpers.cards.making import make_card

    card = make_card(args.out, seed=seed_of(args), task=args.task, epochs=args.epochs, repeats=args.repeats,
                     env=dict(args.env), op_determinism=args.op_determinism, jit_compile=xla_of(args), note=args.note,
                     processes=args.processes, progress=not args.quiet, command=command_line(argv))
    for verdict in card.verdicts:
        print(f"{verdict}   ({verdict.detail})")
    note_retries(card.runs)
    size = card.path.stat().st_size if card.path else 0
    print(f"card written to {card.path} ({size / 1000:.0f} KB, {len(card.runs)} runs); compare it with another "
          f"machine's card: {common.PROG} compare {card.path} OTHER.json")
    return 0


def compare(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from helpers.cards.dispatch import compare_cards

    comparison = compare_cards(args.a, args.b, setting=args.setting)
    print(json.dumps(comparison.to_dict()) if args.json else comparison.text())
    return 0


def imitate(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from helpers.cards.dispatch import imitate

    imitation = imitate(args.card, setting=args.setting, script=args.script, progress=not (args.quiet or args.json),
                        parallel=args.parallel, other_stacks=not args.here_only)
    print(json.dumps(imitation.to_dict()) if args.json else imitation.text())
    return 0


HANDLERS = {"pool": pool, "card": card, "compare": compare, "imitate": imitate}
