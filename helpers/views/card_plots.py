"""Figures for cards: how far two cards' weights drift apart, and a workshop's runs by machine.

Long names (card files, machine descriptions) never go on an axis whole: machines are M1, M2, ...
and card names are cut in the middle while they stay distinct, with the full names in the tables
the notebooks show beside. Settings are named in full in keys beside the axes, wrapped. The layout
comes from :mod:`helpers.views.layout`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from helpers.cards.compare import Comparison, short_setting_label
from helpers.cards.workshop import Workshop
from helpers.views.layout import (
    EDGE,
    KEY_WIDTH,
    LABEL_FONT,
    MARKERS,
    ROUND_STEPS,
    TITLE_FONT,
    X_AXIS_HEIGHT,
    category_rows,
    distinct_names,
    key_beside,
    key_height,
    lines_of,
    plain,
    row_pitch,
    set_title,
    style,
    text_inches,
    title_height,
    wrap_text,
)

# Twenty colours for "which weights": tab20's ten strong hues first, then their light partners
# (in tab20's own order a dark and a light blue would come first, hard to tell apart). Beyond
# twenty distinct weights in one figure they repeat, and the figure says so.
_WEIGHT_COLOURS = plt.get_cmap("tab20").colors[0::2] + plt.get_cmap("tab20").colors[1::2]
# Seeded runs big and below, CPU-forced runs small on top: where their lines coincide (no GPU:
# the same arithmetic) both stay visible.
_MODE_STYLE = {"seeded": ("o", 8, 3.0), "cpu": ("s", 4, 1.3)}


def _repeat_note(distinct: int) -> str:
    return (f" (colours repeat after {len(_WEIGHT_COLOURS)} weights: the table names them all)"
            if distinct > len(_WEIGHT_COLOURS) else "")


def plot_comparison(comparison: Comparison) -> Figure:
    """Left: the largest weight difference after each epoch, per setting, on a log scale (identical
    epochs sit on the floor). Right: both cards' training loss per epoch, with their test accuracy."""
    settings = [s for s in comparison.settings if s.distance is not None and s.epochs is not None]
    names = [short_setting_label(s.key) for s in settings]  # the names of compare's stages table
    title_lines = 3
    height = max(3.8, key_height(names, title="runs") + X_AXIS_HEIGHT + title_height(title_lines) + EDGE)
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, height), layout="constrained", width_ratios=[1.2, 1])
    positive = [d for s in settings for d in s.distance or [] if d > 0]
    floor = min(positive) / 10 if positive else 1e-9
    handles = []
    for i, setting in enumerate(settings):
        distance = setting.distance or []
        values = np.array([d if d > 0 else floor for d in distance])
        colour, line = style(i)
        marker, size, width = _MODE_STYLE.get(setting.key[0], ("^", 6, 1.5))
        # The setting's own marker only where the weights differ: on identical epochs a marker of the
        # same colour would hide the ▼ that says "identical".
        differing = [j for j, d in enumerate(distance) if d > 0]
        drawn = left.plot(setting.epochs, values, color=colour, linestyle=line, linewidth=width, marker=marker,
                          markersize=size, markevery=differing, zorder=2 + 1 / size)
        zeros = [e for e, d in zip(setting.epochs or [], distance) if d == 0]
        # Sized like the setting's marker, the smaller on top, so coinciding ▼s all show.
        left.scatter(zeros, [floor] * len(zeros), color=colour, marker="v", s=(1.6 * size) ** 2,
                     edgecolor="black", linewidth=0.6, zorder=3 + 1 / size)
        handles += drawn
    left.set_yscale("log")
    left.set_ylim(floor / 3, max(positive + [floor]) * 10)
    left.axhline(floor, color="0.7", linestyle=":", linewidth=1)
    left.set_xlabel("epoch (0 = before training)")
    left.set_ylabel("largest |weight difference|")
    set_title(left, "How far apart the weights are\n(▼ on the dotted floor: identical)" if settings
              else "No per-epoch weights in these cards", 3.4)
    if settings:
        key_beside(left, handles, names, title="runs")
    left.grid(alpha=0.3)

    primary = comparison.primary
    cards = distinct_names([comparison.a.name, comparison.b.name], 1.9)
    loss_keys, loss_names = [], []
    # A wide below, B thin and dashed on top: identical curves still show both.
    for letter, run, card, colour, line, width in (("A", primary.a, cards[0], "C0", "-", 3.0),
                                                   ("B", primary.b, cards[1], "C3", "--", 1.3)):
        epochs = range(1, len(run.loss_per_epoch) + 1)
        loss_keys += right.plot(epochs, run.loss_per_epoch, color=colour, linestyle=line, linewidth=width,
                                marker=".")
        loss_names.append(f"{letter}: {card}\ntest accuracy {run.test_accuracy:.4f}")
    key_beside(right, loss_keys, loss_names, title="cards", width=2.0)
    right.set_xlabel("epoch")
    right.set_ylabel("training loss")
    gap = max((abs(x - y) for x, y in zip(primary.a.loss_per_epoch, primary.b.loss_per_epoch)),
              default=0.0)
    overlap = ("\n(identical curves)" if gap == 0 else
               f"\n(the curves overlap: they differ by at most {gap:.1g})" if gap < 1e-3 else "")
    mode, seed = {"seeded": "seeded", "cpu": "CPU-forced"}.get(primary.key[0], primary.key[0]), primary.key[1]
    set_title(right, f"Training loss: {mode} runs, seed {seed}{overlap}", 3.0)
    right.grid(alpha=0.3)
    return figure


def _seeded(workshop: Workshop):
    runs = workshop.runs[workshop.runs["mode"] != "unseeded"]
    return runs, list(dict.fromkeys(runs["machine_id"])), list(dict.fromkeys(runs["setting"]))


def plot_workshop_accuracy(workshop: Workshop) -> Figure:
    """Test accuracy of every seeded run, one row per machine (M1, M2, ...): runs with bit-identical
    weights share a colour, and each setting has its own marker, named in the key beside."""
    runs, machines, settings = _seeded(workshop)
    hashes = list(dict.fromkeys(runs["weights_sha256"]))
    title = f"Seeded runs by machine: one colour = bit-identical weights{_repeat_note(len(hashes))}"
    width = 8.0
    data_width = width - 0.6 - KEY_WIDTH - 0.6 - 2 * EDGE
    title_lines = lines_of(wrap_text(title, data_width, TITLE_FONT))
    # Each setting's markers sit at their own height in a machine's row, clear of the others'.
    pitch = max(row_pitch(machines), min(0.6, 0.13 * len(settings) + 0.1))
    rows = max(1, len(machines)) * pitch
    height = max(2.2, rows + X_AXIS_HEIGHT + title_height(title_lines) + EDGE,
                 key_height(settings, title="runs") + X_AXIS_HEIGHT + title_height(title_lines))
    figure, ax = plt.subplots(figsize=(width, height), layout="constrained")
    colour_of = {h: _WEIGHT_COLOURS[i % len(_WEIGHT_COLOURS)] for i, h in enumerate(hashes)}
    category_rows(ax, machines)
    for j, setting in enumerate(settings):
        mine = runs[runs["setting"] == setting]
        rows_of = [machines.index(m) for m in mine["machine_id"]]
        jitter = (j - (len(settings) - 1) / 2) * min(0.35, 0.7 / max(1, len(settings)))
        ax.scatter(mine["test_accuracy"], np.array(rows_of) + jitter, c=[colour_of[h] for h in mine["weights_sha256"]],
                   marker=MARKERS[j % len(MARKERS)], s=60, edgecolor="black", linewidth=0.5)
    ax.tick_params(axis="y", labelsize=9)
    ax.set_xlabel("test accuracy")
    ax.set_ylabel("machine")
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6, steps=ROUND_STEPS))
    ax.ticklabel_format(axis="x", useOffset=False)
    ax.grid(axis="x", alpha=0.3)
    if settings:
        # Grey keys: in this figure colour means "which weights", the marker means "which runs".
        keys = [Line2D([], [], linestyle="", marker=MARKERS[j % len(MARKERS)], color="0.6", markeredgecolor="black",
                       markersize=8) for j in range(len(settings))]
        key_beside(ax, keys, settings, title="runs")
    set_title(ax, title, data_width)
    return figure


def plot_workshop_identity(workshop: Workshop) -> Figure:
    """One row per card (grouped by machine), one column per seeded setting: the colour and the
    first hex digits name the trained weights, so equal colours in a column mean identical bits."""
    runs, machines, settings = _seeded(workshop)
    cards = list(dict.fromkeys(zip(runs["machine_id"], runs["card"])))
    cards.sort(key=lambda row: machines.index(row[0]))
    column = 1.6
    headers = [wrap_text(plain(setting), column - 0.15) for setting in settings]
    names = distinct_names([card for _, card in cards], 2.2)
    labels = [f"{machine} · {name}" for (machine, _), name in zip(cards, names)]
    pitch = max(0.36, row_pitch(labels))
    label_column = max((text_inches(label) for label in labels), default=0.5) + 0.3
    data_width = column * max(1, len(settings))
    most = max((runs[runs["setting"] == s]["weights_sha256"].nunique() for s in settings), default=0)
    title = f"Trained weights per card\n(same colour in a column = identical bits){_repeat_note(most)}"
    title_lines = lines_of(wrap_text(title, data_width, TITLE_FONT))
    header_lines = max((lines_of(h) for h in headers), default=1)
    figure, ax = plt.subplots(
        figsize=(label_column + data_width + 2 * EDGE,
                 pitch * max(1, len(cards)) + title_height(title_lines) + 0.25 + header_lines * 0.16 + 2 * EDGE),
        layout="constrained")
    grid = np.full((len(cards), len(settings)), np.nan)
    for c, setting in enumerate(settings):
        in_setting = runs[runs["setting"] == setting]
        numbering = {h: i for i, h in enumerate(dict.fromkeys(in_setting["weights_sha256"]))}
        for r, (machine, card) in enumerate(cards):
            mine = in_setting[(in_setting["machine_id"] == machine) & (in_setting["card"] == card)]
            if not mine.empty:
                grid[r, c] = numbering[mine["weights_sha256"].iloc[0]] % len(_WEIGHT_COLOURS)
                ax.text(c, r, mine["weights"].iloc[0][:6], ha="center", va="center", fontsize=7, family="monospace")
    ax.imshow(grid, cmap=plt.matplotlib.colors.ListedColormap(_WEIGHT_COLOURS), vmin=-0.5,
              vmax=len(_WEIGHT_COLOURS) - 0.5, aspect="auto", alpha=0.6)
    ax.set_xticks(range(len(settings)), headers, fontsize=LABEL_FONT)
    ax.set_yticks(range(len(cards)), labels, fontsize=LABEL_FONT)
    ax.tick_params(length=0)
    set_title(ax, title, data_width)
    return figure
