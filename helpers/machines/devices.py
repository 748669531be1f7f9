"""Which devices TensorFlow sees, forcing the CPU, and choosing the GPU as article 004 does.

Two facts drive this module:

* ``CUDA_VISIBLE_DEVICES=-1`` (the article's Example 3) only works if it is set before
  TensorFlow initialises its devices. In a notebook that already ran TensorFlow it is too late,
  and setting it silently does nothing -- :func:`force_cpu_here` says so instead.
* Without a GPU, the default run and the CPU-forced run use the same hardware, so they cannot
  differ because of the device. Every summary here says that plainly.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

from helpers.core.config import ConfigError, RunConfig

NO_GPU_SENTENCE = (
    "No GPU: TensorFlow sees only the CPU, so the default and the CPU-forced runs use the same "
    "hardware here."
)


@dataclass(frozen=True)
class DeviceReport:
    """What TensorFlow sees in this process."""

    cpus: list[str]
    gpus: list[str]
    cpu_forced: bool
    memory_growth: dict[str, bool] = field(default_factory=dict)
    tf32_enabled: bool | None = None

    @property
    def has_gpu(self) -> bool:
        return bool(self.gpus)

    def summary(self) -> str:
        lines = [f"CPUs seen by TensorFlow: {', '.join(self.cpus) or 'none'}"]
        if self.gpus:
            lines.append(f"GPUs seen by TensorFlow: {', '.join(self.gpus)}")
            for name, growth in self.memory_growth.items():
                lines.append(f"  memory growth on {name}: {'on' if growth else 'off'}")
            lines.append(f"TensorFloat-32 on GPU matmuls: {'on' if self.tf32_enabled else 'off'}")
        elif self.cpu_forced:
            lines.append("GPUs seen by TensorFlow: none (hidden by CUDA_VISIBLE_DEVICES=-1)")
        else:
            lines.append("GPUs seen by TensorFlow: none")
            lines.append(NO_GPU_SENTENCE)
        return "\n".join(lines)


def cpu_forced_by_environment() -> bool:
    return os.environ.get("CUDA_VISIBLE_DEVICES", "").strip() == "-1"


def device_report() -> DeviceReport:
    """List the physical devices TensorFlow sees (this initialises TensorFlow's devices)."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    growth: dict[str, bool] = {}
    for gpu in gpus:
        try:
            growth[gpu.name] = bool(tf.config.experimental.get_memory_growth(gpu))
        except (ValueError, RuntimeError):
            growth[gpu.name] = False
    return DeviceReport(
        cpus=[d.name for d in tf.config.list_physical_devices("CPU")],
        gpus=[g.name for g in gpus],
        cpu_forced=cpu_forced_by_environment(),
        memory_growth=growth,
        tf32_enabled=bool(tf.config.experimental.tensor_float_32_execution_enabled()),
    )


def select_gpu(memory_growth: bool = True) -> str | None:
    """Article 004, Example 1: use the first GPU with memory growth, or say the CPU is used.

    Memory growth matters more here than in the article: the runner may start several worker
    processes on one GPU, and without it the first would take all the GPU's memory.
    Returns the chosen GPU's name, or None when TensorFlow sees no GPU.
    """
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        print("Using CPU for TensorFlow operations.")
        return None
    try:
        tf.config.set_visible_devices(gpus[0], "GPU")
        if memory_growth:
            tf.config.experimental.set_memory_growth(gpus[0], True)
    except RuntimeError:
        # A re-run cell, or TensorFlow used earlier in this kernel: the settings are fixed now.
        print("TensorFlow already set up its GPU in this kernel, so its device settings stay as they are; "
              "restart the runtime to change them.")
    return gpus[0].name


def configure_worker_devices(config: RunConfig) -> str | None:
    """Device set-up at the start of a worker process, before any model is built."""
    if config.device == "cpu":
        return None  # hidden already: the runner set CUDA_VISIBLE_DEVICES=-1 before start-up
    import tensorflow as tf

    if config.device == "gpu" and not tf.config.list_physical_devices("GPU"):
        raise ConfigError("device gpu was asked for but TensorFlow sees no GPU; choose auto or cpu.")
    return select_gpu(memory_growth=True)


def device_environment(config: RunConfig) -> dict[str, str | None]:
    """Environment for a worker: hide the GPU for CPU-forced runs, exactly as Example 3 does."""
    return {"CUDA_VISIBLE_DEVICES": "-1" if config.device == "cpu" else None}


TOO_LATE_WITH_GPU = (
    "Too late to force the CPU: TensorFlow already created its devices, a GPU among them, in this kernel; "
    "restart the runtime and force the CPU before anything imports TensorFlow."
)
TOO_LATE_NO_GPU = (
    "Too late to force the CPU: TensorFlow already created its devices in this kernel; it uses only the CPU "
    "anyway, because it sees no GPU here."
)


def tensorflow_devices_created() -> bool:
    """Whether TensorFlow has created its devices in this process, found out without creating them.

    TensorFlow creates them at the first operation (or when logical devices are listed); from
    then on ``tf.config.set_visible_devices`` refuses any change. Its test for that is whether
    the eager context has a handle, read here directly: every public way of asking
    (``tf.config.list_logical_devices``) would create the devices itself.
    """
    if "tensorflow" not in sys.modules:
        return False
    from tensorflow.python.eager import context

    ctx = context.context_safe()
    if ctx is None:
        return False
    if not hasattr(ctx, "_context_handle"):
        raise RuntimeError(
            "this TensorFlow version does not show whether it has created its devices; force the CPU in a "
            "worker process instead (RunConfig(device=\"cpu\"))."
        )
    return ctx._context_handle is not None


@dataclass(frozen=True)
class ForceCpuOutcome:
    """What :func:`force_cpu_here` managed to do in this kernel.

    ``effective``: TensorFlow here uses only the CPU. ``too_late``: TensorFlow had already
    created its devices, so hiding a GPU was no longer possible.
    """

    effective: bool
    message: str
    too_late: bool = False


def force_cpu_here() -> ForceCpuOutcome:
    """Hide GPUs from TensorFlow in *this* process, the article's way, and say if it is too late.

    Four cases: TensorFlow's devices not created yet (the CPU is forced, GPU or not) or created
    already, with a GPU (too late, the GPU stays) or without (too late, but only the CPU is
    used anyway). When it is too late the environment is left alone, so nothing later reads
    ``CUDA_VISIBLE_DEVICES=-1`` as proof that the CPU was forced.
    """
    if "tensorflow" not in sys.modules:
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
        return ForceCpuOutcome(
            True, "CUDA_VISIBLE_DEVICES=-1 is set before TensorFlow starts: it will see only the CPU."
        )
    import tensorflow as tf

    if not tensorflow_devices_created():
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
        # The variable alone would miss a CUDA that an earlier device listing initialised already.
        tf.config.set_visible_devices([], "GPU")
        return ForceCpuOutcome(True, "TensorFlow has not created its devices yet: it will see only the CPU.")
    # The devices exist, so listing them creates nothing new.
    if tf.config.list_logical_devices("GPU"):
        return ForceCpuOutcome(False, TOO_LATE_WITH_GPU, too_late=True)
    return ForceCpuOutcome(True, TOO_LATE_NO_GPU, too_late=True)


def describe_tensor_device(device_string: str) -> str:
    """'/job:localhost/replica:0/task:0/device:CPU:0' -> 'CPU:0'."""
    marker = "device:"
    return device_string.split(marker, 1)[1] if marker in device_string else (device_string or "unknown")


def force_cpu_in_a_new_script() -> ForceCpuOutcome:
    """:func:`force_cpu_here` where the article's Example 3 calls it: a new Python process, right after
    ``import tensorflow`` and before any operation (a fresh script; the answer comes back from there)."""
    import json
    import subprocess

    code = ("import json, tensorflow\n"
            "from helpers.machines.devices import force_cpu_here\n"
            "outcome = force_cpu_here()\n"
            "print(json.dumps([outcome.effective, outcome.message, outcome.too_late]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    if done.returncode != 0:
        last = next((line for line in reversed(done.stderr.splitlines()) if line.strip()), "no message")
        raise RuntimeError(f"the new script could not start TensorFlow: {last.strip()}")
    effective, message, too_late = json.loads(done.stdout.strip().splitlines()[-1])
    return ForceCpuOutcome(effective, message, too_late)
