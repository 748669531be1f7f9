"""oneDNN, the library behind TensorFlow's x86 CPU kernels: when it is on, and which instructions it uses.

Two things decide a CPU run's arithmetic here, and TensorFlow decides both at start-up:

* **oneDNN's custom operations, on or off.** Not "on for x86 builds": TensorFlow's
  ``DefaultOneDnnPolicy`` (``tensorflow/core/util/port.cc``; release notes of 2.9 and 2.15) turns
  them on in Linux x86 builds only when the CPU has one of the AI instructions below, on Windows
  x86 from TensorFlow 2.15, on Linux aarch64 only for Neoverse V1 CPUs (2.14+), never on macOS;
  ``TF_ENABLE_ONEDNN_OPTS`` (0/1/false/true, any case) overrides it and anything else is ignored
  with a warning. :func:`default_state` is that policy; a run records TensorFlow's own answer.
* **The instruction set oneDNN dispatches to**, the best the CPU has unless
  ``ONEDNN_MAX_CPU_ISA`` caps it. Matrix products go through oneDNN's GEMM even with its custom
  operations off, so a cap changes the bits either way. oneDNN's levels are not one ladder
  (AVX2_VNNI is not below AVX512_CORE): a level is usable under a cap when the cap's instruction
  groups include all of the level's, and the CPU has them (oneDNN's ``mayiuse``).

Facts checked against TensorFlow's wheels 2.9-2.21 and oneDNN 2.6.3 / 3.7.3 (docs/cards.md has
the table and its sources). No TensorFlow here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

# The CPU features TensorFlow's default policy tests on Linux x86 (TestCPUFeature, 2.9-2.21).
AI_FLAGS = ("avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16")
AI_NAMES = {"avx512_vnni": "AVX-512 VNNI", "avx512_bf16": "AVX-512 BF16", "avx_vnni": "AVX-VNNI",
            "amx_tile": "AMX", "amx_int8": "AMX", "amx_bf16": "AMX"}

# oneDNN's instruction-set levels, in its order of preference (get_isa_info_t), each with the
# instruction groups it is made of (bits of oneDNN 3.x's cpu_isa_t) and the CPU flags (Linux's
# spelling) it needs (AVX-512 BW and VL come with DQ on every CPU that has them, so DQ, which older
# cards did not record, is not asked for). A cap allows a level when the cap's groups contain all of
# the level's.
_GROUPS = {
    "SSE41": {"xmm"},
    "AVX": {"xmm", "ymm"},
    "AVX2": {"xmm", "ymm", "avx2"},
    "AVX2_VNNI": {"xmm", "ymm", "avx2", "vex_vnni"},
    "AVX2_VNNI_2": {"xmm", "ymm", "avx2", "vex_vnni", "vex_vnni_2"},
    "AVX512_CORE": {"xmm", "ymm", "zmm", "avx2", "evex_core"},
    "AVX512_CORE_VNNI": {"xmm", "ymm", "zmm", "avx2", "evex_core", "evex_vnni"},
    "AVX512_CORE_BF16": {"xmm", "ymm", "zmm", "avx2", "evex_core", "evex_vnni", "evex_bf16"},
    "AVX512_CORE_FP16": {"xmm", "ymm", "zmm", "avx2", "evex_core", "evex_vnni", "evex_bf16", "evex_fp16"},
    "AVX512_CORE_AMX": {"xmm", "ymm", "zmm", "avx2", "evex_core", "evex_vnni", "evex_bf16", "evex_fp16",
                        "amx_tile", "amx_int8", "amx_bf16"},
    "AVX512_CORE_AMX_FP16": {"xmm", "ymm", "zmm", "avx2", "evex_core", "evex_vnni", "evex_bf16", "evex_fp16",
                             "amx_tile", "amx_int8", "amx_bf16", "amx_fp16"},
}
_NEEDS = {
    "SSE41": ("sse4_1",),
    "AVX": ("avx",),
    "AVX2": ("avx2", "fma"),
    "AVX2_VNNI": ("avx2", "fma", "avx_vnni"),
    "AVX2_VNNI_2": ("avx2", "fma", "avx_vnni", "avx_vnni_int8", "avx_ne_convert"),
    "AVX512_CORE": ("avx512f", "avx512bw", "avx512vl"),
    "AVX512_CORE_VNNI": ("avx512f", "avx512bw", "avx512vl", "avx512_vnni"),
    "AVX512_CORE_BF16": ("avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16"),
    "AVX512_CORE_FP16": ("avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
                         "avx512_fp16"),
    "AVX512_CORE_AMX": ("avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
                        "avx512_fp16", "amx_tile", "amx_int8", "amx_bf16"),
    "AVX512_CORE_AMX_FP16": ("avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
                             "avx512_fp16", "amx_tile", "amx_int8", "amx_bf16", "amx_fp16"),
}
PREFERENCE = ("AVX512_CORE_AMX_FP16", "AVX512_CORE_AMX", "AVX512_CORE_FP16", "AVX512_CORE_BF16", "AVX512_CORE_VNNI",
              "AVX512_CORE", "AVX2_VNNI_2", "AVX2_VNNI", "AVX2", "AVX", "SSE41")
# The CPU flags that decide the levels above (the fingerprint records these).
ISA_FLAGS = tuple(dict.fromkeys(flag for level in PREFERENCE for flag in _NEEDS[level]))
# What ONEDNN_MAX_CPU_ISA accepts (any case): oneDNN 3.x (TensorFlow 2.13 and newer) and 2.x.
# Anything else is ignored by oneDNN without a word, so the lab refuses it.
ALIASES = {"AVX10_1_512": "AVX512_CORE_FP16", "AVX10_1_512_AMX": "AVX512_CORE_AMX",
           "AVX10_1_512_AMX_FP16": "AVX512_CORE_AMX_FP16"}
CAPS_V3 = ("DEFAULT", "SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE", "AVX512_CORE_VNNI",
           "AVX512_CORE_BF16", "AVX512_CORE_FP16", "AVX512_CORE_AMX", "AVX512_CORE_AMX_FP16", *ALIASES)
CAPS_V2 = ("ALL", "SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX512_CORE", "AVX512_CORE_VNNI", "AVX512_CORE_BF16",
           "AVX512_CORE_AMX")
NO_CAP = ("DEFAULT", "ALL")
# oneDNN's verbose header names the level it dispatches to ("onednn_verbose,...,info,cpu,isa:NAME").
VERBOSE_NAMES = (
    ("Intel AMX with bfloat16, float16 and 8-bit integer support", "AVX512_CORE_AMX_FP16"),
    ("Intel AMX with bfloat16 and 8-bit integer support", "AVX512_CORE_AMX"),
    ("Intel AVX-512 with float16, Intel DL Boost and bfloat16 support", "AVX512_CORE_FP16"),
    ("Intel AVX-512 with Intel DL Boost and bfloat16 support", "AVX512_CORE_BF16"),
    ("Intel AVX-512 with Intel DL Boost", "AVX512_CORE_VNNI"),
    ("Intel AVX-512 with AVX512BW, AVX512VL, and AVX512DQ extensions", "AVX512_CORE"),
    ("Intel AVX2 with Intel DL Boost, float16 and bfloat16 support", "AVX2_VNNI_2"),
    ("Intel AVX2 with Intel DL Boost", "AVX2_VNNI"),
    ("Intel AVX2", "AVX2"),
    ("Intel AVX", "AVX"),
    ("Intel SSE4.1", "SSE41"),
)


def _version(text: str | None) -> tuple[int, int]:
    parts = [int("".join(c for c in part if c.isdigit()) or 0) for part in (text or "0.0").split(".")[:2]]
    return (parts + [0, 0])[0], (parts + [0, 0])[1]


def accepted_caps(tensorflow: str | None) -> tuple[str, ...]:
    """The ONEDNN_MAX_CPU_ISA values the oneDNN inside TensorFlow ``tensorflow`` knows."""
    return CAPS_V2 if tensorflow and _version(tensorflow) < (2, 13) else CAPS_V3


def normalize_cap(value: str | None) -> str | None:
    """A cap as the lab writes it (upper case, aliases resolved); None for no cap."""
    if value is None or not value.strip():
        return None
    name = value.strip().upper()
    name = ALIASES.get(name, name)
    return None if name in NO_CAP else name


def cap_problem(value: str, tensorflow: str | None) -> str | None:
    """One sentence when oneDNN would ignore ``value`` in silence; None when it is a real cap."""
    known = accepted_caps(tensorflow)
    if value.strip().upper() in known:
        return None
    return (f"ONEDNN_MAX_CPU_ISA={value!r} is not a level oneDNN knows, and it would ignore it without a word; "
            f"use one of {', '.join(name for name in known if name not in ALIASES)}.")


def cpu_has(level: str, flags: Iterable[str]) -> bool:
    """Whether a CPU with ``flags`` can run oneDNN's ``level`` kernels."""
    return set(_NEEDS[level]) <= set(flags)


def best_level(flags: Iterable[str], cap: str | None = None) -> str | None:
    """The level oneDNN dispatches to on a CPU with ``flags`` under ``cap`` (None: not an x86 CPU we know)."""
    flags = set(flags)
    cap = normalize_cap(cap)
    allowed = _GROUPS.get(cap) if cap else None
    for level in PREFERENCE:
        if (allowed is None or _GROUPS[level] <= allowed) and cpu_has(level, flags):
            return level
    return None


def level_from_verbose(line: str) -> str | None:
    """The level named by oneDNN's verbose ``isa:`` line."""
    text = line.split("isa:", 1)[-1]
    return next((level for name, level in VERBOSE_NAMES if name in text), None)


def missing_for(level: str, flags: Iterable[str]) -> list[str]:
    """The CPU flags ``level`` needs that ``flags`` lack (why a level is not imitable here)."""
    return [flag for flag in _NEEDS.get(level, ()) if flag not in set(flags)]


def ai_features(flags: Iterable[str]) -> list[str]:
    """The AI instructions (of those TensorFlow's policy tests) a CPU with ``flags`` has."""
    return [flag for flag in AI_FLAGS if flag in set(flags)]


def _ai_words(flags: Sequence[str]) -> str:
    return " and ".join(dict.fromkeys(AI_NAMES[flag] for flag in flags))


def default_state(system: str, machine: str, tensorflow: str | None,
                  flags: Iterable[str]) -> tuple[bool | None, str]:
    """TensorFlow's default for oneDNN's custom operations, and why, with TF_ENABLE_ONEDNN_OPTS unset.

    ``system`` is ``platform.system()`` (Linux, Windows, Darwin), ``machine`` the architecture.
    None when it cannot be told from what is recorded (an aarch64 CPU's exact model).
    """
    version = _version(tensorflow)
    x86 = machine.lower() in ("x86_64", "amd64", "i386", "i686", "x86")
    if system == "Darwin":
        return False, "TensorFlow for macOS is built without oneDNN's operations"
    if version < (2, 9):
        return False, f"TensorFlow {tensorflow} leaves them off unless TF_ENABLE_ONEDNN_OPTS=1"
    if system == "Windows" and x86:
        if version >= (2, 15):
            return True, "on Windows x86 TensorFlow 2.15 and newer turn them on"
        return False, "on Windows TensorFlow 2.9 to 2.14 leave them off"
    if system == "Linux" and x86:
        found = ai_features(flags)
        if found:
            return True, f"this CPU has {_ai_words(found)}"
        return False, "a Linux x86 CPU without AVX-512 VNNI, AVX-512 BF16, AVX-VNNI or AMX"
    if system == "Linux" and machine.lower() in ("aarch64", "arm64") and version >= (2, 14):
        return None, "on Linux aarch64 TensorFlow turns them on only for Neoverse V1 CPUs"
    return False, f"TensorFlow's build for {system} {machine} leaves them off"


def env_override(value: str | None) -> bool | None:
    """What TF_ENABLE_ONEDNN_OPTS forces (None: unset, or a value TensorFlow ignores)."""
    text = (value or "").strip().lower()
    return {"0": False, "false": False, "1": True, "true": True}.get(text)


def expected_state(system: str, machine: str, tensorflow: str | None, flags: Iterable[str],
                   env_value: str | None) -> tuple[bool | None, str]:
    """oneDNN's operations on or off as TensorFlow decides it at start-up, and why."""
    forced = env_override(env_value)
    if forced is not None:
        return forced, f"TF_ENABLE_ONEDNN_OPTS={env_value}"
    state, why = default_state(system, machine, tensorflow, flags)
    if env_value is not None and env_value.strip():
        why = f"TF_ENABLE_ONEDNN_OPTS={env_value!r} is not 0, 1, false or true, so the default: {why}"
    return state, why
