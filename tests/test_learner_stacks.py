"""Cards from the stacks learners really have, made for real in environments the tests build (and cache).

Four stacks: TensorFlow 2.10.1 with Python 3.9 (the last with GPU support on native Windows), 2.15.1 with
Python 3.11 (the last with Keras 2 inside), Colab's (Python 3.13, TensorFlow 2.20, Keras 3.13: the Colab
check's .venv-colab when it is built, else the same versions from colab-pins.txt) and the lab's own. Each
is built once into the lab's stacks cache, so a second run of the suite finds it.

In each, a learner's environment is stood for by a new virtual environment that sees the stack's packages
(through a .pth file: the cached stack itself is never changed) and gets the lab the way a learner installs
it from a clone, ``pip install --no-deps``; the card is made with the console command from a project folder
that holds a ``helpers.py`` of its own. The card is then loaded here, compared with this machine's card,
and its seeded runs are made again in the same stack by the lab's runner: the same bits.

A Python that a stack needs and this machine lacks fails the test in one sentence: the lab's CI machines
have pyenv's 3.7 to 3.13, and a skip would hide that the claim went unchecked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers.cards.compare import compare_cards, representative_runs
from helpers.cards.fileformat import Card, load_card
from helpers.core.stages import DIFFERENT, SAME
from helpers.running.elsewhere import isolated_environment, lab_copy
from helpers.running.runner import run_configs
from helpers.stacks.environments import Stack, build, stack_folder
from helpers.stacks.installers import build_environment, env_python
from helpers.stacks.runs import run_in_stack, stack_for_card
from tests.test_your_environment import pyenv_python

pytestmark = [pytest.mark.stacks, pytest.mark.slow]

VERSION_FACTORS = ("TensorFlow", "Keras")


@dataclass
class Made:
    """A stack, the learner's environment over it, and the card made there."""

    name: str
    base_python: Path  # the stack's own interpreter
    learner_python: Path
    card: Card
    stack: Stack | None  # None: an environment this lab did not build (the lab's own, .venv-colab)
    stdout: str


def _site_packages(python: Path) -> str:
    done = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture(scope="session")
def lab_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The checkout as a clone has it (the files git tracks, with this working tree's content)."""
    from tools.colab_check import lab_source as copy_tracked

    return copy_tracked(tmp_path_factory.mktemp("clone"))


def learner_environment(base_python: Path, folder: Path, source: Path, extra: tuple[str, ...] = ()) -> Path:
    """A virtual environment that sees ``base_python``'s packages and has the lab installed from ``source``
    with ``pip install --no-deps`` (and ``extra`` installed over the base, e.g. another NumPy)."""
    build_environment(str(base_python), folder, [["pip"], *([list(extra)] if extra else [])])
    python = env_python(folder)
    done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                           "--no-deps", str(source)], capture_output=True, text=True, timeout=600,
                          env=isolated_environment(os.environ))
    assert done.returncode == 0, done.stderr[-2000:]
    # Only now the stack's packages: pip's build of the lab must not meet the stack's own (old) setuptools,
    # which this stand-in would put beside its build environment where a learner's venv would not.
    # addsitedir, not a plain path line: it also runs the .pth files of the stack's own site-packages.
    base = _site_packages(base_python)
    Path(_site_packages(python), "_learner_stack.pth").write_text(f"import site; site.addsitedir({base!r})\n")
    return python


def console_command(python: Path) -> Path:
    return python.parent / ("keras-repro-lab.exe" if sys.platform == "win32" else "keras-repro-lab")


def project_folder(folder: Path) -> Path:
    """A learner's project folder, with a helpers.py of their own that must not be imported."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "helpers.py").write_text("raise ImportError(\"the learner's own helpers.py was imported\")\n")
    return folder


def make_card_there(python: Path, folder: Path) -> tuple[Path, subprocess.CompletedProcess[str]]:
    card = folder / "card.json"
    done = subprocess.run([str(console_command(python)), "card", "--out", str(card), "--quiet"], cwd=folder,
                          capture_output=True, text=True, timeout=900, env=isolated_environment(os.environ))
    return card, done


def colab_base() -> tuple[Path, Stack | None]:
    """The Colab check's .venv-colab when it is built and current, else Colab's versions built as a stack."""
    from tools import colab_check

    header, pins = colab_check.read_pins()
    pyenv_python(header["python"])
    stamp = colab_check.VENV / ".pins-sha256"
    wanted = colab_check._digest(colab_check.PINS.read_text(encoding="utf-8"), header["python"])
    if stamp.is_file() and stamp.read_text().strip() == wanted:
        return colab_check.venv_python(), None
    stack = Stack(pins["tensorflow"], keras=pins["keras"], python=header["python"], numpy=pins["numpy"],
                  package="tensorflow")
    return env_python(Path(build(stack).environment or "")), stack


def stack_base(name: str) -> tuple[Path, Stack | None]:
    if name == "lab's own":
        return Path(sys.executable), None
    if name == "colab":
        return colab_base()
    tensorflow, python = {"tf2.10-py3.9": ("2.10.1", "3.9"), "tf2.15-py3.11": ("2.15.1", "3.11")}[name]
    pyenv_python(python)
    stack = Stack(tensorflow, python=python)
    return env_python(Path(build(stack).environment or "")), stack


STACK_NAMES = ("tf2.10-py3.9", "tf2.15-py3.11", "colab", "lab's own")
_made: dict[str, Made] = {}


@pytest.fixture(params=STACK_NAMES)
def made(request: pytest.FixtureRequest, lab_source: Path, tmp_path_factory: pytest.TempPathFactory) -> Made:
    """The card made in the learner's environment over each stack (once per session)."""
    name = request.param
    if name not in _made:
        base, stack = stack_base(name)
        work = tmp_path_factory.mktemp("learner")
        python = learner_environment(base, work / "venv", lab_source)
        card_path, done = make_card_there(python, project_folder(work / "my-project"))
        assert done.returncode == 0, done.stderr[-3000:]
        _made[name] = Made(name, base, python, load_card(card_path), stack, done.stdout)
    return _made[name]


def _seeded(card: Card):  # the run compare explains
    return next(run for key, run in representative_runs(card).items() if key[0] == "seeded")


def test_the_card_records_the_stack_it_was_made_in(made: Made) -> None:
    run = _seeded(made.card)
    fingerprint = run.fingerprint
    expected = {"tf2.10-py3.9": ("2.10.1", "3.9", "tf.keras (Keras 2)"),
                "tf2.15-py3.11": ("2.15.1", "3.11", "tf.keras (Keras 2)")}.get(made.name)
    if expected:
        tensorflow, python, kind = expected
        assert fingerprint["tensorflow"] == tensorflow and fingerprint["keras_kind"] == kind
        assert fingerprint["python"].startswith(python + ".") and fingerprint["numpy"].startswith("1.")
    else:
        assert fingerprint["keras_kind"] == "Keras 3"
    assert fingerprint["environment"]["kind"] == "another"  # a learner's environment, not the lab's .venv
    assert fingerprint["environment"]["lab_installed"] == "from a folder"
    assert fingerprint["cuda_found"] is None and fingerprint["gpus"] == []  # no GPU here
    assert {v.claim: v.holds for v in made.card.verdicts}["seeded runs identical"]
    assert "keras-repro-lab compare" in made.stdout  # the console command names itself


def test_compare_explains_the_card_against_this_machines(made: Made, plain_card: Card) -> None:
    comparison = compare_cards(made.card, plain_card)
    stages = comparison.primary.stages
    names = [f.name for f in comparison.factors]
    if made.name == "lab's own":
        # The same stack and machine: the same bits at every stage (so the learner's card is made again bit for
        # bit by the lab's runner here: plain_card is that run), and nothing recorded differs.
        assert all(outcome == SAME for outcome in stages.values()) and comparison.same_machine, comparison.text()
        ours = representative_runs(plain_card)
        for key, run in representative_runs(made.card).items():
            assert run.weights_sha256 == ours[key].weights_sha256, key
        return
    # Another stack: the same data by value (Keras 2 stores one-hot labels as float32) ...
    assert stages["data"] == SAME, comparison.text()
    run, ours = _seeded(made.card), _seeded(plain_card)
    if made.name != "colab":
        assert run.data_sha256 != ours.data_sha256 and run.data_values_sha256 == ours.data_values_sha256
    # ... the same initial weights (measured: Keras 2.10, 2.15 and 3 all seed the Dense initializers
    # from Python's random, through the same stateless ops) ...
    assert stages["initial weights"] == SAME, comparison.text()
    # ... and the version first among the factors, since no setting can undo it.
    assert names and names[0] in VERSION_FACTORS, names
    if made.name != "colab":
        assert stages["training"] == DIFFERENT, comparison.text()
        assert comparison.primary.first_differing_epoch >= 1  # measured: after epoch 1 (2.10), 2 (2.15)


# Not for the lab's own stack: there the card's runs are this machine's card's runs (plain_card, made by the lab's
# runner in this environment), and test_compare_explains_the_card_against_this_machines finds each the same bits.
@pytest.mark.parametrize("made", [name for name in STACK_NAMES if name != "lab's own"], indirect=True)
def test_the_cards_seeded_runs_are_made_again_bit_for_bit_in_that_stack(made: Made) -> None:
    """What `imitate` needs: the card's stack, here, through the lab's runner (a copy of the lab, warm workers)."""
    targets = list(representative_runs(made.card).values())
    configs = [run.config for run in targets]
    if made.stack is not None and made.name.startswith("tf"):
        stack = stack_for_card(made.card)
        assert stack == made.stack  # the card names the stack it came from
        assert env_python(stack_folder(stack, run_python(targets[0]))) == made.base_python
        again = run_in_stack(stack, configs, progress=False)
    else:
        again = run_configs(configs, python=made.base_python, progress=False)
    for target, run in zip(targets, again, strict=True):
        assert run.weights_sha256 == target.weights_sha256, (target.config.label, made.name)
        assert run.fingerprint["environment"]["lab_installed"] in ("not installed", "editable", "from a folder",
                                                                   "from an index or a wheel")


def run_python(run) -> str:
    return run.fingerprint["python"]


@pytest.mark.parametrize("made", [name for name in STACK_NAMES if name.startswith("tf")], indirect=True)
def test_imitate_reproduces_a_card_from_another_stack_by_running_that_stack(made: Made) -> None:
    """`imitate` itself: a card from TF 2.10 or 2.15 (Keras 2) is reproduced bit for bit in its own stack,
    built here (cached), and says so; the version is then no longer among what cannot be imitated. (The stacks
    the lab builds from a card's versions: Colab's card is made again in its own environment above.)"""
    assert made.stack is not None
    from helpers.cards.imitate import imitate

    imitation = imitate(made.card, progress=False)
    assert imitation.match is not None, imitation.text()
    assert imitation.stack is not None and imitation.stack.startswith(f"TensorFlow {made.stack.tensorflow}")
    assert f"in their stack (TensorFlow {made.stack.tensorflow}" in imitation.conclusion
    assert not any(item.startswith(("TensorFlow", "Keras")) for item in imitation.not_imitated)
    here_only = imitate(made.card, progress=False, other_stacks=False)
    assert here_only.match is None and any(item.startswith("TensorFlow") for item in here_only.not_imitated)


def test_numpy_2_under_tensorflow_2_10_is_refused_in_one_sentence(lab_source: Path, tmp_path: Path) -> None:
    """For real: TensorFlow 2.10.1's stack with NumPy 2.0.2 installed over it, as a fresh pip install would."""
    base, _ = stack_base("tf2.10-py3.9")
    python = learner_environment(base, tmp_path / "venv", lab_source, extra=("numpy==2.0.2",))
    card, done = make_card_there(python, project_folder(tmp_path / "project"))
    assert done.returncode == 2 and not card.exists()
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert "TensorFlow 2.10.1 was built for NumPy 1 and this environment" in done.stderr
    assert "has NumPy 2.0.2: pin NumPy below 2 there (pip install \"numpy<2\")" in done.stderr


def test_keras_2_warm_workers_give_the_bits_of_fresh_processes() -> None:
    """Keras 2 in a reused worker: after an unseeded run, and after code that called keras.utils.set_random_seed
    (whose generator clear_session leaves behind), a seeded run gives a new process's bits."""
    from helpers.core.config import RunConfig

    base, stack = stack_base("tf2.10-py3.9")
    assert stack is not None
    seeded = RunConfig(seed=42, epochs=2)
    (fresh,) = run_in_stack(stack, [seeded], processes="fresh", progress=False)
    # Runs of one seed share a worker (the seed is its PYTHONHASHSEED): first one that leaves Python's random
    # unseeded, then one of another task, then the seeded run.
    before = [RunConfig(seed=42, seed_calls=("numpy", "tensorflow"), epochs=2), RunConfig(seed=42, task="learnable")]
    warm = run_in_stack(stack, [*before, seeded], processes="warm", parallel=1, progress=False, keep_workers=False)
    assert warm[2].run_in_worker == 3 and warm[2].weights_sha256 == fresh.weights_sha256
    code = ("import sys; sys.path[0] = sys.argv[1]\n"
            "from tensorflow import keras\n"
            "from helpers.core.config import RunConfig\n"
            "from helpers.core.weights import weights_sha256\n"
            "from helpers.running.experiment import build_model\n"
            "from helpers.running.seeding import apply_seeds\n"
            "keras.utils.set_random_seed(99)\n"
            "keras.backend.clear_session()\n"
            "apply_seeds(RunConfig(seed=42))\n"
            "print(weights_sha256(build_model().get_weights()))\n")
    done = subprocess.run([str(base), "-c", code, str(lab_copy())], capture_output=True, text=True, timeout=300,
                          env={**isolated_environment(os.environ), "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == fresh.initial_weights_sha256


def test_the_learners_card_loads_as_json_with_the_whole_stack(made: Made) -> None:
    document = json.loads(Path(made.card.path or "").read_text(encoding="utf-8"))
    fingerprint = document["runs"][0]["fingerprint"]
    for key in ("tensorflow", "keras", "keras_kind", "keras_backend", "python", "numpy", "cuda_build",
                "cuda_version", "cudnn_version", "cuda_found", "gpus", "environment"):
        assert key in fingerprint, key
    text = json.dumps(document["runs"][0]["fingerprint"])
    assert str(Path.home()) not in text and str(made.learner_python.parent) not in text  # no paths of the learner


def test_a_keras_2_worker_leaves_no_files_in_the_temporary_folder(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Keras 2's train step goes through autograph, which writes the converted code to files in the temporary
    folder and removes them at exit; a worker leaves without Python's shutdown, and must still remove them."""
    from helpers.core.config import RunConfig
    from helpers.running.processes import Worker, environment_key, worker_environment
    from helpers.stacks.runs import stack_interpreter

    _, stack = stack_base("tf2.15-py3.11")
    assert stack is not None
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # where Python's tempfile, and so autograph, writes
    seeded = RunConfig(seed=42, epochs=1)
    worker = Worker(environment_key(seeded), worker_environment(seeded), stack_interpreter(stack))
    try:
        assert worker.run(seeded)["weights_sha256"]
        written = sorted(path.name for path in tmp_path.glob("__autograph_generated_file*"))
    finally:
        worker.close(wait=True)
    assert written, "the run wrote no autograph files here, so this test proves nothing"
    assert sorted(path.name for path in tmp_path.iterdir()) == []
