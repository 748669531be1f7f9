"""Device handling, with TensorFlow's device listing faked: there is no GPU here, ever.

The GPU paths (article 004's Example 1: pick the first GPU, turn on memory growth; TF32
report; forcing the CPU too late) run against a fake ``tf.config`` that claims a GPU. The fake
follows TensorFlow's own rules (tensorflow/python/eager/context.py): once the devices exist,
``set_visible_devices`` and ``set_memory_growth`` refuse a *change* and accept a repeat, and
listing logical devices creates the devices. The no-GPU cases also run against real TensorFlow
in fresh processes, so the fake cannot drift from the real thing unnoticed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

tf = pytest.importorskip("tensorflow")

from tensorflow.python.eager import context as tf_context  # noqa: E402

from helpers.core.config import ConfigError, RunConfig  # noqa: E402
from helpers.machines import devices  # noqa: E402
from helpers.views import panel  # noqa: E402
from tests.conftest import REPO  # noqa: E402

GPU_NAME = "/physical_device:GPU:0"
IN_TIME = "TensorFlow has not created its devices yet: it will see only the CPU."


class FakeTensorFlow:
    """The parts of tf.config the lab touches, and the eager context's "devices exist" state.

    ``gpus`` physical GPUs (0 or 1). Like TensorFlow, it refuses to change visible devices or
    memory growth once the devices exist, but accepts a call that changes nothing; and asking
    for logical devices creates them.
    """

    def __init__(self, gpus: int = 1, initialised: bool = False) -> None:
        self.cpu = tf.config.PhysicalDevice(name="/physical_device:CPU:0", device_type="CPU")
        self.gpus = [tf.config.PhysicalDevice(name=f"/physical_device:GPU:{i}", device_type="GPU")
                     for i in range(gpus)]
        self.physical = [self.cpu, *self.gpus]
        self.visible = list(self.physical)
        self.growth: dict[str, bool | None] = {g.name: None for g in self.gpus}
        self.calls: list[tuple[str, object]] = []
        self.initialised = initialised

    # The eager context: TensorFlow's own test is whether it has a handle yet.
    @property
    def _context_handle(self) -> object | None:
        return object() if self.initialised else None

    def list_physical_devices(self, kind: str | None = None) -> list:
        return [d for d in self.physical if kind is None or d.device_type == kind]

    def list_logical_devices(self, kind: str | None = None) -> list:
        self.initialised = True  # as in TensorFlow: listing logical devices creates them
        return [tf.config.LogicalDevice(name=d.name.replace("physical_device", "device"), device_type=d.device_type)
                for d in self.visible if kind is None or d.device_type == kind]

    def set_visible_devices(self, devices_: object, kind: str | None = None) -> None:
        self.calls.append(("set_visible_devices", (devices_, kind)))
        chosen = devices_ if isinstance(devices_, list) else [devices_]
        for device in chosen:
            if device not in self.physical or (kind is not None and device.device_type != kind):
                raise ValueError(f"Unrecognized device: {device!r}")
        wanted = [d for d in self.visible if kind is not None and d.device_type != kind] + chosen
        if wanted == self.visible:
            return
        if self.initialised:
            raise RuntimeError("Visible devices cannot be modified after being initialized")
        self.visible = wanted

    def set_memory_growth(self, device: object, enable: bool) -> None:
        self.calls.append(("set_memory_growth", (device, enable)))
        if device not in self.gpus:
            raise ValueError("Cannot set memory growth on non-GPU and non-Pluggable devices")
        if self.growth[device.name] == enable:
            return
        if self.initialised:
            raise RuntimeError("Physical devices cannot be modified after being initialized")
        self.growth[device.name] = enable

    def get_memory_growth(self, device: object) -> bool | None:
        return self.growth[device.name]


def install(monkeypatch: pytest.MonkeyPatch, fake: FakeTensorFlow) -> FakeTensorFlow:
    monkeypatch.setattr(tf_context, "context_safe", lambda: fake)
    monkeypatch.setattr(tf.config, "list_physical_devices", fake.list_physical_devices)
    monkeypatch.setattr(tf.config, "list_logical_devices", fake.list_logical_devices)
    monkeypatch.setattr(tf.config, "set_visible_devices", fake.set_visible_devices)
    monkeypatch.setattr(tf.config.experimental, "set_memory_growth", fake.set_memory_growth)
    monkeypatch.setattr(tf.config.experimental, "get_memory_growth", fake.get_memory_growth)
    monkeypatch.setattr(tf.config.experimental, "tensor_float_32_execution_enabled", lambda: True)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    return fake


@pytest.fixture
def fake_gpu(monkeypatch: pytest.MonkeyPatch) -> FakeTensorFlow:
    return install(monkeypatch, FakeTensorFlow(gpus=1))


@pytest.fixture
def fake_no_gpu(monkeypatch: pytest.MonkeyPatch) -> FakeTensorFlow:
    return install(monkeypatch, FakeTensorFlow(gpus=0))


# --------------------------------------------------------------------------- the fake itself


def test_the_fake_refuses_only_what_tensorflow_refuses() -> None:
    fake = FakeTensorFlow(gpus=1)
    fake.set_visible_devices([], "GPU")  # before start-up: allowed
    assert fake.visible == [fake.cpu]
    assert fake.list_logical_devices("GPU") == [] and fake.initialised
    fake.set_visible_devices([], "GPU")  # a repeat after start-up changes nothing: allowed
    with pytest.raises(RuntimeError, match="cannot be modified after being initialized"):
        fake.set_visible_devices(fake.gpus, "GPU")
    late = FakeTensorFlow(gpus=1, initialised=True)
    late.set_visible_devices(late.gpus[0], "GPU")  # already the visible list
    with pytest.raises(RuntimeError, match="cannot be modified after being initialized"):
        late.set_memory_growth(late.gpus[0], True)
    no_gpu = FakeTensorFlow(gpus=0, initialised=True)
    no_gpu.set_visible_devices([], "GPU")  # nothing to hide, so nothing changes and nothing is refused


# --------------------------------------------------------------------------- article 004's GPU choice


def test_select_gpu_follows_article_004(fake_gpu: FakeTensorFlow) -> None:
    assert devices.select_gpu() == GPU_NAME
    assert fake_gpu.calls == [("set_visible_devices", (fake_gpu.gpus[0], "GPU")),
                              ("set_memory_growth", (fake_gpu.gpus[0], True))]
    assert fake_gpu.growth == {GPU_NAME: True}


def test_select_gpu_again_after_start_up_keeps_the_kernel_usable(
    fake_gpu: FakeTensorFlow, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_gpu.initialised = True  # memory growth can no longer change: TensorFlow refuses
    assert devices.select_gpu() == GPU_NAME
    assert "restart the runtime to change them" in capsys.readouterr().out
    assert fake_gpu.growth == {GPU_NAME: None}


def test_select_gpu_re_run_after_start_up_changes_nothing_and_says_nothing(
    fake_gpu: FakeTensorFlow, capsys: pytest.CaptureFixture[str]
) -> None:
    devices.select_gpu()
    fake_gpu.initialised = True
    assert devices.select_gpu() == GPU_NAME  # same settings again: TensorFlow accepts a repeat
    assert capsys.readouterr().out == ""


def test_report_with_a_gpu_names_it_with_growth_and_tf32(fake_gpu: FakeTensorFlow) -> None:
    devices.select_gpu()
    report = devices.device_report()
    assert report.has_gpu
    text = report.summary()
    assert f"GPUs seen by TensorFlow: {GPU_NAME}" in text
    assert f"memory growth on {GPU_NAME}: on" in text
    assert "TensorFloat-32 on GPU matmuls: on" in text
    assert devices.NO_GPU_SENTENCE not in text


def test_worker_device_setup_uses_the_gpu_for_auto_and_gpu(fake_gpu: FakeTensorFlow) -> None:
    assert devices.configure_worker_devices(RunConfig(device="gpu")) == GPU_NAME
    assert devices.configure_worker_devices(RunConfig(device="auto")) == GPU_NAME
    assert devices.configure_worker_devices(RunConfig(device="cpu")) is None


# --------------------------------------------------------------------------- forcing the CPU: four cases


def test_forcing_the_cpu_in_time_with_a_gpu_hides_it(fake_gpu: FakeTensorFlow) -> None:
    outcome = devices.force_cpu_here()
    assert (outcome.effective, outcome.too_late, outcome.message) == (True, False, IN_TIME)
    assert fake_gpu.visible == [fake_gpu.cpu]
    assert fake_gpu.list_logical_devices("GPU") == []
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "-1"


def test_forcing_the_cpu_in_time_without_a_gpu(fake_no_gpu: FakeTensorFlow) -> None:
    outcome = devices.force_cpu_here()
    assert (outcome.effective, outcome.too_late, outcome.message) == (True, False, IN_TIME)
    assert not fake_no_gpu.initialised, "forcing the CPU must not create TensorFlow's devices itself"
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "-1"


def test_forcing_the_cpu_too_late_with_a_gpu_says_so(fake_gpu: FakeTensorFlow) -> None:
    fake_gpu.initialised = True
    outcome = devices.force_cpu_here()
    assert (outcome.effective, outcome.too_late) == (False, True)
    assert outcome.message.startswith("Too late to force the CPU")
    assert "restart the runtime" in outcome.message
    assert fake_gpu.list_logical_devices("GPU")  # the GPU is still there
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "", "a variable that did nothing must not claim the CPU is forced"


def test_forcing_the_cpu_too_late_without_a_gpu_says_it_is_too_late(fake_no_gpu: FakeTensorFlow) -> None:
    """The notebook's case: TensorFlow started on a machine with no GPU. Not "in time"."""
    fake_no_gpu.initialised = True
    outcome = devices.force_cpu_here()
    assert "not created its devices yet" not in outcome.message
    assert outcome.message == devices.TOO_LATE_NO_GPU
    assert (outcome.effective, outcome.too_late) == (True, True)
    assert os.environ["CUDA_VISIBLE_DEVICES"] == ""
    assert not devices.device_report().cpu_forced


def test_forcing_the_cpu_before_tensorflow_is_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.delitem(sys.modules, "tensorflow")
    outcome = devices.force_cpu_here()
    assert outcome.effective and not outcome.too_late and "before TensorFlow starts" in outcome.message
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "-1"


# Real TensorFlow, no GPU, in a fresh process: before and after it creates its devices.
REAL_NO_GPU = textwrap.dedent("""
    import json, os, sys
    os.environ.pop("CUDA_VISIBLE_DEVICES", None)
    import tensorflow as tf
    from helpers.machines import devices
    seen = {"after import": devices.tensorflow_devices_created()}
    tf.config.list_physical_devices("GPU")  # physical devices only: creates nothing
    seen["after listing physical devices"] = devices.tensorflow_devices_created()
    if sys.argv[1] == "after":
        tf.constant(1.0)
        seen["after tf.constant"] = devices.tensorflow_devices_created()
    outcome = devices.force_cpu_here()
    seen["after force_cpu_here"] = devices.tensorflow_devices_created()
    tf.constant(1.0)
    print(json.dumps({"seen": seen, "effective": outcome.effective, "too_late": outcome.too_late,
                      "message": outcome.message, "env": os.environ.get("CUDA_VISIBLE_DEVICES"),
                      "gpus": [d.name for d in tf.config.list_logical_devices("GPU")]}))
""")


def run_real(when: str) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", REAL_NO_GPU, when], capture_output=True, text=True,
                          timeout=180, cwd=REPO, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_real_tensorflow_without_a_gpu_before_start_up() -> None:
    got = run_real("before")
    assert got["seen"] == {"after import": False, "after listing physical devices": False,
                           "after force_cpu_here": False}
    assert (got["effective"], got["too_late"], got["message"]) == (True, False, IN_TIME)
    assert got["env"] == "-1" and got["gpus"] == []


@pytest.mark.slow
def test_real_tensorflow_without_a_gpu_after_start_up() -> None:
    got = run_real("after")
    assert got["seen"] == {"after import": False, "after listing physical devices": False,
                           "after tf.constant": True, "after force_cpu_here": True}
    assert (got["effective"], got["too_late"], got["message"]) == (True, True, devices.TOO_LATE_NO_GPU)
    assert got["env"] is None and got["gpus"] == []


# --------------------------------------------------------------------------- the control panel's question


def test_panel_gpu_detection_error_is_an_error_not_no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> devices.DeviceReport:
        raise ImportError("libcudart.so.12: cannot open shared object file")

    monkeypatch.setattr(panel, "device_report", broken)
    panel.tensorflow_sees_gpu.cache_clear()
    try:
        with pytest.raises(panel.GpuDetectionError) as caught:
            panel.tensorflow_sees_gpu()
        sentence = str(caught.value)
        assert "libcudart.so.12" in sentence and "\n" not in sentence and sentence.endswith(".")
        built = panel.ControlPanel(epochs=2, repeats=2, background=False)
        assert built.message == sentence  # the reader sees it at once, in the status line
        assert built.device.options[2] == ("gpu (unknown)", "gpu")
        assert devices.NO_GPU_SENTENCE not in built.device_note.value
        assert "libcudart.so.12" in built.device_note.value
        built.device.value = "gpu"
        assert built.device.value == "auto" and built.message == f"Device gpu is not available: {sentence}"
    finally:
        panel.tensorflow_sees_gpu.cache_clear()


def test_panel_asks_tensorflow_once_and_believes_a_clean_no(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[int] = []

    def no_gpu() -> devices.DeviceReport:
        asked.append(1)
        return devices.DeviceReport(cpus=["/physical_device:CPU:0"], gpus=[], cpu_forced=False)

    monkeypatch.setattr(panel, "device_report", no_gpu)
    panel.tensorflow_sees_gpu.cache_clear()
    try:
        assert panel.tensorflow_sees_gpu() is False
        assert panel.tensorflow_sees_gpu() is False
        assert asked == [1]
    finally:
        panel.tensorflow_sees_gpu.cache_clear()


# --------------------------------------------------------------------------- the real machine


def test_no_gpu_here_is_said_plainly() -> None:
    report = devices.device_report()  # the real machine: no GPU, ever
    assert not report.has_gpu
    assert devices.NO_GPU_SENTENCE in report.summary()
    with pytest.raises(ConfigError, match="TensorFlow sees no GPU"):
        devices.configure_worker_devices(RunConfig(device="gpu"))


def test_cpu_forced_runs_hide_the_gpu_before_tensorflow_starts() -> None:
    assert devices.device_environment(RunConfig.for_mode("cpu")) == {"CUDA_VISIBLE_DEVICES": "-1"}
    assert devices.device_environment(RunConfig.for_mode("seeded")) == {"CUDA_VISIBLE_DEVICES": None}


def test_tensor_device_names_are_shortened() -> None:
    assert devices.describe_tensor_device("/job:localhost/replica:0/task:0/device:GPU:0") == "GPU:0"
    assert devices.describe_tensor_device("") == "unknown"
