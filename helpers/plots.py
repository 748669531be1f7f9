"""Plots of runs: the spread of test accuracy, and which runs have bit-identical weights."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from helpers.results import RunResult

# Runs that share weights get one colour per group; runs with weights of their own are grey.
_GROUP_COLOURS = plt.get_cmap("tab10").colors
_UNIQUE_COLOUR = "0.55"


def identity_groups(results: Sequence[RunResult]) -> list[int | None]:
    """For each run, the number of its group of bit-identical weights (None if no other run shares them)."""
    counts: dict[str, int] = {}
    for r in results:
        counts[r.weights_sha256] = counts.get(r.weights_sha256, 0) + 1
    numbering: dict[str, int] = {}
    groups: list[int | None] = []
    for r in results:
        if counts[r.weights_sha256] < 2:
            groups.append(None)
        else:
            groups.append(numbering.setdefault(r.weights_sha256, len(numbering)))
    return groups


def plot_accuracy(results: Sequence[RunResult], ax: Axes | None = None, title: str | None = None) -> Figure:
    """Test accuracy of every run, one column per kind of run (its label).

    Runs with bit-identical weights share a colour and a marker; a run whose weights no other
    run has is a grey dot. The chance level of the article's task (10 %) is drawn for scale.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 3.8), layout="constrained")
    labels = list(dict.fromkeys(r.config.label for r in results))
    groups = identity_groups(results)
    for position, label in enumerate(labels):
        members = [(r, g) for r, g in zip(results, groups, strict=False) if r.config.label == label]
        offsets = np.linspace(-0.18, 0.18, len(members)) if len(members) > 1 else [0.0]
        for (result, group), offset in zip(members, offsets, strict=False):
            if group is None:
                ax.scatter(position + offset, result.test_accuracy, color=_UNIQUE_COLOUR, s=36, zorder=3)
            else:
                ax.scatter(position + offset, result.test_accuracy, color=_GROUP_COLOURS[group % 10],
                           marker="D", s=60, edgecolor="black", linewidth=0.6, zorder=4)
    if any(r.config.task == "article" for r in results):
        ax.axhline(0.1, color="0.7", linestyle="--", linewidth=1, zorder=1)
        ax.annotate("chance (10 classes)", (len(labels) - 0.5, 0.1), xytext=(0, 3), textcoords="offset points",
                    ha="right", va="bottom", fontsize=8, color="0.45")
    ax.set_xticks(range(len(labels)), [label.replace(", ", "\n", 1) for label in labels], fontsize=8)
    ax.set_xlim(-0.6, len(labels) - 0.4)
    ax.set_ylabel("test accuracy")
    ax.grid(axis="y", alpha=0.3)
    shared = sum(g is not None for g in groups)
    ax.set_title(title or f"{len(results)} runs; diamonds of one colour have bit-identical weights "
                          f"({shared} of {len(results)} share)", fontsize=9)
    return ax.figure


def plot_identity_matrix(results: Sequence[RunResult], ax: Axes | None = None) -> Figure:
    """A run-by-run grid: a filled cell means the two runs' weights are bit-identical."""
    n = len(results)
    if ax is None:
        size = min(7.0, 2.0 + 0.35 * n)
        _, ax = plt.subplots(figsize=(size, size), layout="constrained")
    hashes = [r.weights_sha256 for r in results]
    same = np.array([[a == b for b in hashes] for a in hashes], dtype=float)
    ax.imshow(same, cmap="Blues", vmin=0, vmax=1.3)
    names = [f"{i}: {r.config.label}" for i, r in enumerate(results)]
    ax.set_xticks(range(n), [str(i) for i in range(n)], fontsize=7)
    ax.set_yticks(range(n), names, fontsize=7)
    ax.set_title("identical weights (filled = same SHA-256)", fontsize=9)
    return ax.figure


def plot_loss_curves(results: Sequence[RunResult], ax: Axes | None = None) -> Figure:
    """Training loss per epoch of every run, coloured by kind of run."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 3.5), layout="constrained")
    labels = list(dict.fromkeys(r.config.label for r in results))
    colours = {label: _GROUP_COLOURS[i % 10] for i, label in enumerate(labels)}
    for r in results:
        ax.plot(range(1, len(r.loss_per_epoch) + 1), r.loss_per_epoch, color=colours[r.config.label], alpha=0.7,
                label=r.config.label)
    handles, names = ax.get_legend_handles_labels()
    unique = dict(zip(names, handles, strict=False))
    ax.legend(unique.values(), unique.keys(), fontsize=8)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.grid(alpha=0.3)
    return ax.figure
