"""Command line: ``python -m helpers run|audit|pool|devices|diverge|stacks``.

Every error is one line on stderr and exit code 2, never a traceback: the CLI is used by
teachers in front of a class.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from typing import NoReturn

from helpers.config import DEFAULT_SEED, MAX_REPEATS, MODES, TASKS, ConfigError

EXIT_ERROR = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (see --help)\n")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", choices=TASKS, default="article",
                        help="article: the article's random labels (accuracy near chance, 10%%); "
                             "learnable: labels that depend on the inputs (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help="seed for the seeded and CPU-forced runs (default: %(default)s)")
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

    pool = commands.add_parser("pool", help="pool workshop cards (results files) and group them by machine",
                               description="Read results files written with --out (one per participant) and show, "
                                           "per seed, which machines gave which weights.")
    pool.add_argument("cards", nargs="+", metavar="CARD", help="results files written by audit --out or run --json")

    commands.add_parser("devices", help="show what TensorFlow sees and this machine's fingerprint",
                        description="List TensorFlow's devices and print the environment fingerprint.")
    _add_diverge_parser(commands)
    _add_stacks_parser(commands)
    return parser


def _command_line(argv: Sequence[str]) -> str:
    return "python -m helpers " + shlex.join(argv)


def _run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from helpers.cardfile import card_document
    from helpers.results import to_frame
    from helpers.runner import run_mode

    results = run_mode(args.mode, seed=args.seed, repeats=args.repeats, processes=args.processes,
                       parallel=args.parallel, progress=not args.quiet, task=args.task, epochs=args.epochs,
                       batch_size=args.batch_size, op_determinism=args.op_determinism)
    if args.json:
        print(json.dumps(card_document(results, _command_line(argv))))
    else:
        columns = ["mode", "seed", "device", "test_accuracy", "test_loss", "weights", "same_weights_as", "run_seconds"]
        print(to_frame(results)[columns].to_string(float_format=lambda v: f"{v:.6f}"))
    return 0


def _audit(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from helpers.audit import run_audit
    from helpers.cardfile import card_document, check_writable, write_card
    from helpers.runner import RunError

    if args.out:
        check_writable(args.out)  # before a minute of runs, not after
    try:
        report = run_audit(repeats=args.repeats, task=args.task, seed=args.seed, processes=args.processes,
                           parallel=args.parallel, progress=not args.quiet, epochs=args.epochs)
    except RunError as exc:
        if args.out and exc.completed:  # keep what did finish
            write_card(args.out, card_document(exc.completed, _command_line(argv)))
            raise RunError(f"{exc} The {len(exc.completed)} runs that finished are in {args.out}.",
                           exc.completed) from None
        raise
    print(report.text())
    print(f"\n{len(report.results)} runs in {report.seconds:.1f} s ({args.processes} processes)")
    if args.out:
        path = write_card(args.out, card_document(report.results, _command_line(argv), report.verdicts))
        print(f"results written to {path}")
    return 0


def _pool(args: argparse.Namespace) -> int:
    from helpers.cards import pool, pool_report, seeded_by_machine

    pooled = pool(args.cards)
    print(seeded_by_machine(pooled).to_string())
    verdict, sentence = pool_report(pooled)
    print(f"\n{sentence}\n{verdict}")
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
            raise ConfigError(f"--b-env takes KEY=VALUE, such as ONEDNN_MAX_CPU_ISA=SSE41, not {item!r}.")
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
        if args.command == "diverge":
            return _diverge(args)
        if args.command == "stacks":
            return _stacks(args)
        return _devices()
    except (ConfigError, RunError) as exc:
        print(f"python -m helpers: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("python -m helpers: stopped by the user; runs still going were ended.", file=sys.stderr)
        return 130
