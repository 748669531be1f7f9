"""Workshop cards: pool the results files of many participants and group them by machine.

Each participant writes a card with ``python -m helpers audit --out card-NAME.json``. A card
holds every run and the fingerprint of the machine that made it. Pooled, the seeded runs'
weight hashes split by *machine* (CPU and instruction set, TensorFlow build, GPU, oneDNN
settings) and never within one: that is the answer to "why does Colab differ from my PC".
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from helpers.cardfile import load_results
from helpers.config import ConfigError
from helpers.fingerprint import machine_label
from helpers.results import RunResult, Verdict


def pool(cards: Iterable[str | Path]) -> pd.DataFrame:
    """One row per run from every card, with the card's name and the run's machine label."""
    rows = []
    paths = [Path(p) for p in cards]
    if not paths:
        raise ConfigError("no cards given; pass the results files written with --out.")
    for path in paths:
        for result in load_results(path):
            rows.append(_row(path.stem, result))
    pooled = pd.DataFrame(rows)
    pooled["seed"] = pooled["seed"].astype("Int64")  # unseeded runs have none; keep 42 an integer
    return pooled


def _row(card: str, result: RunResult) -> dict[str, Any]:
    return {
        "card": card,
        "machine": machine_label(result.fingerprint),
        "mode": result.mode,
        "seed": result.seed,
        "task": result.config.task,
        "device": result.device,
        "test_accuracy": result.test_accuracy,
        "weights": result.weights_sha256[:12],
        "weights_sha256": result.weights_sha256,
    }


def seeded_by_machine(pooled: pd.DataFrame) -> pd.DataFrame:
    """For each seed, task and machine: how many seeded runs and how many distinct weights."""
    seeded = pooled[pooled["mode"] != "unseeded"]
    if seeded.empty:
        return pd.DataFrame(columns=["runs", "distinct weights", "weights", "test accuracy"])
    return seeded.groupby(["seed", "task", "machine"]).agg(
        runs=("weights_sha256", "size"),
        **{"distinct weights": ("weights_sha256", "nunique")},
        weights=("weights", lambda w: ", ".join(sorted(set(w)))),
        **{"test accuracy": ("test_accuracy", lambda a: ", ".join(f"{v:.6f}" for v in sorted(set(a))))},
    )


def pool_report(pooled: pd.DataFrame) -> tuple[Verdict, str]:
    """The verdict a pooled workshop checks, and one sentence on how the machines compare."""
    table = seeded_by_machine(pooled)
    within = Verdict("same seed on the same machine: identical weights",
                     not table.empty and bool((table["distinct weights"] == 1).all()))
    machines = pooled["machine"].nunique()
    groups = table.groupby(level=["seed", "task"])["weights"].nunique() if not table.empty else pd.Series(dtype=int)
    sentence = (f"{pooled['card'].nunique()} card(s) from {machines} machine(s); "
                f"per seed and task, the machines' seeded runs give {', '.join(map(str, groups.tolist())) or 'no'} "
                "distinct weight(s).")
    return within, sentence
