"""Figures for divergence over training and for TensorFlow stacks side by side.

Laid out with :mod:`helpers.views.layout`: titles wrapped to their axes, the notes on the divergence
figure placed where they fit (inside the axes, clear of each other), and the stacks as rows --
one per stack, across both panels, wrapped labels and a height that grows with their number.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.text import Annotation

from helpers.stacks.report import StackReport, StackResult
from helpers.training.diverge import Divergence
from helpers.views.layout import (
    EDGE,
    LABEL_FONT,
    TITLE_FONT,
    X_AXIS_HEIGHT,
    Placement,
    category_rows,
    lines_of,
    place_notes,
    row_pitch,
    set_title,
    text_height,
    title_height,
    wrap_text,
)

RUN_A, RUN_B = "#1f77b4", "#d62728"
# Stage colours: the first is "same bits as this kernel's stack"; the others tell other hashes apart.
SAME_AS_FIRST = "#c7e9c0"
OTHERS = ("#fdd0a2", "#c6dbef", "#dadaeb", "#fcbba1", "#d9d9d9")
# A float32 near 1.0 moves by this much when its last bit flips: the size of a "last-bit" difference.
LAST_BIT = float(np.finfo(np.float32).eps)
NOTE_FONT = 8


def _note(ax: Axes, text: str, xy: tuple[float, float], colour: str, arrow: bool = False, **where: Any) -> Annotation:
    """A note at ``xy``; :func:`helpers.views.layout.place_notes` then offsets it to where it fits (with
    ``arrow``, a thin line leads back to ``xy`` when the note had to move away)."""
    line = {"arrowprops": {"arrowstyle": "-", "color": colour, "linewidth": 0.6, "shrinkA": 1, "shrinkB": 4}}
    return ax.annotate(text, xy, xytext=(0, 0), textcoords="offset points", fontsize=NOTE_FONT, color=colour,
                       **(line if arrow else {}), **where)


def _around(xy: tuple[float, float], sides: Sequence[float], rises: Sequence[float]) -> list[Placement]:
    """Placements of a note beside ``xy``: offset by (side, rise) points, aligned away from it."""
    return [(xy, (side, rise), "left" if side >= 0 else "right", "bottom" if rise >= 0 else "top")
            for rise in rises for side in sides]


def plot_divergence(result: Divergence, title: str | None = None) -> Figure:
    """Left: the largest weight difference after every step, on a log scale, from the first step
    where the runs differ to the end. Right: both runs' test accuracy per epoch, and how many
    test examples they classify differently."""
    width, distance_share = 11.0, 1.5 / 2.5
    title = title or f"run B: {result.setting()}"
    title_width = width * distance_share - 1.0  # the distance axes, less its y label and ticks
    lines = lines_of(wrap_text(title, title_width, TITLE_FONT + 1))
    fig, axes = plt.subplot_mosaic([["distance", "accuracy"], ["distance", "changed"]],
                                   figsize=(width, 4.2 + text_height(lines - 1, TITLE_FONT + 1)),
                                   layout="constrained", width_ratios=[1.5, 1])
    per_epoch = result.steps_per_epoch
    first = result.first_differing_step
    ax = axes["distance"]
    notes = []
    if first is None:
        ax.text(0.5, 0.5, "identical weights at every step", transform=ax.transAxes, ha="center", va="center")
    else:
        start = max(first, 1)
        steps = np.arange(start, result.steps + 1)
        ax.semilogy(steps / per_epoch, result.max_abs_difference[start - 1:], color="0.2", linewidth=1)
        ax.axhline(LAST_BIT, color="0.6", linestyle=":", linewidth=1)
        # Room below the lowest point (a log scale: a factor), for the note on the first difference.
        shown = result.max_abs_difference[start - 1:]
        low = min(float(shown[shown > 0].min(initial=LAST_BIT)), LAST_BIT)
        ax.set_ylim(bottom=low / 10)
        point = (start / per_epoch, result.max_abs_difference[start - 1])
        ax.plot(*point, "o", color=RUN_B, markersize=6)
        where = "before training" if first == 0 else f"step {first}"
        mark = _note(ax, f"first difference: {where}", point, RUN_B, arrow=True)
        # Right by the point; else further away, with a line back to it.
        notes.append((mark, _around(point, (6, -6), (-6, 6)) + _around(point, (30, 80, 140, 200), (-8, 24, 48))))
        bit = _note(ax, "one last bit of 1.0", (1, LAST_BIT), "0.45", xycoords=("axes fraction", "data"))
        notes.append((bit, _around((1, LAST_BIT), (-4,), (-3, 3)) + _around((0, LAST_BIT), (4,), (-3, 3))))
    ax.set_xlabel(f"epoch ({per_epoch} steps each)")
    ax.set_ylabel("largest |weight A - weight B|")
    ax.grid(alpha=0.3, which="major")
    set_title(ax, title, title_width, TITLE_FONT + 1, loc="left")

    epochs = np.arange(1, result.epochs + 1)
    accuracy_a, accuracy_b = result.test_accuracy
    acc = axes["accuracy"]
    acc.plot(epochs, accuracy_a, color=RUN_A, linewidth=1.6, label="run A")
    acc.plot(epochs, accuracy_b, color=RUN_B, linewidth=1.2, linestyle="--", label="run B")
    acc.set_ylabel("test accuracy")
    acc.legend(fontsize=LABEL_FONT, loc="best")
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
        seen = _note(ax, f"epoch {visible}: first test example\nclassified differently", (visible, 1), "0.35",
                     xycoords=("data", "axes fraction"))
        notes.insert(0, (seen, _around((visible, 1), (-5, 5), (-5,)) + _around((visible, 0), (-5, 5), (5,))))
    place_notes(ax, notes)
    return fig


STAGE_COLUMNS = (("data\n(values)", "data_values_sha256"), ("data\n(bytes)", "data_sha256"),
                 ("initial\nweights", "initial_weights_sha256"), ("trained\nweights", "weights_sha256"))
STAGE_ROWS = tuple((name.replace("\n", " "), key) for name, key in STAGE_COLUMNS)  # their names in text


def _stack_label(result: StackResult) -> str:
    python = ".".join((result.python or "?").split(".")[:2])
    head = "this kernel: " if result.own else ""
    return f"{head}TF {result.tensorflow}, Keras {result.keras}, Python {python}"


def plot_stacks(report: StackReport) -> Figure:
    """One row per stack that ran, this kernel's first. Left: per stage (data, initial weights,
    trained weights), which stacks share the same bits: one colour per distinct hash, the first
    stack's colour meaning "same as this kernel". Right: each stack's test accuracy."""
    ran: Sequence[StackResult] = report.ran
    colours = (SAME_AS_FIRST, *OTHERS)
    labels = [wrap_text(_stack_label(r)) for r in ran]
    pitch = max(0.45, row_pitch(labels))
    grid_width, bars_width = 1.05 * len(STAGE_COLUMNS), 2.4
    matrix = np.zeros((len(ran), len(STAGE_COLUMNS)))
    for column, (_, key) in enumerate(STAGE_COLUMNS):
        numbering: dict[str | None, int] = {}
        for row, result in enumerate(ran):
            matrix[row, column] = numbering.setdefault(getattr(result, key), len(numbering))
    distinct = int(matrix.max()) + 1 if ran else 1
    title = ("green: the same bits as this kernel's stack; another colour: other bits "
             "(SHA-256, first 8 hex digits)")
    if distinct > len(colours):
        title += f"; colours repeat after {len(colours)}: read the digits"
    title_lines = lines_of(wrap_text(title, grid_width, TITLE_FONT))
    header = text_height(2, LABEL_FONT) + 0.1
    fig, (grid, bars) = plt.subplots(
        1, 2, figsize=(2.3 + grid_width + bars_width + 2 * EDGE,
                       pitch * max(1, len(ran)) + header + title_height(title_lines) + X_AXIS_HEIGHT + 2 * EDGE),
        layout="constrained", sharey=True, width_ratios=[grid_width, bars_width])
    for row, column in np.ndindex(matrix.shape):
        value = getattr(ran[row], STAGE_COLUMNS[column][1])
        grid.text(column, row, (value or "-")[:8], ha="center", va="center", fontsize=LABEL_FONT, family="monospace")
    grid.imshow(matrix % len(colours) if ran else np.zeros((1, len(STAGE_COLUMNS))),
                cmap=ListedColormap(colours), vmin=-0.5, vmax=len(colours) - 0.5, aspect="auto")
    grid.set_xticks(range(len(STAGE_COLUMNS)), [name for name, _ in STAGE_COLUMNS], fontsize=LABEL_FONT)
    grid.xaxis.tick_top()
    grid.tick_params(axis="x", length=0)
    category_rows(grid, [_stack_label(r) for r in ran])
    set_title(grid, title, grid_width, loc="left")

    accuracy = [r.test_accuracy or 0.0 for r in ran]
    trained = [int(matrix[i, -1]) % len(colours) for i in range(len(ran))]
    bars.barh(range(len(ran)), accuracy, color=[colours[c] for c in trained], edgecolor="0.3", height=0.6)
    for position, value in enumerate(accuracy):
        bars.annotate(f"{value:.4g}", (value, position), xytext=(3, 0), textcoords="offset points", va="center",
                      fontsize=LABEL_FONT)
    bars.tick_params(axis="y", labelleft=False, length=0)
    bars.set_xlim(0, max(accuracy + [0.1]) * 1.35)
    bars.set_xlabel("test accuracy")
    bars.grid(alpha=0.3, axis="x")
    return fig
