"""Plots of runs: the spread of test accuracy, and which runs have bit-identical weights.

The first half of the module is the lab's figure layout, shared by every figure module
(:mod:`helpers.card_plots` too): categories run down the y axis, one row each, with labels
wrapped to a fixed width and a row height set by the tallest label; keys sit beside the axes,
never over the data; titles are wrapped to the width of their axes; and a figure grows with
its rows. Labels of any number and length then cannot run into each other, which
``tests/test_figures.py`` checks for every ``plot_*`` function with the renderer's own extents.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.text import Annotation, Text
from matplotlib.textpath import text_to_path
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import Bbox, ScaledTranslation, blended_transform_factory

from helpers.results import RunResult, kinds

# --------------------------------------------------------------------------- layout primitives

LABEL_FONT = 8.0
TITLE_FONT = 9.0
LINE_SPACING = 1.3  # a wrapped label's line pitch, as a multiple of its font size
ROW_GAP = 0.12  # inches between the tallest labels of two neighbouring rows
MIN_ROW = 0.3  # inches: a row of one-line labels still has room for a few jittered markers
MIN_CELL, MAX_CELL = 0.22, 0.34  # inches: a grid's cells, from room for a number to a two-line label
LABEL_WIDTH = 1.9  # inches of a category label before it wraps
KEY_WIDTH = 1.55  # inches of a key's label before it wraps
# What the axes' frame costs around its data area: tick marks, numbers and the axis label below,
# the pads constrained layout keeps at the figure's edges (inches).
X_AXIS_HEIGHT = 0.55
EDGE = 0.15

COLOURS = plt.get_cmap("tab10").colors
ROUND_STEPS = (1, 2, 2.5, 5, 10)  # tick spacings a reader takes in at a glance (0.100, 0.105, 0.110)
LINESTYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "p", "h", "*")


def plain(text: str) -> str:
    """``text`` drawn as it is: a "$" in a card or setting name must not start matplotlib's math mode."""
    return re.sub(r"(?<!\\)\$", r"\\$", str(text))


def text_inches(text: str, fontsize: float = LABEL_FONT, family: str | None = None) -> float:
    """Width in inches of the widest line of ``text`` at ``fontsize``, from matplotlib's font metrics."""
    prop = FontProperties(size=fontsize, family=family)
    widths = [text_to_path.get_text_width_height_descent(line, prop, ismath=False)[0] for line in text.split("\n")]
    return max(widths, default=0.0) / 72


def lines_of(text: str) -> int:
    return text.count("\n") + 1


def _hard_break(word: str, width: float, fontsize: float) -> list[str]:
    """A word wider than ``width`` (an environment variable, a file name): cut it after the last
    '=', '_', '+', '/', '-' or '.' that fits, else after the last character that fits."""
    pieces = []
    while word and text_inches(word, fontsize) > width:
        fits = max(1, next(n for n in range(len(word), 0, -1) if text_inches(word[:n], fontsize) <= width))
        soft = max((word.rfind(c, 0, fits) + 1 for c in "=_+/-."), default=0)
        cut = soft if soft > fits // 2 else fits
        pieces.append(word[:cut])
        word = word[cut:]
    return [*pieces, word] if word else pieces


def wrap_text(text: str, width: float = LABEL_WIDTH, fontsize: float = LABEL_FONT) -> str:
    """``text`` wrapped to ``width`` inches, breaking after ", " where it can (so "calls: numpy+tensorflow"
    stays on one line), then between words, and inside a word only when the word alone is too wide."""
    out: list[str] = []
    for paragraph in str(text).split("\n"):
        line = ""
        for part in re.split(r"(?<=,) ", paragraph):
            joined = f"{line} {part}" if line else part
            if text_inches(joined, fontsize) <= width:
                line = joined
                continue
            if line:
                out.append(line)
                line = ""
            for word in part.split(" "):
                joined = f"{line} {word}" if line else word
                if text_inches(joined, fontsize) <= width:
                    line = joined
                    continue
                if line:
                    out.append(line)
                *full, line = _hard_break(word, width, fontsize) or [""]
                out.extend(full)
        out.append(line)
    return "\n".join(out)


def short_name(text: str, width: float, fontsize: float = LABEL_FONT) -> str:
    """``text`` on one line of at most ``width`` inches, cut in the middle ("card-ana…laptop.json"):
    names of files and machines differ at their ends as often as at their starts."""
    text = plain(text)
    if text_inches(text, fontsize) <= width:
        return text
    head, tail = text[: len(text) // 2], text[len(text) // 2:]
    while head or tail:
        if len(head) >= len(tail):
            head = head[:-1]
        else:
            tail = tail[1:]
        if text_inches(f"{head}…{tail}", fontsize) <= width:
            break
    return f"{head}…{tail}"


def distinct_names(names: Sequence[str], width: float, fontsize: float = LABEL_FONT) -> list[str]:
    """One-line short names (:func:`short_name`) while they still tell every name apart; the full
    names wrapped to ``width`` otherwise."""
    short = [short_name(name, width, fontsize) for name in names]
    if len(set(short)) == len(set(names)):
        return short
    return [wrap_text(plain(name), width, fontsize) for name in names]


def text_height(lines: int, fontsize: float = LABEL_FONT) -> float:
    """Inches that ``lines`` lines of text at ``fontsize`` take."""
    return lines * fontsize * LINE_SPACING / 72


def row_pitch(labels: Sequence[str], fontsize: float = LABEL_FONT) -> float:
    """Inches between rows so that the tallest of these (wrapped) labels clears its neighbours."""
    tallest = max((lines_of(label) for label in labels), default=1)
    return max(MIN_ROW, text_height(tallest, fontsize) + ROW_GAP)


def category_rows(ax: Axes, labels: Sequence[str], width: float = LABEL_WIDTH,
                  fontsize: float = LABEL_FONT) -> list[str]:
    """One row per category down the y axis, the first at the top, each label wrapped to ``width``
    inches. Returns the wrapped labels (their line counts size the figure: :func:`row_pitch`)."""
    wrapped = [wrap_text(plain(label), width, fontsize) for label in labels]
    ax.set_yticks(range(len(wrapped)), wrapped, fontsize=fontsize)
    ax.set_ylim(len(wrapped) - 0.5, -0.5)
    ax.tick_params(axis="y", length=0)
    return wrapped


def key_beside(ax: Axes, handles: Sequence[Artist], labels: Sequence[str], title: str | None = None,
               width: float = KEY_WIDTH, fontsize: float = LABEL_FONT, **options: Any) -> Legend:
    """A key (legend) outside the axes, on their right: it covers no data and no label, and its
    labels wrap to ``width`` inches. Constrained layout makes room for it. ``options`` go to
    :meth:`~matplotlib.axes.Axes.legend`."""
    wrapped = [wrap_text(plain(label), width, fontsize) for label in labels]
    return ax.legend(handles, wrapped, title=title and wrap_text(plain(title), width, fontsize),
                     fontsize=fontsize, title_fontsize=fontsize, loc="upper left", bbox_to_anchor=(1.02, 1),
                     borderaxespad=0, alignment="left", **options)


def key_height(labels: Sequence[str], title: str | None = None, width: float = KEY_WIDTH,
               fontsize: float = LABEL_FONT) -> float:
    """Inches the key of :func:`key_beside` takes, so a figure can be made tall enough for it."""
    lines = sum(lines_of(wrap_text(plain(label), width, fontsize)) for label in labels)
    if title:
        lines += lines_of(wrap_text(plain(title), width, fontsize))
    entries = len(labels) + (1 if title else 0)
    return text_height(lines, fontsize) + entries * 0.07 + 0.25


def key_inches(labels: Sequence[str], width: float = KEY_WIDTH, fontsize: float = LABEL_FONT) -> float:
    """Inches of width a key beside the axes takes: its widest wrapped label, the marker, the frame."""
    widest = max((text_inches(wrap_text(plain(label), width, fontsize), fontsize) for label in labels), default=0)
    return widest + 0.55


def set_title(ax: Axes, text: str, width: float, fontsize: float = TITLE_FONT, loc: str = "center") -> int:
    """The axes' title wrapped to ``width`` inches (the axes' own width, or less): a title no wider
    than its axes can neither leave the figure nor squeeze the axes. Returns its number of lines."""
    wrapped = wrap_text(plain(text), width, fontsize)
    ax.set_title(wrapped, fontsize=fontsize, loc=loc)
    return lines_of(wrapped)


NEAR = 12  # points: a note this close to its point needs no line to it
# A note's placement: the point it is anchored at (in its own coordinates), its offset from there
# in points, and its horizontal and vertical alignment.
Placement = tuple[tuple[float, float], tuple[float, float], str, str]


def place_notes(ax: Axes, notes: Sequence[tuple[Annotation, Sequence[Placement]]]) -> None:
    """Put each note (an annotation of ``ax``) at the first of its placements that keeps it inside
    the axes, clear of the notes placed before it and off every line of the axes (a curve drawn
    through a note makes "step 1" read "step 2"), measured with the renderer once the figure is
    laid out; a note for which none fits takes its first. Notes then never cover each other,
    wherever the data put their anchors."""
    figure = ax.figure
    if not hasattr(figure.canvas, "get_renderer"):  # a bare Figure: no renderer to measure with
        return
    for note, _ in notes:
        note.set_in_layout(False)  # kept inside the axes here, so the layout need not make room for them
    figure.draw_without_rendering()
    renderer = figure.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    curves = [line.get_transform().transform_path(line.get_path()) for line in ax.lines if line.get_visible()]
    placed: list[Bbox] = []
    for note, placements in notes:
        # The words' own extent (Text's): an Annotation's would include the line back to its point.
        scores = []
        for xy, offset, ha, va in placements:
            note.xy, note.xyann = xy, offset
            note.set_horizontalalignment(ha)
            note.set_verticalalignment(va)
            box = Text.get_window_extent(note, renderer)
            inside = (box.x0 >= frame.x0 and box.x1 <= frame.x1 and box.y0 >= frame.y0 and box.y1 <= frame.y1)
            clear = not any(box.overlaps(other) for other in placed)
            crossed = any(curve.intersects_bbox(box.padded(1.5), filled=False) for curve in curves)
            scores.append((not inside, not clear, crossed))
            if inside and clear and not crossed:
                break
        else:  # none fits everything: inside and clear of other notes matter most
            xy, offset, ha, va = placements[scores.index(min(scores))]
            note.xy, note.xyann = xy, offset
            note.set_horizontalalignment(ha)
            note.set_verticalalignment(va)
        if note.arrow_patch is not None:  # a note moved away from its point keeps a line to it
            note.arrow_patch.set_visible(max(abs(v) for v in note.xyann) > NEAR)
        placed.append(Text.get_window_extent(note, renderer))


def title_height(lines: int, fontsize: float = TITLE_FONT) -> float:
    return text_height(lines, fontsize) + 0.15


def axes_for(ax: Axes | None, width: float, height: float) -> Axes:
    """Axes of a new ``width`` x ``height`` inches figure (constrained layout), or the caller's
    ``ax``. A caller's figure that holds only ``ax`` (the control panel's) is made as tall as its
    rows need, and at least ``width`` wide: every row keeps its room, and a few rows do not float
    in a tall frame. A figure of several axes is the caller's to size."""
    if ax is None:
        _, ax = plt.subplots(figsize=(width, height), layout="constrained")
        return ax
    figure = ax.figure
    if isinstance(figure, Figure) and figure.axes == [ax]:
        figure.set_size_inches(max(figure.get_figwidth(), width), height)
    return ax


def fitting_ticks(ax: Axes, axis: str, count: int, pitch: float, fontsize: float) -> list[int]:
    """Positions 0..count-1 to number on ``axis``, every one if they fit ``pitch`` inches apart,
    else every second, fifth, tenth...: numbers that would touch are left out, not overprinted."""
    need = text_inches(str(max(count - 1, 0)), fontsize) + 0.06 if axis == "x" else text_height(1, fontsize)
    step = next(s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 10**9) if s * pitch >= need)
    return list(range(0, count, step))


def style(i: int) -> tuple[tuple[float, float, float], str]:
    """The i-th (colour, line style): ten colours, then the same ten dashed, and so on."""
    return COLOURS[i % len(COLOURS)], LINESTYLES[(i // len(COLOURS)) % len(LINESTYLES)]


def marker_style(i: int) -> tuple[tuple[float, float, float], str]:
    """The i-th (colour, marker): ten colours with diamonds, then the same ten with squares..."""
    shapes = ("D", "s", "^", "v", "P", "X")
    return COLOURS[i % len(COLOURS)], shapes[(i // len(COLOURS)) % len(shapes)]


# --------------------------------------------------------------------------- figures of runs

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
        members = [(r, g) for r, g, k in zip(results, groups, kind, strict=True) if k == label]
        # Runs of one row spread up and down a little, so runs of equal accuracy stay visible.
        offsets = np.linspace(-0.25, 0.25, len(members)) if len(members) > 1 else [0.0]
        for (result, group), offset in zip(members, offsets, strict=True):
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
                                          for w, (_, start, stop) in zip(wrapped, spans, strict=True))]))
    noted: list[str] = []
    marks = []
    for text, (_, start, stop) in zip(wrapped, spans, strict=True):
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
    for i, (a, group) in enumerate(zip(results, groups, strict=True)):
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
    for text, (_, start, stop) in zip(marks, spans, strict=True):
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
    for r, k in zip(results, kind, strict=True):
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

