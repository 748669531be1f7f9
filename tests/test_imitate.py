"""Imitating another machine here: the settings tried, and a card made under a cap must be matched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.cards.fileformat import card_document, card_from_document, load_card, parse_document
from helpers.cards.imitate import _choose_target, candidate_settings, imitate, not_imitable
from helpers.core.config import ConfigError
from helpers.machines.cpu import cpu_info
from helpers.machines.onednn import best_level
from tests.conftest import make_fingerprint, make_result, run_cli

AVX512_MACHINE = make_fingerprint()  # AVX-512 without VNNI: oneDNN's operations off by default on Linux
VNNI_MACHINE = make_fingerprint(cpu={**AVX512_MACHINE["cpu"],
                                     "vector_flags": [*AVX512_MACHINE["cpu"]["vector_flags"], "avx512_vnni"]})
AVX2_LAPTOP = make_fingerprint(cpu={"model": "Laptop CPU", "arch": "x86_64", "logical_cores": 8,
                                    "vector_flags": ["sse4_1", "sse4_2", "avx", "avx2", "fma"]})


@pytest.fixture(autouse=True)
def _no_onednn_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TF_ENABLE_ONEDNN_OPTS", "ONEDNN_MAX_CPU_ISA"):
        monkeypatch.delenv(name, raising=False)


def test_a_card_from_an_older_cpu_gets_a_cap_at_its_instruction_set() -> None:
    target = make_result("a", fingerprint=AVX2_LAPTOP)
    attempts = candidate_settings(target, AVX512_MACHINE)
    descriptions = [a.description for a in attempts]
    assert descriptions[0] == "this machine as it is"
    assert "oneDNN at AVX2, as theirs" in descriptions
    assert not any(d.startswith("oneDNN off") for d in descriptions)  # off there and here: nothing to change
    assert descriptions[-1] == "all of the above together"
    combined = attempts[-1]
    assert dict(combined.env) == {"ONEDNN_MAX_CPU_ISA": "AVX2", "TF_NUM_INTRAOP_THREADS": "0",
                                  "TF_NUM_INTEROP_THREADS": "0"}


def test_their_settings_are_tried_as_theirs() -> None:
    fingerprint = make_fingerprint(cpu=VNNI_MACHINE["cpu"], env={"TF_ENABLE_ONEDNN_OPTS": "0",
                                                                 "TF_NUM_INTRAOP_THREADS": "1",
                                                                 "TF_NUM_INTEROP_THREADS": "1"}, op_determinism=True)
    target = make_result("a", fingerprint=fingerprint, jit_compile=True, op_determinism=True, device="cpu")
    attempts = candidate_settings(target, VNNI_MACHINE)
    assert all(a.device == "cpu" for a in attempts)  # their runs were CPU-forced, so ours are too
    combined = attempts[-1]
    assert combined.op_determinism and combined.jit_compile
    assert dict(combined.env) == {"TF_ENABLE_ONEDNN_OPTS": "0", "TF_NUM_INTRAOP_THREADS": "1",
                                  "TF_NUM_INTEROP_THREADS": "1"}
    assert len({(a.env, a.op_determinism, a.jit_compile) for a in attempts}) == len(attempts)


def test_what_cannot_be_imitated_is_named() -> None:
    gpu = make_fingerprint(gpus=["/physical_device:GPU:0"], gpu_models=["Tesla T4 (compute 7.5)"],
                           tensorflow="2.15.1", keras="2.15.0", os="Windows 10")
    found = not_imitable(make_result("a", fingerprint=gpu, ran_on="GPU:0"), AVX512_MACHINE)
    assert any("their GPU (Tesla T4 (compute 7.5))" in f for f in found)
    assert any(f.startswith("TensorFlow 2.15.1 (here 2.21.0)") for f in found)
    assert any(f.startswith("Keras 2.15.0 (here 3.15.1)") for f in found)
    assert any("Windows 10" in f for f in found)
    newer = not_imitable(make_result("a", fingerprint=AVX512_MACHINE), AVX2_LAPTOP)
    assert newer == ["oneDNN's AVX512_CORE kernels, which need avx512f, avx512bw, avx512vl that this CPU lacks"]


def test_a_card_from_a_cpu_without_vnni_gets_onednn_off_and_its_level_together() -> None:
    """A Linux machine with AVX-512 but no VNNI ran with oneDNN's operations off (its default) at AVX512_CORE;
    on a VNNI machine only both settings at once stand for it."""
    attempts = candidate_settings(make_result("a", fingerprint=AVX512_MACHINE), VNNI_MACHINE)
    by_description = {a.description: dict(a.env) for a in attempts}
    off = next(d for d in by_description if d.startswith("oneDNN off, as theirs"))
    assert "a Linux x86 CPU without AVX-512 VNNI" in off
    assert by_description["oneDNN at AVX512_CORE, as theirs"]["ONEDNN_MAX_CPU_ISA"] == "AVX512_CORE"
    together = by_description["their oneDNN state and instruction set together"]
    assert together == {"TF_ENABLE_ONEDNN_OPTS": "0", "ONEDNN_MAX_CPU_ISA": "AVX512_CORE"}


def test_a_gpu_card_is_imitated_through_its_cpu_forced_runs() -> None:
    gpu = make_fingerprint(gpus=["/physical_device:GPU:0"])
    text = json.dumps(card_document([make_result("d", fingerprint=gpu, ran_on="GPU:0"),
                                     make_result("c", fingerprint=gpu, device="cpu")], "test"))
    card = card_from_document(parse_document(text, "colab.json"), "colab.json")
    target, notes = _choose_target(card, None)
    assert target.mode == "cpu" and "imitating their CPU-forced runs instead" in notes[0]
    assert _choose_target(card, "seeded")[0].mode == "seeded"
    with pytest.raises(ConfigError, match="setting must be seeded or cpu"):
        _choose_target(card, "tpu")
    only_seeded = card_from_document(parse_document(json.dumps(card_document([make_result("a")], "t")), "s.json"),
                                     "s.json")
    with pytest.raises(ConfigError, match="s.json has no cpu runs to imitate"):
        _choose_target(only_seeded, "cpu")


@pytest.mark.slow
def test_an_imitated_older_cpu_is_reproduced_bit_for_bit(older_cpu_card) -> None:
    imitation = imitate(older_cpu_card, progress=False)
    assert imitation.match is not None
    assert imitation.match.settings.description == "oneDNN at SSE41, as theirs"
    baseline = imitation.tried[0]
    assert baseline.settings.description == "this machine as it is" and not baseline.identical
    assert baseline.max_abs_weight_difference > 0
    assert imitation.conclusion.startswith("Reproduced card-sse41.json's seeded runs bit for bit here with")
    assert imitation.not_imitated == [] and imitation.notes == []


@pytest.mark.slow
def test_a_card_made_under_an_avx2_cap_is_matched_from_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "avx2.json"
    made = run_cli("card", "--out", str(out), "--epochs", "3", "--env", "ONEDNN_MAX_CPU_ISA=AVX2", "--quiet")
    assert made.returncode == 0, made.stderr
    done = run_cli("imitate", str(out), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["match"] is not None
    flags = cpu_info()["vector_flags"]
    if best_level(flags, "AVX2") != best_level(flags):  # a CPU above AVX2: only the cap gives their bits
        assert result["match"]["env"]["ONEDNN_MAX_CPU_ISA"] == "AVX2"
        assert not result["tried"][0]["identical"]
    else:  # AVX2 is this CPU's best (an AVX2-only EPYC ran CI): the cap changed nothing, as imitate must find
        assert result["match_description"] == result["tried"][0]["description"] == "this machine as it is"
        assert result["tried"][0]["identical"]
    assert all({"settings", "identical", "max_abs_weight_difference"} <= set(t) for t in result["tried"])
    assert result["target_weights_sha256"] == load_card(out).runs[2].weights_sha256
