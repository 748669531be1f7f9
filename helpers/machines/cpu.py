"""The CPU: its model and the vector instructions that decide which kernels oneDNN and Eigen run.

Read without TensorFlow, and fast where the OS allows: /proc/cpuinfo on Linux, sysctl on macOS,
py-cpuinfo's cpuid probe elsewhere (Windows). Flags are spelled as Linux spells them everywhere,
so the same CPU gives the same card on every OS.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import platform
import subprocess
import sys
from collections.abc import Iterable
from typing import Any

# Vector-instruction flags that change which CPU kernels oneDNN and Eigen choose.
# The instructions that decide oneDNN's level (helpers.machines.onednn) and TensorFlow's oneDNN default.
VECTOR_FLAGS = (
    "sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c",
    "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx_vnni",
    "avx_vnni_int8", "avx_ne_convert", "amx_tile", "amx_bf16", "amx_int8", "amx_fp16", "asimd", "sve",
)
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


# Windows' IsProcessorFeaturePresent codes (winnt.h: PF_SSE4_1_INSTRUCTIONS_AVAILABLE ... PF_AVX512F_...).
WINDOWS_FEATURES = {37: "sse4_1", 38: "sse4_2", 39: "avx", 40: "avx2", 41: "avx512f"}


def _windows_cpu(kernel32: Any = None, registry: Any = None) -> tuple[str, set[str]]:
    """Where py-cpuinfo is not installed (a learner's own environment): the brand from the registry and the
    instruction sets Windows itself reports. Coarser than a cpuid probe (no VNNI, BF16, AMX), said in the
    fingerprint's ``flags_from``; every CPU with AVX2 also has FMA3, which oneDNN's AVX2 level needs."""
    import ctypes

    kernel32 = kernel32 or ctypes.windll.kernel32  # type: ignore[attr-defined]
    flags = {name for code, name in WINDOWS_FEATURES.items() if kernel32.IsProcessorFeaturePresent(code)}
    if "avx2" in flags:
        flags.add("fma")
    try:
        if registry is None:
            import winreg as registry
        key = registry.OpenKey(registry.HKEY_LOCAL_MACHINE, r"HARDWARE\DESCRIPTION\System\CentralProcessor\0")
        model = str(registry.QueryValueEx(key, "ProcessorNameString")[0]).strip()
    except OSError:
        model = ""
    return model or platform.processor() or "unknown", flags


@functools.lru_cache(maxsize=1)
def cpu_info() -> dict[str, Any]:
    """CPU model and vector flags: /proc/cpuinfo on Linux, sysctl on macOS, py-cpuinfo elsewhere (Windows)."""
    found = _linux_cpu()
    source = "/proc/cpuinfo"
    if found is None and sys.platform == "darwin":
        found, source = _macos_cpu(), "sysctl"
    if found is None and sys.platform == "win32" and importlib.util.find_spec("cpuinfo") is None:
        try:
            found, source = _windows_cpu(), "IsProcessorFeaturePresent (py-cpuinfo is not installed)"
        except (OSError, AttributeError):
            found = None
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


# Best first: the label names the best of these the CPU has.
_ISA_LABELS = ("avx512f", "avx2", "avx", "sse4_2", "asimd")


def best_instruction_set(fingerprint: dict[str, Any]) -> str:
    """'AVX512F', 'AVX2', ... : the best vector instruction set of the run's CPU ('?' if unknown)."""
    flags = (fingerprint.get("cpu") or {}).get("vector_flags") or []
    return next((f for f in _ISA_LABELS if f in flags), "?").upper()


