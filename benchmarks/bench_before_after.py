"""Benchmark: an earlier checkout of the lab and this one, side by side, in one run.

    python benchmarks/bench_before_after.py --before /path/to/earlier/checkout [--notebooks] [--json FILE]

Each figure is measured for both checkouts in turn (before, after, before, after, ...), with the
same Python and packages, so that the machine's drift falls on both alike. Whole processes are
timed from outside (``python -m helpers ...`` run in each checkout's folder, so each imports its
own ``helpers``), except the warm run, which is the worker's own round trip as ``run_configs``
reports it. Targets are this wave's (issue: speed), printed as PASS or MISS for the checkout
after; a figure the earlier checkout cannot produce (a notebook it does not have) is left blank.

Figures: a warm run of the article's model (median of 5 after one, one worker); the next cell, a batch of two
seeded runs right after another in the same process (a notebook's next cell, the playground's next Run); the audit
(``--repeats 5``) against the naive loop of 15 fresh scripts; a card; compare of two cards (median of
5); imitate of a card made under ``ONEDNN_MAX_CPU_ISA=SSE41``; with ``--notebooks`` each notebook
under nbval. Run it on an idle machine: it says the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
AFTER = Path(__file__).resolve().parents[1]
WARM = """
import json, statistics
from helpers import RunConfig, run_configs
runs = run_configs([RunConfig(seed=42)] * 6, processes="warm", parallel=1, progress=False)
print(json.dumps({"warm": statistics.median(r.wall_seconds for r in runs[1:]), "hash": runs[-1].weights_sha256}))
"""
NEXT_BATCH = """
import json, time
from helpers import RunConfig, run_configs
run_configs([RunConfig(seed=42)] * 2, progress=False)
started = time.perf_counter()
run_configs([RunConfig(seed=42)] * 2, progress=False)
print(json.dumps({"next": time.perf_counter() - started}))
"""
TARGETS = {"warm run (s)": 0.75, "audit / naive": 0.15, "card (s)": 30.0, "compare (s)": 0.5}
NOTEBOOK_TARGET, DOCTOR_NOTEBOOK_TARGET = 25.0, 60.0


def run(command: list[str], cwd: Path) -> tuple[float, str]:
    # Each checkout's own helpers first on the path, for its notebooks' kernels and their workers too:
    # the .venv's editable install points at one checkout only.
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or ["no message"])[-1]
        raise RuntimeError(f"{' '.join(command[:4])}... in {cwd} failed: {last}")
    return elapsed, done.stdout


def helpers_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "helpers", *args]


def both(before: Path, measure: Callable[[Path, str], float | None]) -> dict[str, float | None]:
    """One figure for each checkout, in turn."""
    return {name: measure(folder, name) for name, folder in (("before", before), ("after", AFTER))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="a checkout of the earlier lab")
    parser.add_argument("--notebooks", action="store_true", help="also time each notebook under nbval")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    args = parser.parse_args()
    before = args.before.resolve()
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    work = Path(tempfile.mkdtemp(prefix="bench-before-after-"))
    figures: dict[str, dict[str, float | None]] = {}

    def warm(folder: Path, _: str) -> float:
        return json.loads(run([sys.executable, "-c", WARM], folder)[1].strip().splitlines()[-1])["warm"]

    figures["warm run (s)"] = both(before, warm)

    def next_batch(folder: Path, _: str) -> float:
        return json.loads(run([sys.executable, "-c", NEXT_BATCH], folder)[1].strip().splitlines()[-1])["next"]

    figures["next cell: 2 seeded runs after 2 (s)"] = both(before, next_batch)

    naive = time.perf_counter()
    for example in (1, 2, 3):
        for _ in range(5):
            run([sys.executable, "-m", "helpers.article", str(example)], AFTER)
    naive_seconds = time.perf_counter() - naive
    figures["naive loop, 15 fresh scripts (s)"] = {"before": naive_seconds, "after": naive_seconds}

    def audit(folder: Path, name: str) -> float:
        return run(helpers_command("audit", "--repeats", "5", "--quiet"), folder)[0] / naive_seconds

    figures["audit / naive"] = both(before, audit)

    def card(folder: Path, name: str) -> float:
        seconds = run(helpers_command("card", "--quiet", "--out", str(work / f"{name}-a.json")), folder)[0]
        run(helpers_command("card", "--quiet", "--out", str(work / f"{name}-b.json"), "--env",
                            "ONEDNN_MAX_CPU_ISA=SSE41", "--note", "imitated: oneDNN capped at SSE4.1"), folder)
        return seconds

    figures["card (s)"] = both(before, card)

    def compare(folder: Path, name: str) -> float:
        times = [run(helpers_command("compare", str(work / f"{name}-a.json"), str(work / f"{name}-b.json")),
                     folder)[0] for _ in range(5)]
        return statistics.median(times)

    figures["compare (s)"] = both(before, compare)

    def imitate(folder: Path, name: str) -> float:
        seconds, out = run(helpers_command("imitate", str(work / f"{name}-b.json"), "--json", "--quiet"), folder)
        if json.loads(out)["match"] is None:
            raise RuntimeError(f"imitate found no match in {folder}")
        return seconds

    figures["imitate (s)"] = both(before, imitate)

    if args.notebooks:
        names = sorted({p.name for p in (before / "notebooks").glob("*.ipynb")}
                       | {p.name for p in (AFTER / "notebooks").glob("*.ipynb")})
        for notebook in names:
            def under_nbval(folder: Path, _: str, notebook: str = notebook) -> float | None:
                path = folder / "notebooks" / notebook
                if not path.exists():
                    return None
                return run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(path)], folder)[0]

            figures[f"{notebook} under nbval (s)"] = both(before, under_nbval)

    print(f"load average after: {os.getloadavg()[0]:.2f}")
    failed = False
    print(f"{'figure':<46} {'before':>9} {'after':>9}  target")
    for name, pair in figures.items():
        target = TARGETS.get(name)
        if name.endswith("under nbval (s)"):
            target = DOCTOR_NOTEBOOK_TARGET if name.startswith("07_") else NOTEBOOK_TARGET
        after = pair["after"]
        verdict = "" if target is None or after is None else ("PASS" if after <= target else "MISS")
        failed |= verdict == "MISS"
        shown = [f"{value:9.2f}" if value is not None else f"{'-':>9}" for value in (pair["before"], after)]
        print(f"{name:<46} {shown[0]} {shown[1]}  {'' if target is None else f'<= {target:g}'} {verdict}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
