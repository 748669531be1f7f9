"""``diverge`` and ``stacks``: over training and over TensorFlow versions."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from helpers.cli import common
from helpers.cli.common import EXIT_ERROR, add_script_limits
from helpers.core.config import DEFAULT_SEED, TASKS, ConfigError, shown


def add_parsers(commands: argparse._SubParsersAction) -> None:
    _add_diverge_parser(commands)
    _add_stacks_parser(commands)


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
    diverge.add_argument("--b-xla", choices=("on", "off"), default=None,
                         help="XLA on or off in run B (run A compiles as the article does, leaving it to Keras)")
    diverge.add_argument("--json", action="store_true",
                         help="print one JSON object (first_differing_step, steps, max_abs_difference per step, "
                              "test_accuracy per epoch of both runs, ...) instead of text")
    diverge.add_argument("--plot", metavar="FILE", help="also save the figure to FILE (e.g. diverge.png)")
    diverge.add_argument("--quiet", action="store_true", help="no progress bar")
    script = diverge.add_argument_group("your own script (instead of the article's model; compared epoch by epoch)")
    script.add_argument("--script", metavar="SCRIPT.py",
                        help="run A: your script seeded with keras.utils.set_random_seed(--seed); run B: the same "
                             "with the --b-... settings")
    add_script_limits(script)


def diverge(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from helpers.core.config import RunConfig
    from helpers.training.diverge import diverge, run_b

    env = {}
    for item in args.b_env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--b-env takes KEY=VALUE, such as ONEDNN_MAX_CPU_ISA=SSE41, not {shown(item)}.")
        env[key] = value
    if args.script:
        return _diverge_script(args, env)
    a = RunConfig(seed=args.seed, task=args.task, epochs=args.epochs, batch_size=args.batch_size)
    b_seed = None if args.b_unseeded else (args.b_seed if args.b_seed is not None else "same")
    b = run_b(a, env=env, seed=b_seed, op_determinism=args.b_op_determinism or None,
              xla={"on": True, "off": False}.get(args.b_xla))
    if args.plot:
        _check_plot_path(args.plot)
    result = diverge(a, b, progress=not args.quiet)
    if args.plot:
        from helpers.views.training_plots import plot_divergence

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


def _diverge_script(args: argparse.Namespace, env: dict[str, str]) -> int:
    from helpers.scripts.diverge import diverge_script
    from helpers.scripts.runs import Fix

    if args.b_xla or args.plot:
        raise ConfigError("--b-xla and --plot do not apply to a script (its own compile call sets XLA).")
    a = Fix(seed=args.seed)
    b = Fix(seed=None if args.b_unseeded else (args.b_seed if args.b_seed is not None else args.seed),
            op_determinism=args.b_op_determinism, env=tuple(sorted(env.items())))
    result = diverge_script(args.script, a, b, max_epochs=args.max_epochs, max_steps=args.max_steps,
                            timeout=args.timeout)
    if args.json:
        print(json.dumps(result.to_dict()))
        return 0
    print(result.summary())
    for verdict in result.verdicts():
        print(f"{verdict}   ({verdict.detail})")
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


def stacks(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from helpers.stacks.environments import stacks_from
    from helpers.stacks.report import run_stacks

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
        print(f"{common.PROG} stacks: {error}", file=sys.stderr)
    return EXIT_ERROR if report.errors() else 0


HANDLERS = {"diverge": diverge, "stacks": stacks}
