"""Benchmark: the lab's audit against the naive way, side by side, in one run.

Measures on this machine, and prints each target with PASS or MISS:

1. ``python -m helpers audit --repeats 5`` (3 modes x 5 runs) against the article reader's way:
   the article's Example 1, 2 and 3 scripts run verbatim, 5 times each, as 15 fresh ``python``
   processes in a row. Target: audit wall time <= 0.25 x naive, and the audit's seeded and
   CPU-forced runs have the naive seeded runs' ``weights_sha256``.
2. One run in a warm worker against a bare ``model.fit`` + ``model.evaluate`` of the same
   model in an already-warm process. Target: <= 1.3 x.
3. Peak memory of the audit's whole process tree (the CLI and its workers), as PSS (shared
   library pages counted once, split between the processes that share them) and as the sum
   of RSS (shared pages counted in every process: an upper bound). Target: PSS <= 2 GiB.
4. Cards: ``python -m helpers card`` (target < 30 s) and the card's size (target < 300 KB);
   ``python -m helpers compare`` of this card and one made under ``ONEDNN_MAX_CPU_ISA=SSE41``
   (median of 5, whole command, its text output; target <= 0.5 s; ``bench_compare.py`` says where
   the time goes); ``python -m helpers imitate`` of the second card (no target; it must find the match).
5. With ``--notebooks``: each notebook under nbval. Target: <= 60 s each.

Usage: ``python benchmarks/bench_audit.py [--notebooks] [--json FILE]`` (``make bench``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up notes would bury the figures

REPO = Path(__file__).resolve().parents[1]
GIB = 2**30


def sample_tree_memory(process: subprocess.Popen, peaks: dict[str, float], stop: threading.Event) -> None:
    """Sum RSS and PSS over a process and all its children every 200 ms; keep the peaks."""
    root = psutil.Process(process.pid)
    while not stop.is_set():
        rss = pss = 0
        try:
            for member in [root, *root.children(recursive=True)]:
                try:
                    info = member.memory_full_info()
                except psutil.Error:
                    continue
                rss += info.rss
                pss += getattr(info, "pss", info.rss)  # PSS exists on Linux only
        except psutil.Error:
            pass
        peaks["rss"] = max(peaks.get("rss", 0), rss)
        peaks["pss"] = max(peaks.get("pss", 0), pss)
        stop.wait(0.2)


def timed(command: list[str], memory: bool = False) -> tuple[float, str, dict[str, float]]:
    """Run a command; return wall seconds, stdout and (optionally) peak tree memory."""
    peaks: dict[str, float] = {}
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    stop = threading.Event()
    sampler = threading.Thread(target=sample_tree_memory, args=(process, peaks, stop), daemon=True)
    if memory:
        sampler.start()
    out, err = process.communicate()
    elapsed = time.perf_counter() - started
    stop.set()
    if memory:
        sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"benchmark: {' '.join(command)} failed: {err.strip().splitlines()[-1:]}")
    return elapsed, out, peaks


def naive_loop(repeats: int) -> tuple[float, list[dict]]:
    """The article reader's way: each example script, verbatim, in a new python process."""
    runs = []
    started = time.perf_counter()
    for example in (1, 2, 3):
        for _ in range(repeats):
            _, out, _ = timed([sys.executable, "-m", "helpers.article", str(example)])
            runs.append(json.loads(out))
    return time.perf_counter() - started, runs


def warm_overhead(samples: int = 5) -> tuple[float, float]:
    """Median seconds of a bare fit+evaluate in a warm process, and of a warm-worker run."""
    from helpers.core.config import RunConfig
    from helpers.running.experiment import build_model, make_data
    from helpers.running.runner import run_configs
    from helpers.running.seeding import apply_seeds

    config = RunConfig.for_mode("seeded")
    bare = []
    for _ in range(samples + 1):  # the first one warms this process up
        apply_seeds(config)
        model = build_model()
        x_train, y_train, x_test, y_test = make_data("article")
        started = time.perf_counter()
        model.fit(x_train, y_train, epochs=config.epochs, batch_size=config.batch_size, verbose=0)
        model.evaluate(x_test, y_test, verbose=0)
        bare.append(time.perf_counter() - started)
    worker = run_configs([config] * (samples + 1), processes="warm", parallel=1, progress=False)
    # wall_seconds: from the request leaving the parent to the answer arriving (all overheads in)
    return statistics.median(bare[1:]), statistics.median(r.wall_seconds for r in worker[1:])


def card_figures() -> dict[str, float | bool]:
    """Time making two cards, comparing them, and imitating the second."""
    folder = REPO / "benchmarks" / "results"
    mine, older = folder / "card-this-machine.json", folder / "card-sse41.json"
    card_seconds, _, _ = timed([sys.executable, "-m", "helpers", "card", "--quiet", "--out", str(mine)])
    timed([sys.executable, "-m", "helpers", "card", "--quiet", "--out", str(older), "--env", "ONEDNN_MAX_CPU_ISA=SSE41",
           "--note", "imitated: oneDNN capped at SSE4.1"])
    compare = [timed([sys.executable, "-m", "helpers", "compare", str(mine), str(older)]) for _ in range(5)]
    imitate_seconds, out, _ = timed([sys.executable, "-m", "helpers", "imitate", str(older), "--json"])
    return {
        "card_seconds": card_seconds,
        "card_kb": mine.stat().st_size / 1000,
        "compare_seconds": statistics.median(seconds for seconds, _, _ in compare),
        "imitate_seconds": imitate_seconds,
        "imitate_matched": json.loads(out)["match"] is not None,
    }


def notebook_times() -> dict[str, float]:
    times = {}
    for notebook in sorted((REPO / "notebooks").glob("*.ipynb")):
        seconds, _, _ = timed([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(notebook)])
        times[notebook.name] = seconds
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per mode (default: %(default)s)")
    parser.add_argument("--notebooks", action="store_true", help="also time each notebook under nbval")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    args = parser.parse_args()

    cpu = psutil.cpu_count(logical=True)
    print(f"machine: {platform.processor() or platform.machine()}, {cpu} logical cores, "
          f"{psutil.virtual_memory().total / GIB:.0f} GiB, Python {platform.python_version()}")

    naive_seconds, naive = naive_loop(args.repeats)
    audit_file = REPO / "benchmarks" / "results" / "audit.json"
    audit_file.parent.mkdir(parents=True, exist_ok=True)
    audit = [sys.executable, "-m", "helpers", "audit", "--repeats", str(args.repeats), "--quiet", "--out"]
    audit_seconds, _, _ = timed([*audit, str(audit_file)])
    # Memory is sampled in a second audit: reading every process's memory map costs CPU that
    # would otherwise be charged to the timed one.
    _, _, peaks = timed([*audit, str(audit_file.with_name("audit-memory.json"))], memory=True)
    audit_runs = json.loads(audit_file.read_text())["runs"]
    naive_seeded = {r["weights_sha256"] for r in naive if r["example"] == 2}
    audit_seeded = {r["weights_sha256"] for r in audit_runs if r["mode"] in ("seeded", "cpu")}
    bare, warm = warm_overhead()
    cards = card_figures()

    figures = {
        "naive_seconds": naive_seconds,
        "audit_seconds": audit_seconds,
        "audit_to_naive": audit_seconds / naive_seconds,
        "seeded_hashes_match": naive_seeded == audit_seeded and len(naive_seeded) == 1,
        "bare_fit_evaluate_seconds": bare,
        "warm_run_seconds": warm,
        "warm_to_bare": warm / bare,
        "audit_peak_pss_gib": peaks.get("pss", 0) / GIB,
        "audit_peak_rss_sum_gib": peaks.get("rss", 0) / GIB,
        **cards,
    }
    checks = [
        (f"audit --repeats {args.repeats}: {audit_seconds:.1f} s vs naive {naive_seconds:.1f} s "
         f"= {figures['audit_to_naive']:.2f}x (target <= 0.25x)", figures["audit_to_naive"] <= 0.25),
        (f"seeded weights_sha256 equal to the naive seeded runs: {figures['seeded_hashes_match']}",
         figures["seeded_hashes_match"]),
        (f"warm-worker run {warm:.3f} s vs bare fit+evaluate {bare:.3f} s = {figures['warm_to_bare']:.2f}x "
         "(target <= 1.3x)", figures["warm_to_bare"] <= 1.3),
        (f"audit peak memory: PSS {figures['audit_peak_pss_gib']:.2f} GiB (sum of RSS "
         f"{figures['audit_peak_rss_sum_gib']:.2f} GiB) (target <= 2 GiB)", figures["audit_peak_pss_gib"] <= 2),
        (f"card: {cards['card_seconds']:.1f} s (target < 30 s)", cards["card_seconds"] < 30),
        (f"card size: {cards['card_kb']:.0f} KB (target < 300 KB)", cards["card_kb"] < 300),
        (f"compare (whole command, median of 5): {cards['compare_seconds']:.2f} s (target <= 0.5 s)",
         cards["compare_seconds"] <= 0.5),
        (f"imitate: {cards['imitate_seconds']:.1f} s, reproduced the SSE4.1 card: {cards['imitate_matched']}",
         bool(cards["imitate_matched"])),
    ]
    if args.notebooks:
        figures["notebook_seconds"] = notebook_times()
        for name, seconds in figures["notebook_seconds"].items():
            checks.append((f"{name} under nbval: {seconds:.1f} s (target <= 60 s)", seconds <= 60))
    for text, ok in checks:
        print(f"{'PASS' if ok else 'MISS'}  {text}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
