"""Every figure the lab draws reads cleanly: no two texts overlap and none leaves the figure.

The figure functions are found, not listed: every public top-level ``plot_*`` defined in a module
of ``helpers`` (read from the source, so that finding them imports neither TensorFlow nor the
article's scripts). Each must have drawing cases in ``CASES`` below -- the notebooks' own shapes
and stress cases with many categories and long labels -- and a new figure function without
cases fails here until it gets some. The check draws each figure with Agg and compares the
renderer's extents of every text it actually drew: tick labels, titles, axis labels, legend
entries, annotations, texts inside axes. The figures go to test-artifacts/figures/ to be looked at.

The runs and cards here are made by hand (tests/conftest.py): they exercise the layout, and are
never presented as measurements.
"""

from __future__ import annotations

import ast
import importlib
import itertools
import warnings
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.legend import Legend  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

from helpers.core.results import RunResult  # noqa: E402
from tests.conftest import REPO, make_fingerprint, make_result  # noqa: E402

ARTIFACTS = REPO / "test-artifacts" / "figures"
TOLERANCE = 1.0  # pixels at 100 dpi: texts that merely touch are not overlapping

# --------------------------------------------------------------------------- the check


def drawn_texts(figure: Figure) -> tuple[list[Text], list[str]]:
    """Every text the renderer draws for ``figure`` (visible and non-empty), in drawing order, and
    the warnings drawing gave.

    Recorded while drawing rather than collected with ``findobj``: an axis keeps tick labels for
    ticks outside its view that are never drawn, and those must not count.
    """
    if not isinstance(figure.canvas, FigureCanvasAgg):  # a bare Figure, as the control panel makes
        FigureCanvasAgg(figure)
    drawn: dict[int, Text] = {}
    draw = Text.draw

    def record(text: Text, renderer) -> None:
        draw(text, renderer)
        if text.get_visible() and text.get_text().strip():
            drawn[id(text)] = text

    with mock.patch.object(Text, "draw", record), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figure.canvas.draw()
    return list(drawn.values()), [str(w.message) for w in caught]


def _name(text: Text) -> str:
    words = " ".join(text.get_text().split())
    return repr(words if len(words) <= 50 else words[:49] + "…")


def text_problems(figure: Figure) -> list[str]:
    """One line per text that leaves the figure, per pair of texts that overlap, per label repeated
    within one key or axis, per text inside an axes that a line of the plot crosses, and per
    warning drawing gave."""
    texts, warned = drawn_texts(figure)
    renderer = figure.canvas.get_renderer()
    width, height = figure.bbox.width, figure.bbox.height
    # Text's own extent: an Annotation's would include the arrow leading from it.
    boxes = [(text, Text.get_window_extent(text, renderer)) for text in texts]
    # A layout that gave up ("axes sizes collapsed to zero") or a missing glyph is a problem too.
    problems = [f"drawing warned: {message}" for message in warned]
    for text, box in boxes:
        if box.x0 < -TOLERANCE or box.y0 < -TOLERANCE or box.x1 > width + TOLERANCE or box.y1 > height + TOLERANCE:
            problems.append(f"{_name(text)} leaves the figure: x {box.x0:.0f}..{box.x1:.0f} of {width:.0f}, "
                            f"y {box.y0:.0f}..{box.y1:.0f} of {height:.0f}")
    # Two entries of one key, or two ticks of one axis, that read the same tell the reader nothing.
    shown = {id(text) for text in texts}
    groups = [legend.get_texts() for legend in figure.findobj(Legend)]
    groups += [axis.get_majorticklabels() for ax in figure.axes for axis in (ax.xaxis, ax.yaxis)]
    for group in groups:
        words = [text.get_text() for text in group if id(text) in shown]
        problems += [f"{_name(text)} appears {words.count(text.get_text())} times in one key or axis"
                     for text in group if id(text) in shown and words.count(text.get_text()) > 1]
    # A curve drawn through a note makes it misread ("step 1" read as "step 2").
    for ax in figure.axes:
        curves = [line.get_transform().transform_path(line.get_path()) for line in ax.lines if line.get_visible()]
        for text in ax.texts:
            if id(text) in shown:
                box = Text.get_window_extent(text, renderer)
                inner = Bbox.from_extents(box.x0 + TOLERANCE, box.y0 + TOLERANCE, box.x1 - TOLERANCE,
                                          box.y1 - TOLERANCE)
                if any(curve.intersects_bbox(inner, filled=False) for curve in curves):
                    problems.append(f"a line of the plot crosses {_name(text)}")
    for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
        across = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
        up = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
        if across > TOLERANCE and up > TOLERANCE:
            problems.append(f"{_name(a)} overlaps {_name(b)} ({across:.0f} x {up:.0f} px)")
    return problems


# --------------------------------------------------------------------------- the figure functions


def figure_functions() -> list[str]:
    """'module.plot_name' for every public top-level ``plot_*`` function defined in helpers."""
    found = []
    for path in sorted((REPO / "helpers").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        module = ".".join(path.relative_to(REPO).with_suffix("").parts)
        found += [f"{module}.{node.name}" for node in tree.body
                  if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("plot_")]
    return found


def resolve(qualified: str) -> Callable[..., Figure]:
    module, _, name = qualified.rpartition(".")
    return getattr(importlib.import_module(module), name)


# --------------------------------------------------------------------------- inputs

LONG_CARD = "card-ana-maria-de-los-angeles-on-her-windows-laptop-with-the-big-gpu-{}.json"
ENVS = ((), (("ONEDNN_MAX_CPU_ISA", "SSE41"),), (("TF_ENABLE_ONEDNN_OPTS", "0"),),
        (("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_AMX"), ("TF_NUM_INTRAOP_THREADS", "1"), ("TF_NUM_INTEROP_THREADS", "1")),
        (("A_VERY_LONG_ENVIRONMENT_VARIABLE_NAME_WITHOUT_ANY_BREAK", "x" * 40),))
CALLS = (("python", "numpy", "tensorflow"), ("numpy", "tensorflow"), ("python", "tensorflow"), ("python", "numpy"))


def run(weights: str, accuracy: float, epochs: int = 10, **config: object) -> RunResult:
    result = make_result(weights, **config)
    result.test_accuracy = accuracy
    result.loss_per_epoch = list(2.3 - np.linspace(0, 0.05, epochs) * (1 + sum(map(ord, weights)) % 7 / 10))
    result.config = result.config.replace(epochs=epochs)
    return result


def notebook_02() -> list[RunResult]:
    """02_seeded's plot: three seeded runs, two of seed 43, two of each dropped seed call."""
    seeded = [run("a", 0.11)] * 3
    other = [run("b", 0.105, seed=43)] * 2
    dropped = [run(f"{''.join(call)}{i}", 0.1 + 0.003 * i, seed_calls=call) for call in CALLS[1:] for i in range(2)]
    return seeded + other + dropped


def notebook_03() -> list[RunResult]:
    """03_cpu_forced's plot: default, CPU-forced, op determinism, two imitated machines."""
    return ([run("a", 0.11)] * 2 + [run("a", 0.11, device="cpu")] * 2 + [run("d", 0.11, op_determinism=True)] * 2
            + [run("e", 0.11, env=ENVS[1]), run("f", 0.11, env=ENVS[2])])


def many_long() -> list[RunResult]:
    """Twenty-odd kinds of run with long labels (seed calls, op determinism, XLA, environment
    variables, one unbreakable), some sharing weights, some repeated many times."""
    runs = []
    for i, (calls, env) in enumerate(itertools.product(CALLS, ENVS)):
        repeats = 1 + i % 3
        weights = "shared" if i % 4 == 0 else f"w{i}"
        runs += [run(weights if r == 0 else f"{weights}{r}" if i % 5 == 0 else weights, 0.095 + 0.001 * i,
                     seed=40 + i, seed_calls=calls, env=env, op_determinism="tensorflow" in calls and i % 2 == 0,
                     jit_compile=i % 3 == 0) for r in range(repeats)]
    return runs + [run(f"u{i}", 0.08 + 0.01 * i, seed=None) for i in range(12)]


def learnable() -> list[RunResult]:
    return [run(f"l{i}", 0.6 + 0.0001 * i, seed=None, task="learnable", epochs=40) for i in range(4)]


def on_panel_figure(results: list[RunResult]) -> Figure:
    """As the control panel draws: a bare Figure of its own size, plot_accuracy on add_subplot()."""
    from helpers.views.run_plots import plot_accuracy

    figure = Figure(figsize=(7.5, 3.8), layout="constrained")
    plot_accuracy(results, ax=figure.add_subplot())
    return figure


def _card(name: str, runs: list[RunResult]):
    from helpers.cards.fileformat import Card

    return Card(name=name, document={}, runs=runs)


def comparison(settings: int, name_a: str, name_b: str, identical: bool = False):
    """Two cards compared over ``settings`` settings (seeded and CPU-forced, several seeds), with
    per-epoch weight distances; ``identical``: every distance 0."""
    from helpers.cards.compare import Comparison, SettingComparison, setting_key

    compared = []
    for i in range(settings):
        mode = "cpu" if i % 2 else "seeded"
        a = run(f"a{i}", 0.11, seed=42 + i // 2, device="cpu" if mode == "cpu" else "auto")
        b = run(f"b{i}", 0.1100001, seed=42 + i // 2, device="cpu" if mode == "cpu" else "auto")
        epochs = list(range(11))
        distance = [0.0] * 11 if identical else [0.0] * (1 + i % 3) + list(np.geomspace(1e-8, 1e-6 * (i + 1),
                                                                                         10 - i % 3))
        stages = {"data": "same", "initial weights": "same", "training": "same" if identical else "different",
                  "evaluation": "same"}
        compared.append(SettingComparison(setting_key(a), a, b, stages, epochs, distance))
    return Comparison(_card(name_a, []), _card(name_b, []), compared, compared[0], [], "", [])


def workshop(machines: int, settings: int, cards_per_machine: int, card_name: str):
    """A pooled workshop: ``machines`` machines (different CPUs and settings), each with cards that
    ran ``settings`` seeded settings; names made long with ``card_name``."""
    from helpers.cards.workshop import pool_cards

    cards = []
    for m in range(machines):
        fingerprint = make_fingerprint(cpu={**make_fingerprint()["cpu"], "model": f"CPU model {m}"},
                                       env=dict(ENVS[m % len(ENVS)][:1]))
        for c in range(cards_per_machine):
            # Seed calls that differ under one seed: the workshop then names settings in full.
            runs = [make_result(f"m{m}s{s}", seed=42 + s // 8, fingerprint=fingerprint,
                                device="cpu" if s % 2 else "auto", seed_calls=CALLS[s // 2 % len(CALLS)])
                    for s in range(settings)]
            runs.append(make_result(f"u{m}{c}", seed=None, fingerprint=fingerprint))
            for r in runs:
                r.test_accuracy = 0.1 + 0.002 * m
            cards.append(_card(card_name.format(f"{m}-{c}"), runs))
    return pool_cards(cards)


def divergence(change: dict[str, object], epochs: int = 50, first_step: int = 7, visible: int | None = 23):
    """Two runs compared step by step: equal until ``first_step``, then a difference growing by
    about ten thousand; test examples classified differently from epoch ``visible`` on."""
    from helpers.training.diverge import Divergence

    per_epoch, examples = 32, 200
    a = run("a", 0.11, epochs=epochs)
    b = run("b", 0.115, epochs=epochs, **change)
    steps = epochs * per_epoch
    distance = np.zeros(steps)
    distance[first_step - 1:] = np.geomspace(6e-8, 3e-3, steps - first_step + 1)
    disagreements = np.zeros(epochs, dtype=int)
    if visible is not None:
        disagreements[visible - 1:] = np.arange(1, epochs - visible + 2)
    correct = (np.full(epochs, 22), np.full(epochs, 22) + (disagreements > 0))
    return Divergence(a, b, 0.0, distance, distance[per_epoch - 1::per_epoch] * 10, disagreements, correct,
                      examples, per_epoch, [["0" * 64] * (epochs + 1)] * 2)


def measured_shape() -> Any:
    """A divergence shaped like 03b's on the development machine: differing from step 1 at the size
    of a last bit, flat, rising from epoch 11, jumping at epoch 27, flat again near 1e-2."""
    result = divergence({"env": ENVS[1]}, first_step=1, visible=29)
    epochs = np.arange(1, result.steps + 1) / result.steps_per_epoch
    result.max_abs_difference = np.where(epochs < 11, 8.9e-8, np.where(
        epochs < 27, 8.9e-8 * np.exp((epochs - 11) / 3.0), np.minimum(1e-2, 1e-3 * np.exp((epochs - 27) / 4))))
    return result


def stacks(count: int, long_versions: bool = False):
    """This kernel's stack and ``count - 1`` others, one that failed; versions made long on request."""
    from helpers.stacks.report import StackReport, StackResult

    results = []
    for i in range(count):
        version = f"2.{21 - i}.{i}" + ("rc1.dev20260101+nightly-build-for-a-lab" if long_versions else "")
        results.append(StackResult(
            label="this kernel" if i == 0 else f"TensorFlow {version}", own=i == 0, tensorflow=version,
            keras=("3.15.1" if i < 3 else "2.15.0") + ("-very-long-local-build" if long_versions else ""),
            python="3.11.7", numpy="2.4.6", test_accuracy=0.11 - 0.005 * (i % 3), test_loss=2.3,
            weights_sha256=f"{i % 3:x}" * 64, data_sha256="d" * 64, data_values_sha256="d" * 64,
            initial_weights_sha256=("1" if i < 3 else "2") * 64))
    results.append(StackResult(label="TensorFlow 1.15", tensorflow="1.15.0", error="no wheel for this Python"))
    return StackReport(results)


# Per figure function: named cases, each a callable that draws one figure.
CASES: dict[str, dict[str, Callable[[], Figure]]] = {
    "helpers.views.run_plots.plot_accuracy": {
        "02_seeded": lambda: resolve("helpers.views.run_plots.plot_accuracy")(
            notebook_02(), title="Same seed, same diamond colour; grey = weights of its own"),
        "03_cpu_forced": lambda: resolve("helpers.views.run_plots.plot_accuracy")(
            notebook_03(), title="All seed 42: different settings, different bits, (nearly) the same accuracy"),
        "many_long_labels": lambda: resolve("helpers.views.run_plots.plot_accuracy")(many_long()),
        "learnable_task": lambda: resolve("helpers.views.run_plots.plot_accuracy")(learnable()),
        "one_run": lambda: resolve("helpers.views.run_plots.plot_accuracy")([run("a", 0.11)]),
        "long_title": lambda: resolve("helpers.views.run_plots.plot_accuracy")(
            notebook_03(), title="A title a teacher wrote at length, " * 6),
        "panel_figure": lambda: on_panel_figure(notebook_03()),
        "panel_figure_many": lambda: on_panel_figure(many_long()),
    },
    "helpers.views.run_plots.plot_identity_matrix": {
        "02_seeded": lambda: resolve("helpers.views.run_plots.plot_identity_matrix")(notebook_02()),
        "many_long_labels": lambda: resolve("helpers.views.run_plots.plot_identity_matrix")(many_long()),
        "one_run": lambda: resolve("helpers.views.run_plots.plot_identity_matrix")([run("a", 0.11)]),
        "unbreakable_label_alone": lambda: resolve("helpers.views.run_plots.plot_identity_matrix")(
            [run("a", 0.11), run("b", 0.11, env=ENVS[4]), run("a", 0.11)]),
    },
    "helpers.views.run_plots.plot_loss_curves": {
        "01_unseeded": lambda: resolve("helpers.views.run_plots.plot_loss_curves")([run(f"u{i}", 0.1, seed=None)
                                                                         for i in range(5)]),
        "many_long_labels": lambda: resolve("helpers.views.run_plots.plot_loss_curves")(many_long()),
        "learnable_task": lambda: resolve("helpers.views.run_plots.plot_loss_curves")(learnable()),
    },
    "helpers.views.training_plots.plot_divergence": {
        "03b_training_and_versions": lambda: resolve("helpers.views.training_plots.plot_divergence")(
            divergence({"env": ENVS[1]}),
            title="same seed; run B imitates an older CPU (ONEDNN_MAX_CPU_ISA=SSE41)"),
        "measured_shape": lambda: resolve("helpers.views.training_plots.plot_divergence")(
            measured_shape(), title="same seed; run B imitates an older CPU (ONEDNN_MAX_CPU_ISA=SSE41)"),
        "long_change": lambda: resolve("helpers.views.training_plots.plot_divergence")(
            divergence({"env": ENVS[3] + ENVS[4], "op_determinism": True, "jit_compile": True, "seed": 43})),
        "identical": lambda: resolve("helpers.views.training_plots.plot_divergence")(
            divergence({}, first_step=50 * 32 + 1, visible=None)),
        "visible_early": lambda: resolve("helpers.views.training_plots.plot_divergence")(
            divergence({"seed": None}, epochs=5, first_step=1, visible=1)),
    },
    "helpers.views.training_plots.plot_stacks": {
        "03b_training_and_versions": lambda: resolve("helpers.views.training_plots.plot_stacks")(stacks(3)),
        "many_long_versions": lambda: resolve("helpers.views.training_plots.plot_stacks")(
            stacks(9, long_versions=True)),
        "own_stack_only": lambda: resolve("helpers.views.training_plots.plot_stacks")(stacks(1)),
    },
    "helpers.views.card_plots.plot_comparison": {
        "04_across_machines": lambda: resolve("helpers.views.card_plots.plot_comparison")(
            comparison(2, "card-this-machine.json", "card-imitated-older-cpu.json")),
        "identical": lambda: resolve("helpers.views.card_plots.plot_comparison")(
            comparison(2, "card-pc.json", "card-pc-copy.json", identical=True)),
        "many_long_names": lambda: resolve("helpers.views.card_plots.plot_comparison")(
            comparison(12, LONG_CARD.format("a"), LONG_CARD.format("b"))),
    },
    "helpers.views.card_plots.plot_workshop_accuracy": {
        "06_workshop": lambda: resolve("helpers.views.card_plots.plot_workshop_accuracy")(
            workshop(3, 2, 1, "card-{}.json")),
        "many_long_names": lambda: resolve("helpers.views.card_plots.plot_workshop_accuracy")(
            workshop(14, 8, 2, LONG_CARD)),
    },
    "helpers.views.card_plots.plot_workshop_identity": {
        "06_workshop": lambda: resolve("helpers.views.card_plots.plot_workshop_identity")(
            workshop(3, 2, 1, "card-{}.json")),
        "many_long_names": lambda: resolve("helpers.views.card_plots.plot_workshop_identity")(
            workshop(14, 8, 2, LONG_CARD)),
    },
}


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def test_figure_functions_are_found() -> None:
    found = figure_functions()
    assert {"helpers.views.run_plots.plot_accuracy", "helpers.views.card_plots.plot_workshop_identity"} <= set(found)
    stale = set(CASES) - set(found)
    assert not stale, f"cases for figure functions that no longer exist: {sorted(stale)}"


@pytest.mark.parametrize("function", figure_functions())
def test_no_text_overlaps_or_leaves_the_figure(function: str) -> None:
    if function not in CASES:
        pytest.fail(f"{function} has no drawing cases: add some to CASES in tests/test_figures.py "
                    "(the notebook's shape and many long labels), so its texts are checked too.")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    failures = []
    for case, draw in CASES[function].items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            figure = draw()
        assert isinstance(figure, Figure), f"{function} must return its Figure"
        problems = [f"drawing warned: {w.message}" for w in caught] + text_problems(figure)
        figure.savefig(ARTIFACTS / f"{function.rsplit('.', 1)[1]}-{case}.png", dpi=80)
        failures += [f"{case}: {p}" for p in problems]
    assert not failures, f"{function}:\n" + "\n".join(failures[:30])


# --------------------------------------------------------------------------- the check can fail


def test_the_check_finds_overlapping_and_escaping_texts() -> None:
    figure, ax = plt.subplots(figsize=(4, 3), layout="constrained")
    ax.set_title("a title")
    assert text_problems(figure) == []
    ax.text(0.5, 0.5, "one text", transform=ax.transAxes)
    ax.text(0.52, 0.51, "another text", transform=ax.transAxes)
    ax.annotate("far out", (1.5, 0.5), xycoords="axes fraction", annotation_clip=False)
    ax.plot([0, 1], label="seeded")
    ax.plot([1, 0], label="seeded")
    ax.legend(loc="lower right")
    problems = text_problems(figure)
    assert any("'one text' overlaps 'another text'" in p for p in problems), problems
    assert any("'far out' leaves the figure" in p for p in problems), problems
    assert any("'seeded' appears 2 times in one key" in p for p in problems), problems


def test_the_check_finds_the_issue_s_overprinted_labels() -> None:
    """The layout the issue reported (long category labels under a fixed-width axis), drawn the old way."""
    figure, ax = plt.subplots(figsize=(7.5, 3.8), layout="constrained")
    labels = ["seeded, seed 42", "seeded, seed 42, calls: numpy+tensorflow",
              "seeded, seed 42, calls: python+tensorflow", "seeded, seed 42, calls: python+numpy",
              "seeded, seed 42, TF_ENABLE_ONEDNN_OPTS=0"]
    ax.scatter(range(5), [0.1] * 5)
    ax.set_xticks(range(5), [label.replace(", ", "\n", 1) for label in labels], fontsize=8)
    assert any("overlaps" in p and "calls" in p for p in text_problems(figure))


def test_a_figure_function_without_cases_fails_loudly() -> None:
    """A new plot_* found in helpers but given no cases here fails, naming itself and what to do."""
    with pytest.raises(pytest.fail.Exception, match=r"helpers\.new_figures\.plot_new has no drawing cases"):
        test_no_text_overlaps_or_leaves_the_figure("helpers.new_figures.plot_new")


def test_wrapped_labels_fit_their_width() -> None:
    from helpers.views.layout import text_inches, wrap_text

    for text in ["seeded, seed 42, calls: numpy+tensorflow", "x" * 200, "A_B_C_D=" * 12, "", "one"]:
        wrapped = wrap_text(text, 1.5)
        assert all(text_inches(line) <= 1.5 for line in wrapped.split("\n")), wrapped
        assert wrapped.replace("\n", "").replace(" ", "") == text.replace(" ", "")
    assert wrap_text("seeded, seed 42, calls: numpy+tensorflow", 1.9) == "seeded, seed 42,\ncalls: numpy+tensorflow"


def test_a_panel_figure_is_sized_to_its_rows() -> None:
    """The control panel's bare 7.5 x 3.8 inch Figure: taller for many rows, shorter for one."""
    many = on_panel_figure(many_long())
    assert many.get_figwidth() == 7.5 and many.get_figheight() > 3.8
    one = on_panel_figure([run("a", 0.11)] * 3)
    assert one.get_figwidth() == 7.5 and one.get_figheight() < 3.8


def test_runs_of_other_tasks_or_epochs_get_rows_of_their_own() -> None:
    """RunConfig.label leaves out the task and the epochs; a figure mixing them names them."""
    from helpers.views.run_plots import kinds, plot_accuracy

    mixed = [run("a", 0.11, seed=None), run("b", 0.7, seed=None, task="learnable"), run("c", 0.1, seed=None, epochs=3)]
    assert kinds(mixed) == ["unseeded, article task, 10 epochs", "unseeded, learnable task, 10 epochs",
                            "unseeded, article task, 3 epochs"]
    assert kinds(mixed[:1]) == ["unseeded"]
    ax = plot_accuracy(mixed).axes[0]
    assert len(ax.get_yticklabels()) == 3


def test_the_figures_keep_their_meaning() -> None:
    """Every run is drawn, in the row of its label, and shared weights share a colour."""
    from helpers.views.run_plots import plot_accuracy

    results = notebook_02()
    figure = plot_accuracy(results)
    ax = figure.axes[0]
    points = np.concatenate([c.get_offsets() for c in ax.collections])
    assert len(points) == len(results)
    labels = [t.get_text().replace("\n", " ") for t in ax.get_yticklabels()]
    assert labels == list(dict.fromkeys(r.config.label for r in results))
    for collection in ax.collections:
        ((accuracy, row),) = collection.get_offsets()
        assert labels[round(row)] in {r.config.label for r in results if r.test_accuracy == accuracy}


def test_identical_epochs_show_their_triangle() -> None:
    """In the comparison plot an identical epoch is a ▼ on the floor; the line's own marker (same colour,
    larger) is left off there, or it would hide the ▼ (seen in 04's screenshot)."""
    from helpers.views.card_plots import plot_comparison

    compared = comparison(2, "card-a.json", "card-b.json")
    left = plot_comparison(compared).axes[0]
    lines = [line for line in left.get_lines() if line.get_marker() not in ("None", "", None)]
    triangles = [c for c in left.collections if len(c.get_offsets())]
    assert len(lines) == len(compared.settings) == len(triangles)
    for line, triangle, setting in zip(lines, triangles, compared.settings, strict=True):
        zeros = [j for j, d in enumerate(setting.distance) if d == 0]
        assert zeros, "the case must have identical epochs"
        assert sorted(line.get_markevery()) == [j for j, d in enumerate(setting.distance) if d > 0]
        assert [round(x) for x, _ in triangle.get_offsets()] == [setting.epochs[j] for j in zeros]
