"""Comparing two cards: by stage, by epoch and by factor, with a conclusion a learner can read.

The slow tests compare cards made here for real under different settings (this machine as it is,
and with oneDNN capped at SSE4.1). The others build cards by hand to test the reasoning on
situations this machine cannot produce (a GPU, Keras 2): they check the lab's logic and are
never presented as measurements.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.cards.compare import compare_cards
from helpers.cards.fileformat import Card, card_document, card_from_document, parse_document
from helpers.core.config import ConfigError
from helpers.core.text_table import text_table
from tests.conftest import REPO, make_fingerprint, make_result, run_cli

GPU = make_fingerprint(gpus=["/physical_device:GPU:0"], gpu_models=["Tesla T4 (compute 7.5)"], cuda_build=True,
                       cuda_version="12.5", cudnn_version="9")


def card(name: str, *runs) -> Card:
    text = json.dumps(card_document(list(runs), "test"))
    return card_from_document(parse_document(text, name), name)


# --------------------------------------------------------------------------- cards made here


@pytest.mark.slow
def test_a_card_compared_with_itself_agrees(plain_card, tmp_path: Path) -> None:
    copy = tmp_path / "copy.json"
    shutil.copy(plain_card.path, copy)
    comparison = compare_cards(plain_card.path, copy)
    assert comparison.same_machine and comparison.factors == []
    primary = comparison.primary
    assert primary.stages == {"data": "same", "initial weights": "same", "training": "same", "evaluation": "same"}
    assert primary.first_differing_epoch is None and primary.max_abs_weight_difference == 0.0
    assert primary.distance == [0.0] * 11
    assert comparison.conclusion.startswith("Both cards come from the same machine and settings and trained "
                                            "bit-identical weights")


@pytest.mark.slow
def test_an_imitated_older_cpu_parts_in_training(plain_card, older_cpu_card) -> None:
    comparison = compare_cards(plain_card, older_cpu_card)
    primary = comparison.primary
    assert primary.key[0] == "seeded"
    # Evaluation compares the test loss and accuracy: last-bit weights may or may not move the loss's bits.
    evaluation = "same" if (primary.a.test_loss, primary.a.test_accuracy) == (
        primary.b.test_loss, primary.b.test_accuracy) else "different"
    assert primary.stages == {"data": "same", "initial weights": "same", "training": "different",
                              "evaluation": evaluation}
    assert primary.first_stage == "training"
    first = primary.first_differing_epoch
    assert first is not None and first >= 1
    assert primary.distance[:first] == [0.0] * first and all(d > 0 for d in primary.distance[first:])
    assert 0 < primary.max_abs_weight_difference < 1e-2
    top = comparison.factors[0]
    assert top.name == "instruction set oneDNN used" and top.b == "SSE41 (capped by ONEDNN_MAX_CPU_ISA=SSE41)"
    assert top.consistent and top.group == "instruction set"
    assert "most likely because of the instruction set oneDNN used" in comparison.conclusion
    assert "the weights part during training" in comparison.conclusion
    assert [s.key[0] for s in comparison.settings] == ["seeded", "cpu"]


@pytest.mark.slow
def test_compare_from_the_command_line(plain_card, older_cpu_card) -> None:
    done = run_cli("compare", str(plain_card.path), str(older_cpu_card.path), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {stage: result["stages"][stage] for stage in ("data", "initial weights", "training")} == {
        "data": "same", "initial weights": "same", "training": "different"}
    assert isinstance(result["first_differing_epoch"], int)
    assert isinstance(result["max_abs_weight_difference"], float) and result["max_abs_weight_difference"] > 0
    assert {"name", "a", "b", "why"} <= set(result["factors"][0])
    assert result["conclusion"] and result["b"]["note"] == "imitated: oneDNN capped at SSE4.1"
    text = run_cli("compare", str(plain_card.path), str(older_cpu_card.path))
    assert text.returncode == 0 and "What differs, most likely cause first:" in text.stdout


@pytest.mark.slow
def test_comparing_never_starts_tensorflow(plain_card, older_cpu_card) -> None:
    code = ("import sys; from helpers.cards.compare import compare_cards; "
            f"compare_cards({str(plain_card.path)!r}, {str(older_cpu_card.path)!r}).to_dict(); "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow was imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr


# --------------------------------------------------------------------------- reasoning, on cards built by hand


def test_a_gpu_against_a_cpu_names_the_device_and_the_cpu_runs_agree() -> None:
    colab = card("colab.json", make_result("d", fingerprint=GPU, ran_on="GPU:0"),
                 make_result("c", fingerprint=GPU, device="cpu"))
    pc = card("pc.json", make_result("c"), make_result("c", device="cpu"))
    comparison = compare_cards(colab, pc)
    assert comparison.primary.first_stage == "training"
    names = [f.name for f in comparison.factors]
    assert names[0] == "device" and comparison.factors[0].consistent
    assert {"GPU", "CUDA / cuDNN"} <= set(names)
    assert "most likely because of the device (GPU:0 against CPU:0)" in comparison.conclusion
    assert comparison.conclusion.endswith("Their cpu runs are bit-identical, so the device is what differs.")
    # No per-epoch weights in these cards: the distance is unknown, and said to be.
    assert comparison.primary.max_abs_weight_difference is None
    assert comparison.to_dict()["max_abs_weight_difference"] is None


def test_keras_2_against_keras_3_parts_at_the_initial_weights() -> None:
    old = make_fingerprint(tensorflow="2.15.1", keras="2.15.0")
    a = make_result("a")
    b = make_result("b", fingerprint=old)
    b.initial_weights_sha256 = "9" * 64
    comparison = compare_cards(card("new.json", a), card("old.json", b))
    assert comparison.primary.first_stage == "initial weights"
    assert comparison.primary.first_differing_epoch == 0
    # Versions first: no setting can undo them.
    assert [f.name for f in comparison.factors[:2]] == ["TensorFlow", "Keras"]
    assert {f.group for f in comparison.factors[:2]} == {"version"}
    assert "the initial weights already differ" in comparison.conclusion
    assert "because of the TensorFlow (2.21.0 against 2.15.1)" in comparison.conclusion


def test_different_data_point_at_the_seeding() -> None:
    b = make_result("b", fingerprint=make_fingerprint(numpy="1.26.4"))
    b.data_sha256 = "8" * 64
    comparison = compare_cards(card("a.json", make_result("a")), card("b.json", b))
    assert comparison.primary.first_stage == "data"
    assert comparison.factors[0].name == "NumPy" and comparison.factors[0].consistent
    assert comparison.conclusion.startswith("The training data already differ")


def test_the_same_machine_disagreeing_is_real_nondeterminism() -> None:
    comparison = compare_cards(card("a.json", make_result("a")), card("b.json", make_result("b")))
    assert comparison.same_machine
    assert "this is real nondeterminism, not a difference between machines" in comparison.conclusion


def test_identical_weights_despite_differences_say_so() -> None:
    other = make_fingerprint(python="3.13.0", colab=True)
    comparison = compare_cards(card("a.json", make_result("a")), card("b.json", make_result("a", fingerprint=other)))
    assert comparison.primary.first_stage is None
    assert {f.name for f in comparison.factors} == {"Python", "Colab"}
    assert not any(f.consistent for f in comparison.factors)
    assert "none of them changed this model's arithmetic" in comparison.conclusion


def test_the_setting_to_explain_can_be_chosen() -> None:
    a = card("a.json", make_result("a"), make_result("c", device="cpu"))
    b = card("b.json", make_result("b"), make_result("c", device="cpu"))
    assert compare_cards(a, b).primary.key[0] == "seeded"
    assert compare_cards(a, b, setting="cpu").primary.key[0] == "cpu"
    with pytest.raises(ConfigError, match="setting must be seeded or cpu"):
        compare_cards(a, b, setting="gpu")


def test_cards_without_a_shared_setting_are_one_sentence() -> None:
    a = card("a.json", make_result("a", seed=1))
    b = card("b.json", make_result("a", seed=2), make_result("c", seed=None))
    with pytest.raises(ConfigError, match="a.json and b.json have no seeded runs of the same setting"):
        compare_cards(a, b)
    with pytest.raises(ConfigError, match="card A must be a Card or the path"):
        compare_cards(3, b)  # type: ignore[arg-type]


def test_a_one_core_machine_reads_as_one_core_not_yes() -> None:
    one = make_fingerprint(cpu={**make_fingerprint()["cpu"], "logical_cores": 1})
    comparison = compare_cards(card("a.json", make_result("a")), card("b.json", make_result("b", fingerprint=one)))
    cores = next(f for f in comparison.factors if f.name == "logical cores")
    assert (cores.a, cores.b) == ("2", "1")
    flags = compare_cards(card("c.json", make_result("a")),
                          card("d.json", make_result("b", fingerprint=make_fingerprint(colab=True))))
    colab = next(f for f in flags.factors if f.name == "Colab")
    assert (colab.a, colab.b) == ("no", "yes")


# --------------------------------------------------------------------------- the command line's text, without pandas


def test_a_text_table_lines_up_its_columns() -> None:
    rows = [{"runs": "seeded, seed 42", "data": "same", "epoch": 1, "distance": 7.45e-08, "ok": True},
            {"runs": "CPU-forced, seed 42", "data": "different", "epoch": "never", "distance": None, "ok": False}]
    assert text_table(rows, "runs", number=lambda v: f"{v:.3g}") == (
        "runs                      data  epoch  distance     ok\n"
        "seeded, seed 42           same      1  7.45e-08   True\n"
        "CPU-forced, seed 42  different  never       n/a  False")
    assert text_table([], "runs") == "runs"


def test_the_text_shows_the_stages_table_of_the_notebooks() -> None:
    a = card("a.json", make_result("a"), make_result("c", device="cpu"))
    b = card("b.json", make_result("b"), make_result("c", device="cpu"))
    comparison = compare_cards(a, b)
    frame = comparison.stages_table()
    lines = comparison.text().splitlines()
    header = lines.index(next(line for line in lines if line.startswith("runs ")))
    assert [name.strip() for name in lines[header][len("runs"):].split("  ") if name] == list(frame.columns)
    rows = lines[header + 1:header + 1 + len(frame)]
    assert [line[:len(label)] for line, label in zip(rows, frame.index, strict=True)] == list(frame.index)
    assert lines[header + 1].split()[-2:] == [f"{frame.iloc[0][column]:.6g}" for column in frame.columns[-2:]]


def test_the_compare_command_imports_neither_pandas_nor_jsonschema(tmp_path: Path) -> None:
    """pandas and jsonschema cost about 0.5 s and 1 s to import: more than the whole command may take."""
    paths = []
    for name, run in (("a.json", make_result("a")), ("b.json", make_result("b"))):
        paths.append(tmp_path / name)
        paths[-1].write_text(json.dumps(card_document([run], "test")), encoding="utf-8")
    code = ("import sys; from helpers.cli import main; "
            f"assert main(['compare', {str(paths[0])!r}, {str(paths[1])!r}]) == 0; "
            f"assert main(['compare', {str(paths[0])!r}, {str(paths[1])!r}, '--json']) == 0; "
            "heavy = sorted({'pandas', 'jsonschema', 'tensorflow', 'keras'} & set(sys.modules)); "
            "assert not heavy, f'compare imported {heavy}'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
