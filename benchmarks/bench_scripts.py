"""Benchmark: the learner's-script tools, side by side in one run, each target with PASS or MISS.

1. Recording costs at most 1.2x a plain run. The seeded digits model (``digits_seeded.py``) run
   ``--repeats`` times each way, interleaved: ``python digits_seeded.py`` in its folder (what a learner
   types), and the same script under the lab's recorder in a fresh worker. Compared: the whole process
   (what the learner waits for) and, between the worker with and without recording, the script's own
   time (the recording itself, without the worker's start-up).
2. ``python -m helpers check digits_unseeded.py`` (the digits model as written, no seeds): at most 60 s.
   Its runs' test accuracy is reported too.

Usage: ``python benchmarks/bench_scripts.py [--repeats N] [--json FILE]``. Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a file: measure this checkout's lab
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from helpers.scripts.examples import DIGITS_EXAMPLES  # noqa: E402
from helpers.scripts.runs import Fix, run_scripts  # noqa: E402
from helpers.scripts.source import load_script  # noqa: E402

RECORDING_TARGET = 1.2
CHECK_TARGET = 60.0


def plain_run(script: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, script.name], cwd=script.parent, check=True, capture_output=True)
    return time.perf_counter() - started


def worker_run(script: Path, record: bool) -> tuple[float, float]:
    """(the whole process, the script's own time) of one run in the lab's worker, recorded or not."""
    started = time.perf_counter()
    run = run_scripts(load_script(script), [Fix()], record=record, parallel=1)[0]
    return time.perf_counter() - started, run.script_seconds


def verdict(name: str, value: float, target: float, unit: str) -> dict:
    ok = value <= target
    print(f"{'PASS' if ok else 'MISS'}  {name}: {value:.2f}{unit} (target <= {target:g}{unit})")
    return {"name": name, "value": value, "target": target, "pass": ok}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    script = DIGITS_EXAMPLES["seeded"]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "")
    plain, recorded, bare = [], [], []
    for _ in range(args.repeats):  # interleaved, so a busy moment hits every kind alike
        plain.append(plain_run(script))
        recorded.append(worker_run(script, record=True))
        bare.append(worker_run(script, record=False))
    p, r = statistics.median(plain), statistics.median(w for w, _ in recorded)
    r_script, b_script = statistics.median(s for _, s in recorded), statistics.median(s for _, s in bare)
    print(f"plain python {script.name}: {p:.2f} s; recorded run: {r:.2f} s (the script itself {r_script:.2f} s, "
          f"{b_script:.2f} s in the worker without recording); medians of {args.repeats}")
    results = [verdict("recorded run / plain run", r / p, RECORDING_TARGET, "x"),
               verdict("recorded script / same script unrecorded", r_script / b_script, RECORDING_TARGET, "x")]
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "helpers", "check", str(DIGITS_EXAMPLES["unseeded"]), "--json"],
                          cwd=REPO, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    found = json.loads(done.stdout)
    accuracies = [run["evaluation"].get("accuracy") for run in found["runs"]]
    print(f"check digits_unseeded.py: repeatable {found['repeatable']}, first differing stage "
          f"{found['first_differing_stage']}, fixed by {found['fixed_by']}; test accuracy "
          + ", ".join(f"{a:.4f}" for a in accuracies if a is not None))
    results.append(verdict("check digits_unseeded.py as written", seconds, CHECK_TARGET, " s"))
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "plain_seconds": plain, "recorded": recorded,
                                               "unrecorded": bare, "check_seconds": seconds,
                                               "digits_accuracy": accuracies}, indent=1), encoding="utf-8")
    return 0 if all(r["pass"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
