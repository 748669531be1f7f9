"""The workshop: pool everyone's cards and group their runs by machine.

Each participant makes a card (``python -m helpers card --out card-NAME.json``, or the card
cell of ``04_across_machines``, which downloads it in Colab). A card holds every run and the
fingerprint of the process that made it. Pooled, the seeded runs' weight hashes split by
*machine* -- CPU and instruction set, TensorFlow build, GPU, oneDNN and thread settings -- and
never within one: that is the answer to "why does Colab differ from my PC". Two cards from the
same machine and setting that disagree are flagged apart: that is real nondeterminism.

Cards come from strangers: a card that cannot be read is set aside with its reason and the
rest are pooled.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from helpers.cards.compare import setting_key, setting_label
from helpers.cards.fileformat import Card, load_card
from helpers.cards.script_cards import script_rows
from helpers.core.config import ConfigError
from helpers.core.results import RunResult, Verdict
from helpers.machines.fingerprint import machine_key, machine_label

SETTING_COLUMNS = ["setting", "machine"]


@dataclass
class Workshop:
    """The pooled cards, the cards set aside (file name, reason), and one row per run."""

    cards: list[Card]
    rejected: list[tuple[str, str]]
    runs: pd.DataFrame

    def machines(self) -> pd.DataFrame:
        """One row per machine: its short name (M1, M2, ...), what it is, and whose cards came from it."""
        if self.runs.empty:
            return pd.DataFrame(columns=["machine", "cards", "runs"]).rename_axis("id")
        grouped = self.runs.groupby("machine_id", sort=False)
        return pd.DataFrame({
            "machine": grouped["machine"].first(),
            "cards": grouped["card"].agg(lambda names: ", ".join(dict.fromkeys(names))),
            "runs": grouped.size(),
        }).rename_axis("id")

    def by_machine(self) -> pd.DataFrame:
        """Per seeded setting and machine: runs, distinct weights, the weights and accuracies, the cards."""
        seeded = self.runs[self.runs["mode"] != "unseeded"]
        columns = ["runs", "distinct weights", "weights", "test accuracy", "cards"]
        if seeded.empty:
            return pd.DataFrame(columns=columns)
        return seeded.groupby(["setting", "machine_id"], sort=False).agg(
            runs=("weights_sha256", "size"),
            **{"distinct weights": ("weights_sha256", "nunique")},
            weights=("weights", lambda w: ", ".join(dict.fromkeys(w))),
            **{"test accuracy": ("test_accuracy", lambda a: ", ".join(f"{v:.6f}" for v in dict.fromkeys(a)))},
            cards=("card", lambda names: ", ".join(dict.fromkeys(names))),
        )

    def disagreements(self) -> pd.DataFrame:
        """Same machine, same setting, different weights: real nondeterminism, not a machine difference."""
        table = self.by_machine()
        return table[table["distinct weights"] > 1]

    def machine_splits(self) -> pd.DataFrame:
        """Per seeded setting: how many machines, and how many distinct weights they trained (expected to differ)."""
        seeded = self.runs[self.runs["mode"] != "unseeded"]
        if seeded.empty:
            return pd.DataFrame(columns=["machines", "distinct weights"])
        grouped = seeded.groupby("setting", sort=False)
        return pd.DataFrame({"machines": grouped["machine_id"].nunique(),
                             "distinct weights": grouped["weights_sha256"].nunique()})

    def verdicts(self, mode: str | None = None) -> list[Verdict]:
        """Same seed on the same machine gives identical weights (for one ``mode``, "seeded" or "cpu", if given)."""
        table = self.by_machine()
        if mode is not None:
            table = table[[setting.split(",")[0] == mode for setting, _ in table.index]]
        disagree = int((table["distinct weights"] > 1).sum())
        what = {None: "same seed", "seeded": "seeded runs", "cpu": "CPU-forced runs"}.get(mode, f"{mode} runs")
        return [Verdict(f"{what} on the same machine: identical weights",
                        not table.empty and disagree == 0,
                        f"{len(table)} machine-and-setting group(s), {disagree} disagree")]

    def summary(self) -> str:
        """One sentence on what was pooled and what was set aside."""
        machines = self.runs["machine_id"].nunique() if not self.runs.empty else 0
        text = f"{len(self.cards)} card(s) from {machines} machine(s) pooled"
        if self.rejected:
            text += f"; {len(self.rejected)} set aside ({', '.join(name for name, _ in self.rejected)})"
        return text + "."

    def rejected_table(self) -> pd.DataFrame:
        return pd.DataFrame(self.rejected, columns=["file", "why it was set aside"]).set_index("file")


def pool_cards(sources: Iterable[str | Path | Card]) -> Workshop:
    """Load every card (paths or loaded cards), set aside those that cannot be read, and pool the rest."""
    cards: list[Card] = []
    rejected: list[tuple[str, str]] = []
    for source in sources:
        if isinstance(source, Card):
            cards.append(source)
            continue
        try:
            cards.append(load_card(source))
        except ConfigError as exc:
            rejected.append((Path(source).name, str(exc)))
    names = [card.name for card in cards]
    if len(set(names)) != len(names):  # two participants named their files alike, in different folders
        for card in cards:
            if names.count(card.name) > 1 and card.path is not None:
                card.name = f"{card.path.parent.name}/{card.name}"
    rows = [_row(card, run) for card in cards for run in card.runs]
    scripts, bad = script_rows(cards)  # cards of a learner's script pool by the script's seeded runs
    rows += scripts
    rejected += bad
    cards = [card for card in cards if card.name not in {name for name, _ in bad}]
    runs = pd.DataFrame(rows, columns=[*SETTING_COLUMNS, "card", "machine_key", "mode", "seed", "task", "device",
                                       "test_accuracy", "weights", "weights_sha256"])
    runs["setting"] = runs["setting"].map(_short_names(runs["setting"]))
    ids = {key: f"M{i}" for i, key in enumerate(dict.fromkeys(runs["machine_key"]), start=1)}
    runs.insert(1, "machine_id", runs["machine_key"].map(ids))
    runs["seed"] = runs["seed"].astype("Int64")  # unseeded runs have none; keep 42 an integer
    return Workshop(cards, rejected, runs)


def pool_folder(folder: str | Path) -> Workshop:
    """Pool every ``*.json`` file in ``folder`` (a shared folder of cards, say)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"there is no folder {folder}; put the cards in one and give its path.")
    paths = sorted(folder.glob("*.json"))
    if not paths:
        raise ConfigError(f"{folder} holds no .json files; cards are the files `python -m helpers card` writes.")
    return pool_cards(paths)


def _short_names(labels: pd.Series) -> dict[str, str]:
    """'seeded, seed 42' for 'seeded, seed 42, article task, 10 epochs, batch 32' when the short
    names still tell every setting of the workshop apart; the full names otherwise."""
    full = list(dict.fromkeys(labels))
    short = {label: ", ".join(label.split(", ")[:2]) for label in full}
    return short if len(set(short.values())) == len(full) else {label: label for label in full}


def _row(card: Card, run: RunResult) -> dict[str, Any]:
    return {
        "setting": setting_label(setting_key(run)) if run.mode != "unseeded" else "unseeded",
        "machine": machine_label(run.fingerprint),
        "card": card.name,
        "machine_key": machine_key(run.fingerprint),
        "mode": run.mode,
        "seed": run.seed,
        "task": run.config.task,
        "device": run.device,
        "test_accuracy": run.test_accuracy,
        "weights": run.weights_sha256[:12],
        "weights_sha256": run.weights_sha256,
    }


# Participants of the demonstration workshop: who, and which machine each imitates on this one.
DEMO_PARTICIPANTS: tuple[tuple[str, dict[str, str], str], ...] = (
    ("ana", {}, "made on this machine as it is"),
    ("ben", {}, "made on this machine as it is: a second participant on the same kind of machine"),
    ("chloe", {"ONEDNN_MAX_CPU_ISA": "SSE41"}, "imitated: this machine with oneDNN capped at SSE4.1 (an older CPU)"),
    ("dev", {"TF_ENABLE_ONEDNN_OPTS": "0"}, "imitated: this machine with oneDNN off (a build without it)"),
)


def make_demo_cards(folder: str | Path, progress: bool = False) -> list[Path]:
    """Fill ``folder`` with a demonstration workshop made here and now: four participants' cards
    (two of them imitating other machines, and saying so in their note) and two files that are
    not cards, as a real workshop always has. The four cards come from one batch of runs."""
    from helpers.cards.making import make_cards

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    made = make_cards([{"path": folder / f"card-{name}.json", "env": env, "note": note}
                       for name, env, note in DEMO_PARTICIPANTS], progress=progress)
    paths = [card.path for card in made if card.path is not None]
    text = paths[0].read_text(encoding="utf-8")
    (folder / "card-eve.json").write_text(text[: len(text) // 2], encoding="utf-8")  # an upload cut short
    (folder / "notes.json").write_text('{"todo": "bring my card"}\n', encoding="utf-8")
    return paths
