"""oneDNN's default policy, its instruction-set levels, and what older cards are inferred to have run.

No TensorFlow: these are the rules (TensorFlow's port.cc, oneDNN's cpu_isa_traits) the lab applies
to cards; tests/test_effective.py checks them against what TensorFlow really reports here.
"""

from __future__ import annotations

import pytest

from helpers.machines import onednn
from helpers.machines.fingerprint import effective_settings, isa_words, onednn_words
from tests.conftest import make_fingerprint

SKYLAKE_SP = ["sse4_1", "sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq"]
CASCADE_LAKE = [*SKYLAKE_SP, "avx512_vnni"]
SAPPHIRE_RAPIDS = [*CASCADE_LAKE, "avx512_bf16", "avx512_fp16", "amx_tile", "amx_int8", "amx_bf16"]
ALDER_LAKE = ["sse4_1", "sse4_2", "avx", "avx2", "fma", "avx_vnni"]
HASWELL = ["sse4_1", "sse4_2", "avx", "avx2", "fma"]


@pytest.mark.parametrize(("system", "machine", "tensorflow", "flags", "state", "why"), [
    ("Linux", "x86_64", "2.21.0", CASCADE_LAKE, True, "this CPU has AVX-512 VNNI"),
    ("Linux", "x86_64", "2.21.0", ALDER_LAKE, True, "this CPU has AVX-VNNI"),
    ("Linux", "x86_64", "2.21.0", SAPPHIRE_RAPIDS, True, "AVX-512 VNNI and AVX-512 BF16 and AMX"),
    ("Linux", "x86_64", "2.21.0", SKYLAKE_SP, False, "a Linux x86 CPU without AVX-512 VNNI"),
    ("Linux", "x86_64", "2.10.1", HASWELL, False, "a Linux x86 CPU without"),
    ("Linux", "x86_64", "2.8.0", CASCADE_LAKE, False, "leaves them off unless TF_ENABLE_ONEDNN_OPTS=1"),
    ("Windows", "AMD64", "2.10.1", CASCADE_LAKE, False, "on Windows TensorFlow 2.9 to 2.14 leave them off"),
    ("Windows", "AMD64", "2.14.1", CASCADE_LAKE, False, "2.9 to 2.14"),
    ("Windows", "AMD64", "2.15.0", HASWELL, True, "on Windows x86 TensorFlow 2.15 and newer turn them on"),
    ("Darwin", "arm64", "2.21.0", ["asimd"], False, "built without oneDNN"),
    ("Linux", "aarch64", "2.21.0", ["asimd"], None, "only for Neoverse V1"),
])
def test_tensorflows_default_policy(system: str, machine: str, tensorflow: str, flags: list[str],
                                    state: bool | None, why: str) -> None:
    got, sentence = onednn.default_state(system, machine, tensorflow, flags)
    assert got is state and why in sentence


@pytest.mark.parametrize(("value", "state"), [("0", False), ("false", False), ("FALSE", False), ("1", True),
                                              ("true", True), ("True", True)])
def test_tf_enable_onednn_opts_overrides_either_way(value: str, state: bool) -> None:
    assert onednn.expected_state("Linux", "x86_64", "2.21.0", SKYLAKE_SP, value) == (
        state, f"TF_ENABLE_ONEDNN_OPTS={value}")


def test_a_value_tensorflow_ignores_leaves_the_default_and_says_so() -> None:
    state, why = onednn.expected_state("Linux", "x86_64", "2.21.0", CASCADE_LAKE, "yes")
    assert state is True and why.startswith("TF_ENABLE_ONEDNN_OPTS='yes' is not 0, 1, false or true")


@pytest.mark.parametrize(("flags", "cap", "level"), [
    (CASCADE_LAKE, None, "AVX512_CORE_VNNI"),
    (SKYLAKE_SP, None, "AVX512_CORE"),
    (SAPPHIRE_RAPIDS, None, "AVX512_CORE_AMX"),
    (HASWELL, None, "AVX2"),
    (ALDER_LAKE, None, "AVX2_VNNI"),
    (CASCADE_LAKE, "avx2", "AVX2"),
    (CASCADE_LAKE, "SSE41", "SSE41"),
    (CASCADE_LAKE, "AVX512_CORE", "AVX512_CORE"),
    # A cap above what the CPU has changes nothing: oneDNN takes the CPU's best under it.
    (CASCADE_LAKE, "AVX512_CORE_AMX", "AVX512_CORE_VNNI"),
    (HASWELL, "AVX512_CORE_VNNI", "AVX2"),
    # Not one ladder: AVX2_VNNI is not below AVX512_CORE, and a VNNI-less AVX2 cap keeps VNNI away.
    (SAPPHIRE_RAPIDS, "AVX2_VNNI", "AVX2"),
    ([*ALDER_LAKE], "AVX512_CORE", "AVX2"),
    (ALDER_LAKE, "AVX2_VNNI", "AVX2_VNNI"),
    (CASCADE_LAKE, "DEFAULT", "AVX512_CORE_VNNI"),
    (["asimd"], None, None),
])
def test_the_level_oneDNN_dispatches_to(flags: list[str], cap: str | None, level: str | None) -> None:
    assert onednn.best_level(flags, cap) == level


def test_caps_oneDNN_would_ignore_are_refused() -> None:
    problem = onednn.cap_problem("PENTIUM", "2.21.0")
    assert problem is not None and "ignore it without a word" in problem and "SSE41, AVX, AVX2" in problem
    assert onednn.cap_problem("avx2", "2.21.0") is None  # oneDNN reads it in any case
    assert onednn.cap_problem("DEFAULT", "2.21.0") is None and onednn.cap_problem("DEFAULT", "2.10.1") is not None
    assert onednn.cap_problem("ALL", "2.10.1") is None and onednn.cap_problem("ALL", "2.21.0") is not None
    assert onednn.cap_problem("AVX512_CORE_FP16", "2.10.1") is not None  # oneDNN 2.x had no such level


@pytest.mark.parametrize(("line", "level"), [
    ("onednn_verbose,v1,info,cpu,isa:Intel AVX-512 with Intel DL Boost", "AVX512_CORE_VNNI"),
    ("onednn_verbose,v1,info,cpu,isa:Intel AVX-512 with AVX512BW, AVX512VL, and AVX512DQ extensions", "AVX512_CORE"),
    ("onednn_verbose,info,cpu,isa:Intel AVX2", "AVX2"),
    ("onednn_verbose,v1,info,cpu,isa:Intel AVX2 with Intel DL Boost", "AVX2_VNNI"),
    ("onednn_verbose,v1,info,cpu,isa:Intel SSE4.1", "SSE41"),
    ("onednn_verbose,v1,info,cpu,isa:Intel AVX-512 with float16, Intel DL Boost and bfloat16 support and Intel AMX "
     "with bfloat16 and 8-bit integer support", "AVX512_CORE_AMX"),
    ("onednn_verbose,v1,info,cpu,isa:something new", None),
])
def test_oneDNNs_verbose_header_names_its_level(line: str, level: str | None) -> None:
    assert onednn.level_from_verbose(line) == level


def test_an_older_card_has_its_effective_settings_inferred_and_marked_so() -> None:
    """A version-2 card recorded only the variables: the state is inferred from its CPU, OS and TensorFlow."""
    skylake = make_fingerprint(cpu={"model": "Xeon Skylake-SP", "arch": "x86_64", "logical_cores": 2,
                                    "vector_flags": SKYLAKE_SP})
    settings = effective_settings(skylake, jit_compile=False)
    assert settings["onednn_enabled"] is False and settings["onednn_from"] == "inferred"
    assert settings["isa"] == "AVX512_CORE" and settings["isa_from"] == "predicted"
    assert settings["jit_compile"] is False
    assert onednn_words(settings).startswith("off (a Linux x86 CPU without AVX-512 VNNI")
    assert onednn_words(settings).endswith(", inferred)")
    capped = effective_settings(make_fingerprint(cpu=skylake["cpu"], env={"ONEDNN_MAX_CPU_ISA": "sse41",
                                                                         "TF_ENABLE_ONEDNN_OPTS": "1"}))
    assert capped["onednn_enabled"] is True and capped["onednn_why"] == "TF_ENABLE_ONEDNN_OPTS=1"
    assert isa_words(capped) == "SSE41 (capped by ONEDNN_MAX_CPU_ISA=SSE41, predicted)"


def test_recorded_settings_win_over_inference() -> None:
    recorded = {"onednn_enabled": True, "onednn_from": "TensorFlow", "onednn_why": "this CPU has AVX-512 VNNI",
                "isa": "AVX512_CORE_VNNI", "isa_from": "oneDNN", "isa_cap": None, "jit_compile": True}
    settings = effective_settings(make_fingerprint(effective=recorded), jit_compile=False)
    assert settings["onednn_from"] == "TensorFlow" and settings["jit_compile"] is True
    assert isa_words(settings) == "AVX512_CORE_VNNI"
