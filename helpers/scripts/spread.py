"""Spread against difference: is the accuracy gap between two machines larger than the spread over seeds?

A learner sees 0.952 on Colab and 0.947 on their PC and asks why. Before any machine is blamed,
the same script run with a few different seeds on one machine shows how far test accuracy moves
from seed to seed alone. A gap between machines inside that spread is noise about noise; the
honest report of such a model is a mean and a spread over seeds, not one run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from helpers.core.config import ConfigError
from helpers.core.results import Verdict
from helpers.scripts.runs import Fix, run_scripts
from helpers.scripts.source import load_script


@dataclass(frozen=True)
class Spread:
    """Test accuracy of one script over several seeds."""

    script: str
    seeds: tuple[int, ...]
    accuracies: tuple[float, ...]

    @property
    def mean(self) -> float:
        return sum(self.accuracies) / len(self.accuracies)

    @property
    def std(self) -> float:
        """The sample standard deviation (n - 1)."""
        n = len(self.accuracies)
        return math.sqrt(sum((a - self.mean) ** 2 for a in self.accuracies) / (n - 1)) if n > 1 else 0.0

    @property
    def width(self) -> float:
        """From the lowest to the highest accuracy."""
        return max(self.accuracies) - min(self.accuracies)

    def report(self) -> str:
        """The line to report instead of one run's accuracy."""
        seeds = len(self.seeds)
        return f"test accuracy {self.mean:.4f} ± {self.std:.4f} (mean ± standard deviation over {seeds} seeds)"

    def verdict_on(self, a: float, b: float, what: str = "the two machines") -> Verdict:
        """Whether the gap between accuracies ``a`` and ``b`` lies within the spread over seeds."""
        gap = abs(a - b)
        return Verdict(f"the gap between {what} is within the spread of test accuracy over {len(self.seeds)} seeds",
                       gap <= self.width, f"gap {gap:.4f}, spread {self.width:.4f}")


def accuracy_spread(script: str | Path, seeds: Sequence[int] = (0, 1, 2, 3, 4), *, max_epochs: int | None = None,
                    timeout: float = 600) -> Spread:
    """Run ``script`` once per seed (``keras.utils.set_random_seed`` before it starts), each in a fresh process,
    and collect the test accuracy of its last ``evaluate`` (watched, as the doctor watches it; ``max_epochs``
    caps each ``fit`` as there)."""
    seeds = tuple(seeds)
    if len(seeds) < 2 or len(set(seeds)) != len(seeds):
        raise ConfigError("a spread needs at least two different seeds, such as (0, 1, 2, 3, 4).")
    source = load_script(script)
    runs = run_scripts(source, [Fix(seed=seed) for seed in seeds], max_epochs=max_epochs, timeout=timeout)
    accuracies = tuple(run.test_accuracy for run in runs)
    if any(a is None for a in accuracies):
        raise ConfigError(f"{source.name} reported no test accuracy (no evaluate call with an accuracy metric), so "
                          "there is no spread to show.")
    return Spread(source.name, seeds, accuracies)  # type: ignore[arg-type]
