"""Benchmark: where a whole command's CPU goes, by kind of process (the README's test command by default).

    python benchmarks/bench_suite.py [--json FILE] [--interval 0.5] [-- COMMAND ...]

The test suite is CPU-bound on a small machine, so its wall time follows the CPU its processes use, and most of
them are ones the tests start on purpose: TensorFlow workers, notebook kernels, a browser. This runs the command
(default: ``python tools/lab.py test``) and samples every process under it with psutil, sorting each by what it is
(an article worker, a script worker, a kernel, Chromium, ...) from its command line. It prints, for each kind, how
many processes ran and the CPU they used, beside the whole tree's CPU, which the operating system counts exactly
(on Linux and macOS) for every process waited for: a process that lived less than one interval, or its last
interval, is in that count but not in its kind's row; a process left to end on its own, such as a kept worker
closed at exit, is in its row but not in that count. It also prints how busy the machine's cores were.

Run it on an idle machine and alone: what else runs is in the machine's figure and not in the tree's. It adds the
sampler's own CPU (printed) to the machine's. Figures from one run compare only with figures from the same run or
a run beside it (docs/speed.md: the machine's speed drifts through a day).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
DEFAULT_COMMAND = [sys.executable, str(REPO / "tools" / "lab.py"), "test"]

# (kind, any of these in the command line), first match wins: the lab's own processes before the tools under them.
KINDS = (
    ("article worker", ("from helpers.__main__ import worker",)),
    ("script worker", ("helpers.scripts.worker",)),
    ("the article's examples, verbatim", ("-m helpers.article",)),
    ("a session resumed (02c)", ("helpers.training.resume",)),
    ("lab command line (python -m helpers)", ("-m helpers",)),
    ("notebook kernel", ("ipykernel_launcher",)),
    ("JupyterLab", ("jupyter-lab", "jupyterlab", "jupyter lab", "jupyter_server")),
    ("Chromium", ("chrom",)),
    ("Playwright's driver", ("playwright",)),
    ("test process (pytest, pytest-xdist)", ("-m pytest", "sys.stdin.readline()")),
    ("installers (uv, pip)", ("uv ", "/uv", "-m pip", "compileall")),
)


def kind_of(cmdline: list[str], own_prefix: str = sys.prefix) -> str:
    """What a process is, from its command line; "(another environment)" when its Python is not this one's."""
    text = " ".join(cmdline)
    program = cmdline[0] if cmdline else ""
    default = "other Python (a script run plainly, a probe)" if "python" in Path(program).name else "other"
    kind = next((name for name, marks in KINDS if any(mark in text for mark in marks)), default)
    if "python" in Path(program).name and os.path.isabs(program) and not program.startswith(own_prefix):
        kind += " (another environment)"
    return kind


@dataclass
class Seen:
    kind: str
    cpu: float = 0.0


@dataclass
class Sampler:
    """Every process under ``root``, sampled every ``interval`` seconds: its kind and the CPU it had used."""

    root: int
    interval: float
    seen: dict[tuple[int, float], Seen] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def sample(self) -> None:
        try:
            root = psutil.Process(self.root)
            processes = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        for process in processes:
            try:
                with process.oneshot():
                    key = (process.pid, process.create_time())
                    cmdline = process.cmdline()
                    times = process.cpu_times()
            except psutil.Error:  # ended meanwhile, or not ours to read
                continue
            entry = self.seen.setdefault(key, Seen("other"))
            if cmdline:  # a child between fork and exec still shows its parent's line: the last one seen wins
                entry.kind = kind_of(cmdline)
            entry.cpu = max(entry.cpu, times.user + times.system)

    def run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(self.interval)


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine has spent busy since boot (neither idle nor waiting on a disk)."""
    times = psutil.cpu_times()
    # iowait is Linux's, like guest time, which its user and nice times already hold.
    not_busy = ("idle", "iowait", "guest", "guest_nice")
    return sum(times) - sum(getattr(times, name, 0.0) for name in not_busy)


def measure(command: list[str], interval: float) -> dict:
    before = machine_busy_seconds()
    started = time.perf_counter()
    try:
        process = subprocess.Popen(command, cwd=REPO)
    except OSError as exc:
        raise SystemExit(f"benchmark: {command[0]} cannot be started ({exc.strerror}); give a command after --, "
                         "such as: -- python3 tools/lab.py quick") from None
    sampler = Sampler(process.pid, interval)
    thread = threading.Thread(target=sampler.run, daemon=True)
    thread.start()
    if hasattr(os, "wait4"):  # POSIX: reaped here, with the rusage of its whole tree (Popen must not wait too)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        total: float | None = usage.ru_utime + usage.ru_stime  # the command and every process it waited for
    else:  # Windows keeps no such count
        process.wait()
        total = None
    wall = time.perf_counter() - started
    sampler.stop.set()
    thread.join()
    after = machine_busy_seconds()
    own = psutil.Process().cpu_times()
    by_kind: Counter[str] = Counter()
    count: Counter[str] = Counter()
    for entry in sampler.seen.values():
        by_kind[entry.kind] += entry.cpu
        count[entry.kind] += 1
    figures = {
        "command": command,
        "exit_code": process.returncode,
        "wall_seconds": round(wall, 1),
        "tree_cpu_seconds": None if total is None else round(total, 1),
        "kinds": {kind: {"processes": count[kind], "cpu_seconds": round(cpu, 1)}
                  for kind, cpu in by_kind.most_common()},
        "sampled_cpu_seconds": round(sum(by_kind.values()), 1),
        "sampler_cpu_seconds": round(own.user + own.system, 1),
    }
    busy = after - before
    figures.update(machine_busy_cpu_seconds=round(busy, 1), cores=psutil.cpu_count(),
                   busy_cores_on_average=round(busy / wall, 2))
    return figures


def report(figures: dict) -> str:
    total = figures["sampled_cpu_seconds"] or 1.0
    lines = [f"{' '.join(figures['command'])}: exit code {figures['exit_code']}, {figures['wall_seconds']} s",
             "", f"{'kind of process':<52} {'count':>5} {'CPU s':>8} {'per process':>11} {'share':>6}"]
    for kind, row in figures["kinds"].items():
        per = row["cpu_seconds"] / row["processes"] if row["processes"] else 0.0
        lines.append(f"{kind:<52} {row['processes']:>5} {row['cpu_seconds']:>8.1f} {per:>11.2f} "
                     f"{row['cpu_seconds'] / total:>6.0%}")
    lines += ["", f"CPU sampled, all kinds: {figures['sampled_cpu_seconds']} s (it misses what lived less than one "
                  "interval, and each process's last interval)"]
    if figures["tree_cpu_seconds"] is not None:
        lines.append(f"the OS's count for the command and every process under it that was waited for: "
                     f"{figures['tree_cpu_seconds']} s (it misses processes left to end on their own)")
    lines += ["", f"the machine: {figures['machine_busy_cpu_seconds']} s of CPU busy on {figures['cores']} cores, "
                  f"{figures['busy_cores_on_average']} cores busy on average (the sampler itself: "
                  f"{figures['sampler_cpu_seconds']} s)"]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between samples (default: %(default)s)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command, after -- (default: the test command)")
    args = parser.parse_args()
    command = [part for part in args.command if part != "--"] or DEFAULT_COMMAND
    figures = measure(command, args.interval)
    print(report(figures))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return figures["exit_code"]


if __name__ == "__main__":
    sys.exit(main())
