"""The audit: the article's three experiments side by side, with computed verdicts.

``python -m helpers audit`` and the notebooks use this to answer, on the machine at hand:
do unseeded runs differ, are seeded runs identical, and does forcing the CPU change anything?
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers import __version__
from helpers.config import DEFAULT_SEED, ConfigError, RunConfig, check_repeats
from helpers.devices import NO_GPU_SENTENCE
from helpers.fingerprint import machine_fingerprint
from helpers.results import (
    RunResult,
    Verdict,
    all_differ,
    all_identical,
    same_weights,
    select,
    summary_by_label,
)
from helpers.runner import run_configs

RESULTS_FORMAT = "keras-repro-lab/results"
RESULTS_FORMAT_VERSION = 1


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
            "",
            *(f"{v}   ({v.detail})" for v in self.verdicts),
        ]
        return "\n".join(lines)


def run_audit(
    repeats: int = 3,
    task: str = "article",
    seed: int = DEFAULT_SEED,
    processes: str = "warm",
    parallel: int | None = None,
    progress: bool = True,
    epochs: int = 10,
) -> AuditReport:
    """Run unseeded, seeded and CPU-forced ``repeats`` times each and compute the verdicts."""
    repeats = check_repeats(repeats)
    if repeats < 2:
        raise ConfigError("the audit compares runs with each other, so it needs at least 2 repeats.")
    configs = [
        RunConfig.for_mode(mode, seed=seed, task=task, epochs=epochs)
        for mode in ("unseeded", "seeded", "cpu")
        for _ in range(repeats)
    ]
    started = time.perf_counter()
    results = run_configs(configs, processes=processes, parallel=parallel, progress=progress)
    return AuditReport(results, audit_verdicts(results), time.perf_counter() - started)


def results_document(results: list[RunResult], command: str, verdicts: list[Verdict] | None = None) -> dict[str, Any]:
    """All results as one JSON-ready document (the format of ``--json`` and ``--out``)."""
    return {
        "format": RESULTS_FORMAT,
        "format_version": RESULTS_FORMAT_VERSION,
        "lab_version": __version__,
        "command": command,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_fingerprint(),
        "runs": [r.to_dict() for r in results],
        "verdicts": [{"claim": v.claim, "holds": v.holds, "detail": v.detail} for v in verdicts or []],
    }


def check_writable(path: str | Path) -> Path:
    path = Path(path)
    if not path.parent.is_dir():
        raise ConfigError(f"cannot write {path}: the folder {path.parent} does not exist.")
    if path.is_dir():
        raise ConfigError(f"cannot write {path}: it is a folder; give a file name such as {path / 'audit.json'}.")
    return path


def write_results(path: str | Path, document: dict[str, Any]) -> Path:
    path = check_writable(path)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path


def load_results(path: str | Path) -> list[RunResult]:
    """Read the runs back from a file written by ``--out`` or ``--json``."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"there is no results file at {path}.") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path} is not a results file: it is not valid JSON ({exc.msg}, line {exc.lineno})."
        ) from None
    if not isinstance(document, dict) or document.get("format") != RESULTS_FORMAT:
        raise ConfigError(f"{path} is not a results file written by this lab (no \"format\": \"{RESULTS_FORMAT}\").")
    return [RunResult.from_dict(run) for run in document["runs"]]

