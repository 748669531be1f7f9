"""Benchmark: a card from a learner's own environment, and the stacks it needs here.

For each stack (TensorFlow 2.10.1 with Python 3.9, 2.15.1 with Python 3.11, Colab's versions, the lab's own),
measured on this machine and printed, with PASS or MISS where there is a target:

1. building the stack's environment the first time (into an empty stacks cache; uv's own download cache is
   whatever this machine has, said in the output), reusing it from the cache, and its size on disk;
2. standing up a learner's environment over it (a venv that sees the stack's packages, the lab installed with
   ``pip install --no-deps`` from a copy of this checkout);
3. the card there: ``keras-repro-lab card --out F`` from a project folder with a ``helpers.py`` of its own, wall
   time. Target: at most 30 s, like the lab's own;
4. the card's seeded and CPU-forced runs made again in that stack through the lab's runner (what ``imitate``
   does with a cached stack), wall time and whether the bits are the card's. Target: at most 30 s.

Usage: ``python benchmarks/bench_learner.py [--stacks NAME ...] [--json FILE]``. Run it alone on the machine:
the load average before and after is printed, since other work on the same cores slows everything.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers.cards.compare import representative_runs  # noqa: E402
from helpers.cards.fileformat import load_card  # noqa: E402
from helpers.core.cache import CACHE_ENV  # noqa: E402
from helpers.running.runner import run_configs  # noqa: E402
from helpers.stacks.environments import build, folder_bytes  # noqa: E402
from helpers.stacks.runs import run_in_stack  # noqa: E402
from tests.test_learner_stacks import (  # noqa: E402
    STACK_NAMES,
    learner_environment,
    make_card_there,
    project_folder,
    stack_base,
)

CARD_TARGET = 30.0
RERUN_TARGET = 30.0


def verdict(seconds: float, target: float) -> str:
    return "PASS" if seconds <= target else "MISS"


def first_build(name: str) -> dict[str, object]:
    """Build the stack into an empty stacks cache, then ask again (cached); the empty cache is removed after."""
    with tempfile.TemporaryDirectory() as cache:
        saved = os.environ.get(CACHE_ENV)
        os.environ[CACHE_ENV] = cache
        try:
            started = time.perf_counter()
            base, stack = stack_base(name)
            first = time.perf_counter() - started
            if stack is None:
                return {"stack": None}
            started = time.perf_counter()
            again = build(stack)
            reuse = time.perf_counter() - started
            return {"stack": stack.label, "first_build_seconds": round(first, 1), "installer": again.installer,
                    "cached_reuse_seconds": round(reuse, 3),
                    "disk_gb": round(folder_bytes(Path(again.environment or "")) / 1e9, 2)}
        finally:
            if saved is None:
                os.environ.pop(CACHE_ENV, None)
            else:
                os.environ[CACHE_ENV] = saved


def card_in(name: str, work: Path, source: Path) -> dict[str, object]:
    base, stack = stack_base(name)  # the real stacks cache: built once, reused here
    started = time.perf_counter()
    python = learner_environment(base, work / "venv", source)
    setup = time.perf_counter() - started
    started = time.perf_counter()
    card_path, done = make_card_there(python, project_folder(work / "project"))
    card_seconds = time.perf_counter() - started
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1]}
    card = load_card(card_path)
    targets = list(representative_runs(card).values())
    started = time.perf_counter()
    configs = [t.config for t in targets]
    again = (run_in_stack(stack, configs, progress=False) if stack is not None
             else run_configs(configs, python=base, progress=False))
    rerun = time.perf_counter() - started
    return {"learner_env_setup_seconds": round(setup, 1), "card_seconds": round(card_seconds, 1),
            "rerun_seconds": round(rerun, 1),
            "same_bits": all(a.weights_sha256 == t.weights_sha256 for a, t in zip(again, targets, strict=True))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stacks", nargs="+", choices=STACK_NAMES, default=list(STACK_NAMES))
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()
    from tools.colab_check import lab_source

    figures: dict[str, object] = {"machine": platform.platform(), "cores": os.cpu_count(),
                                  "load_before": os.getloadavg()}
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())} ({os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory() as folder:
        # For scale: the card as the lab makes it in its own environment (`python -m helpers card`).
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "helpers", "card", "--out", str(Path(folder) / "lab.json"),
                               "--quiet"], capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
        baseline = time.perf_counter() - started
        figures["lab_card_seconds"] = round(baseline, 1)
        print(f"for scale, the lab's own `python -m helpers card`: {baseline:.1f} s (exit {done.returncode})")
        source = lab_source(Path(folder) / "clone")
        for name in args.stacks:
            built = first_build(name)
            measured = card_in(name, Path(folder) / name.replace("'", ""), source)
            figures[name] = {**built, **measured}
            if built.get("stack"):
                print(f"{name}: first build {built['first_build_seconds']} s with {built['installer']} (uv's "
                      f"download cache as this machine has it), cached reuse {built['cached_reuse_seconds']} s, "
                      f"{built['disk_gb']} GB on disk")
            if "error" in measured:
                print(f"{name}: the card failed: {measured['error']}")
                continue
            print(f"{name}: learner's environment over it {measured['learner_env_setup_seconds']} s; card there "
                  f"{measured['card_seconds']} s (target <= {CARD_TARGET:.0f} s) "
                  f"{verdict(float(measured['card_seconds']), CARD_TARGET)}; its seeded runs again in the stack "
                  f"{measured['rerun_seconds']} s (target <= {RERUN_TARGET:.0f} s) "
                  f"{verdict(float(measured['rerun_seconds']), RERUN_TARGET)}, same bits: {measured['same_bits']}")
    figures["load_after"] = os.getloadavg()
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
