"""The audit: the article's three experiments side by side, with computed verdicts.

``python -m helpers audit`` and the notebooks use this to answer, on the machine at hand:
do unseeded runs differ, are seeded runs identical, and does forcing the CPU change anything?
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from helpers.core.config import DEFAULT_SEED, ConfigError, RunConfig, check_repeats
from helpers.core.results import (
    RunResult,
    Verdict,
    all_differ,
    all_identical,
    retry_sentence,
    same_weights,
    select,
    summary_by_label,
)
from helpers.machines.devices import NO_GPU_SENTENCE
from helpers.running.runner import run_configs

MODES_IN_ORDER = ("unseeded", "seeded", "cpu")


def device_sentence(results: list[RunResult]) -> str:
    """Where the runs ran, in one sentence that says plainly when no GPU was used."""
    used = sorted({r.device for r in results})
    if all(d.startswith("CPU") for d in used):
        gpus = {g for r in results for g in r.fingerprint.get("gpus", [])}
        if not gpus:
            return NO_GPU_SENTENCE
        return f"Every run used {', '.join(used)}; no run used a GPU."
    return f"Runs used: {', '.join(used)}."


def audit_verdicts(results: list[RunResult]) -> list[Verdict]:
    """The article's claims, each computed from the runs."""
    unseeded = select(results, mode="unseeded")
    seeded = select(results, mode="seeded")
    cpu = select(results, mode="cpu")
    return [
        all_differ("unseeded runs all differ", unseeded),
        all_identical("seeded runs identical", seeded),
        all_identical("CPU-forced runs identical", cpu),
        same_weights("CPU-forced runs identical to default seeded runs", cpu, seeded),
    ]


@dataclass
class AuditReport:
    results: list[RunResult]
    verdicts: list[Verdict]
    seconds: float

    def text(self) -> str:
        summary = summary_by_label(self.results)
        lines = [
            summary.to_string(float_format=lambda v: f"{v:.6f}"),
            "",
            device_sentence(self.results),
            *([retry_sentence(self.results)] if retry_sentence(self.results) else []),
            "",
            *(f"{v}   ({v.detail})" for v in self.verdicts),
        ]
        return "\n".join(lines)


def audit_plan(
    repeats: int = 3,
    task: str = "article",
    seed: int = DEFAULT_SEED,
    epochs: int = 10,
    record_epochs: bool = False,
    **settings: Any,
) -> tuple[list[RunConfig], list[bool]]:
    """The audit's runs (unseeded, seeded, CPU-forced, ``repeats`` each) and which of them keep their
    per-epoch weights (the first seeded and the first CPU-forced, when ``record_epochs``)."""
    repeats = check_repeats(repeats)
    if repeats < 2:
        raise ConfigError("the audit compares runs with each other, so it needs at least 2 repeats.")
    plan = [(mode, repeat) for mode in MODES_IN_ORDER for repeat in range(repeats)]
    configs = [RunConfig.for_mode(mode, seed=None if mode == "unseeded" else seed, task=task, epochs=epochs,
                                  **settings) for mode, _ in plan]
    return configs, [record_epochs and mode != "unseeded" and repeat == 0 for mode, repeat in plan]


def run_audit(
    repeats: int = 3,
    task: str = "article",
    seed: int = DEFAULT_SEED,
    processes: str = "warm",
    parallel: int | None = None,
    progress: bool = True,
    epochs: int = 10,
    record_epochs: bool = False,
    **settings: Any,
) -> AuditReport:
    """Run unseeded, seeded and CPU-forced ``repeats`` times each and compute the verdicts.

    ``settings`` are further RunConfig fields for every run (``env``, ``op_determinism``,
    ``jit_compile``, ``batch_size``). ``record_epochs`` keeps the per-epoch weights of the
    first seeded and the first CPU-forced run, which is what a card needs to be compared by distance.
    """
    configs, recording = audit_plan(repeats, task, seed, epochs, record_epochs, **settings)
    started = time.perf_counter()
    results = run_configs(configs, processes=processes, parallel=parallel, progress=progress,
                          record_epochs=recording)
    return AuditReport(results, audit_verdicts(results), time.perf_counter() - started)
