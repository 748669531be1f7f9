"""Pooling workshop cards: runs group by machine and setting, and bad cards are set aside with a reason."""

from __future__ import annotations

import json

import pytest

from helpers.cards.fileformat import card_document
from helpers.cards.workshop import pool_cards, pool_folder
from helpers.core.config import ConfigError
from helpers.core.results import RunResult
from helpers.machines.fingerprint import machine_label
from tests.conftest import make_fingerprint, make_result, run_cli

FINGERPRINT = make_fingerprint()
AVX2_ONLY = make_fingerprint(cpu={**FINGERPRINT["cpu"], "vector_flags": ["sse4_1", "sse4_2", "avx", "avx2", "fma"]})


def result(weights: str, seed: int | None = 42, fingerprint: dict | None = None, device: str = "auto") -> RunResult:
    return make_result(weights, seed=seed, fingerprint=fingerprint or FINGERPRINT, device=device)


def write_card(path, results) -> str:
    path.write_text(json.dumps(card_document(results, "test")))
    return str(path)


def test_machine_label_names_what_changes_the_arithmetic() -> None:
    # AVX-512 without VNNI on Linux: oneDNN's operations are off by TensorFlow's default there.
    assert machine_label(FINGERPRINT) == "Test CPU | AVX512F | TF 2.21.0 | no GPU | oneDNN off"
    older = make_fingerprint(env={"ONEDNN_MAX_CPU_ISA": "SSE41", "TF_ENABLE_ONEDNN_OPTS": "0"},
                             gpus=["/physical_device:GPU:0"], gpu_models=[])
    assert machine_label(older) == "Test CPU | AVX512F | TF 2.21.0 | GPU:0 | oneDNN off | oneDNN at SSE41"
    vnni = make_fingerprint(cpu={**FINGERPRINT["cpu"], "vector_flags": [*FINGERPRINT["cpu"]["vector_flags"],
                                                                         "avx512_vnni"]})
    assert machine_label(vnni).endswith("| no GPU | oneDNN on")


def test_pooled_cards_group_seeded_runs_by_machine_and_setting(tmp_path) -> None:
    cards = [
        write_card(tmp_path / "ana.json",
                   [result("a"), result("a"), result("c", seed=None), result("a", device="cpu")]),
        write_card(tmp_path / "ben.json", [result("a")]),
        write_card(tmp_path / "chloe.json", [result("b", fingerprint=AVX2_ONLY)] * 2),
    ]
    workshop = pool_cards(cards)
    assert len(workshop.runs) == 7 and workshop.runs["seed"].dtype.name == "Int64"
    assert workshop.machines()["cards"].tolist() == ["ana.json, ben.json", "chloe.json"]
    table = workshop.by_machine()
    runs = {(setting.split(",")[0], machine): row["runs"] for (setting, machine), row in table.iterrows()}
    assert runs == {("seeded", "M1"): 3, ("cpu", "M1"): 1, ("seeded", "M2"): 2}
    assert table["distinct weights"].tolist() == [1, 1, 1]
    (verdict,) = workshop.verdicts()
    assert verdict.holds
    assert workshop.machine_splits().loc[table.index[0][0], "distinct weights"] == 2
    assert workshop.summary() == "3 card(s) from 2 machine(s) pooled."


def test_a_machine_that_disagrees_with_itself_is_flagged(tmp_path) -> None:
    workshop = pool_cards([write_card(tmp_path / "odd.json", [result("a"), result("b")]),
                           write_card(tmp_path / "other.json", [result("c", fingerprint=AVX2_ONLY)])])
    (verdict,) = workshop.verdicts()
    assert not verdict.holds and str(verdict) == "same seed on the same machine: identical weights: False"
    disagreements = workshop.disagreements()
    assert disagreements.index.get_level_values("machine_id").tolist() == ["M1"]
    assert disagreements["distinct weights"].tolist() == [2]


def test_bad_cards_are_set_aside_and_the_rest_kept(tmp_path) -> None:
    write_card(tmp_path / "ana.json", [result("a"), result("a")])
    (tmp_path / "broken.json").write_text("{\"format\": ")
    (tmp_path / "runs-not-a-list.json").write_text(
        json.dumps({"format": "keras-repro-lab/results", "format_version": 1, "runs": "abc"}))
    workshop = pool_folder(tmp_path)
    assert [card.name for card in workshop.cards] == ["ana.json"]
    reasons = dict(workshop.rejected)
    assert set(reasons) == {"broken.json", "runs-not-a-list.json"}
    assert "not valid JSON" in reasons["broken.json"]
    assert reasons["runs-not-a-list.json"].startswith("runs-not-a-list.json is not a valid card:")
    assert workshop.summary() == "1 card(s) from 1 machine(s) pooled; 2 set aside (broken.json, runs-not-a-list.json)."


def test_pool_folder_needs_a_folder_of_cards(tmp_path) -> None:
    with pytest.raises(ConfigError, match="there is no folder"):
        pool_folder(tmp_path / "missing")
    with pytest.raises(ConfigError, match="holds no .json files"):
        pool_folder(tmp_path)


def test_pool_from_the_command_line(tmp_path) -> None:
    card = write_card(tmp_path / "ana.json", [result("a"), result("a")])
    (tmp_path / "bad.json").write_text("[]")
    done = run_cli("pool", card, str(tmp_path / "bad.json"))
    assert done.returncode == 0, done.stderr
    assert "same seed on the same machine: identical weights: True" in done.stdout
    assert done.stderr.startswith("set aside bad.json: bad.json is not a results file written by this lab")
    missing = run_cli("pool", str(tmp_path / "missing.json"))
    assert missing.returncode == 2 and missing.stderr.strip() == (
        f"python -m helpers: error: there is no results file at {tmp_path / 'missing.json'}.")


def test_pool_expands_a_pattern_the_shell_left_alone(tmp_path) -> None:
    """PowerShell passes `cards/*.json` on unexpanded; the lab expands it itself."""
    folder = tmp_path / "cards"
    folder.mkdir()
    write_card(folder / "ana.json", [result("a"), result("a")])
    write_card(folder / "ben.json", [result("a")])
    done = run_cli("pool", str(folder / "*.json"))
    assert done.returncode == 0, done.stderr
    assert "2 card(s) from 1 machine(s) pooled." in done.stdout
