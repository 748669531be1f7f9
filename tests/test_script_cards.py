"""Cards of a learner's script: made under two settings here, compared by stage and layer, imitated, pooled.

One module fixture makes two cards of the digits model (seeded variant, 2 epochs): this machine as
it is, and the same with oneDNN capped at SSE4.1 (an older CPU, said so in the card's note).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.cards.dispatch import compare_cards, imitate
from helpers.cards.fileformat import load_card
from helpers.cards.script_cards import make_script_card, script_card
from helpers.cards.workshop import pool_cards
from helpers.core.config import ConfigError
from helpers.scripts.examples import DIGITS_EXAMPLES

pytestmark = pytest.mark.slow
SCRIPT = DIGITS_EXAMPLES["seeded"]


@pytest.fixture(scope="module")
def cards(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("script-cards")
    plain = make_script_card(SCRIPT, folder / "plain.json", repeats=1, max_epochs=2)
    capped = make_script_card(SCRIPT, folder / "sse41.json", repeats=1, max_epochs=2,
                              env={"ONEDNN_MAX_CPU_ISA": "SSE41"}, note="imitated: oneDNN capped at SSE4.1")
    return plain.card.path, capped.card.path


def test_a_script_card_keeps_the_scripts_hash_and_name_not_its_source_or_folders(cards: tuple[Path, Path]) -> None:
    text = cards[0].read_text(encoding="utf-8")
    document = json.loads(text)
    assert document["script"]["name"] == "digits_seeded.py" and len(document["script"]["sha256"]) == 64
    assert "load_digits" not in text and str(SCRIPT.parent) not in text and str(Path.home()) + "/" not in text
    assert document["command"].startswith("python -m helpers card --script digits_seeded.py --seed 42")
    found = script_card(cards[0])
    assert [(run.mode, run.capped) for run in found.runs] == [("as written", True), ("seeded", True)]
    assert found.caps == {"max_epochs": 2, "max_steps": None}


def test_two_cards_of_a_script_compare_by_stage_layer_and_factor(cards: tuple[Path, Path]) -> None:
    comparison = compare_cards(*cards)
    assert comparison.same_script and comparison.primary.label == "seeded with set_random_seed(42)"
    assert comparison.primary.stages["data"] == "same" and comparison.primary.stages["initial weights"] == "same"
    assert comparison.primary.stages["training"] == "different"
    layers = comparison.primary.layers
    assert layers and layers[0]["epoch"] == 1 and layers[0]["at_first"] > 0
    top = comparison.factors[0]
    assert top.name == "instruction set oneDNN used" and top.b.startswith("SSE41 (capped by ONEDNN_MAX_CPU_ISA=SSE41")
    assert comparison.model == []
    assert "the weights part after epoch 1, first in layer" in comparison.conclusion.lower()
    assert "capped" in comparison.conclusion
    data = json.loads(json.dumps(comparison.to_dict()))
    assert data["same_script"] is True and data["layers"][0]["layer"] == layers[0]["layer"]


def test_a_changed_learning_rate_is_named_before_any_weight(cards: tuple[Path, Path], tmp_path: Path) -> None:
    document = json.loads(cards[1].read_text(encoding="utf-8"))
    for run in document["script"]["runs"]:
        run["model"]["compile"]["optimizer"]["config"]["learning_rate"] = 0.01
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(document), encoding="utf-8")
    comparison = compare_cards(cards[0], changed)
    assert [(f.name, f.b) for f in comparison.model] == [("optimizer Adam: learning_rate", "0.01")]
    assert "optimizer Adam: learning_rate" in comparison.text().split("What differs")[1].splitlines()[1]


def test_the_other_settings_card_is_imitated_bit_for_bit(cards: tuple[Path, Path]) -> None:
    imitation = imitate(cards[1], script=SCRIPT)
    assert imitation.match is not None and imitation.match.description == "oneDNN at SSE41, as theirs"
    assert dict(imitation.match.fix.env)["ONEDNN_MAX_CPU_ISA"] == "SSE41"
    assert not imitation.tried[0].identical  # this machine as it is computes other bits
    with pytest.raises(ConfigError, match="give the script too"):
        imitate(cards[1])


def test_a_class_cards_of_one_script_pool_by_machine(cards: tuple[Path, Path]) -> None:
    workshop = pool_cards(list(cards))
    table = workshop.by_machine()
    assert len(table) == 2 and list(table["distinct weights"]) == [1, 1]
    assert len(set(table["weights"])) == 2  # the two machines trained different bits
    assert all(v.holds for v in workshop.verdicts())


def test_a_script_card_and_an_article_card_are_not_compared(cards: tuple[Path, Path], tmp_path: Path) -> None:
    from helpers.cards.fileformat import card_document
    from tests.conftest import make_result

    article = tmp_path / "article.json"
    article.write_text(json.dumps(card_document([make_result("a")], "test")), encoding="utf-8")
    with pytest.raises(ConfigError, match="is a card of a script and article.json of the article's model"):
        compare_cards(cards[0], article)
    assert load_card(cards[0]).runs == []  # the article's part of a script card is empty


def test_ctrl_c_keeps_the_finished_runs_of_a_script_card(tmp_path: Path, ctrl_c_as_in_a_terminal: None) -> None:
    import shutil
    import signal
    import threading
    import time

    from helpers.scripts.runs import ScriptInterrupted

    folder = tmp_path / "project"
    folder.mkdir()
    script = folder / "slow_when_seeded.py"
    shutil.copyfile(Path(__file__).parent / "scripts" / "slow_when_seeded.py", script)
    marker = folder / "finished-as-written"

    returned = threading.Event()

    def press_ctrl_c() -> None:
        deadline = time.monotonic() + 300
        while not marker.exists() and time.monotonic() < deadline and not returned.is_set():
            time.sleep(0.1)
        # The run as written hands in its answer; the seeded one sleeps on. Never pressed once the card returned.
        if not returned.wait(3):
            signal.raise_signal(signal.SIGINT)

    threading.Thread(target=press_ctrl_c, daemon=True).start()
    started = time.monotonic()
    try:
        with pytest.raises(ScriptInterrupted) as stopped:
            make_script_card(script, tmp_path / "card.json", repeats=1, parallel=2)
    finally:
        returned.set()
    assert time.monotonic() - started < 100  # the sleeping run was ended, not waited for
    assert stopped.value.saved_to == str(tmp_path / "card.json") and len(stopped.value.completed) == 1
    kept = script_card(tmp_path / "card.json")
    assert [run.mode for run in kept.runs] == ["as written"]


def test_diverge_a_script_epoch_by_epoch_and_layer_by_layer() -> None:
    import subprocess
    import sys

    from tests.conftest import REPO

    done = subprocess.run([sys.executable, "-m", "helpers", "diverge", "--script", str(SCRIPT), "--max-epochs", "2",
                           "--b-env", "ONEDNN_MAX_CPU_ISA=SSE41", "--json"], capture_output=True, text=True,
                          timeout=600, cwd=REPO)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["stages"]["data"] == "same" and found["stages"]["training"] == "different"
    assert found["layers"][0]["epoch"] == 1 and found["layers"][0]["at_first"] > 0 and found["capped"]
    assert [row["epoch"] for row in found["per_epoch"]] == [0, 1, 2]
    assert found["per_epoch"][0]["max_abs_difference"] == 0
    assert found["verdicts"][0]["holds"] is True
