"""Figures of runs: the spread of test accuracy, which runs have bit-identical weights, loss curves."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import ScaledTranslation, blended_transform_factory

from helpers.core.results import RunResult, kinds
from helpers.views.layout import (
    EDGE,
    KEY_WIDTH,
    LABEL_FONT,
    LABEL_WIDTH,
    MAX_CELL,
    MIN_CELL,
    ROUND_STEPS,
    ROW_GAP,
    TITLE_FONT,
    X_AXIS_HEIGHT,
    axes_for,
    category_rows,
    fitting_ticks,
    key_beside,
    key_height,
    key_inches,
    lines_of,
    marker_style,
    plain,
    row_pitch,
    set_title,
    style,
    text_height,
    text_inches,
    title_height,
    wrap_text,
)

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
    """Test accuracy of every run, one row per kind of run (its label), labels wrapped at the left.

    Runs with bit-identical weights share a colour and a marker; a run whose weights no other
    run has is a grey dot; the key on the right says so. The chance level of the article's task
    (10 %) is drawn for scale. With ``ax``, draws there (a figure holding only ``ax`` grows to
    give every row its room).
    """
    kind = kinds(results)
    labels = list(dict.fromkeys(kind))
    groups = identity_groups(results)
    chance = any(r.config.task == "article" for r in results)
    keys = ["bit-identical to another run (one colour per weights)", "weights of its own",
            *(["chance (10 classes)"] if chance else [])]
    wrapped = [wrap_text(plain(label)) for label in labels]
    label_column = max((text_inches(w) for w in wrapped), default=0.3) + 0.2
    width = 7.5
    key_column = key_inches(keys)
    data_width = width - label_column - key_column - 2 * EDGE
    # A title centred on the axes may reach over the label and key columns, as far as the narrower.
    title_width = data_width + 2 * max(0.0, min(label_column, key_column) - 0.1)
    title = title or (f"{len(results)} runs; diamonds of one colour have bit-identical weights "
                      f"({sum(g is not None for g in groups)} of {len(results)} share)")
    title_lines = lines_of(wrap_text(plain(title), title_width, TITLE_FONT))
    height = max(2.4, row_pitch(wrapped) * max(1, len(labels)) + X_AXIS_HEIGHT + title_height(title_lines) + EDGE,
                 key_height(keys) + X_AXIS_HEIGHT + title_height(title_lines))
    ax = axes_for(ax, width, height)
    category_rows(ax, labels)
    for row, label in enumerate(labels):
        members = [(r, g) for r, g, k in zip(results, groups, kind) if k == label]
        # Runs of one row spread up and down a little, so runs of equal accuracy stay visible.
        offsets = np.linspace(-0.25, 0.25, len(members)) if len(members) > 1 else [0.0]
        for (result, group), offset in zip(members, offsets):
            if group is None:
                ax.scatter(result.test_accuracy, row + offset, color=_UNIQUE_COLOUR, s=36, zorder=3)
            else:
                colour, marker = marker_style(group)
                ax.scatter(result.test_accuracy, row + offset, color=colour, marker=marker, s=60,
                           edgecolor="black", linewidth=0.6, zorder=4)
    handles: list[Artist] = [
        Line2D([], [], linestyle="", marker="D", color="white", markeredgecolor="black", markersize=7),
        Line2D([], [], linestyle="", marker="o", color=_UNIQUE_COLOUR, markersize=6),
    ]
    if chance:
        ax.axvline(0.1, color="0.6", linestyle="--", linewidth=1, zorder=1)
        handles.append(Line2D([], [], color="0.6", linestyle="--", linewidth=1))
    key_beside(ax, handles, keys)
    ax.margins(x=0.08)
    # Few numbers, never an offset ("+1.1e-1") a learner has to decode.
    ax.xaxis.set_major_locator(MaxNLocator(nbins=max(3, int(data_width / 0.8)), steps=ROUND_STEPS))
    ax.ticklabel_format(axis="x", useOffset=False)
    ax.set_xlabel("test accuracy")
    ax.grid(axis="x", alpha=0.3)
    set_title(ax, title, title_width)
    return ax.figure


def _runs_of_a_label(results: Sequence[RunResult]) -> list[tuple[str, int, int]]:
    """Consecutive runs of one label: (label, first index, one past the last)."""
    spans: list[tuple[str, int, int]] = []
    for i, kind in enumerate(kinds(results)):
        if spans and spans[-1][0] == kind:
            spans[-1] = (kind, spans[-1][1], i + 1)
        else:
            spans.append((kind, i, i + 1))
    return spans


def _letters(i: int) -> str:
    """a, b, ..., z, aa, ab, ...: references to a key, distinct from the run numbers."""
    return _letters(i // 26 - 1) + chr(ord("a") + i % 26) if i >= 26 else chr(ord("a") + i)


def plot_identity_matrix(results: Sequence[RunResult], ax: Axes | None = None) -> Figure:
    """A run-by-run grid: a filled cell means the two runs' weights are bit-identical.

    Cells take the colours of :func:`plot_accuracy`'s diamonds (grey: a run with weights of its
    own, on the diagonal). Runs are numbered on both axes; consecutive runs of one kind are
    bracketed at the left with their label, once. A label too tall for its runs' rows (one run
    of a long setting) is a letter there, and is written out in a key beside the grid.
    """
    n = len(results)
    font = 7.0
    spans = _runs_of_a_label(results)
    wrapped = [wrap_text(plain(label), LABEL_WIDTH) for label, _, _ in spans]
    # The pitch that lets most brackets carry their label; capped, so one long setting cannot
    # make the whole grid huge: its label goes to the key instead.
    pitch = min(MAX_CELL, max([MIN_CELL, *((text_height(lines_of(w)) + ROW_GAP / 2) / (stop - start)
                                          for w, (_, start, stop) in zip(wrapped, spans))]))
    noted: list[str] = []
    marks = []
    for text, (_, start, stop) in zip(wrapped, spans):
        if text_height(lines_of(text)) + ROW_GAP / 2 <= pitch * (stop - start):
            marks.append(text)
        else:
            marks.append(f"({_letters(len(noted))})")
            noted.append(f"({_letters(len(noted))}) {text.replace(chr(10), ' ')}")
    numbers = text_inches(str(max(n - 1, 0)), font) + 0.1
    label_column = max((text_inches(m) for m in marks), default=0.3) + numbers + 0.3
    grid = pitch * max(n, 1)
    grid_width = max(grid, 2.4)  # a few runs get wider cells: room for the title
    title = "Bit-identical weights: filled cells\n(colours as in the accuracy plot)"
    title_lines = lines_of(wrap_text(title, grid_width, TITLE_FONT))
    key_width = key_inches(noted, width=KEY_WIDTH + 0.8) if noted else 0.0
    ax = axes_for(ax, label_column + grid_width + key_width + 2 * EDGE + 0.2,
                  max(grid + 0.45, key_height(noted, width=KEY_WIDTH + 0.8) if noted else 0.0)
                  + title_height(title_lines) + 2 * EDGE)
    groups = identity_groups(results)
    image = np.ones((n, n, 3))
    for i, (a, group) in enumerate(zip(results, groups)):
        colour = to_rgb(_UNIQUE_COLOUR if group is None else marker_style(group)[0])
        for j, b in enumerate(results):
            if a.weights_sha256 == b.weights_sha256:
                image[i, j] = colour
    ax.imshow(image if n else np.ones((1, 1, 3)), aspect="auto", interpolation="nearest")
    ax.set_xticks(fitting_ticks(ax, "x", n, grid_width / max(n, 1), font))
    ax.set_yticks(fitting_ticks(ax, "y", n, pitch, font))
    ax.tick_params(labelsize=font, length=2)
    ax.set_xlabel("run", fontsize=LABEL_FONT)
    # Brackets and labels sit left of the run numbers, at a fixed distance in inches.
    rows = blended_transform_factory(ax.transAxes, ax.transData)
    bracket = rows + ScaledTranslation(-(numbers + 0.12), 0, ax.figure.dpi_scale_trans)
    label = rows + ScaledTranslation(-(numbers + 0.18), 0, ax.figure.dpi_scale_trans)
    for text, (_, start, stop) in zip(marks, spans):
        ax.plot([0, 0], [start - 0.4, stop - 0.6], transform=bracket, color="0.4", linewidth=1.2, clip_on=False)
        ax.text(0, (start + stop - 1) / 2, text, transform=label, ha="right", va="center", fontsize=LABEL_FONT,
                linespacing=1.15)
    if noted:
        blank = [Line2D([], [], linestyle="") for _ in noted]
        key_beside(ax, blank, noted, title="runs", width=KEY_WIDTH + 0.8, handlelength=0, handletextpad=0)
    set_title(ax, title, grid_width)
    return ax.figure


def plot_loss_curves(results: Sequence[RunResult], ax: Axes | None = None) -> Figure:
    """Training loss per epoch of every run, one colour (and line style) per kind of run; the key
    beside the axes names each kind in full."""
    kind = kinds(results)
    labels = list(dict.fromkeys(kind))
    width = 2.2
    height = max(3.2, key_height(labels, width=width) + X_AXIS_HEIGHT + 0.2)
    ax = axes_for(ax, 7.5, height)
    styles = {label: style(i) for i, label in enumerate(labels)}
    for r, k in zip(results, kind):
        colour, line = styles[k]
        ax.plot(range(1, len(r.loss_per_epoch) + 1), r.loss_per_epoch, color=colour, linestyle=line, alpha=0.8)
    handles = [Line2D([], [], color=styles[label][0], linestyle=styles[label][1]) for label in labels]
    if labels:
        key_beside(ax, handles, labels, title="runs", width=width)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.grid(alpha=0.3)
    return ax.figure

