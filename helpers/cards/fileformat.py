"""The card file: every run and the fingerprint of the machine that made it, as JSON.

One module writes, loads and validates the file, and audit, pool, compare and imitate all go
through it. Cards travel between people -- in a workshop they come from strangers -- so
:func:`load_card` checks a file's size, its JSON and its schema before anything else reads it,
and every problem becomes one :class:`~helpers.core.config.ConfigError` sentence that names the file.
Files of earlier format versions still load: version 1 (without per-epoch weights) and version 2
(without the effective settings, which :func:`helpers.machines.fingerprint.effective_settings` infers
from the CPU flags, the OS, the TensorFlow version and the variables, and marks as inferred).

No TensorFlow here: comparing cards must never start it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from helpers import __version__
from helpers.cards import validation
from helpers.core.config import ConfigError
from helpers.core.results import RunResult, Verdict
from helpers.core.weights import WeightsError, decode
from helpers.machines.fingerprint import machine_fingerprint

FORMAT = "keras-repro-lab/results"
FORMAT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
# A standard card is about 250 KB; an audit with 50 repeats about 400 KB. Far bigger is not a card.
MAX_CARD_BYTES = 4_000_000
MESSAGE_CHARS = 160  # schema messages quote the bad value; keep the sentence readable

Trajectory = tuple[list[int], list[list[np.ndarray]]]


@dataclass
class Card:
    """A loaded card: its runs, and the decoded per-epoch weights of the runs that carry them."""

    name: str
    document: dict[str, Any]
    runs: list[RunResult]
    path: Path | None = None
    trajectories: dict[int, Trajectory] = field(default_factory=dict, repr=False)  # by position in runs

    @property
    def note(self) -> str:
        """What the card's maker said about it, e.g. that it imitates another machine."""
        return str(self.document.get("note", ""))

    @property
    def machine(self) -> dict[str, Any]:
        return dict(self.document.get("machine", {}))

    @property
    def verdicts(self) -> list[Verdict]:
        return [Verdict(v["claim"], v["holds"], v["detail"]) for v in self.document.get("verdicts", [])]

    def trajectory(self, run: RunResult) -> Trajectory | None:
        """Epochs and weight snapshots of ``run`` (one of this card's runs), if the card carries them."""
        for position, candidate in enumerate(self.runs):
            if candidate is run:
                return self.trajectories.get(position)
        return None


def card_document(
    results: Sequence[RunResult],
    command: str,
    verdicts: Sequence[Verdict] | None = None,
    note: str = "",
) -> dict[str, Any]:
    """All results as one JSON-ready document: the card (and the format of ``--json`` and ``--out``)."""
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "lab_version": __version__,
        "command": command,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_fingerprint(),
        "runs": [r.to_dict() for r in results],
        "verdicts": [{"claim": v.claim, "holds": v.holds, "detail": v.detail} for v in verdicts or []],
    }
    if note:
        document["note"] = note
    return document


def check_writable(path: str | Path) -> Path:
    """The path as a Path, or one sentence on why a card cannot be written there.

    Asked before the first run, so a path that cannot be written never costs the runs: the file is
    opened for writing as the card will be (created, then removed again, when it is not there yet).
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise ConfigError(f"cannot write {path}: the folder {path.parent} does not exist.")
    if path.is_dir():
        raise ConfigError(f"cannot write {path}: it is a folder; give a file name such as {path / 'card.json'}.")
    existed = path.exists()
    try:
        # O_APPEND: an existing card is neither cut short nor changed by the check.
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND | (0 if existed else os.O_CREAT | os.O_EXCL)))
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}; give a path in a folder you can "
                          "write to.") from None
    if not existed:
        with contextlib.suppress(OSError):
            path.unlink()
    return path


def write_card(path: str | Path, document: dict[str, Any]) -> Path:
    """Write ``document`` to ``path`` as JSON; NaN or infinite numbers are refused, since JSON has none."""
    path = check_writable(path)
    try:
        text = json.dumps(document, indent=1, allow_nan=False)
    except ValueError:
        raise ConfigError(f"cannot write {path}: a run has a NaN or infinite number (its training diverged), "
                          "which JSON cannot hold.") from None
    try:
        path.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}.") from None
    return path


def schema() -> dict[str, Any]:
    """The card's schema, ``card.schema.json`` (JSON Schema draft-07)."""
    return validation.schema("card")


def _no_constants(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_document(text: str, where: str, require_schema: bool = True) -> dict[str, Any]:
    """JSON text to a validated card document, or one sentence on what is wrong with it.

    The schema check needs fastjsonschema. A card made just now by this lab (``require_schema=False``)
    is checked only where it is installed: a learner's own environment may not have it, and cards
    from others are read in the lab's own environment, which does.
    """
    try:
        document = json.loads(text, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where} is not a card: it is not valid JSON ({exc.msg}, line {exc.lineno}).") from None
    except RecursionError:
        raise ConfigError(f"{where} is not a card: its JSON is nested too deeply.") from None
    except ValueError as exc:
        raise ConfigError(f"{where} is not a card: {exc}.") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ConfigError(f"{where} is not a results file written by this lab (no \"format\": \"{FORMAT}\").")
    version = document.get("format_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise ConfigError(f"{where} was written by a newer lab (format version {version}); update the lab "
                          f"to read it (this one reads versions {', '.join(map(str, READABLE_VERSIONS))}).")
    error = _first_error(document, require_schema)
    if error is not None:
        raise ConfigError(f"{where} is not a valid card: {error}.")
    return document


def _first_error(document: dict[str, Any], require_schema: bool = True) -> str | None:
    try:
        error = validation.first_error("card", document)
    except ImportError:  # fastjsonschema: installed with the lab, absent where it was installed with --no-deps
        if not require_schema:
            return None
        raise ConfigError("reading a card from a file needs fastjsonschema, which this environment lacks: compare "
                          "and pool cards in the lab's own environment, or pip install fastjsonschema here.") from None
    if error is None:
        return None
    steps, message = error
    message = message if len(message) <= MESSAGE_CHARS else message[:MESSAGE_CHARS] + "…"
    return f"{validation.where(steps) or 'the top level'}: {message.rstrip('.')}"


def card_from_document(document: dict[str, Any], name: str, path: Path | None = None) -> Card:
    """Runs and decoded per-epoch weights from a validated document; a bad value is one sentence."""
    runs: list[RunResult] = []
    trajectories: dict[int, Trajectory] = {}
    for position, data in enumerate(document["runs"]):
        try:
            run = RunResult.from_dict(data)
        except ConfigError as exc:
            raise ConfigError(f"{name} is not a valid card: run {position}: {str(exc).rstrip('.')}.") from None
        if run.mode != data["mode"]:
            raise ConfigError(f"{name} is not a valid card: run {position} says mode {data['mode']} "
                              f"but its settings make it {run.mode}.")
        if run.weights_per_epoch is not None:
            trajectories[position] = _trajectory(run, f"{name} run {position}")
        runs.append(run)
    return Card(name=name, document=document, runs=runs, path=path, trajectories=trajectories)


def _trajectory(run: RunResult, where: str) -> Trajectory:
    try:
        epochs, snapshots = decode(run.weights_per_epoch or {})
    except WeightsError as exc:
        raise ConfigError(f"{where}: {str(exc).rstrip('.')}.") from None
    if epochs != sorted(set(epochs)) or epochs[-1] != run.config.epochs:
        raise ConfigError(f"{where}: the weights per epoch do not end at the run's last epoch.")
    hashes = run.weights_per_epoch["sha256"] if run.weights_per_epoch else []
    if hashes[-1] != run.weights_sha256 or (epochs[0] == 0 and run.initial_weights_sha256
                                            and hashes[0] != run.initial_weights_sha256):
        raise ConfigError(f"{where}: the weights per epoch do not match the run's own weight hashes.")
    return epochs, snapshots


def load_card(path: str | Path, name: str | None = None) -> Card:
    """Read, check and decode the card at ``path``; any problem is one ConfigError sentence."""
    path = Path(path)
    name = name or path.name
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise ConfigError(f"{path} is a folder, not a card; give the card's file name.")
        if size > MAX_CARD_BYTES:
            raise ConfigError(f"{name} is not a card: it is {size / 1e6:.1f} MB, and a card is at most "
                              f"{MAX_CARD_BYTES / 1e6:.0f} MB.")
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"there is no results file at {path}.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{name} is not a card: it is not UTF-8 text.") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}.") from None
    return card_from_document(parse_document(text, name), name, path)


def as_card(card: Card | str | Path, name: str) -> Card:
    """``card`` as given (a loaded Card) or loaded from its path; ``name`` says which card in the sentence."""
    if isinstance(card, Card):
        return card
    if isinstance(card, (str, Path)):
        return load_card(card)
    raise ConfigError(f"card {name} must be a Card or the path of a card file, not {type(card).__name__}.")


def load_results(path: str | Path) -> list[RunResult]:
    """The runs of the card at ``path`` (see :func:`load_card`)."""
    return load_card(path).runs
