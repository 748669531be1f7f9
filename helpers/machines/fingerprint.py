"""The environment fingerprint: everything about a machine that can change a run's numbers.

Two runs with the same seed can only be compared once you know what differed between them:
the CPU and its vector instructions (oneDNN picks different kernels for AVX2 and AVX-512),
the library versions, the CUDA/cuDNN build, the GPU, the thread settings, whether it is Colab,
and -- under ``effective`` -- what TensorFlow and Keras really did: oneDNN on or off and why, the
instruction set oneDNN dispatched to, XLA as the model resolved it (:mod:`helpers.machines.effective`).
Cards of format version 2 and older recorded none of that; :func:`effective_settings` infers it
from what they did record, and says so.
"""

from __future__ import annotations

import functools
import os
import platform
import sys
from typing import Any

from helpers.machines.cpu import best_instruction_set, cpu_info
from helpers.machines.effective import onednn_block, this_process
from helpers.machines.software import cuda_found, environment_info, keras_identity

# Environment variables that change TensorFlow's numerics or threading.
ENV_KEYS = (
    "TF_ENABLE_ONEDNN_OPTS", "ONEDNN_MAX_CPU_ISA", "TF_DETERMINISTIC_OPS", "CUDA_VISIBLE_DEVICES",
    "OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "PYTHONHASHSEED",
)


def installed_tensorflow() -> str | None:
    """TensorFlow's version as installed in this environment, read without importing it."""
    from importlib import metadata

    for name in ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tensorflow-intel"):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def in_colab() -> bool:
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def tensorflow_info() -> dict[str, Any]:
    """TensorFlow side of the fingerprint; imports TensorFlow."""
    import tensorflow as tf
    from tensorflow import keras  # the Keras the runs use: Keras 3, tf.keras (Keras 2) or tf_keras

    build = dict(tf.sysconfig.get_build_info())
    gpus = tf.config.list_physical_devices("GPU")
    return {
        "tensorflow": tf.__version__,
        **keras_identity(keras),
        "cuda_build": bool(build.get("is_cuda_build", False)),
        "cuda_version": build.get("cuda_version"),
        "cudnn_version": build.get("cudnn_version"),
        "gpus": [d.name for d in gpus],
        "gpu_models": [_gpu_model(tf, gpu) for gpu in gpus],
        # What really loaded, beside what TensorFlow was built for (only where a GPU makes it matter).
        "cuda_found": cuda_found(build) if gpus else None,
        "tf32": bool(tf.config.experimental.tensor_float_32_execution_enabled()),
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "op_determinism": _op_determinism_enabled(tf),
    }


def _gpu_model(tf: Any, gpu: Any) -> str:
    """'Tesla T4 (compute 7.5)': which GPU, since two GPUs of one name give the same bits far more often."""
    try:
        details = tf.config.experimental.get_device_details(gpu)
    except (ValueError, RuntimeError, AttributeError):
        return "unknown"
    name = details.get("device_name", "unknown")
    capability = details.get("compute_capability")
    return f"{name} (compute {capability[0]}.{capability[1]})" if capability else name


def _op_determinism_enabled(tf: Any) -> bool | None:
    try:
        from tensorflow.python.framework import config as tf_config

        return bool(tf_config.is_op_determinism_enabled())
    except (ImportError, AttributeError):
        return None


@functools.lru_cache(maxsize=1)
def machine_fingerprint() -> dict[str, Any]:
    """What is the same for every process on this machine (the CPU probe takes about a second,
    so the runner takes it once and adds it to every worker's result)."""
    return {
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "platform": platform.platform(),
        "cpu": cpu_info(),
        "colab": in_colab(),
    }


def process_fingerprint() -> dict[str, Any]:
    """What can differ between processes: library versions, environment, TensorFlow settings."""
    import numpy as np

    data: dict[str, Any] = {
        "python": platform.python_version(),  # this process's: the runner may start workers in another Python
        "numpy": np.__version__,
        "environment": environment_info(),
        "env": {key: os.environ.get(key) for key in ENV_KEYS},
    }
    data.update(tensorflow_info())
    flags = cpu_info().get("vector_flags") or []
    data["effective"] = {**this_process(data["tensorflow"], flags), "tf32": data["tf32"],
                         "op_determinism": data["op_determinism"]}
    return data


def effective_settings(fingerprint: dict[str, Any], jit_compile: bool | None = None) -> dict[str, Any]:
    """What ran, for any run: as recorded (cards of format 3), else inferred from the CPU flags, the OS,
    the TensorFlow version and the variables the fingerprint holds, with ``onednn_from``/``isa_from``
    saying "inferred"/"predicted". ``jit_compile`` fills XLA where the run did not record it."""
    recorded = dict(fingerprint.get("effective") or {})
    if "onednn_enabled" not in recorded:
        cpu = fingerprint.get("cpu") or {}
        system = str(fingerprint.get("os") or "").split(" ", 1)[0]
        env = dict(fingerprint.get("env") or {})
        recorded.update(onednn_block(system, str(cpu.get("arch") or ""), fingerprint.get("tensorflow"),
                                     list(cpu.get("vector_flags") or []), env))
    recorded.setdefault("jit_compile", jit_compile)
    recorded.setdefault("tf32", fingerprint.get("tf32"))
    recorded.setdefault("op_determinism", fingerprint.get("op_determinism"))
    return recorded


def onednn_words(settings: dict[str, Any]) -> str:
    """'on (this CPU has AVX-512 VNNI)', 'off (TF_ENABLE_ONEDNN_OPTS=0)', 'unknown (...)'."""
    state = {True: "on", False: "off"}.get(settings.get("onednn_enabled"), "unknown")
    inferred = ", inferred" if settings.get("onednn_from") == "inferred" else ""
    return f"{state} ({settings.get('onednn_why', 'not recorded')}{inferred})"


def isa_words(settings: dict[str, Any]) -> str:
    """'AVX512_CORE_VNNI', 'SSE41 (capped by ONEDNN_MAX_CPU_ISA=SSE41)', with '(predicted)' where not reported."""
    isa = settings.get("isa") or "unknown"
    notes = []
    if settings.get("isa_cap"):
        notes.append(f"capped by ONEDNN_MAX_CPU_ISA={settings['isa_cap']}")
    if settings.get("isa_from") == "predicted" and settings.get("isa"):
        notes.append("predicted")
    return f"{isa} ({', '.join(notes)})" if notes else isa


def fingerprint() -> dict[str, Any]:
    """The whole fingerprint of this process's environment, as plain JSON-ready values."""
    return {**machine_fingerprint(), **process_fingerprint()}


def fingerprint_table(data: dict[str, Any]) -> list[tuple[str, str]]:
    """The fingerprint as (what, value) rows for printing or a DataFrame."""
    cpu = data.get("cpu", {})
    settings = effective_settings(data)
    rows = [
        ("Python", data.get("python")),
        ("OS", data.get("platform")),
        ("CPU", cpu.get("model")),
        ("CPU vector instructions", " ".join(cpu.get("vector_flags", [])) or "unknown"),
        ("Logical cores", cpu.get("logical_cores")),
        ("TensorFlow", data.get("tensorflow")),
        ("Keras", f"{data.get('keras')} ({data.get('keras_kind', 'Keras ' + str(data.get('keras'))[:1])}, "
                  f"backend {data.get('keras_backend', 'tensorflow')})"),
        ("NumPy", data.get("numpy")),
        ("CUDA build", f"{data.get('cuda_build')} "
                       f"(CUDA {data.get('cuda_version')}, cuDNN {data.get('cudnn_version')})"),
        ("CUDA / cuDNN found", _found_row(data.get("cuda_found"))),
        ("GPUs", ", ".join(data.get("gpu_models") or data.get("gpus", [])) or "none: TensorFlow sees only the CPU"),
        ("TensorFloat-32 on GPU matmuls", data.get("tf32")),
        ("oneDNN's custom operations", onednn_words(settings)),
        ("Instruction set oneDNN uses", isa_words(settings)),
        ("Threads (intra-op / inter-op, 0 = TF default)",
         f"{data.get('intra_op_threads')} / {data.get('inter_op_threads')}"),
        ("Op determinism", data.get("op_determinism")),
        ("Colab", data.get("colab")),
        ("Environment", _environment_row(data.get("environment"))),
    ]
    return [(what, str(value)) for what, value in rows]


def _found_row(found: dict[str, Any] | None) -> str:
    if not found:
        return "not read (no GPU)"
    return (f"CUDA runtime {found.get('cuda_runtime') or '?'}, cuDNN {found.get('cudnn') or '?'}, "
            f"driver {found.get('driver') or '?'} (CUDA {found.get('cuda_driver_api') or '?'})")


def _environment_row(environment: dict[str, Any] | None) -> str:
    if not environment:
        return "not recorded"
    return (f"{environment.get('kind')} ({environment.get('manager')}; the lab installed: "
            f"{environment.get('lab_installed')})")


def machine_label(fingerprint: dict[str, Any]) -> str:
    """What a run's numbers depend on, as one short label (two equal labels: same arithmetic)."""
    cpu = fingerprint.get("cpu") or {}
    gpus = fingerprint.get("gpu_models") or [g.replace("/physical_device:", "") for g in fingerprint.get("gpus") or []]
    settings = effective_settings(fingerprint)
    parts = [
        str(cpu.get("model", "unknown CPU")),
        best_instruction_set(fingerprint),
        f"TF {fingerprint.get('tensorflow', '?')}",
        ", ".join(gpus) or "no GPU",
        f"oneDNN {({True: 'on', False: 'off'}).get(settings.get('onednn_enabled'), '?')}",
    ]
    if settings.get("isa_cap"):
        parts.append(f"oneDNN at {settings.get('isa') or '?'}")
    if fingerprint.get("op_determinism"):
        parts.append("op determinism")
    return " | ".join(parts)


# Fingerprint fields that can change a run's arithmetic; equal values make runs "the same machine".
ARITHMETIC_FIELDS = ("python", "os", "numpy", "tensorflow", "keras", "keras_backend", "cuda_version",
                     "cudnn_version", "op_determinism")
ARITHMETIC_ENV = ("ONEDNN_MAX_CPU_ISA", "TF_ENABLE_ONEDNN_OPTS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS",
                  "OMP_NUM_THREADS", "TF_DETERMINISTIC_OPS")


def machine_key(fingerprint: dict[str, Any]) -> str:
    """Everything recorded that can change the arithmetic, as one string: equal keys, same machine."""
    cpu = fingerprint.get("cpu") or {}
    env = fingerprint.get("env") or {}
    parts = [str(cpu.get(k)) for k in ("model", "arch", "logical_cores")]
    parts.append(" ".join(cpu.get("vector_flags") or []))
    parts += [str(fingerprint.get(k)) for k in ARITHMETIC_FIELDS]
    settings = effective_settings(fingerprint)
    parts += [f"oneDNN={settings.get('onednn_enabled')}", f"isa={settings.get('isa')}"]
    gpus = fingerprint.get("gpu_models") or fingerprint.get("gpus") or []
    parts += [", ".join(gpus), str(fingerprint.get("tf32")) if gpus else "no GPU"]  # TF32 only acts on a GPU
    parts += [f"{k}={env.get(k)}" for k in ARITHMETIC_ENV]
    parts += [str(fingerprint.get(k)) for k in ("intra_op_threads", "inter_op_threads")]
    return " | ".join(parts)
