"""The lab's figure layout, shared by every figure module.

Categories run down the y axis, one row each, with labels
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
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.legend import Legend
from matplotlib.text import Annotation, Text
from matplotlib.textpath import text_to_path
from matplotlib.transforms import Bbox

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
