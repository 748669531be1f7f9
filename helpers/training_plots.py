"""Figures for divergence over training and for TensorFlow stacks side by side.

Built with matplotlib's constrained layout; every label sits in its own axes or is placed by
offset from its point, so none can collide with another. (Kept apart from :mod:`helpers.plots`
while that module's layout is being reworked; these should move onto its primitives later.)
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from helpers.diverge import Divergence
from helpers.stacks import StackReport, StackResult

RUN_A, RUN_B = "#1f77b4", "#d62728"
# Stage colours: the first is "same bits as this kernel's stack"; the others tell other hashes apart.
SAME_AS_FIRST = "#c7e9c0"
OTHERS = ("#fdd0a2", "#c6dbef", "#dadaeb", "#fcbba1", "#d9d9d9")
# A float32 near 1.0 moves by this much when its last bit flips: the size of a "last-bit" difference.
LAST_BIT = float(np.finfo(np.float32).eps)


def plot_divergence(result: Divergence, title: str | None = None) -> Figure:
    """Left: the largest weight difference after every step, on a log scale, from the first step
    where the runs differ to the end. Right: both runs' test accuracy per epoch, and how many
    test examples they classify differently."""
    fig, axes = plt.subplot_mosaic([["distance", "accuracy"], ["distance", "changed"]], figsize=(11, 4.4),
                                   layout="constrained", width_ratios=[1.5, 1])
    per_epoch = result.steps_per_epoch
    first = result.first_differing_step
    ax = axes["distance"]
    if first is None:
        ax.text(0.5, 0.5, "identical weights at every step", transform=ax.transAxes, ha="center", va="center")
    else:
        start = max(first, 1)
        steps = np.arange(start, result.steps + 1)
        ax.semilogy(steps / per_epoch, result.max_abs_difference[start - 1:], color="0.2", linewidth=1)
        ax.axhline(LAST_BIT, color="0.6", linestyle=":", linewidth=1)
        ax.annotate("one last bit of 1.0", (1, LAST_BIT), xycoords=("axes fraction", "data"), xytext=(-4, -11),
                    textcoords="offset points", ha="right", fontsize=8, color="0.45")
        ax.plot(start / per_epoch, result.max_abs_difference[start - 1], "o", color=RUN_B, markersize=6)
        where = "before training" if first == 0 else f"step {first}"
        ax.annotate(f"first difference: {where}", (start / per_epoch, result.max_abs_difference[start - 1]),
                    xytext=(8, 16), textcoords="offset points", fontsize=8, color=RUN_B)
    ax.set_xlabel(f"epoch ({per_epoch} steps each)")
    ax.set_ylabel("largest |weight A - weight B|")
    ax.grid(alpha=0.3, which="major")
    ax.set_title(title or f"run B: {result.setting()}", fontsize=10, loc="left")

    epochs = np.arange(1, result.epochs + 1)
    accuracy_a, accuracy_b = result.test_accuracy
    acc = axes["accuracy"]
    acc.plot(epochs, accuracy_a, color=RUN_A, linewidth=1.6, label="run A")
    acc.plot(epochs, accuracy_b, color=RUN_B, linewidth=1.2, linestyle="--", label="run B")
    acc.set_ylabel("test accuracy")
    acc.legend(fontsize=8, loc="best")
    acc.grid(alpha=0.3)
    acc.tick_params(labelbottom=False)

    changed = axes["changed"]
    changed.bar(epochs, result.disagreements, color=RUN_B, width=0.8)
    changed.set_xlabel("epoch")
    changed.set_ylabel("classified\ndifferently", fontsize=9)
    changed.set_ylim(0, max(1, int(result.disagreements.max())) * 1.15)
    changed.grid(alpha=0.3, axis="y")
    changed.sharex(acc)
    visible = result.first_visible_epoch
    if visible is not None:
        for name in ("distance", "accuracy", "changed"):
            axes[name].axvline(visible, color="0.5", linewidth=0.8, linestyle="--")
        ax.annotate(f"epoch {visible}: first test example\nclassified differently", (visible, 1),
                    xycoords=("data", "axes fraction"), xytext=(-5, -5), textcoords="offset points", ha="right",
                    va="top", fontsize=8, color="0.35")
    return fig


STAGE_ROWS = (("data (values)", "data_values_sha256"), ("data (bytes)", "data_sha256"),
              ("initial weights", "initial_weights_sha256"), ("trained weights", "weights_sha256"))


def _stack_label(result: StackResult) -> str:
    python = ".".join((result.python or "?").split(".")[:2])
    head = "this kernel\n" if result.own else ""
    return f"{head}TF {result.tensorflow}\nKeras {result.keras}\nPython {python}"


def plot_stacks(report: StackReport) -> Figure:
    """Left: per stage (data, initial weights, trained weights), which stacks share the same bits:
    one colour per distinct hash, the first stack's colour meaning "same as this kernel". Right:
    each stack's test accuracy."""
    ran: Sequence[StackResult] = report.ran
    fig, (grid, bars) = plt.subplots(1, 2, figsize=(11, 1.6 + 0.9 * len(STAGE_ROWS)), layout="constrained",
                                     width_ratios=[max(2, len(ran)) * 1.3, 2.2])
    colours = (SAME_AS_FIRST, *OTHERS)
    matrix = np.zeros((len(STAGE_ROWS), len(ran)))
    for row, (_, key) in enumerate(STAGE_ROWS):
        numbering: dict[str | None, int] = {}
        for column, result in enumerate(ran):
            matrix[row, column] = numbering.setdefault(getattr(result, key), len(numbering))
            grid.text(column, row, (getattr(result, key) or "-")[:8], ha="center", va="center", fontsize=8,
                      family="monospace")
    grid.imshow(matrix, cmap=plt.matplotlib.colors.ListedColormap(colours[: max(1, int(matrix.max()) + 1)]),
                vmin=-0.5, vmax=max(0.5, matrix.max() + 0.5), aspect="auto")
    grid.set_yticks(range(len(STAGE_ROWS)), [name for name, _ in STAGE_ROWS], fontsize=9)
    grid.set_xticks(range(len(ran)), [_stack_label(r) for r in ran], fontsize=8)
    grid.xaxis.tick_top()
    grid.set_title("green: the same bits as the first stack; another colour: other bits (SHA-256, first 8 hex digits)",
                   fontsize=9, loc="left")
    names = [f"{r.tensorflow}\n{'this kernel' if r.own else ''}" for r in ran]
    accuracy = [r.test_accuracy or 0.0 for r in ran]
    bars.barh(range(len(ran)), accuracy, color=[colours[int(matrix[-1, i]) % len(colours)] for i in range(len(ran))],
              edgecolor="0.3")
    for position, value in enumerate(accuracy):
        bars.annotate(f"{value:.4g}", (value, position), xytext=(3, 0), textcoords="offset points", va="center",
                      fontsize=8)
    bars.set_yticks(range(len(ran)), names, fontsize=8)
    bars.invert_yaxis()
    bars.set_xlim(0, max(accuracy + [0.1]) * 1.35)
    bars.set_xlabel("test accuracy (TF version)")
    bars.grid(alpha=0.3, axis="x")
    return fig
