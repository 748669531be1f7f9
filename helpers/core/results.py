"""Results of runs, as records, pandas DataFrames and computed verdicts.

A verdict is a claim the lab teaches (say, "seeded runs identical") computed from the runs
themselves. Notebooks print verdict lines in cells that nbval compares, so the test suite
fails the day a claim stops being true.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

from helpers.core.config import RunConfig

if TYPE_CHECKING:  # pandas only where a table is asked for: it costs about half a second, and a learner's
    # own environment may not have it
    import pandas as pd


@dataclass
class RunResult:
    """One run: what was asked, what happened, and where."""

    config: RunConfig
    test_accuracy: float
    test_loss: float
    weights_sha256: str
    device: str
    loss_per_epoch: list[float]
    accuracy_per_epoch: list[float]
    fit_evaluate_seconds: float
    run_seconds: float
    tensorflow_import_seconds: float
    worker_pid: int
    run_in_worker: int
    processes: str  # "fresh": a new Python process for this run; "warm": a reused one
    fingerprint: dict[str, Any] = field(default_factory=dict)
    initial_weights_sha256: str = ""  # before training: what random.seed controls
    data_sha256: str = ""  # the generated data: what np.random.seed controls
    data_values_sha256: str = ""  # the same data as float64 values (Keras 2 stores labels as float32)
    xla: bool | None = None  # XLA as the compiled model resolved it (None: not recorded)
    test_examples: int = 0  # how many examples test accuracy is over (0: not recorded, older cards)
    wall_seconds: float = 0.0  # from the request leaving the parent to the answer arriving
    index: int = 0  # position in the batch it was run in
    tag: str = ""  # free label from the caller, e.g. "press 3" in the control panel
    # The weights before training and after each epoch, encoded by helpers.core.weights (cards only).
    weights_per_epoch: dict[str, Any] | None = None
    # Where the weights after every batch step were written (helpers.training.diverge), if they were.
    step_record: dict[str, Any] | None = None
    attempts: int = 1  # 2: the first worker died under this run, and a new one ran it

    @property
    def mode(self) -> str:
        return self.config.mode

    @property
    def seed(self) -> int | None:
        return self.config.seed if self.config.seeded else None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["config"] = self.config.to_dict()
        data.update(mode=self.mode, seed=self.seed, label=self.config.label, task=self.config.task)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunResult:
        """The inverse of :meth:`to_dict`; keys it does not know (derived, or from a newer lab) are ignored."""
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        values["config"] = RunConfig.from_dict(data["config"])
        return cls(**values)


TABLE_COLUMNS = [
    "tag", "label", "mode", "seed", "task", "device", "test_accuracy", "test_loss",
    "weights", "same_weights_as", "processes", "run_seconds", "wall_seconds",
]


def to_frame(results: Sequence[RunResult]) -> pd.DataFrame:
    """One row per run; ``weights`` is the first 12 hex digits of the hash, and
    ``same_weights_as`` names the first run with bit-identical weights (blank if none)."""
    import pandas as pd

    rows = []
    first_with_hash: dict[str, int] = {}
    for position, result in enumerate(results):
        first = first_with_hash.setdefault(result.weights_sha256, position)
        rows.append({
            "tag": result.tag,
            "label": result.config.label,
            "mode": result.mode,
            "seed": result.seed if result.seed is not None else pd.NA,
            "task": result.config.task,
            "device": result.device,
            "test_accuracy": result.test_accuracy,
            "test_loss": result.test_loss,
            "weights": result.weights_sha256[:12],
            "same_weights_as": f"run {first}" if first != position else "",
            "processes": result.processes,
            "run_seconds": round(result.run_seconds, 2),
            "wall_seconds": round(result.wall_seconds, 2),
            "weights_sha256": result.weights_sha256,
        })
    frame = pd.DataFrame(rows, columns=[*TABLE_COLUMNS, "weights_sha256"])
    frame.index.name = "run"
    return frame


def kinds(results: Sequence[RunResult]) -> list[str]:
    """Each run's kind, as a figure names it: its label, and its task, epochs or batch size when
    those vary among ``results`` (the label leaves them out, and runs of the article's task and of
    the learnable one must not share a row)."""
    shown = [(field, name) for field, name in (("task", "{} task"), ("epochs", "{} epochs"), ("batch_size", "batch {}"))
             if len({getattr(r.config, field) for r in results}) > 1]
    return [", ".join([r.config.label, *(name.format(getattr(r.config, field)) for field, name in shown)])
            for r in results]


def summary_by_label(results: Sequence[RunResult]) -> pd.DataFrame:
    """Spread of test accuracy and number of distinct weights for each kind of run (see :func:`kinds`)."""
    import pandas as pd

    frame = to_frame(results)
    if frame.empty:
        return pd.DataFrame(columns=["runs", "distinct weights", "accuracy min", "accuracy max", "accuracy spread"])
    frame["label"] = kinds(results)
    grouped = frame.groupby("label", sort=False)
    summary = pd.DataFrame({
        "runs": grouped.size(),
        "distinct weights": grouped["weights_sha256"].nunique(),
        "accuracy min": grouped["test_accuracy"].min(),
        "accuracy max": grouped["test_accuracy"].max(),
    })
    summary["accuracy spread"] = summary["accuracy max"] - summary["accuracy min"]
    return summary


def retry_sentence(results: Sequence[RunResult]) -> str:
    """One sentence on runs that were tried again because their worker died ("" when none were)."""
    retried = [r.index for r in results if r.attempts > 1]
    if not retried:
        return ""
    which = ", ".join(map(str, retried))
    return (f"{len(retried)} run(s) ({which}) were tried again in a new worker after the first one stopped "
            "under them.")


@dataclass(frozen=True)
class Verdict:
    """A claim and whether the runs bear it out; prints as ``claim: True``."""

    claim: str
    holds: bool
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.claim}: {self.holds}"

    def __bool__(self) -> bool:
        return self.holds


def _hashes(results: Iterable[RunResult]) -> list[str]:
    return [r.weights_sha256 for r in results]


def all_identical(claim: str, results: Sequence[RunResult]) -> Verdict:
    """True when there are at least two runs and all have bit-identical weights."""
    hashes = _hashes(results)
    distinct = len(set(hashes))
    return Verdict(claim, len(hashes) >= 2 and distinct == 1, f"{len(hashes)} runs, {distinct} distinct weights")


def all_differ(claim: str, results: Sequence[RunResult]) -> Verdict:
    """True when there are at least two runs and no two have identical weights."""
    hashes = _hashes(results)
    distinct = len(set(hashes))
    holds = len(hashes) >= 2 and distinct == len(hashes)
    return Verdict(claim, holds, f"{len(hashes)} runs, {distinct} distinct weights")


def same_weights(claim: str, left: Sequence[RunResult], right: Sequence[RunResult]) -> Verdict:
    """True when both groups are non-empty and every run in both has the same weights."""
    hashes = set(_hashes(left)) | set(_hashes(right))
    return Verdict(claim, bool(left) and bool(right) and len(hashes) == 1, f"{len(hashes)} distinct weights")


def accuracy_agrees(claim: str, left: Sequence[RunResult], right: Sequence[RunResult], places: int = 6) -> Verdict:
    """True when every test accuracy in both groups rounds to the same value at ``places`` decimals."""
    rounded = {round(r.test_accuracy, places) for r in [*left, *right]}
    return Verdict(claim, bool(left) and bool(right) and len(rounded) == 1, f"accuracies: {sorted(rounded)}")


def correct_count(result: RunResult) -> int | None:
    """How many test examples the run classified correctly (None: the run did not record how many there were)."""
    return round(result.test_accuracy * result.test_examples) if result.test_examples else None


def same_correct_count(claim: str, left: Sequence[RunResult], right: Sequence[RunResult]) -> Verdict:
    """True when every run in both groups classified the same number of test examples correctly.

    Test accuracy moves in steps of one example (0.005 for the article's 200): counts say what an
    accuracy to 6 decimals only seems to say.
    """
    runs = [*left, *right]
    counts = {correct_count(r) for r in runs}
    holds = bool(left) and bool(right) and len(counts) == 1 and None not in counts
    said = sorted({f"{correct_count(r)} of {r.test_examples}" if r.test_examples else "not recorded" for r in runs})
    return Verdict(claim, holds, f"test examples correct: {', '.join(said)}")


def select(results: Iterable[RunResult], **conditions: Any) -> list[RunResult]:
    """Runs whose config fields (or ``mode``) equal the given values."""
    chosen = []
    for result in results:
        if all(getattr(result.config, key) == value for key, value in conditions.items()):
            chosen.append(result)
    return chosen
