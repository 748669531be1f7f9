"""``run``, ``audit`` and ``devices``: the article's experiments on this machine."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from helpers.cli.common import add_common, command_line, keep_finished, note_retries, seed_of, xla_of
from helpers.core.config import MAX_REPEATS, MODES


def add_parsers(commands: argparse._SubParsersAction) -> None:
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
    add_common(run)

    audit = commands.add_parser("audit", help="run all three experiments and print verdicts",
                                description="Run unseeded, seeded and CPU-forced --repeats times each, print a "
                                            "table and the verdicts, and optionally write all results as JSON.")
    audit.add_argument("--repeats", type=int, default=3,
                       help=f"runs per experiment, 2 to {MAX_REPEATS} (default: %(default)s)")
    audit.add_argument("--out", metavar="FILE", help="write every run and verdict to FILE as JSON")
    add_common(audit)
    commands.add_parser("devices", help="show what TensorFlow sees and this machine's fingerprint",
                        description="List TensorFlow's devices and print the environment fingerprint.")


def _print_runs(results: list, args: argparse.Namespace, argv: Sequence[str]) -> None:
    from helpers.cards.fileformat import card_document
    from helpers.core.results import to_frame

    if args.json:
        print(json.dumps(card_document(results, command_line(argv))))
    elif results:
        columns = ["mode", "seed", "device", "test_accuracy", "test_loss", "weights", "same_weights_as", "run_seconds"]
        print(to_frame(results)[columns].to_string(float_format=lambda v: f"{v:.6f}"))


def run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from helpers.core.config import DEFAULT
    from helpers.running.runner import RunError, RunInterrupted, run_mode

    try:
        results = run_mode(args.mode, seed=DEFAULT if args.seed is None else args.seed, repeats=args.repeats,
                           processes=args.processes, parallel=args.parallel, progress=not args.quiet,
                           task=args.task, epochs=args.epochs, batch_size=args.batch_size,
                           op_determinism=args.op_determinism, jit_compile=xla_of(args))
    except (RunError, RunInterrupted) as exc:
        _print_runs(exc.completed, args, argv)  # what finished is shown before the reason it stopped
        raise
    _print_runs(results, args, argv)
    note_retries(results)
    return 0


def audit(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from helpers.cards.fileformat import card_document, check_writable, write_card
    from helpers.running.audit import run_audit
    from helpers.running.runner import RunError, RunInterrupted

    if args.out:
        check_writable(args.out)  # before a minute of runs, not after
    try:
        report = run_audit(repeats=args.repeats, task=args.task, seed=seed_of(args), processes=args.processes,
                           parallel=args.parallel, progress=not args.quiet, epochs=args.epochs,
                           record_epochs=bool(args.out), jit_compile=xla_of(args))
    except (RunError, RunInterrupted) as exc:
        raise keep_finished(exc, args.out, argv) from None
    print(report.text())
    print(f"\n{len(report.results)} runs in {report.seconds:.1f} s ({args.processes} processes)")
    if args.out:
        path = write_card(args.out, card_document(report.results, command_line(argv), report.verdicts))
        print(f"results written to {path}")
    return 0


def devices(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from helpers.machines.devices import device_report
    from helpers.machines.fingerprint import fingerprint, fingerprint_table

    print(device_report().summary())
    print()
    for what, value in fingerprint_table(fingerprint()):
        print(f"{what:<46} {value}")
    return 0


HANDLERS = {"run": run, "audit": audit, "devices": devices}
