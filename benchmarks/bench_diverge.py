"""Benchmark: what recording every step costs, for ``python -m helpers diverge``.

Measures on this machine, and prints each target with PASS or MISS:

1. One warm worker trains the same seeded configuration (60 epochs of the article's task, a bit
   more than the notebook's 50) again and again, alternating a plain run and a run that records its
   weights after every batch step and its test predictions after every epoch. Compared: the
   median ``fit`` + ``evaluate`` time of each kind. Target: recorded <= 1.5 x plain.
2. The whole comparison as a user runs it: ``diverge(A, B)`` (two workers, recording, then the
   step-by-step comparison in this process) against ``run_configs([A, B])`` without recording,
   both from a cold start (new workers). Target: <= 1.5 x.
3. Both recorded runs' weights are the same bits as the plain ones (recording only reads).

Usage: ``python benchmarks/bench_diverge.py [--epochs N] [--repeats N] [--json FILE]``.
Run it alone on the machine: other work on the same cores makes the ratios noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from helpers.core.config import RunConfig  # noqa: E402
from helpers.running.runner import run_configs  # noqa: E402
from helpers.training.diverge import diverge, run_b  # noqa: E402

TARGET = 1.5


def verdict(ratio: float) -> str:
    return "PASS" if ratio <= TARGET else "MISS"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3, help="plain/recorded pairs in the warm worker")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()

    config = RunConfig(epochs=args.epochs)
    figures: dict[str, object] = {"machine": platform.platform(), "cores": os.cpu_count(), "epochs": args.epochs}
    with tempfile.TemporaryDirectory() as folder:
        configs, steps = [], []
        for i in range(args.repeats):
            configs += [config, config]
            steps += [None, str(Path(folder) / f"run{i}")]
        # One worker, so both kinds of run share the same warm process and the same cores.
        results = run_configs([config, *configs], parallel=1, progress=False, record_steps=[None, *steps])[1:]
    plain = [r.fit_evaluate_seconds for r in results[0::2]]
    recorded = [r.fit_evaluate_seconds for r in results[1::2]]
    same_bits = len({r.weights_sha256 for r in results}) == 1
    ratio = statistics.median(recorded) / statistics.median(plain)
    print(f"1. one warm worker, {args.epochs} epochs ({args.repeats} runs each): plain fit+evaluate "
          f"{statistics.median(plain):.2f} s, recording every step {statistics.median(recorded):.2f} s "
          f"= {ratio:.2f} x (target <= {TARGET} x) {verdict(ratio)}")

    b = run_b(config, env={"ONEDNN_MAX_CPU_ISA": "SSE41"})
    started = time.perf_counter()
    plain_pair = run_configs([config, b], progress=False)
    plain_wall = time.perf_counter() - started
    started = time.perf_counter()
    compared = diverge(config, b, progress=False)
    diverge_wall = time.perf_counter() - started
    pair_ratio = diverge_wall / plain_wall
    same_bits = same_bits and [r.weights_sha256 for r in plain_pair] == [compared.a.weights_sha256,
                                                                          compared.b.weights_sha256]
    print(f"2. runs A and B from a cold start: plain {plain_wall:.2f} s, diverge (recording + comparing "
          f"{compared.steps} steps) {diverge_wall:.2f} s = {pair_ratio:.2f} x (target <= {TARGET} x) "
          f"{verdict(pair_ratio)}")
    print(f"3. recorded runs have the plain runs' weights, bit for bit: {same_bits} {'PASS' if same_bits else 'MISS'}")
    figures.update(plain_seconds=plain, recorded_seconds=recorded, warm_ratio=ratio, plain_pair_seconds=plain_wall,
                   diverge_seconds=diverge_wall, pair_ratio=pair_ratio, same_bits=same_bits)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    return 0 if ratio <= TARGET and pair_ratio <= TARGET and same_bits else 1


if __name__ == "__main__":
    raise SystemExit(main())
