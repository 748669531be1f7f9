"""The fingerprint's TensorFlow side, with the GPU listing faked (there is no GPU here, ever)."""

from __future__ import annotations

import pytest

tf = pytest.importorskip("tensorflow")

from helpers.machines import cpu, fingerprint  # noqa: E402
from tests.conftest import make_fingerprint  # noqa: E402


def test_a_gpu_is_recorded_with_its_model_and_compute_capability(monkeypatch: pytest.MonkeyPatch) -> None:
    gpu = tf.config.PhysicalDevice(name="/physical_device:GPU:0", device_type="GPU")
    real_list = tf.config.list_physical_devices
    monkeypatch.setattr(tf.config, "list_physical_devices",
                        lambda kind=None: [gpu] if kind == "GPU" else real_list(kind))
    monkeypatch.setattr(tf.config.experimental, "get_device_details",
                        lambda device: {"device_name": "Tesla T4", "compute_capability": (7, 5)})
    info = fingerprint.tensorflow_info()
    assert info["gpus"] == ["/physical_device:GPU:0"]
    assert info["gpu_models"] == ["Tesla T4 (compute 7.5)"]
    assert isinstance(info["tf32"], bool) and info["keras_backend"] == "tensorflow"
    rows = dict(fingerprint.fingerprint_table({**fingerprint.machine_fingerprint(), **info}))
    assert rows["GPUs"] == "Tesla T4 (compute 7.5)"


def test_a_gpu_whose_details_cannot_be_read_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    gpu = tf.config.PhysicalDevice(name="/physical_device:GPU:0", device_type="GPU")

    def refuse(device: object) -> dict:
        raise ValueError("no details for this device")

    monkeypatch.setattr(tf.config.experimental, "get_device_details", refuse)
    assert fingerprint._gpu_model(tf, gpu) == "unknown"


def test_without_a_gpu_the_machine_is_labelled_so() -> None:
    info = fingerprint.tensorflow_info()  # the real machine: no GPU
    assert info["gpus"] == [] and info["gpu_models"] == []
    assert "| no GPU |" in fingerprint.machine_label({**make_fingerprint(), **info})


def test_machine_keys_tell_machines_apart_by_what_changes_the_arithmetic() -> None:
    base = make_fingerprint()
    assert fingerprint.machine_key(base) == fingerprint.machine_key(make_fingerprint(colab=True))
    for change in ({"tensorflow": "2.20.0"}, {"env": {"ONEDNN_MAX_CPU_ISA": "AVX2"}}, {"intra_op_threads": 1},
                   {"gpus": ["/physical_device:GPU:0"]}, {"os": "Windows 10"}):
        assert fingerprint.machine_key(make_fingerprint(**change)) != fingerprint.machine_key(base), change
    assert cpu.best_instruction_set(base) == "AVX512F"
    assert cpu.best_instruction_set(make_fingerprint(cpu={"vector_flags": []})) == "?"
