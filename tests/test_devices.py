"""Device handling, with TensorFlow's device listing faked: there is no GPU here, ever.

The GPU paths (article 004's Example 1: pick the first GPU, turn on memory growth; TF32
report; forcing the CPU too late) run against a fake ``tf.config`` that claims a GPU.
"""

from __future__ import annotations

import os
import sys

import pytest

tf = pytest.importorskip("tensorflow")

from helpers import devices  # noqa: E402
from helpers.config import ConfigError, RunConfig  # noqa: E402


class FakeGpuConfig:
    """Stands in for the parts of tf.config the lab touches, with one GPU present."""

    def __init__(self, initialised: bool = False) -> None:
        self.gpu = tf.config.PhysicalDevice(name="/physical_device:GPU:0", device_type="GPU")
        self.cpu = tf.config.PhysicalDevice(name="/physical_device:CPU:0", device_type="CPU")
        self.visible: list = []
        self.growth: dict[str, bool] = {}
        self.initialised = initialised

    def list_physical_devices(self, kind: str | None = None) -> list:
        return {"GPU": [self.gpu], "CPU": [self.cpu]}.get(kind, [self.cpu, self.gpu])

    def list_logical_devices(self, kind: str | None = None) -> list:
        return ["/device:GPU:0"] if kind == "GPU" else ["/device:CPU:0"]

    def set_visible_devices(self, devices_: object, kind: str | None = None) -> None:
        if self.initialised:
            raise RuntimeError("Visible devices cannot be modified after being initialized")
        self.visible.append((devices_, kind))


@pytest.fixture
def fake_gpu(monkeypatch: pytest.MonkeyPatch) -> FakeGpuConfig:
    fake = FakeGpuConfig()
    monkeypatch.setattr(tf.config, "list_physical_devices", fake.list_physical_devices)
    monkeypatch.setattr(tf.config, "list_logical_devices", fake.list_logical_devices)
    monkeypatch.setattr(tf.config, "set_visible_devices", fake.set_visible_devices)
    monkeypatch.setattr(tf.config.experimental, "set_memory_growth",
                        lambda d, on: fake.growth.__setitem__(d.name, on))
    monkeypatch.setattr(tf.config.experimental, "get_memory_growth", lambda d: fake.growth.get(d.name, False))
    monkeypatch.setattr(tf.config.experimental, "tensor_float_32_execution_enabled", lambda: True)
    return fake


def test_select_gpu_follows_article_004(fake_gpu: FakeGpuConfig) -> None:
    assert devices.select_gpu() == "/physical_device:GPU:0"
    assert fake_gpu.visible == [(fake_gpu.gpu, "GPU")]
    assert fake_gpu.growth == {"/physical_device:GPU:0": True}


def test_select_gpu_again_after_start_up_keeps_the_kernel_usable(
    fake_gpu: FakeGpuConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_gpu.initialised = True
    assert devices.select_gpu() == "/physical_device:GPU:0"
    assert "restart the runtime to change them" in capsys.readouterr().out


def test_report_with_a_gpu_names_it_with_growth_and_tf32(fake_gpu: FakeGpuConfig) -> None:
    devices.select_gpu()
    report = devices.device_report()
    assert report.has_gpu
    text = report.summary()
    assert "GPUs seen by TensorFlow: /physical_device:GPU:0" in text
    assert "memory growth on /physical_device:GPU:0: on" in text
    assert "TensorFloat-32 on GPU matmuls: on" in text
    assert devices.NO_GPU_SENTENCE not in text


def test_worker_device_setup_uses_the_gpu_for_auto_and_gpu(fake_gpu: FakeGpuConfig) -> None:
    assert devices.configure_worker_devices(RunConfig(device="gpu")) == "/physical_device:GPU:0"
    assert devices.configure_worker_devices(RunConfig(device="auto")) == "/physical_device:GPU:0"
    assert devices.configure_worker_devices(RunConfig(device="cpu")) is None


def test_forcing_the_cpu_too_late_says_so(fake_gpu: FakeGpuConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    fake_gpu.initialised = True
    outcome = devices.force_cpu_here()
    assert not outcome.effective
    assert outcome.message.startswith("Too late to force the CPU")
    assert "restart the runtime" in outcome.message


def test_forcing_the_cpu_in_time_hides_the_gpu(fake_gpu: FakeGpuConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    outcome = devices.force_cpu_here()
    assert outcome.effective
    assert fake_gpu.visible == [([], "GPU")]
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "-1"


def test_forcing_the_cpu_before_tensorflow_is_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.delitem(sys.modules, "tensorflow")
    outcome = devices.force_cpu_here()
    assert outcome.effective and "before TensorFlow starts" in outcome.message


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
