"""Benchmark: ``python -m helpers compare A B``, the whole command, and where its time goes.

Runs, interleaved, ``--runs`` times each (median reported, target <= 0.5 s for the text output):

1. ``python -m helpers compare A B`` (text, as a learner types it) and the same with ``--json``;
2. for scale: ``python -c pass`` (starting Python) and ``python -c "import numpy"`` (the floor: loading a
   card decodes its weights with NumPy).

With ``--against DIR`` (another checkout of the lab, say the commit before a change, made with ``git archive
COMMIT | tar -x -C DIR``), the same compare is run from there too, interleaved with this one's, so both see the
same load. Then one ``python -X importtime -m helpers compare A B``: the cumulative import time of the packages that
matter here. The machine's load average is printed before and after, since other people's work on a small
machine moves every figure.

A and B default to two cards made once (and kept) in ``benchmarks/results/``: a standard card of 2 epochs,
and one made under ``ONEDNN_MAX_CPU_ISA=SSE41`` (about 15 s each to make).

Usage: ``python benchmarks/bench_compare.py [A.json B.json] [--runs 5] [--against DIR] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 0.5
WATCHED = ("numpy", "pandas", "jsonschema", "fastjsonschema", "helpers.cards.fileformat", "helpers.cards.compare",
           "helpers.cli")


def run(command: list[str], cwd: Path = REPO) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, cwd=cwd)
    if done.returncode != 0:
        raise SystemExit(f"benchmark: {' '.join(command)} failed: {done.stderr.strip().splitlines()[-1:]}")
    return done


def seconds(command: list[str], cwd: Path = REPO) -> float:
    started = time.perf_counter()
    run(command, cwd)
    return time.perf_counter() - started


def default_cards() -> tuple[Path, Path]:
    folder = REPO / "benchmarks" / "results"
    folder.mkdir(parents=True, exist_ok=True)
    a, b = folder / "compare-a.json", folder / "compare-b.json"
    for path, extra in ((a, []), (b, ["--env", "ONEDNN_MAX_CPU_ISA=SSE41"])):
        if not path.exists():
            print(f"making {path.name} ...", flush=True)
            run([sys.executable, "-m", "helpers", "card", "--out", str(path), "--epochs", "2", "--quiet", *extra])
    return a, b


def import_times(a: Path, b: Path) -> dict[str, float]:
    """Cumulative seconds of each watched import, from one ``-X importtime`` run (0 when not imported)."""
    done = run([sys.executable, "-X", "importtime", "-m", "helpers", "compare", str(a), str(b)])
    found = {}
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|\s*(\S+)$", line)
        if match and match[2] in WATCHED:
            found[match[2]] = int(match[1]) / 1e6
    return {name: found.get(name, 0.0) for name in WATCHED}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cards", nargs="*", metavar="CARD", help="two cards (default: made in benchmarks/results/)")
    parser.add_argument("--runs", type=int, default=5, help="runs of each command (default: %(default)s)")
    parser.add_argument("--against", metavar="DIR", type=Path, help="another checkout to time compare from too")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    args = parser.parse_args()
    if len(args.cards) not in (0, 2):
        parser.error("give two cards, or none")
    a, b = (Path(args.cards[0]), Path(args.cards[1])) if args.cards else default_cards()

    compare = [sys.executable, "-m", "helpers", "compare", str(a.resolve()), str(b.resolve())]
    commands = {  # name: (command, the folder it runs in: -m helpers imports the lab found there)
        "compare A B": (compare, REPO),
        "compare A B --json": ([*compare, "--json"], REPO),
        "python -c pass": ([sys.executable, "-c", "pass"], REPO),
        "python -c 'import numpy'": ([sys.executable, "-c", "import numpy"], REPO),
    }
    if args.against:
        commands[f"compare A B, from {args.against}"] = (compare, args.against.resolve())
    load_before = os.getloadavg()
    for command, folder in commands.values():
        run(command, folder)  # warm the file cache and the bytecode
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, (command, folder) in commands.items():
            samples[name].append(seconds(command, folder))
    imports = import_times(a, b)
    load_after = os.getloadavg()

    medians = {name: statistics.median(values) for name, values in samples.items()}
    print(f"load average (1, 5, 15 min): before {' '.join(f'{x:.2f}' for x in load_before)}, "
          f"after {' '.join(f'{x:.2f}' for x in load_after)} on {os.cpu_count()} logical cores")
    for name, median in medians.items():
        print(f"  {name:40s} median {median:.3f} s   ({' '.join(f'{v:.3f}' for v in samples[name])})")
    print("imports (cumulative, one -X importtime run): "
          + ", ".join(f"{name} {value:.3f} s" for name, value in imports.items()))
    ok = medians["compare A B"] <= TARGET_SECONDS
    print(f"{'PASS' if ok else 'MISS'}  compare (whole command, median of {args.runs}): "
          f"{medians['compare A B']:.3f} s (target <= {TARGET_SECONDS} s)")
    if args.json:
        Path(args.json).write_text(json.dumps({"medians": medians, "samples": samples, "imports": imports,
                                               "load_before": load_before, "load_after": load_after}, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
