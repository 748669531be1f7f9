"""Pooling workshop cards: runs group by machine, and bad files get one sentence."""

from __future__ import annotations

import copy
import json

import pytest

from helpers.cardfile import card_document as results_document
from helpers.cards import machine_label, pool, pool_report, seeded_by_machine
from helpers.config import ConfigError, RunConfig
from helpers.results import RunResult
from tests.conftest import make_fingerprint, run_cli

FINGERPRINT = make_fingerprint()


def result(weights: str, seed: int | None = 42, fingerprint: dict | None = None) -> RunResult:
    return RunResult(config=RunConfig(seed=seed), test_accuracy=0.11, test_loss=2.3, weights_sha256=weights * 64,
                     device="CPU:0", loss_per_epoch=[2.3], accuracy_per_epoch=[0.1], fit_evaluate_seconds=1.0,
                     run_seconds=1.0, tensorflow_import_seconds=0.0, worker_pid=1, run_in_worker=1,
                     processes="warm", fingerprint=fingerprint or FINGERPRINT)


def write_card(path, results) -> str:
    path.write_text(json.dumps(results_document(results, "test")))
    return str(path)


def test_machine_label_names_what_changes_the_arithmetic() -> None:
    assert machine_label(FINGERPRINT) == "Test CPU | AVX512F | TF 2.21.0 | no GPU"
    older = copy.deepcopy(FINGERPRINT)
    older["env"] = {"ONEDNN_MAX_CPU_ISA": "SSE41", "TF_ENABLE_ONEDNN_OPTS": "0"}
    older["gpus"] = ["/physical_device:GPU:0"]
    assert machine_label(older) == "Test CPU | AVX512F | TF 2.21.0 | GPU:0 | ISA capped at SSE41 | oneDNN off"


def test_pooled_cards_group_seeded_runs_by_machine(tmp_path) -> None:
    other_machine = make_fingerprint(cpu={**FINGERPRINT["cpu"], "vector_flags": ["sse4_2", "avx", "avx2"]})
    cards = [
        write_card(tmp_path / "ana.json", [result("a"), result("a"), result("c", seed=None)]),
        write_card(tmp_path / "ben.json", [result("a")]),
        write_card(tmp_path / "chloe.json", [result("b", fingerprint=other_machine)] * 2),
    ]
    pooled = pool(cards)
    assert len(pooled) == 6 and pooled["seed"].dtype.name == "Int64"
    table = seeded_by_machine(pooled)
    runs = {machine: row["runs"] for (_, _, machine), row in table.iterrows()}
    assert runs == {"Test CPU | AVX512F | TF 2.21.0 | no GPU": 3, "Test CPU | AVX2 | TF 2.21.0 | no GPU": 2}
    assert table["distinct weights"].tolist() == [1, 1]
    verdict, sentence = pool_report(pooled)
    assert verdict.holds
    assert sentence.startswith("3 card(s) from 2 machine(s)") and "give 2 distinct weight(s)" in sentence


def test_a_machine_that_disagrees_with_itself_fails_the_verdict(tmp_path) -> None:
    pooled = pool([write_card(tmp_path / "odd.json", [result("a"), result("b")])])
    verdict, _ = pool_report(pooled)
    assert not verdict.holds and str(verdict) == "same seed on the same machine: identical weights: False"


def test_pool_needs_cards() -> None:
    with pytest.raises(ConfigError, match="no cards given"):
        pool([])


def test_pool_from_the_command_line(tmp_path) -> None:
    card = write_card(tmp_path / "ana.json", [result("a"), result("a")])
    done = run_cli("pool", card)
    assert done.returncode == 0, done.stderr
    assert "same seed on the same machine: identical weights: True" in done.stdout
    bad = run_cli("pool", str(tmp_path / "missing.json"))
    assert bad.returncode == 2 and bad.stderr.strip() == (
        f"python -m helpers: error: there is no results file at {tmp_path / 'missing.json'}.")
