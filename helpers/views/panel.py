"""A control panel for the notebooks: choose seed, device, determinism and task, press Run.

Only core ipywidgets are used, so the panel renders in Colab and JupyterLab alike. Runs go to
worker processes through :func:`helpers.running.runner.run_configs`, from a background thread so the
notebook stays usable. Results accumulate across presses until Clear; the table and the plot
are redrawn in place as each run finishes. Every problem ends as one plain sentence in the
status line, never as a traceback, and nothing computed is thrown away.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import html
import io
import threading
from typing import Any

import ipywidgets as widgets
from matplotlib.figure import Figure

from helpers.core.config import DEFAULT_SEED, DEVICES, MODES, TASKS, ConfigError, RunConfig, check_choice, check_repeats
from helpers.core.results import RunResult, retry_sentence, to_frame
from helpers.machines.devices import NO_GPU_SENTENCE, device_report
from helpers.running.runner import PROCESS_KINDS, RunError, RunInterrupted, run_configs
from helpers.views.run_plots import plot_accuracy

# The XLA toggle's values and RunConfig's jit_compile for each.
XLA_CHOICES = {"keras": None, "on": True, "off": False}
BUSY_SENTENCE = "A run is already in progress; wait for it to finish, or press Stop."
IDLE_STOP_SENTENCE = "Nothing is running, so there is nothing to stop."
GPU_REFUSED_SENTENCE = "Device gpu is not available because TensorFlow sees no GPU here; choose auto or cpu."
TABLE_COLUMNS = ["tag", "label", "device", "test_accuracy", "weights", "same_weights_as", "processes", "run_seconds"]


class GpuDetectionError(RuntimeError):
    """TensorFlow could not say whether it sees a GPU; the message is one sentence."""


@functools.cache
def tensorflow_sees_gpu() -> bool:
    """Ask TensorFlow once per kernel: importing it here costs about two seconds.

    A failure to ask is not a "no": it raises :class:`GpuDetectionError` (and is not cached,
    so a fixed install is asked again).
    """
    try:
        return device_report().has_gpu
    except Exception as error:
        raise GpuDetectionError(
            f"TensorFlow could not say whether it sees a GPU ({type(error).__name__}: {_one_line(error)}); "
            "fix its installation and restart the runtime."
        ) from error


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0].rstrip(".") if text else type(error).__name__


class ControlPanel:
    """Widgets that build a :class:`RunConfig`, run it ``repeats`` times and show every result.

    ``background=False`` runs each press in the calling thread (tests, nbval);
    ``gpu_available`` overrides asking TensorFlow whether it sees a GPU.
    """

    def __init__(self, seed_on: bool = True, seed: int = DEFAULT_SEED, device: str = "auto",
                 op_determinism: bool = False, task: str = "article", epochs: int = 10, repeats: int = 3,
                 xla: str = "keras",
                 processes: str = "warm", title: str | None = None, *, background: bool = True,
                 gpu_available: bool | None = None) -> None:
        for name, value, choices in [("device", device, DEVICES), ("task", task, TASKS),
                                     ("processes", processes, PROCESS_KINDS), ("xla", xla, tuple(XLA_CHOICES))]:
            check_choice(name, value, choices)
        detection_error = ""
        if gpu_available is None:
            try:
                gpu_available = tensorflow_sees_gpu()
            except GpuDetectionError as error:  # shown in the panel, never taken for "no GPU"
                gpu_available, detection_error = False, str(error)
        self.gpu_available = bool(gpu_available)
        self.gpu_refusal = (f"Device gpu is not available: {detection_error}" if detection_error
                            else GPU_REFUSED_SENTENCE)
        self.background = background
        self.results: list[RunResult] = []
        self.busy = False
        self.message = ""
        self.presses = 0
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()  # makes "not busy? then busy" one step
        self._stop = threading.Event()  # set by Stop: the runner ends the runs in flight
        self._draw_lock = threading.RLock()  # runner threads report runs concurrently

        self.seed_on = widgets.Checkbox(value=seed_on, description="on", indent=False,
                                        layout=widgets.Layout(width="60px"))
        self.seed = widgets.IntText(value=seed, layout=widgets.Layout(width="120px"), disabled=not seed_on)
        self.op_determinism = widgets.Checkbox(value=op_determinism, description="op determinism", indent=False,
                                               layout=widgets.Layout(width="150px", margin="0 0 0 24px"))
        gpu_label = "gpu" if self.gpu_available else "gpu (unknown)" if detection_error else "gpu (none here)"
        why_no_gpu = detection_error or NO_GPU_SENTENCE
        toggles = {"button_width": "130px"}
        self.device = widgets.ToggleButtons(
            options=[("auto", "auto"), ("cpu", "cpu"), (gpu_label, "gpu")], value="auto", style=toggles,
            tooltips=["TensorFlow's choice: the GPU if it sees one",
                      "hide the GPU before TensorFlow starts (the article's Example 3)",
                      "the first GPU" if self.gpu_available else why_no_gpu])
        self.device_note = widgets.HTML(
            "" if self.gpu_available else f"<i>gpu is unavailable. {html.escape(why_no_gpu)}</i>",
            layout=widgets.Layout(margin="0 0 0 86px"))
        self.xla = widgets.ToggleButtons(
            options=[("as Keras decides", "keras"), ("on", "on"), ("off", "off")], value=xla,
            style={"button_width": "130px"},
            tooltips=["as the article compiles: Keras 3 turns XLA on when TensorFlow sees a GPU",
                      "compile with XLA (jit_compile=True)", "compile without XLA (jit_compile=False)"])
        self.task = widgets.ToggleButtons(
            options=list(TASKS), value=task, style=toggles,
            tooltips=["the article's random labels: accuracy near chance (10 %)",
                      "labels that depend on the inputs: accuracy well above chance"])
        # IntText rather than bounded widgets: an out-of-range value must reach RunConfig and
        # come back as its one-sentence ConfigError, not be clamped silently.
        self.epochs = widgets.IntText(value=epochs, layout=widgets.Layout(width="80px"))
        self.repeats = widgets.IntText(value=repeats, layout=widgets.Layout(width="80px"))
        self.processes = widgets.ToggleButtons(
            options=list(PROCESS_KINDS), value=processes, style={"button_width": "70px"},
            tooltips=["reuse one worker per environment: fast, same bits",
                      "a new Python process per run, like a new Colab session"])
        self.run_button = widgets.Button(description="Run", button_style="primary", icon="play",
                                         tooltip="run the settings above 'repeats' times")
        self.clear_button = widgets.Button(description="Clear", icon="trash", tooltip="forget every result")
        self.stop_button = widgets.Button(description="Stop", icon="stop", button_style="warning",
                                          tooltip="end the runs in flight; the finished ones are kept")
        self.progress = widgets.IntProgress(value=0, min=0, max=max(1, repeats), description="runs",
                                            layout=widgets.Layout(width="320px"))
        self.status = widgets.HTML()
        self.table = widgets.Output()
        self.plot = widgets.Output()

        # Stable classes let the browser test (and curious readers' CSS) find the parts.
        for part, name in [(self.run_button, "repro-run"), (self.clear_button, "repro-clear"),
                           (self.stop_button, "repro-stop"),
                           (self.progress, "repro-progress"), (self.status, "repro-status"),
                           (self.table, "repro-table"), (self.plot, "repro-plot")]:
            part.add_class(name)
        heading = widgets.HTML(f"<b>{html.escape(title or 'Control panel')}</b>")
        self.widget = widgets.VBox([
            heading,
            widgets.HBox([_label("seed"), self.seed_on, self.seed, self.op_determinism]),
            widgets.HBox([_label("device"), self.device]),
            self.device_note,
            widgets.HBox([_label("XLA"), self.xla]),
            widgets.HBox([_label("task"), self.task]),
            widgets.HBox([_label("epochs"), self.epochs, _label("repeats", "70px"), self.repeats,
                          _label("processes", "80px"), self.processes]),
            widgets.HBox([self.run_button, self.stop_button, self.clear_button, self.progress]),
            self.status, self.table, self.plot,
        ])
        self.widget.add_class("repro-panel")

        self.seed_on.observe(self._seed_toggled, names="value")
        self.device.observe(self._device_chosen, names="value")
        self.run_button.on_click(self._run_clicked)
        self.clear_button.on_click(self._clear_clicked)
        self.stop_button.on_click(self._stop_clicked)
        if device == "gpu" and not self.gpu_available:
            self._say(self.gpu_refusal)
        else:
            self.device.value = device
            self._say(detection_error or "Ready: choose the settings and press Run.")
        self._redraw(self.results)

    @classmethod
    def for_mode(cls, mode: str, **kwargs: Any) -> ControlPanel:
        """A panel preset to one of the article's three experiments (unseeded, seeded, cpu)."""
        check_choice("mode", mode, MODES)
        kwargs.setdefault("title", f"Control panel: {mode}")
        return cls(seed_on=mode != "unseeded", device="cpu" if mode == "cpu" else "auto", **kwargs)

    # -- settings -------------------------------------------------------------------------

    def config(self) -> RunConfig:
        """The run the widgets describe; raises ConfigError with one sentence if they are wrong."""
        if self.device.value == "gpu" and not self.gpu_available:
            raise ConfigError(self.gpu_refusal)
        return RunConfig(seed=self.seed.value if self.seed_on.value else None, device=self.device.value,
                         op_determinism=self.op_determinism.value, task=self.task.value, epochs=self.epochs.value,
                         jit_compile=XLA_CHOICES[self.xla.value])

    def _seed_toggled(self, change: dict[str, Any]) -> None:
        self.seed.disabled = not change["new"]

    def _device_chosen(self, change: dict[str, Any]) -> None:
        # No core widget can grey out one option, so the gpu option stays visible but is refused.
        if change["new"] == "gpu" and not self.gpu_available:
            self.device.value = change["old"] if change["old"] != "gpu" else "auto"
            self._say(self.gpu_refusal)

    # -- pressing the buttons -------------------------------------------------------------

    def _run_clicked(self, _button: Any = None) -> None:
        try:
            config = self.config()
            repeats = check_repeats(self.repeats.value)
        except ConfigError as error:
            self._say(f"Not run: {error}")
            return
        with self._start_lock:
            if self.busy:
                self._say(BUSY_SENTENCE)
                return
            self.busy = True
            self.presses += 1
            press = self.presses
            self._stop.clear()
        args = (config, repeats, self.processes.value, press)
        if self.background:
            self._thread = threading.Thread(target=self._run_batch, args=args, name=f"panel press {press}",
                                            daemon=True)
            self._thread.start()
        else:
            self._run_batch(*args)

    def _clear_clicked(self, _button: Any = None) -> None:
        if self.busy:
            self._say(BUSY_SENTENCE)
            return
        self.results = []
        self.progress.value = 0
        self.progress.bar_style = ""
        self._redraw(self.results)
        self._say("Cleared: no results yet.")

    def _stop_clicked(self, _button: Any = None) -> None:
        if not self.busy:
            self._say(IDLE_STOP_SENTENCE)
            return
        self._stop.set()
        self._say("Stopping: ending the runs in flight; the finished ones stay.")

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the press in progress ends; True when nothing is running any more."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self.busy

    def _run_batch(self, config: RunConfig, repeats: int, processes: str, press: int) -> None:
        tag = f"press {press}"
        finished: dict[int, RunResult] = {}

        def on_result(done: int, total: int, result: RunResult) -> None:
            with self._draw_lock:
                finished[result.index] = result
                self.progress.value = done
                self._say(f"Press {press}: {done} of {total} runs done.")
                # A drawing problem must never cost the runs themselves.
                with contextlib.suppress(Exception):
                    self._redraw([*self.results, *(finished[i] for i in sorted(finished))])

        self.progress.value = 0
        self.progress.max = repeats
        self.progress.bar_style = "info"
        self._say(f"Press {press}: running {config.label} {repeats} times ({processes} processes)…")
        new: list[RunResult] = []
        try:
            new = run_configs([config] * repeats, processes=processes, progress=False, on_result=on_result, tag=tag,
                              stop=self._stop)
            distinct = len({r.weights_sha256 for r in new})
            outcome = "identical weights" if distinct == 1 and len(new) > 1 else f"{distinct} distinct weights"
            message, style = f"Press {press} done: {len(new)} runs of {config.label}, {outcome}.", "success"
            if retry_sentence(new):
                message += f" {retry_sentence(new)}"
        except RunInterrupted as stopped:  # Stop, or the kernel's stop button while running in the foreground
            new = list(stopped.completed)
            message = f"Press {press} stopped: {len(new)} of {repeats} runs had finished and are kept."
            style = "warning"
        except RunError as error:
            new = list(error.completed)
            message = f"Press {press} failed after {len(new)} of {repeats} runs: {_one_line(error)}."
            style = "danger"
        except Exception as error:  # whatever it is, the reader gets a sentence and a usable panel
            new = [finished[i] for i in sorted(finished)]
            message = f"Press {press} stopped by an unexpected error ({type(error).__name__}): {_one_line(error)}."
            style = "danger"
        with self._draw_lock:
            self.results = [*self.results, *new]
            self.progress.bar_style = style
            try:
                self._redraw(self.results)
            except Exception as error:
                message += f" The results could not be drawn: {_one_line(error)}."
            self._say(message)
            self.busy = False

    # -- showing --------------------------------------------------------------------------

    def _say(self, sentence: str) -> None:
        self.message = sentence
        self.status.value = html.escape(sentence)

    def _redraw(self, results: list[RunResult]) -> None:
        # Outputs are set as data, not through `with output:` and display(): that form
        # captures by message id and misroutes output sent from a background thread.
        with self._draw_lock:
            if not results:
                self.table.outputs = ()
                self.plot.outputs = ()
                return
            frame = to_frame(results)[TABLE_COLUMNS]
            formats = {"test_accuracy": "{:.4f}".format}
            self.table.outputs = (_display_data({
                "text/plain": frame.to_string(formatters=formats),
                "text/html": frame.to_html(formatters=formats, border=0),
            }),)
            # A bare Figure, not pyplot: nothing to close, no leak, and the inline backend
            # cannot show it a second time in whatever cell runs next.
            figure = Figure(figsize=(7.5, 3.8), layout="constrained")
            plot_accuracy(results, ax=figure.add_subplot())
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", dpi=96)
            self.plot.outputs = (_display_data({
                "image/png": base64.b64encode(buffer.getvalue()).decode("ascii"),
                "text/plain": f"<accuracy plot of {len(results)} runs>",
            }),)

    def show(self) -> None:
        """Display the panel (a cell ending in ``panel`` does the same)."""
        from IPython.display import display

        display(self.widget)

    def _ipython_display_(self) -> None:
        self.show()


def _label(text: str, width: str = "80px") -> widgets.Label:
    # Labels of their own rather than widget descriptions, which wrap above toggle buttons.
    return widgets.Label(text, layout=widgets.Layout(width=width, margin="0 0 0 4px"))


def _display_data(data: dict[str, str]) -> dict[str, Any]:
    return {"output_type": "display_data", "data": data, "metadata": {}}
