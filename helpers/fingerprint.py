"""The environment fingerprint: everything about a machine that can change a run's numbers.

Two runs with the same seed can only be compared once you know what differed between them:
the CPU and its vector instructions (oneDNN picks different kernels for AVX2 and AVX-512),
the library versions, the CUDA/cuDNN build, the GPU, oneDNN and thread settings, and
whether it is Colab.
"""

from __future__ import annotations

import functools
import os
import platform
import subprocess
import sys
from collections.abc import Iterable
from typing import Any

# Vector-instruction flags that change which CPU kernels oneDNN and Eigen choose.
VECTOR_FLAGS = (
    "sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c",
    "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx_vnni",
    "amx_tile", "amx_bf16", "amx_int8", "asimd", "sve",
)
# Environment variables that change TensorFlow's numerics or threading.
ENV_KEYS = (
    "TF_ENABLE_ONEDNN_OPTS", "ONEDNN_MAX_CPU_ISA", "TF_DETERMINISTIC_OPS", "CUDA_VISIBLE_DEVICES",
    "OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "PYTHONHASHSEED",
)


def in_colab() -> bool:
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


# Other sources spell some flags differently from Linux's /proc/cpuinfo: py-cpuinfo's cpuid probe
# (Windows) and macOS's sysctl. One spelling, so the same CPU gives the same card on every OS.
FLAG_ALIASES = {
    "sse4.1": "sse4_1", "sse4.2": "sse4_2", "avx1.0": "avx", "avx1_0": "avx", "avx2_0": "avx2",
    "avx512vnni": "avx512_vnni", "avx512bf16": "avx512_bf16", "avxvnni": "avx_vnni",
    "neon": "asimd", "advsimd": "asimd", "arm.feat_sve": "sve",
}


def normalize_flags(flags: Iterable[str]) -> set[str]:
    """Flags in Linux's spelling, lower case."""
    return {FLAG_ALIASES.get(flag.lower(), flag.lower()) for flag in flags}


def _linux_cpu() -> tuple[str, set[str]] | None:
    """Model name and flags straight from /proc/cpuinfo (instant, unlike a cpuid probe)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            text = file.read()
    except OSError:
        return None
    fields: dict[str, str] = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        fields.setdefault(name.strip(), value.strip())
    if "flags" not in fields and "Features" not in fields:
        return None
    flags = set((fields.get("flags") or fields.get("Features", "")).split())
    return fields.get("model name") or fields.get("Model") or platform.processor() or "unknown", flags


def _macos_cpu() -> tuple[str, set[str]] | None:
    """Model and flags from sysctl: ``machdep.cpu`` has the brand (and an Intel Mac's feature lists),
    ``hw.optional`` one 0/1 entry per feature (``hw.optional.AdvSIMD`` on Apple silicon). py-cpuinfo
    9 reads flags only from the Intel lists, and gives up on the brand when ``hw.cpufrequency`` is
    missing, as it is on Apple silicon."""
    try:
        done = subprocess.run(["sysctl", "machdep.cpu", "hw.optional"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    values: dict[str, str] = {}
    for line in done.stdout.splitlines():  # an unknown name only costs its own line, so ignore the exit code
        name, sep, value = line.partition(":")
        if sep:
            values[name.strip()] = value.strip()
    model = values.get("machdep.cpu.brand_string")
    if not model:
        return None
    flags = {*values.get("machdep.cpu.features", "").split(), *values.get("machdep.cpu.leaf7_features", "").split()}
    flags.update(name.removeprefix("hw.optional.") for name, value in values.items()
                 if name.startswith("hw.optional.") and value == "1")
    return model, flags


def _cpuinfo_cpu() -> tuple[str, set[str]]:
    """py-cpuinfo: on Windows the registry for the brand and a cpuid probe for the flags (about a second)."""
    import cpuinfo

    info = cpuinfo.get_cpu_info()
    return info.get("brand_raw") or platform.processor() or "unknown", set(info.get("flags", []))


@functools.lru_cache(maxsize=1)
def cpu_info() -> dict[str, Any]:
    """CPU model and vector flags: /proc/cpuinfo on Linux, sysctl on macOS, py-cpuinfo elsewhere (Windows)."""
    found = _linux_cpu()
    source = "/proc/cpuinfo"
    if found is None and sys.platform == "darwin":
        found, source = _macos_cpu(), "sysctl"
    if found is None:
        source = "py-cpuinfo"
        try:
            found = _cpuinfo_cpu()
        except Exception as exc:  # a missing or failing probe must not stop a run
            return {"model": platform.processor() or "unknown", "arch": platform.machine(),
                    "logical_cores": os.cpu_count(), "vector_flags": [], "flags_from": source, "error": str(exc)}
    model, flags = found
    flags = normalize_flags(flags)
    return {
        "model": model,
        "arch": platform.machine(),
        "logical_cores": os.cpu_count(),
        "vector_flags": [f for f in VECTOR_FLAGS if f in flags],
        # py-cpuinfo's cpuid probe knows no AMX, AVX-VNNI or AVX512-BF16 flags: say where flags came from.
        "flags_from": source,
    }


def tensorflow_info() -> dict[str, Any]:
    """TensorFlow side of the fingerprint; imports TensorFlow."""
    import keras
    import tensorflow as tf

    build = dict(tf.sysconfig.get_build_info())
    gpus = tf.config.list_physical_devices("GPU")
    return {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "cuda_build": bool(build.get("is_cuda_build", False)),
        "cuda_version": build.get("cuda_version"),
        "cudnn_version": build.get("cudnn_version"),
        "gpus": [d.name for d in gpus],
        "gpu_models": [_gpu_model(tf, gpu) for gpu in gpus],
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
        "numpy": np.__version__,
        "env": {key: os.environ.get(key) for key in ENV_KEYS},
        # oneDNN is on by default in TensorFlow's x86 Linux and Windows builds unless this is "0".
        "onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on for x86 builds)"),
    }
    data.update(tensorflow_info())
    return data


def fingerprint() -> dict[str, Any]:
    """The whole fingerprint of this process's environment, as plain JSON-ready values."""
    return {**machine_fingerprint(), **process_fingerprint()}


def fingerprint_table(data: dict[str, Any]) -> list[tuple[str, str]]:
    """The fingerprint as (what, value) rows for printing or a DataFrame."""
    cpu = data.get("cpu", {})
    rows = [
        ("Python", data.get("python")),
        ("OS", data.get("platform")),
        ("CPU", cpu.get("model")),
        ("CPU vector instructions", " ".join(cpu.get("vector_flags", [])) or "unknown"),
        ("Logical cores", cpu.get("logical_cores")),
        ("TensorFlow", data.get("tensorflow")),
        ("Keras", f"{data.get('keras')} (backend {data.get('keras_backend', 'tensorflow')})"),
        ("NumPy", data.get("numpy")),
        ("CUDA build", f"{data.get('cuda_build')} "
                       f"(CUDA {data.get('cuda_version')}, cuDNN {data.get('cudnn_version')})"),
        ("GPUs", ", ".join(data.get("gpu_models") or data.get("gpus", [])) or "none: TensorFlow sees only the CPU"),
        ("TensorFloat-32 on GPU matmuls", data.get("tf32")),
        ("oneDNN (TF_ENABLE_ONEDNN_OPTS)", data.get("onednn_opts")),
        ("ONEDNN_MAX_CPU_ISA", data.get("env", {}).get("ONEDNN_MAX_CPU_ISA") or "not set (best the CPU has)"),
        ("Threads (intra-op / inter-op, 0 = TF default)",
         f"{data.get('intra_op_threads')} / {data.get('inter_op_threads')}"),
        ("Op determinism", data.get("op_determinism")),
        ("Colab", data.get("colab")),
    ]
    return [(what, str(value)) for what, value in rows]


# Best first: the label names the best of these the CPU has.
_ISA_LABELS = ("avx512f", "avx2", "avx", "sse4_2", "asimd")


def best_instruction_set(fingerprint: dict[str, Any]) -> str:
    """'AVX512F', 'AVX2', ... : the best vector instruction set of the run's CPU ('?' if unknown)."""
    flags = (fingerprint.get("cpu") or {}).get("vector_flags") or []
    return next((f for f in _ISA_LABELS if f in flags), "?").upper()


def machine_label(fingerprint: dict[str, Any]) -> str:
    """What a run's numbers depend on, as one short label (two equal labels: same arithmetic)."""
    cpu = fingerprint.get("cpu") or {}
    env = fingerprint.get("env") or {}
    gpus = fingerprint.get("gpu_models") or [g.replace("/physical_device:", "") for g in fingerprint.get("gpus") or []]
    parts = [
        str(cpu.get("model", "unknown CPU")),
        best_instruction_set(fingerprint),
        f"TF {fingerprint.get('tensorflow', '?')}",
        ", ".join(gpus) or "no GPU",
    ]
    if env.get("ONEDNN_MAX_CPU_ISA"):
        parts.append(f"ISA capped at {env['ONEDNN_MAX_CPU_ISA']}")
    if env.get("TF_ENABLE_ONEDNN_OPTS") == "0":
        parts.append("oneDNN off")
    if fingerprint.get("op_determinism"):
        parts.append("op determinism")
    return " | ".join(parts)


# Fingerprint fields that can change a run's arithmetic; equal values make runs "the same machine".
ARITHMETIC_FIELDS = ("python", "os", "numpy", "tensorflow", "keras", "keras_backend", "cuda_version",
                     "cudnn_version", "onednn_opts", "op_determinism")
ARITHMETIC_ENV = ("ONEDNN_MAX_CPU_ISA", "TF_ENABLE_ONEDNN_OPTS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS",
                  "OMP_NUM_THREADS", "TF_DETERMINISTIC_OPS")


def machine_key(fingerprint: dict[str, Any]) -> str:
    """Everything recorded that can change the arithmetic, as one string: equal keys, same machine."""
    cpu = fingerprint.get("cpu") or {}
    env = fingerprint.get("env") or {}
    parts = [str(cpu.get(k)) for k in ("model", "arch", "logical_cores")]
    parts.append(" ".join(cpu.get("vector_flags") or []))
    parts += [str(fingerprint.get(k)) for k in ARITHMETIC_FIELDS]
    gpus = fingerprint.get("gpu_models") or fingerprint.get("gpus") or []
    parts += [", ".join(gpus), str(fingerprint.get("tf32")) if gpus else "no GPU"]  # TF32 only acts on a GPU
    parts += [f"{k}={env.get(k)}" for k in ARITHMETIC_ENV]
    parts += [str(fingerprint.get(k)) for k in ("intra_op_threads", "inter_op_threads")]
    return " | ".join(parts)
