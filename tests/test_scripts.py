"""The learner's own script: read (ast), recorded without changing a bit, checked by the doctor, carded.

The recording is proven against the script itself: each test script prints the SHA-256 of its own
trained weights, and a plain ``python SCRIPT.py`` must print the same as the run under the lab's
recorder, on Keras 3 (this environment) and on Keras 2 (TensorFlow 2.15.1, built in the stacks
cache, as ``python -m helpers stacks`` builds it), with Dropout and a tf.data pipeline.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers.core.config import ConfigError
from helpers.core.layers import guess_layers, parting, parting_by_hash, parting_sentence
from helpers.scripts.examples import DIGITS_EXAMPLES
from helpers.scripts.runs import Fix, run_scripts
from helpers.scripts.source import load_script, read_script
from tests.conftest import REPO

SCRIPTS = REPO / "tests" / "scripts"


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- reading the script


def test_seed_calls_are_found_with_where_they_stand(tmp_path: Path) -> None:
    script = _write(tmp_path, "late.py", (
        '"""A learner seeds after making the data and the model."""\n'
        "import random\n"
        "import numpy as np\n"
        "from tensorflow import keras\n"
        "x = np.random.rand(100, 4)\n"                                 # line 5: the data
        "model = keras.Sequential([keras.layers.Dense(2)])\n"         # line 6: the model
        "random.seed(1)\n"
        "np.random.seed(1)\n"
        "keras.utils.set_random_seed(1)\n"
        "model.fit(x, x[:, :2], epochs=1)\n"))
    facts = read_script(load_script(script))
    assert [(c.name, c.line) for c in facts.seed_calls] == [
        ("random.seed", 7), ("numpy.random.seed", 8), ("keras.utils.set_random_seed", 9)]
    assert (facts.data_line, facts.model_line, facts.fit_line, facts.after_imports_line) == (5, 6, 10, 4)
    assert facts.where(facts.seed_calls[0]) == "after the data (line 5) and the model (line 6)"
    assert facts.keras_name == "keras" and facts.keras_imported


def test_calls_inside_the_scripts_own_functions_count_where_they_are_called(tmp_path: Path) -> None:
    script = _write(tmp_path, "main.py", (
        "import os, glob\n"
        "import tensorflow as tf\n"
        "from sklearn.model_selection import train_test_split\n"
        "def setup():\n"
        "    tf.random.set_seed(3)\n"
        "files = os.listdir('data')\n"
        "ordered = sorted(glob.glob('*.csv'))\n"
        "a, b = train_test_split(files)\n"
        "if __name__ == '__main__':\n"
        "    setup()\n"))
    facts = read_script(load_script(script))
    assert [(c.name, c.line) for c in facts.seed_calls] == [("tensorflow.random.set_seed", 5)]
    assert [c.line for c in facts.unsorted_listings] == [6]  # the sorted glob is fine
    assert [c.line for c in facts.splits_left_unseeded()] == [8]
    assert facts.keras_name == "tf.keras" and not facts.keras_imported


def test_the_digits_variants_seed_as_their_names_say() -> None:
    calls = {name: [c.name for c in read_script(load_script(path)).seed_calls]
             for name, path in DIGITS_EXAMPLES.items()}
    assert calls == {"unseeded": [], "seeded": ["random.seed", "numpy.random.seed", "tensorflow.random.set_seed"],
                     "deterministic": ["keras.utils.set_random_seed",
                                       "tensorflow.config.experimental.enable_op_determinism"]}


@pytest.mark.parametrize(("name", "text", "answer"), [
    ("train.ipynb", "{}", "is a notebook; save it as a script first"),
    ("train.txt", "x = 1", "is not a Python file (.py)"),
    ("broken.py", "x = (1,\n", "has a syntax error at line 1"),
    ("jax.py", "import os\nos.environ['KERAS_BACKEND'] = 'jax'\n", "sets KERAS_BACKEND to 'jax'"),
])
def test_a_file_that_cannot_be_run_is_refused_in_one_sentence(tmp_path: Path, name: str, text: str,
                                                              answer: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(answer)):
        load_script(_write(tmp_path, name, text))


# ----------------------------------------------------------------------------- layers


def test_layers_are_guessed_and_the_first_to_part_is_named() -> None:
    shapes = [[4, 3], [3], [3, 2], [2]]
    groups = guess_layers(shapes)
    assert groups == {"layer 1 (4x3)": [0, 1], "layer 2 (3x2)": [2, 3]}
    a = [[np.zeros(s, np.float32) for s in shapes] for _ in range(3)]
    b = [[w.copy() for w in snapshot] for snapshot in a]
    b[1][2][0, 0] = 1e-7  # epoch 1: only the second layer differs
    b[2][0][0, 0], b[2][2][0, 0] = 0.5, 0.25
    rows = parting([0, 1, 2], a, b, groups)
    assert rows[0]["layer"] == "layer 2 (3x2)" and rows[0]["epoch"] == 1
    assert rows[0]["at_first"] == pytest.approx(1e-7) and rows[0]["at_end"] == 0.25
    assert rows[1] == {"layer": "layer 1 (4x3)", "epoch": 1, "at_first": 0.0, "at_end": 0.5}
    assert parting([0, 1, 2], a, a, groups) == []
    assert "first in layer 2 (3x2)" in parting_sentence(rows)
    hashed = parting_by_hash([0, 1], [["x", "y"], ["x", "y"]], [["x", "y"], ["x", "z"]], ["dense", "dense_1"])
    assert hashed == [{"layer": "dense_1", "epoch": 1, "at_first": None, "at_end": None}]


# ----------------------------------------------------------------------------- recording changes nothing


def plain_run(script: Path, python: str) -> str:
    """``python SCRIPT.py`` in its own folder, as a learner runs it; the weights hash it prints."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("PYTHONPATH", None)
    done = subprocess.run([python, script.name], cwd=script.parent, capture_output=True, text=True, timeout=600,
                          env=env, check=True)
    return re.search(r"weights (\w{64})", done.stdout).group(1)


def assert_recording_changes_nothing(python: str) -> None:
    for name in ("dropout_dataset.py", "dropout_arrays.py"):
        script = SCRIPTS / name
        run = run_scripts(load_script(script), [Fix()], python=python)[0]
        printed = re.search(r"weights (\w{64})", "\n".join(run.output)).group(1)
        assert printed == run.weights_sha256 == plain_run(script, python), name
        if name == "dropout_dataset.py":
            # Every batch of both fit calls, in order, and not Keras 3's peek at one batch before training.
            assert [(f["data_kind"], f["batches"]) for f in run.fits] == [("tf.data", 36), ("tf.data", 24)]
            assert run.fits[0]["data_sha256"] != run.fits[1]["data_sha256"]  # reshuffled each epoch
            assert set(dict(run.evaluation_values)) == {"accuracy", "loss"}
        else:
            assert run.fits[0]["data_kind"] == "arrays" and run.evaluations == []  # fit's validation is fit's
        assert [layer["name"] for layer in run.model["layers"]][-1].startswith("dense")
        assert run.initial_weights_sha256 and run.fits[-1]["trajectory_epochs"][0] == 0


@pytest.mark.slow
def test_recording_changes_not_a_bit_on_keras_3() -> None:
    assert_recording_changes_nothing(sys.executable)


@pytest.fixture(scope="session")
def keras2_python() -> str:
    """TensorFlow 2.15.1 (Keras 2) in the stacks cache: built once (uv or pip), then reused."""
    from helpers.stacks.environments import Stack, build
    from helpers.stacks.installers import env_python

    result = build(Stack("2.15.1", python="3.11"))
    return str(env_python(result.environment))


@pytest.mark.slow
@pytest.mark.stacks
def test_recording_changes_not_a_bit_on_keras_2(keras2_python: str) -> None:
    assert_recording_changes_nothing(keras2_python)


@pytest.mark.slow
def test_the_script_runs_in_its_folder_with_its_own_helpers_module_and_caps(tmp_path: Path) -> None:
    _write(tmp_path, "helpers.py", "def rows():\n    return 64\n")  # a course's own helpers.py, not the lab
    (tmp_path / "sizes.txt").write_text("8\n", encoding="utf-8")
    script = _write(tmp_path, "train.py", (
        "import helpers\n"
        "import numpy as np\n"
        "import tensorflow as tf\n"
        "width = int(open('sizes.txt').read())\n"  # a relative path: the script runs in its own folder
        "x = np.ones((helpers.rows(), width), 'float32')\n"
        "model = tf.keras.Sequential([tf.keras.Input((width,)), tf.keras.layers.Dense(1)])\n"
        "model.compile(optimizer='sgd', loss='mse')\n"
        "model.fit(x, x[:, :1], epochs=6, batch_size=8, verbose=0)\n"
        "model.fit(x, x[:, :1], epochs=1, batch_size=8, verbose=0)\n"))
    run = run_scripts(load_script(script), [Fix()], max_epochs=2, max_steps=5)[0]
    assert [(f["epochs_asked"], f["epochs"], f["steps"], bool(f.get("capped"))) for f in run.fits] == [
        (6, 2, 5, True), (1, 1, 5, True)]
    assert run.capped and run.model["shapes"] == [[8, 1], [1]]


# ----------------------------------------------------------------------------- the doctor


@pytest.fixture(scope="module")
def digits_checks() -> dict:
    """The doctor on the three digits variants, capped at 2 epochs (the verdicts do not depend on the length)."""
    from helpers.scripts.doctor import check_script

    checks = {name: check_script(path, max_epochs=2, progress=False)
              for name, path in DIGITS_EXAMPLES.items() if name != "unseeded"}
    done = subprocess.run([sys.executable, "-m", "helpers", "check", str(DIGITS_EXAMPLES["unseeded"]), "--json",
                           "--max-epochs", "2"], capture_output=True, text=True, timeout=900, cwd=REPO)
    assert done.returncode == 0, done.stderr
    checks["unseeded"] = json.loads(done.stdout)
    return checks


@pytest.mark.slow
def test_the_doctor_finds_the_unseeded_digits_model_fixed_by_set_random_seed(digits_checks: dict) -> None:
    found = digits_checks["unseeded"]
    assert found["repeatable"] is False and found["first_differing_stage"] == "data"
    assert found["stages"] == dict.fromkeys(("data", "initial weights", "training", "evaluation"), "different")
    assert [(f["fix"], f["repeatable"]) for f in found["fixes"]] == [("keras.utils.set_random_seed", True)]
    assert found["lines_to_add"] == ["keras.utils.set_random_seed(42)"]
    assert found["where_to_add"].startswith("right after line 12 of digits_unseeded.py (its imports), before the "
                                            "data (line 14) and the model (line 30)")
    assert found["seed_calls"] == [] and found["capped"] is True and len(found["runs"]) == 4
    assert any("train_test_split has no random_state" in line for line in found["advice"])


@pytest.mark.slow
def test_the_doctor_finds_the_seeded_digits_models_repeat_as_written(digits_checks: dict) -> None:
    for name in ("seeded", "deterministic"):
        check = digits_checks[name]
        assert check.repeatable and check.fixed_by is None and len(check.runs) == 2, name
        assert all(stage == "same" for stage in check.stages.values()), name
        assert all(check.facts.where(c) == "before the data and the model" for c in check.facts.seed_calls)
        assert f"{name}.py repeats as written on this machine" in check.text().replace("digits_", "")


@pytest.mark.slow
def test_a_dummy_data_example_is_diagnosed_and_fixed_with_the_line_its_imports_need() -> None:
    from helpers.scripts.doctor import check_script

    check = check_script(SCRIPTS / "dummy_mlp.py", max_epochs=2, progress=False)
    assert not check.repeatable and check.first_differing_stage == "data"
    assert check.fixed_by is not None and check.fixed_by.name == "keras.utils.set_random_seed"
    # It imports from the keras package and binds no name to it: the fix brings its own import.
    assert check.lines_to_add() == ["import keras", "keras.utils.set_random_seed(42)"]
    assert (check.facts.data_line, check.facts.model_line) == (9, 13)
