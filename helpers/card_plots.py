"""Figures for cards: how far two cards' weights drift apart, and a workshop's runs by machine.

Long names (card files, machine descriptions) never go on an axis: machines are M1, M2, ...
and cards are shortened, with the full names in the tables the notebooks show beside.
"""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from helpers.compare import Comparison
from helpers.workshop import Workshop

_COLOURS = plt.get_cmap("tab10").colors
_NAME_CHARS = 28


def _short(text: str, width: int = _NAME_CHARS) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def plot_comparison(comparison: Comparison) -> Figure:
    """Left: the largest weight difference after each epoch, per setting, on a log scale (identical
    epochs sit on the floor). Right: both cards' training loss per epoch, with their test accuracy."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    positive = [d for s in comparison.settings for d in (s.distance or []) if d > 0]
    floor = min(positive) / 10 if positive else 1e-9
    drawn = False
    styles = {"seeded": ("-", "o", 7, "seeded (default device)"), "cpu": ("--", "s", 4, "CPU-forced")}
    for i, setting in enumerate(comparison.settings):
        if setting.distance is None or setting.epochs is None:
            continue
        values = np.array([d if d > 0 else floor for d in setting.distance])
        colour = _COLOURS[i % 10]
        line, marker, size, name = styles.get(setting.key[0], ("-", "o", 6, setting.key[0]))
        left.plot(setting.epochs, values, color=colour, linestyle=line, marker=marker, markersize=size, label=name)
        zeros = [e for e, d in zip(setting.epochs, setting.distance, strict=True) if d == 0]
        left.scatter(zeros, [floor] * len(zeros), color=colour, marker="v", s=50, zorder=3)
        drawn = True
    left.set_yscale("log")
    left.set_ylim(floor / 3, max(positive + [floor]) * 10)
    left.axhline(floor, color="0.7", linestyle=":", linewidth=1)
    left.set_xlabel("epoch (0 = before training)")
    left.set_ylabel("largest |weight difference|")
    left.set_title("How far apart the weights are\n(▼ on the dotted floor: identical)" if drawn
                   else "No per-epoch weights in these cards", fontsize=9)
    if drawn:
        left.legend(title="runs", fontsize=8, title_fontsize=8, loc="upper left")
    left.grid(alpha=0.3)

    primary = comparison.primary
    for run, card, colour, style in ((primary.a, comparison.a, _COLOURS[0], "-"),
                                     (primary.b, comparison.b, _COLOURS[3], "--")):
        epochs = range(1, len(run.loss_per_epoch) + 1)
        right.plot(epochs, run.loss_per_epoch, color=colour, linestyle=style, marker=".",
                   label=f"{_short(card.name)}: test accuracy {run.test_accuracy:.4f}")
    right.set_xlabel("epoch")
    right.set_ylabel("training loss")
    gap = max(abs(x - y) for x, y in zip(primary.a.loss_per_epoch, primary.b.loss_per_epoch, strict=False))
    overlap = ("\n(identical curves)" if gap == 0 else
               f"\n(the curves overlap: they differ by at most {gap:.1g})" if gap < 1e-3 else "")
    right.set_title(f"Training loss, {primary.key[0]} runs{overlap}", fontsize=9)
    right.legend(fontsize=8, loc="upper right")
    right.grid(alpha=0.3)
    return figure


def _seeded(workshop: Workshop) -> tuple[list[str], list[str]]:
    runs = workshop.runs[workshop.runs["mode"] != "unseeded"]
    return list(dict.fromkeys(runs["machine_id"])), list(dict.fromkeys(runs["setting"]))


def plot_workshop_accuracy(workshop: Workshop) -> Figure:
    """Test accuracy of every seeded run, one row per machine (M1, M2, ...): runs of one setting with
    bit-identical weights share a colour, and each setting has its own marker."""
    machines, settings = _seeded(workshop)
    runs = workshop.runs[workshop.runs["mode"] != "unseeded"]
    figure, ax = plt.subplots(figsize=(8, 1.6 + 0.45 * max(1, len(machines))), layout="constrained")
    colour_of = {h: _COLOURS[i % 10] for i, h in enumerate(dict.fromkeys(runs["weights_sha256"]))}
    markers = ["o", "s", "^", "D", "v", "P"]
    for j, setting in enumerate(settings):
        mine = runs[runs["setting"] == setting]
        rows = [machines.index(m) for m in mine["machine_id"]]
        jitter = (j - (len(settings) - 1) / 2) * 0.18
        ax.scatter(mine["test_accuracy"], np.array(rows) + jitter, c=[colour_of[h] for h in mine["weights_sha256"]],
                   marker=markers[j % len(markers)], s=60, edgecolor="black", linewidth=0.5)
    ax.set_yticks(range(len(machines)), machines)
    ax.set_ylim(len(machines) - 0.5, -0.5)
    ax.set_xlabel("test accuracy")
    ax.set_ylabel("machine")
    ax.grid(axis="x", alpha=0.3)
    if settings:
        # Grey keys: in this figure colour means "which weights", the marker means "which runs".
        keys = [Line2D([], [], linestyle="", marker=markers[j % len(markers)], color="0.6", markeredgecolor="black",
                       markersize=8, label=setting.split(",")[0]) for j, setting in enumerate(settings)]
        ax.legend(handles=keys, title="runs", fontsize=8, title_fontsize=8, loc="upper left",
                  bbox_to_anchor=(1.01, 1))
    ax.set_title("Seeded runs by machine: one colour = bit-identical weights", fontsize=9)
    return figure


def plot_workshop_identity(workshop: Workshop) -> Figure:
    """One row per card (grouped by machine), one column per seeded setting: the colour and the
    first hex digits name the trained weights, so equal colours in a column mean identical bits."""
    machines, settings = _seeded(workshop)
    runs = workshop.runs[workshop.runs["mode"] != "unseeded"]
    rows = list(dict.fromkeys(zip(runs["machine_id"], runs["card"], strict=True)))
    rows.sort(key=lambda row: machines.index(row[0]))
    figure, ax = plt.subplots(figsize=(2.8 + 1.6 * max(1, len(settings)), 1.4 + 0.36 * max(1, len(rows))),
                              layout="constrained")
    grid = np.full((len(rows), len(settings)), np.nan)
    for c, setting in enumerate(settings):
        in_setting = runs[runs["setting"] == setting]
        numbering = {h: i for i, h in enumerate(dict.fromkeys(in_setting["weights_sha256"]))}
        for r, (machine, card) in enumerate(rows):
            mine = in_setting[(in_setting["machine_id"] == machine) & (in_setting["card"] == card)]
            if not mine.empty:
                grid[r, c] = numbering[mine["weights_sha256"].iloc[0]] % 10
                ax.text(c, r, mine["weights"].iloc[0][:6], ha="center", va="center", fontsize=7, family="monospace")
    ax.imshow(grid, cmap="tab10", vmin=0, vmax=9, aspect="auto", alpha=0.55)
    ax.set_xticks(range(len(settings)), [textwrap.fill(s.split(",")[0], 12) for s in settings], fontsize=8)
    ax.set_yticks(range(len(rows)), [f"{m} · {_short(card, 22)}" for m, card in rows], fontsize=8)
    ax.set_title("Trained weights per card\n(same colour in a column = identical bits)", fontsize=9)
    return figure
