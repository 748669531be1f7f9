"""The helpers behind the notebooks' newer lessons, each verdict fed a case where it must be False.

No TensorFlow except where marked slow.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.core.config import ConfigError
from helpers.core.results import correct_count, same_correct_count
from helpers.running.seeding import hash_in_a_new_interpreter
from helpers.training.in_kernel import train_in_this_kernel
from helpers.training.resume import WAYS, Resumption, resume_check
from helpers.views.setup import notebook_problem
from tests.conftest import make_result


def counted(accuracy: float, examples: int = 200):
    run = make_result("a")
    run.test_accuracy, run.test_examples = accuracy, examples
    return run


def test_correct_counts_say_what_six_decimals_only_seem_to_say() -> None:
    assert correct_count(counted(0.11)) == 22 and correct_count(counted(0.11, 0)) is None
    same = same_correct_count("same count", [counted(0.11)], [counted(0.1100000001)])
    assert same.holds and same.detail == "test examples correct: 22 of 200"
    other = same_correct_count("same count", [counted(0.11)], [counted(0.115)])
    assert not other.holds and other.detail == "test examples correct: 22 of 200, 23 of 200"
    assert not same_correct_count("unknown totals", [counted(0.11, 0)], [counted(0.11, 0)]).holds
    assert not same_correct_count("nothing to compare", [], [counted(0.11)]).holds


def test_resumption_verdicts_follow_the_hashes() -> None:
    ways = list(WAYS)
    good = Resumption(10, 5, "a" * 64, {ways[0]: "a" * 64, ways[1]: "b" * 64, ways[2]: "c" * 64})
    assert [v.holds for v in good.verdicts()] == [True, True]
    bad = Resumption(10, 5, "a" * 64, {ways[0]: "d" * 64, ways[1]: "a" * 64, ways[2]: "c" * 64})
    assert [v.holds for v in bad.verdicts()] == [False, False]
    assert list(good.table().columns) == ["what it restores", "same weights as one go", "weights"]
    with pytest.raises(ConfigError, match="split must be between 0 and 10 epochs, not 10"):
        resume_check(epochs=10, split=10)


@pytest.mark.slow
def test_a_training_session_runs_the_article_model_without_what_keras_imports_for_nothing(tmp_path: Path) -> None:
    """A resume check's session (a new Python, as a reconnect is) hides what the article's worker hides
    (scikit-learn, pandas, matplotlib, IPython): 02c starts five of them."""
    from helpers.running.experiment import NOT_NEEDED_BY_THE_ARTICLE

    probe = ("import json, runpy, sys\n"
             "import helpers.running.worker as worker; worker.end_now = lambda: None  # to print after the session\n"
             f"sys.argv = ['resume', 'first', '1', '0', {str(tmp_path / 'model.keras')!r}, '-']\n"
             "runpy.run_module('helpers.training.resume', run_name='__main__')\n"
             f"print(json.dumps([name in sys.modules and sys.modules[name] is None "
             f"for name in {NOT_NEEDED_BY_THE_ARTICLE!r}]))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, check=True)
    *_, answer, hidden = done.stdout.strip().splitlines()
    assert len(json.loads(answer)["weights_sha256"]) == 64
    assert json.loads(hidden) == [True] * len(NOT_NEEDED_BY_THE_ARTICLE)


def test_the_notebooks_refuse_old_stacks_with_the_way_to_make_a_card() -> None:
    assert notebook_problem((3, 11), "3.15.1") is None
    keras2 = notebook_problem((3, 11), "2.15.0")
    assert keras2 is not None and "Keras 2.15.0" in keras2 and "keras-repro-lab card --out card.json" in keras2
    assert "Python 3.10 or newer" in (notebook_problem((3, 9), "3.0.0") or "")
    assert "no Keras" in (notebook_problem((3, 11), None) or "")


def test_hash_seeds_count_only_when_an_interpreter_starts() -> None:
    assert hash_in_a_new_interpreter("keras", "7") == hash_in_a_new_interpreter("keras", "7")
    assert hash_in_a_new_interpreter("keras", "7") != hash_in_a_new_interpreter("keras", "8")


def test_an_unknown_pipeline_is_one_sentence() -> None:
    with pytest.raises(ConfigError, match="pipeline must be one of arrays, tf.data, not 'csv'"):
        train_in_this_kernel(pipeline="csv")


def test_a_gap_is_noise_only_inside_the_spread_over_seeds() -> None:
    from helpers.scripts.spread import Spread

    spread = Spread("digits.py", (0, 1, 2, 3), (0.90, 0.93, 0.91, 0.95))
    assert round(spread.width, 6) == 0.05 and round(spread.mean, 4) == 0.9225
    inside = spread.verdict_on(0.94, 0.92)
    assert inside.holds and inside.claim.endswith("within the spread of test accuracy over 4 seeds")
    assert not spread.verdict_on(0.99, 0.90).holds  # a gap of 0.09 against a spread of 0.05
    assert spread.report().startswith("test accuracy 0.9225 ± 0.0222")
