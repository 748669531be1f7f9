"""The control panel, driven the way ipywidgets' own tests drive widgets: set ``.value``, ``.click()``.

Tests that start TensorFlow workers are marked slow and kept to a few small runs; the rest
replace the runner with a fake so the panel's own logic (guards, failures, accumulation) is
checked in milliseconds and deterministically.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

import helpers.views.panel as panel_module
from helpers.core.config import ConfigError, RunConfig
from helpers.core.results import RunResult
from helpers.running.runner import RunError, RunInterrupted
from helpers.views.panel import BUSY_SENTENCE, GPU_REFUSED_SENTENCE, IDLE_STOP_SENTENCE, ControlPanel


def small_panel(**kwargs) -> ControlPanel:
    settings = {"epochs": 2, "repeats": 2, "background": False, "gpu_available": False, **kwargs}
    return ControlPanel(**settings)


def fake_result(config: RunConfig, index: int, tag: str, weights: str | None = None) -> RunResult:
    return RunResult(
        config=config, test_accuracy=0.1 + index / 100, test_loss=2.3, weights_sha256=weights or f"{tag}-{index}" * 4,
        device="CPU:0", loss_per_epoch=[2.3], accuracy_per_epoch=[0.1], fit_evaluate_seconds=0.1,
        run_seconds=0.1, tensorflow_import_seconds=0.0, worker_pid=1, run_in_worker=index, processes="warm",
        index=index, tag=tag,
    )


class FakeRunner:
    """Stands in for run_configs: records each batch, reports each run, may wait or fail."""

    def __init__(self, gate: threading.Event | None = None, fail: Callable[[list[RunResult]], Exception] | None = None):
        self.batches: list[list[RunConfig]] = []
        self.gate = gate
        self.fail = fail
        self.started = threading.Event()

    def __call__(self, configs, *, processes, progress, on_result, tag, **_):
        self.batches.append(list(configs))
        self.started.set()
        if self.gate is not None:
            assert self.gate.wait(10), "the test never let the fake batch finish"
        results = [fake_result(config, i, tag) for i, config in enumerate(configs)]
        if self.fail is not None:
            on_result(1, len(configs), results[0])
            raise self.fail(results[:1])
        for done, result in enumerate(results, start=1):
            on_result(done, len(configs), result)
        return results


def assert_one_sentence(message: str) -> None:
    assert message.endswith(".") and "\n" not in message and "Traceback" not in message, message


# -- settings, without running anything ---------------------------------------------------------

def test_config_follows_the_widgets():
    panel = small_panel()
    assert panel.config() == RunConfig(seed=42, epochs=2)
    panel.seed_on.value = False
    assert panel.seed.disabled
    panel.device.value = "cpu"
    panel.task.value = "learnable"
    panel.epochs.value = 3
    assert panel.config() == RunConfig(seed=None, device="cpu", task="learnable", epochs=3)
    panel.op_determinism.value = True
    with pytest.raises(ConfigError, match="op determinism needs TensorFlow's seed"):
        panel.config()  # TensorFlow refuses random ops without a seed once op determinism is on
    panel.seed_on.value = True
    assert panel.config() == RunConfig(seed=42, device="cpu", op_determinism=True, task="learnable", epochs=3)


def test_presets_for_the_article_modes():
    assert ControlPanel.for_mode("unseeded", gpu_available=False).config().mode == "unseeded"
    assert ControlPanel.for_mode("seeded", gpu_available=False).config().mode == "seeded"
    cpu = ControlPanel.for_mode("cpu", gpu_available=False).config()
    assert (cpu.mode, cpu.device, cpu.seed) == ("cpu", "cpu", 42)
    with pytest.raises(ConfigError):
        ControlPanel.for_mode("fast", gpu_available=False)
    with pytest.raises(ConfigError):
        ControlPanel(task="imagenet", gpu_available=False)


def test_gpu_is_refused_when_tensorflow_sees_none():
    panel = small_panel(gpu_available=False)
    assert panel.device.options[2] == ("gpu (none here)", "gpu")
    assert "No GPU" in panel.device_note.value
    panel.device.value = "gpu"
    assert panel.device.value == "auto"
    assert panel.message == GPU_REFUSED_SENTENCE
    preset = small_panel(device="gpu", gpu_available=False)
    assert preset.device.value == "auto" and preset.message == GPU_REFUSED_SENTENCE


def test_gpu_is_offered_when_tensorflow_sees_one():
    # Only the settings: no test ever runs on a GPU.
    panel = small_panel(gpu_available=True)
    panel.device.value = "gpu"
    assert panel.device.value == "gpu" and panel.device_note.value == ""
    assert panel.config().device == "gpu"


@pytest.mark.parametrize(("widget", "value", "words"), [
    ("epochs", 0, "epochs must be from 1"),
    ("seed", -1, "seed must be from 0"),
    ("repeats", 0, "repeats must be from 1"),
])
def test_a_bad_setting_is_one_sentence_and_keeps_the_results(monkeypatch, widget, value, words):
    runner = FakeRunner()
    monkeypatch.setattr(panel_module, "run_configs", runner)
    panel = small_panel()
    panel.run_button.click()
    kept = list(panel.results)
    table = panel.table.outputs
    getattr(panel, widget).value = value
    panel.run_button.click()
    assert panel.message.startswith("Not run: ") and words in panel.message
    assert_one_sentence(panel.message)
    assert len(runner.batches) == 1 and panel.results == kept and panel.table.outputs == table


# -- pressing Run, with a fake runner -----------------------------------------------------------

def test_a_second_press_while_running_is_refused(monkeypatch):
    gate = threading.Event()
    runner = FakeRunner(gate=gate)
    monkeypatch.setattr(panel_module, "run_configs", runner)
    panel = small_panel(background=True)
    panel.run_button.click()
    assert runner.started.wait(5) and panel.busy
    panel.run_button.click()
    assert panel.message == BUSY_SENTENCE
    panel.clear_button.click()
    assert panel.message == BUSY_SENTENCE
    gate.set()
    assert panel.wait(10)
    assert len(runner.batches) == 1 and len(panel.results) == 2 and panel.presses == 1
    assert panel.message.startswith("Press 1 done") and panel.progress.value == 2


def test_a_failed_run_keeps_what_finished(monkeypatch):
    monkeypatch.setattr(panel_module, "run_configs", FakeRunner())
    panel = small_panel(background=True)
    panel.run_button.click()
    assert panel.wait(10)
    failing = FakeRunner(fail=lambda done: RunError(
        "run 1 (seeded, seed 42) failed: the worker process stopped (exit code 1): out of memory", done))
    monkeypatch.setattr(panel_module, "run_configs", failing)
    panel.run_button.click()
    assert panel.wait(10) and not panel.busy
    assert panel.message.startswith("Press 2 failed after 1 of 2 runs: run 1 (seeded, seed 42) failed")
    assert_one_sentence(panel.message)
    assert [r.tag for r in panel.results] == ["press 1", "press 1", "press 2"]
    assert panel.progress.bar_style == "danger"
    assert "press 2" in panel.table.outputs[0]["data"]["text/html"]


def test_an_unexpected_error_ends_as_a_sentence(monkeypatch):
    failing = FakeRunner(fail=lambda done: ZeroDivisionError("division by zero"))
    monkeypatch.setattr(panel_module, "run_configs", failing)
    panel = small_panel(background=True)
    panel.run_button.click()
    assert panel.wait(10) and not panel.busy
    assert panel.message == "Press 1 stopped by an unexpected error (ZeroDivisionError): division by zero."
    assert len(panel.results) == 1  # the run reported before the error is kept
    panel.run_button.click()  # and the panel still works
    assert panel.wait(10) and len(panel.results) == 2


def test_clear_empties_everything(monkeypatch):
    monkeypatch.setattr(panel_module, "run_configs", FakeRunner())
    panel = small_panel()
    panel.run_button.click()
    assert len(panel.results) == 2 and panel.table.outputs and panel.plot.outputs
    panel.clear_button.click()
    assert panel.results == [] and panel.table.outputs == () and panel.plot.outputs == ()
    assert panel.progress.value == 0 and panel.message == "Cleared: no results yet."
    panel.run_button.click()
    assert [r.tag for r in panel.results] == ["press 2", "press 2"]


def test_the_panel_is_one_widget_with_findable_parts():
    panel = small_panel()
    assert panel.widget is not None and "repro-panel" in panel.widget._dom_classes
    assert "repro-run" in panel.run_button._dom_classes
    assert "repro-table" in panel.table._dom_classes and "repro-plot" in panel.plot._dom_classes
    assert panel.table.outputs == () and panel.plot.outputs == ()


# -- real runs in worker processes --------------------------------------------------------------

@pytest.fixture(scope="module")
def two_presses():
    """One panel pressed twice, seed on then seed off, with what it showed after each press."""
    panel = small_panel()
    panel.run_button.click()
    after_first = (list(panel.results), panel.table.outputs, panel.plot.outputs, panel.message)
    panel.seed_on.value = False
    panel.run_button.click()
    return panel, after_first


@pytest.mark.slow
def test_seed_on_gives_identical_weights(two_presses):
    _, (first, _, _, message) = two_presses
    assert len(first) == 2 and first[0].weights_sha256 == first[1].weights_sha256
    assert message == "Press 1 done: 2 runs of seeded, seed 42, identical weights."


@pytest.mark.slow
def test_seed_off_gives_different_weights(two_presses):
    panel, _ = two_presses
    unseeded = [r for r in panel.results if r.tag == "press 2"]
    assert len(unseeded) == 2 and unseeded[0].weights_sha256 != unseeded[1].weights_sha256
    assert all(r.config.seed is None for r in unseeded)


@pytest.mark.slow
def test_results_accumulate_and_the_outputs_are_redrawn(two_presses):
    panel, (first, table, plot, _) = two_presses
    assert panel.results[:2] == first and len(panel.results) == 4
    assert panel.table.outputs != table and panel.plot.outputs != plot
    html = panel.table.outputs[0]["data"]["text/html"]
    assert "press 1" in html and "press 2" in html
    assert panel.plot.outputs[0]["data"]["image/png"]
    assert panel.plot.outputs[0]["data"]["text/plain"] == "<accuracy plot of 4 runs>"


@pytest.mark.slow
def test_a_background_press_reports_progress():
    panel = small_panel(background=True, processes="fresh", repeats=2)
    panel.run_button.click()
    assert panel.busy
    assert panel.wait(300)  # a hang catcher: in CI this shares two cores with the test command
    assert panel.progress.value == panel.progress.max == 2 and panel.progress.bar_style == "success", panel.message
    assert {r.processes for r in panel.results} == {"fresh"}
    assert panel.message == "Press 1 done: 2 runs of seeded, seed 42, identical weights."


def test_stop_ends_a_press_and_keeps_the_finished_runs(monkeypatch):
    started = threading.Event()

    def runner(configs, *, processes, progress, on_result, tag, stop, **_):
        results = [fake_result(config, i, tag) for i, config in enumerate(configs)]
        on_result(1, len(configs), results[0])
        started.set()
        assert stop.wait(10), "Stop never reached the runner"
        raise RunInterrupted("stopped by the user", results[:1], len(configs))

    monkeypatch.setattr(panel_module, "run_configs", runner)
    panel = small_panel(background=True, repeats=3)
    panel.stop_button.click()
    assert panel.message == IDLE_STOP_SENTENCE
    panel.run_button.click()
    assert started.wait(10)
    panel.stop_button.click()
    assert panel.wait(10)
    assert panel.message == "Press 1 stopped: 1 of 3 runs had finished and are kept."
    assert len(panel.results) == 1 and panel.progress.bar_style == "warning" and not panel.busy
    assert_one_sentence(panel.message)
