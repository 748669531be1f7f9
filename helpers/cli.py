"""Command line: ``python -m helpers run|audit|pool|devices|card|compare|imitate|diverge|stacks``.

Every error is one line on stderr and exit code 2, never a traceback: the CLI is used by
teachers in front of a class.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from helpers.config import DEFAULT_SEED, MAX_REPEATS, MODES, TASKS, ConfigError, shown

EXIT_ERROR = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (see --help)\n")


def _common(parser: argparse.ArgumentParser) -> None:
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
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m helpers",
        description="Keras reproducibility lab: run the article's experiments and check its claims.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("run", help="run one experiment several times and print the results",
                              description="Run one of the article's experiments --repeats times.")
    run.add_argument("--mode", choices=MODES, required=True,
                     help="unseeded: Example 1; seeded: Example 2; cpu: Example 3 (seeded, GPU hidden)")
    run.add_argument("--repeats", type=int, default=3, help=f"runs to make, 1 to {MAX_REPEATS} (default: %(default)s)")
    run.add_argument("--batch-size", type=int, default=32, help="batch size (default: %(default)s)")
    run.add_argument("--op-determinism", action="store_true",
                     help="call tf.config.experimental.enable_op_determinism() in each run's process")
    run.add_argument("--json", action="store_true",
                     help="print one JSON object with a \"runs\" list on stdout instead of a table")
    _common(run)

    audit = commands.add_parser("audit", help="run all three experiments and print verdicts",
                                description="Run unseeded, seeded and CPU-forced --repeats times each, print a "
                                            "table and the verdicts, and optionally write all results as JSON.")
    audit.add_argument("--repeats", type=int, default=3,
                       help=f"runs per experiment, 2 to {MAX_REPEATS} (default: %(default)s)")
    audit.add_argument("--out", metavar="FILE", help="write every run and verdict to FILE as JSON")
    _common(audit)

    pool = commands.add_parser("pool", help="pool workshop cards and group their runs by machine",
                               description="Read cards (one or more per participant) and show, per seeded setting, "
                                           "which machines trained which weights. Cards that cannot be read are "
                                           "set aside with the reason; the rest are pooled.")
    pool.add_argument("cards", nargs="+", metavar="CARD",
                      help="cards written by `card --out`, `audit --out` or `run --json`")

    commands.add_parser("devices", help="show what TensorFlow sees and this machine's fingerprint",
                        description="List TensorFlow's devices and print the environment fingerprint.")
    _add_card_commands(commands)
    _add_diverge_parser(commands)
    _add_stacks_parser(commands)
    return parser


def _env_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} must look like NAME=VALUE, e.g. ONEDNN_MAX_CPU_ISA=AVX2")
    return key, value


def _add_card_commands(commands: argparse._SubParsersAction) -> None:
    card = commands.add_parser(
        "card", help="make this machine's card: the file you compare with another machine's",
        description="Run the standard card (2 seeded, 2 unseeded and 2 CPU-forced runs of the article's model, "
                    "with the weights after every epoch) and write it to FILE. Send the file to whoever you "
                    "compare with, or compare it yourself with `compare`.")
    card.add_argument("--out", metavar="FILE", required=True, help="where to write the card (JSON)")
    card.add_argument("--repeats", type=int, default=2, help="runs per experiment, 2 to 50 (default: %(default)s)")
    card.add_argument("--env", type=_env_pair, action="append", default=[], metavar="NAME=VALUE",
                      help="set a variable in every run's process before TensorFlow starts, e.g. "
                           "ONEDNN_MAX_CPU_ISA=AVX2 to imitate an older CPU (repeatable)")
    card.add_argument("--op-determinism", action="store_true", help="turn on TensorFlow's op determinism")
    card.add_argument("--xla", action="store_true", help="compile the model with XLA (jit_compile=True)")
    card.add_argument("--note", default="", help="a note stored in the card, e.g. 'imitated: older CPU'")
    _common(card)

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
                    "(oneDNN instruction-set cap, oneDNN on/off, op determinism, XLA, CPU, threads) and report "
                    "which reproduces the card's weights bit for bit, else the closest.")
    imitate.add_argument("card", metavar="CARD.json", help="the other machine's card")
    imitate.add_argument("--setting", choices=("seeded", "cpu"), default=None,
                         help="which of the card's runs to reproduce (default: seeded; cpu if theirs used a GPU)")
    imitate.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    imitate.add_argument("--parallel", type=int, default=None, help="how many runs at once (default: the cores)")
    imitate.add_argument("--quiet", action="store_true", help="no progress bar")


def _command_line(argv: Sequence[str]) -> str:
    return "python -m helpers " + shlex.join(argv)


def _seed(args: argparse.Namespace) -> int:
    return DEFAULT_SEED if args.seed is None else args.seed


def _print_runs(results: list, args: argparse.Namespace, argv: Sequence[str]) -> None:
    from helpers.cardfile import card_document
    from helpers.results import to_frame

    if args.json:
        print(json.dumps(card_document(results, _command_line(argv))))
    elif results:
        columns = ["mode", "seed", "device", "test_accuracy", "test_loss", "weights", "same_weights_as", "run_seconds"]
        print(to_frame(results)[columns].to_string(float_format=lambda v: f"{v:.6f}"))


def _note_retries(results: list) -> None:
    from helpers.results import retry_sentence

    if retry_sentence(results):
        print(f"note: {retry_sentence(results)}", file=sys.stderr)


def _run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from helpers.config import DEFAULT
    from helpers.runner import RunError, RunInterrupted, run_mode

    try:
        results = run_mode(args.mode, seed=DEFAULT if args.seed is None else args.seed, repeats=args.repeats,
                           processes=args.processes, parallel=args.parallel, progress=not args.quiet,
                           task=args.task, epochs=args.epochs, batch_size=args.batch_size,
                           op_determinism=args.op_determinism)
    except (RunError, RunInterrupted) as exc:
        _print_runs(exc.completed, args, argv)  # what finished is shown before the reason it stopped
        raise
    _print_runs(results, args, argv)
    _note_retries(results)
    return 0


def _keep_finished(exc: BaseException, out: str | None, argv: Sequence[str]) -> BaseException:
    """Write the runs that finished before a failure or an interruption to ``out``, and say so."""
    from helpers.cardfile import card_document, write_card
    from helpers.runner import RunError, RunInterrupted

    completed = getattr(exc, "completed", [])
    if not (out and completed):
        return exc
    write_card(out, card_document(completed, _command_line(argv)))
    if isinstance(exc, RunInterrupted):
        return RunInterrupted(str(exc), completed, exc.total, saved_to=str(out))
    return RunError(f"{str(exc).rstrip('.')}. The {len(completed)} runs that finished are in {out}.", completed)


def _stopped_sentence(exc: BaseException) -> str:
    """What the user is told after Ctrl-C: how many runs had finished, and where they are."""
    completed = getattr(exc, "completed", None)
    if completed is None:
        return "stopped by the user; runs still going were ended."
    saved = getattr(exc, "saved_to", "")
    return (f"stopped by the user: {len(completed)} of {getattr(exc, 'total', 0)} runs had finished"
            + (f"; they are in {saved}" if saved else "") + "; the runs still going were ended.")


def _audit(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from helpers.audit import run_audit
    from helpers.cardfile import card_document, check_writable, write_card
    from helpers.runner import RunError, RunInterrupted

    if args.out:
        check_writable(args.out)  # before a minute of runs, not after
    try:
        report = run_audit(repeats=args.repeats, task=args.task, seed=_seed(args), processes=args.processes,
                           parallel=args.parallel, progress=not args.quiet, epochs=args.epochs,
                           record_epochs=bool(args.out))
    except (RunError, RunInterrupted) as exc:
        raise _keep_finished(exc, args.out, argv) from None
    print(report.text())
    print(f"\n{len(report.results)} runs in {report.seconds:.1f} s ({args.processes} processes)")
    if args.out:
        path = write_card(args.out, card_document(report.results, _command_line(argv), report.verdicts))
        print(f"results written to {path}")
    return 0


def _expand(patterns: Sequence[str]) -> list[str]:
    """PowerShell and cmd pass ``cards/*.json`` on as it is: expand what the shell did not."""
    import glob

    paths: list[str] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) and not Path(pattern).exists() else []
        paths.extend(matches or [pattern])
    return paths


def _pool(args: argparse.Namespace) -> int:
    from helpers.workshop import pool_cards

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


def _card(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from helpers.card import make_card

    card = make_card(args.out, seed=_seed(args), task=args.task, epochs=args.epochs, repeats=args.repeats,
                     env=dict(args.env), op_determinism=args.op_determinism, jit_compile=args.xla, note=args.note,
                     processes=args.processes, progress=not args.quiet, command=_command_line(argv))
    for verdict in card.verdicts:
        print(f"{verdict}   ({verdict.detail})")
    _note_retries(card.runs)
    size = card.path.stat().st_size if card.path else 0
    print(f"card written to {card.path} ({size / 1000:.0f} KB, {len(card.runs)} runs); compare it with another "
          f"machine's card: python -m helpers compare {card.path} OTHER.json")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from helpers.compare import compare_cards

    comparison = compare_cards(args.a, args.b, setting=args.setting)
    print(json.dumps(comparison.to_dict()) if args.json else comparison.text())
    return 0


def _imitate(args: argparse.Namespace) -> int:
    from helpers.imitate import imitate

    imitation = imitate(args.card, setting=args.setting, progress=not (args.quiet or args.json),
                        parallel=args.parallel)
    print(json.dumps(imitation.to_dict()) if args.json else imitation.text())
    return 0


def _devices() -> int:
    from helpers.devices import device_report
    from helpers.fingerprint import fingerprint, fingerprint_table

    print(device_report().summary())
    print()
    for what, value in fingerprint_table(fingerprint()):
        print(f"{what:<46} {value}")
    return 0


def _add_diverge_parser(commands: argparse._SubParsersAction) -> None:
    diverge = commands.add_parser(
        "diverge", help="train two runs that differ in one setting and compare them after every step",
        description="Train run A (seeded, this machine as it is) and run B (A with the --b-... settings changed) "
                    "side by side, record their weights after every batch step, and report the first step where "
                    "they differ, how far apart they drift, and how many test examples they classify differently.")
    diverge.add_argument("--task", choices=TASKS, default="article", help="which task (default: %(default)s)")
    diverge.add_argument("--epochs", type=int, default=50, help="training epochs of both runs (default: %(default)s)")
    diverge.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of run A (default: %(default)s)")
    diverge.add_argument("--batch-size", type=int, default=32, help="batch size of both runs (default: %(default)s)")
    diverge.add_argument("--b-env", action="append", default=[], metavar="KEY=VALUE",
                         help="an environment variable for run B, e.g. ONEDNN_MAX_CPU_ISA=SSE41 (an older CPU) or "
                              "TF_ENABLE_ONEDNN_OPTS=0 (oneDNN off); repeat for more")
    seed = diverge.add_mutually_exclusive_group()
    seed.add_argument("--b-seed", type=int, help="another seed for run B")
    seed.add_argument("--b-unseeded", action="store_true", help="run B without seeds")
    diverge.add_argument("--b-op-determinism", action="store_true", help="op determinism on in run B")
    diverge.add_argument("--b-xla", action="store_true", help="XLA (jit_compile) on in run B")
    diverge.add_argument("--json", action="store_true",
                         help="print one JSON object (first_differing_step, steps, max_abs_difference per step, "
                              "test_accuracy per epoch of both runs, ...) instead of text")
    diverge.add_argument("--plot", metavar="FILE", help="also save the figure to FILE (e.g. diverge.png)")
    diverge.add_argument("--quiet", action="store_true", help="no progress bar")


def _diverge(args: argparse.Namespace) -> int:
    from helpers.config import RunConfig
    from helpers.diverge import diverge, run_b

    env = {}
    for item in args.b_env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--b-env takes KEY=VALUE, such as ONEDNN_MAX_CPU_ISA=SSE41, not {shown(item)}.")
        env[key] = value
    a = RunConfig(seed=args.seed, task=args.task, epochs=args.epochs, batch_size=args.batch_size)
    b_seed = None if args.b_unseeded else (args.b_seed if args.b_seed is not None else "same")
    b = run_b(a, env=env, seed=b_seed, op_determinism=args.b_op_determinism or None, xla=args.b_xla or None)
    if args.plot:
        _check_plot_path(args.plot)
    result = diverge(a, b, progress=not args.quiet)
    if args.plot:
        from helpers.training_plots import plot_divergence

        plot_divergence(result).savefig(args.plot, dpi=120)
    if args.json:
        print(json.dumps(result.to_dict()))
        return 0
    print(result.summary())
    print()
    print(result.per_epoch().to_string(float_format=lambda v: f"{v:.3g}"))
    print()
    for verdict in result.verdicts():
        print(f"{verdict}   ({verdict.detail})")
    if args.plot:
        print(f"figure written to {args.plot}")
    return 0


def _check_plot_path(path: str) -> None:
    from pathlib import Path

    folder = Path(path).expanduser().resolve().parent
    if not folder.is_dir():
        raise ConfigError(f"cannot write the figure to {path}: the folder {folder} does not exist.")


def _add_stacks_parser(commands: argparse._SubParsersAction) -> None:
    stacks = commands.add_parser(
        "stacks", help="run the article's Example 2 under other TensorFlow/Keras versions, side by side",
        description="Build (once, cached in your cache folder) an environment per TensorFlow version, run the "
                    "article's Example 2 as written there and in this Python's own stack, each in a fresh "
                    "process, and compare data, initial weights, trained weights and test accuracy.")
    stacks.add_argument("--tensorflow", nargs="+", required=True, metavar="VERSION",
                        help="TensorFlow versions, e.g. 2.15.1 2.20.0")
    stacks.add_argument("--keras", nargs="+", metavar="VERSION",
                        help="one Keras version for all stacks, or one per TensorFlow version (auto: the one "
                             "that TensorFlow brings)")
    stacks.add_argument("--python", metavar="PATH",
                        help="the Python to build with: a path, or a version such as 3.11 found on this machine "
                             "(default: this Python if TensorFlow has wheels for it, else a fitting one found here)")
    stacks.add_argument("--no-build", action="store_true",
                        help="run only stacks built before; say how to build the rest")
    stacks.add_argument("--json", action="store_true",
                        help="print one JSON object with a \"stacks\" list (this Python's own stack first)")


def _stacks(args: argparse.Namespace) -> int:
    from helpers.stacks import run_stacks, stacks_from

    report = run_stacks(stacks_from(args.tensorflow, args.keras, args.python), build_missing=not args.no_build)
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        print(report.table().to_string())
        print()
        print("\n".join(report.first_changes()))
        for verdict in report.verdicts():
            print(verdict)
        for note in report.notes:
            print(note)
    for error in report.errors():
        print(f"python -m helpers stacks: {error}", file=sys.stderr)
    return EXIT_ERROR if report.errors() else 0


def main(argv: Sequence[str] | None = None) -> int:
    from helpers.runner import RunError

    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args, argv)
        if args.command == "audit":
            return _audit(args, argv)
        if args.command == "pool":
            return _pool(args)
        if args.command == "card":
            return _card(args, argv)
        if args.command == "compare":
            return _compare(args)
        if args.command == "imitate":
            return _imitate(args)
        if args.command == "diverge":
            return _diverge(args)
        if args.command == "stacks":
            return _stacks(args)
        return _devices()
    except (ConfigError, RunError) as exc:
        print(f"python -m helpers: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt as exc:
        print(f"python -m helpers: {_stopped_sentence(exc)}", file=sys.stderr)
        return 130
