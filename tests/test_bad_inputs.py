"""Bad input across the command line, the API, the control panel and card loading: one sentence each.

Every case below is run, and its message must contain the answer listed. The table of bad inputs in
docs/bad-inputs.md is made from these cases (``python -m tests.test_bad_inputs`` prints it) and a test
keeps the two equal, so the table shows what the lab really answers.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from helpers.cards import colab, compare, workshop
from helpers.cards import making as card
from helpers.cards.fileformat import card_document, load_card
from helpers.cli import main
from helpers.core.config import ConfigError, RunConfig
from helpers.core.weights import encode, weights_sha256
from helpers.running import runner
from helpers.views.panel import ControlPanel
from tests.conftest import REPO, make_result

MARK_START, MARK_END = "<!-- bad-inputs:start -->", "<!-- bad-inputs:end -->"
TABLE_DOC = Path("docs") / "bad-inputs.md"  # relative to the repository


@dataclass(frozen=True)
class Case:
    where: str  # "command line", "Python", "control panel", "card file"
    given: str  # what the user did, as they would write it
    answer: str  # what the message says (a fragment of it, without paths that vary)
    make: Callable[[Path], str]  # does it, returns the message
    slow: bool = False  # starts TensorFlow (a learner's script run in a worker process)


def cli(*args: str) -> Callable[[Path], str]:
    """``python -m helpers ARGS`` in this process (the subprocess form is tested in test_cli.py)."""

    def run(folder: Path) -> str:
        argv = [a.replace("{tmp}", str(folder)) for a in args]
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = main(argv)
            except SystemExit as exit_:
                code = exit_.code
        assert code == 2, f"exit code {code}"
        lines = err.getvalue().strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in lines[0], lines
        return lines[0]

    return run


def api(call: Callable[[Path], object]) -> Callable[[Path], str]:
    def run(folder: Path) -> str:
        with pytest.raises(ConfigError) as caught:
            call(folder)
        return str(caught.value)

    return run


def card_file(text: str | bytes | Callable[[Path], str | bytes]) -> Callable[[Path], str]:
    def run(folder: Path) -> str:
        path = folder / "card.json"
        data = text(folder) if callable(text) else text
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
        return api(lambda _: load_card(path))(folder)

    return run


def panel(**change: object) -> Callable[[Path], str]:
    def run(folder: Path) -> str:
        widgets = ControlPanel(background=False, gpu_available=False, epochs=2, repeats=2)
        busy = change.pop("busy", False)
        for name, value in change.items():
            if name == "stop":
                widgets.stop_button.click()
                continue
            getattr(widgets, name).value = value
        if busy:
            widgets.busy = True
        if "stop" not in change and "device" not in change:
            widgets.run_button.click()
        return widgets.message

    return run


@contextlib.contextmanager
def environment(**values: str):
    """Variables set for the call (the workers it starts inherit them), restored after."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def in_environment(make: Callable[[Path], str], **values: str) -> Callable[[Path], str]:
    def run(folder: Path) -> str:
        with environment(**{k: v.replace("{tmp}", str(folder)) for k, v in values.items()}):
            return make(folder)

    return run


def fake_tensorflow(version: str, keras: bool = True) -> Callable[[Path], str]:
    """A stand-in ``tensorflow`` package of ``version`` (with its pip metadata) on the workers' PYTHONPATH, for
    the TensorFlow versions and installations this machine cannot have (faked: it computes nothing)."""

    def run(folder: Path) -> str:
        package = folder / "fake" / "tensorflow"
        package.mkdir(parents=True)
        (package / "__init__.py").write_text(f"__version__ = {version!r}\n")
        if keras:
            (package / "keras.py").write_text("")
        meta = folder / "fake" / f"tensorflow-{version}.dist-info"
        meta.mkdir()
        (meta / "METADATA").write_text(f"Metadata-Version: 2.1\nName: tensorflow\nVersion: {version}\n")
        return in_environment(cli("card", "--out", "{tmp}/card.json", "--quiet"), PYTHONPATH="{tmp}/fake")(folder)

    return run


def old_python(minor: str) -> Callable[[Path], str]:
    """``python3.X -m helpers card`` with this machine's pyenv Python 3.X (which has no NumPy), from a clone."""

    def run(folder: Path) -> str:
        from tests.test_your_environment import pyenv_python

        done = subprocess.run([pyenv_python(minor), "-m", "helpers", "card", "--out", str(folder / "c.json")],
                              capture_output=True, text=True, cwd=REPO, timeout=120)
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, lines
        return lines[0]

    return run


@functools.cache
def numpy_only_python() -> Path:
    """A real environment with this Python and NumPy but no TensorFlow (built once per session, with uv)."""
    import numpy as np

    from helpers.stacks.installers import build_environment, env_python

    root = Path(tempfile.mkdtemp(prefix="numpy-only-"))
    atexit.register(shutil.rmtree, root, True)  # gone with the test session
    folder = root / "venv"
    build_environment(sys.executable, folder, [[f"numpy=={np.__version__}"]])
    return env_python(folder)


def without_tensorflow(folder: Path) -> str:
    done = subprocess.run([str(numpy_only_python()), "-m", "helpers", "card", "--out", str(folder / "c.json")],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 2 and not (folder / "c.json").exists(), done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def document(**changes: object) -> dict:
    doc = json.loads(json.dumps(card_document([make_result("a"), make_result("b", device="cpu")], "test")))
    doc.update(changes)
    return doc


def tampered(folder: Path) -> str:
    doc = document()
    run = doc["runs"][0]
    snaps = [[np.full((2,), float(i), dtype=np.float32)] for i in range(3)]
    run.update(weights_per_epoch=encode(snaps, [0, 1, 2]), weights_sha256=weights_sha256(snaps[-1]),
               initial_weights_sha256=weights_sha256(snaps[0]))
    run["config"]["epochs"] = 2
    run["weights_per_epoch"]["sha256"][1] = "0" * 64
    return json.dumps(doc)


def other_seed(folder: Path) -> str:
    (folder / "a.json").write_text(json.dumps(document()))
    (folder / "b.json").write_text(json.dumps(card_document([make_result("a", seed=7)], "test")))
    return cli("compare", "{tmp}/a.json", "{tmp}/b.json")(folder)


def unseeded_only(folder: Path) -> str:
    (folder / "u.json").write_text(json.dumps(card_document([make_result("c", seed=None)], "test")))
    return cli("imitate", "{tmp}/u.json")(folder)


SCRIPTS = {  # a learner's scripts, each wrong in one way
    "raises.py": 'import tensorflow as tf\nx = 1\nraise ValueError("no file data.csv here")\n',
    "nofit.py": 'print("no training here")\n',
    "ask.py": 'name = input("Your name? ")\n',
    "slow.py": "import time\ntime.sleep(600)\n",
    "exits.py": 'import sys\nprint("bye")\nsys.exit(0)\n',
    "broken.py": "import numpy as np\nx = np.zeros((3,)\n",
    "jax.py": 'import os\nos.environ["KERAS_BACKEND"] = "jax"\nimport keras\n',
    "notes.txt": "not a script\n",
}


def script(name: str, *args: str) -> Callable[[Path], str]:
    """``python -m helpers check NAME ARGS`` on one of SCRIPTS, written to the case's folder."""

    def run(folder: Path) -> str:
        _write(folder, name, SCRIPTS[name])
        return cli("check", f"{{tmp}}/{name}", "--quiet", *args)(folder)

    return run


def with_backend(folder: Path) -> str:
    """KERAS_BACKEND=jax in the learner's environment."""
    _write(folder, "nofit.py", SCRIPTS["nofit.py"])
    saved = os.environ.get("KERAS_BACKEND")
    os.environ["KERAS_BACKEND"] = "jax"
    try:
        return cli("check", "{tmp}/nofit.py", "--quiet")(folder)
    finally:
        os.environ.pop("KERAS_BACKEND") if saved is None else os.environ.update(KERAS_BACKEND=saved)


def script_card_file(folder: Path) -> Path:
    doc = card_document([], "test")
    doc["script"] = {"name": "train.py"}
    return _write(folder, "script-card.json", json.dumps(doc))


def huge(folder: Path) -> str:
    path = folder / "huge.json"
    with path.open("wb") as file:  # the report's bogus card: 63 MB of runs
        file.write(b'{"format": "keras-repro-lab/results", "runs": [')
        file.write(b'{"bogus": 1},' * 4_846_149)  # 63.0 MB in all
        file.write(b'{}]}')
    return cli("pool", str(path))(folder)


CASES = [
    Case("command line", "`run --mode gpu`", "argument --mode: invalid choice: 'gpu'", cli("run", "--mode", "gpu")),
    Case("command line", "`run --mode seeded --repeats 0`", "repeats must be from 1 to 50, not 0.",
         cli("run", "--mode", "seeded", "--repeats", "0")),
    Case("command line", "`run --mode seeded --seed -3`", "seed must be from 0 to 4294967295, not -3.",
         cli("run", "--mode", "seeded", "--seed", "-3")),
    Case("command line", "`run --mode unseeded --seed 5`",
         "unseeded runs take no seed (got 5); drop the seed, or use mode seeded.",
         cli("run", "--mode", "unseeded", "--seed", "5")),
    Case("command line", "`run --mode seeded --epochs 0`", "epochs must be from 1 to 500, not 0.",
         cli("run", "--mode", "seeded", "--epochs", "0")),
    Case("command line", "`run --mode seeded --batch-size 5000`", "batch size must be from 1 to 1000, not 5000.",
         cli("run", "--mode", "seeded", "--batch-size", "5000")),
    Case("command line", "`run --mode seeded --parallel 0`", "parallel must be a whole number of at least 1, not 0.",
         cli("run", "--mode", "seeded", "--parallel", "0")),
    Case("command line", "`run` without `--mode`", "the following arguments are required: --mode", cli("run")),
    Case("command line", "`run --mode seeded --seed abc`", "argument --seed: invalid int value: 'abc'",
         cli("run", "--mode", "seeded", "--seed", "abc")),
    Case("command line", "`audit --repeats 1`",
         "the audit compares runs with each other, so it needs at least 2 repeats.", cli("audit", "--repeats", "1")),
    Case("command line", "`audit --out /no/such/folder/a.json`", "the folder /no/such/folder does not exist.",
         cli("audit", "--out", "/no/such/folder/a.json")),
    Case("command line", "`card` without `--out`", "the following arguments are required: --out", cli("card")),
    Case("command line", "`card --out x.json --repeats 1`", "needs at least 2 repeats",
         cli("card", "--out", "{tmp}/x.json", "--repeats", "1")),
    Case("command line", "`card --out x.json --env NOVALUE`", "'NOVALUE' must look like NAME=VALUE",
         cli("card", "--out", "x.json", "--env", "NOVALUE")),
    Case("command line", "`card --out x.json --env CUDA_VISIBLE_DEVICES=-1`",
         "set the device and the seed with their own settings, not through env.",
         cli("card", "--out", "{tmp}/x.json", "--env", "CUDA_VISIBLE_DEVICES=-1")),
    Case("command line", "`diverge --b-env ONEDNN_MAX_CPU_ISA=PENTIUM`",
         "ONEDNN_MAX_CPU_ISA='PENTIUM' is not a level oneDNN knows, and it would ignore it without a word",
         cli("diverge", "--b-env", "ONEDNN_MAX_CPU_ISA=PENTIUM", "--epochs", "1", "--quiet")),
    Case("command line", "`card --out FOLDER` (a folder)", "it is a folder; give a file name such as",
         cli("card", "--out", "{tmp}")),
    Case("command line", "`card --out /proc/x.json` (a path that cannot be written), before any run",
         "cannot write /proc/x.json: No such file or directory; give a path in a folder you can write to.",
         cli("card", "--out", "/proc/x.json")),
    Case("your environment", "Python 3.8 (`python3.8 -m helpers card ...`)",
         "the lab needs Python 3.9 or newer and this is Python 3.8", old_python("3.8")),
    Case("your environment", "Python 3.7 (`python3.7 -m helpers card ...`)",
         "the lab needs Python 3.9 or newer and this is Python 3.7", old_python("3.7")),
    Case("your environment", "neither NumPy nor TensorFlow (this machine's bare Python 3.9)",
         "NumPy is not installed in this environment", old_python("3.9")),
    Case("your environment", "NumPy, but no TensorFlow (a real environment without it)",
         "TensorFlow is not installed in this environment", without_tensorflow),
    Case("your environment", "TensorFlow 2.9.3 (faked: a stand-in package)",
         "has TensorFlow 2.9.3, and the lab needs TensorFlow 2.10 or newer", fake_tensorflow("2.9.3")),
    Case("your environment", "NumPy 2 under TensorFlow 2.10.1 (faked TensorFlow; real in test_learner_stacks.py)",
         "TensorFlow 2.10.1 was built for NumPy 1 and this environment", fake_tensorflow("2.10.1")),
    Case("your environment", "TensorFlow 2.19.0 without Keras (faked: a stand-in package)",
         "TensorFlow 2.19.0 finds no Keras in this environment", fake_tensorflow("2.19.0", keras=False)),
    Case("your environment", "`KERAS_BACKEND=jax`",
         "Keras is set to its jax backend (KERAS_BACKEND=jax), and the lab's runs need its TensorFlow backend",
         in_environment(cli("card", "--out", "{tmp}/card.json", "--quiet"), KERAS_BACKEND="jax")),
    Case("command line", "`compare a.json missing.json`", "there is no results file at",
         cli("compare", "{tmp}/missing.json", "{tmp}/missing.json")),
    Case("command line", "`compare` two cards made with different seeds",
         "have no seeded runs of the same setting to compare", other_seed),
    Case("command line", "`imitate` a card with only unseeded runs",
         "has no seeded or CPU-forced runs to imitate (unseeded runs differ by design)", unseeded_only),
    Case("command line", '`pool` a card whose `"runs"` is `"abc"`',
         "is not a valid card: the top level: 'format_version' is a required property", lambda folder: cli(
             "pool", str(_write(folder, "abc.json", '{"format": "keras-repro-lab/results", "version": 1, '
                                                    '"runs": "abc"}')))(folder)),
    Case("command line", "`pool` a 63 MB file of bogus runs",
         "is not a card: it is 63.0 MB, and a card is at most 4 MB.", huge),
    Case("command line", "`python -m helpers bogus`", "argument command: invalid choice: 'bogus'", cli("bogus")),
    Case("command line", "`check missing.py`", "there is no script at", cli("check", "{tmp}/missing.py")),
    Case("command line", "`check notes.txt` (not a Python file)", "notes.txt is not a Python file (.py)",
         script("notes.txt")),
    Case("command line", "`check broken.py` (a syntax error)", "broken.py has a syntax error at line 2",
         script("broken.py")),
    Case("command line", "`check raises.py` (the script raises)",
         "raises.py raised ValueError: no file data.csv here at line 3.", script("raises.py"), slow=True),
    Case("command line", "`check nofit.py` (never calls `fit`)", "nofit.py ran to its end without calling model.fit",
         script("nofit.py"), slow=True),
    Case("command line", "`check ask.py` (reads standard input)", "ask.py reads standard input at line 1; the lab "
         "runs it with no one to type, so put the value in the script.", script("ask.py"), slow=True),
    Case("command line", "`check slow.py --timeout 2` (runs past the time limit)",
         "slow.py ran past the time limit of 2 s and was stopped", script("slow.py", "--timeout", "2"), slow=True),
    Case("command line", "`check exits.py` (`sys.exit` before training)",
         "exits.py called sys.exit(0) at line 3 before training", script("exits.py"), slow=True),
    Case("command line", "`check jax.py` (sets `KERAS_BACKEND=jax`)",
         "jax.py sets KERAS_BACKEND to 'jax'; the lab records TensorFlow runs", script("jax.py")),
    Case("command line", "`check` with `KERAS_BACKEND=jax` in the environment",
         "Keras is set to the jax backend here (KERAS_BACKEND)", with_backend),
    Case("command line", "`check train.py --repeats 1`", "the doctor compares fresh runs with each other, so it "
         "needs at least 2 repeats.", script("nofit.py", "--repeats", "1")),
    Case("command line", "`check train.py --max-epochs 0`", "--max-epochs must be a whole number of at least 1, "
         "not 0.", script("nofit.py", "--max-epochs", "0")),
    Case("command line", "`card --script train.py --xla on`", "--xla does not apply to a script",
         lambda folder: cli("card", "--script", str(_write(folder, "nofit.py", SCRIPTS["nofit.py"])), "--out",
                            "{tmp}/c.json", "--xla", "on")(folder)),
    Case("command line", "`imitate` a card of a script without `--script`", "give the script too (--script train.py)",
         lambda folder: cli("imitate", str(script_card_file(folder)))(folder)),
    Case("command line", "`compare` a card of a script with one of the article's model",
         "is a card of a script and a.json of the article's model",
         lambda folder: cli("compare", str(script_card_file(folder)),
                            str(_write(folder, "a.json", json.dumps(document()))))(folder)),
    Case("card file", "a card cut short (an upload that stopped)", "is not a card: it is not valid JSON",
         card_file(lambda folder: json.dumps(document())[:500])),
    Case("card file", '`{"hello": 1}`', 'is not a results file written by this lab (no "format"',
         card_file('{"hello": 1}')),
    Case("card file", "a card from a newer lab (format version 4)",
         "was written by a newer lab (format version 4); update the lab",
         card_file(lambda folder: json.dumps(document(format_version=4)))),
    Case("card file", "`NaN` where a number should be", "NaN is not a number JSON allows",
         card_file(lambda folder: json.dumps(document()).replace('"test_loss": 2.3', '"test_loss": NaN', 1))),
    Case("card file", "a photo renamed `card.json`", "is not a card: it is not UTF-8 text.",
         card_file(b"\xff\xd8\xff\xe0\x00\x10JFIF")),
    Case("card file", "a test accuracy of `\"high\"`", "runs[0].test_accuracy: 'high' is not of type 'number'",
         card_file(lambda folder: json.dumps(document()).replace('"test_accuracy": 0.11', '"test_accuracy": "high"',
                                                                 1))),
    Case("card file", "a run whose seed is -4", "run 0: seed must be from 0 to 4294967295, not -4.",
         card_file(lambda folder: json.dumps(document()).replace('"seed": 42', '"seed": -4', 1))),
    Case("card file", "per-epoch weights tampered with", "after epoch 1 do not match their SHA-256",
         card_file(tampered)),
    Case("Python", '`RunConfig(task="mnist")`', "task must be one of article, learnable, not 'mnist'.",
         api(lambda _: RunConfig(task="mnist"))),
    Case("Python", '`RunConfig(seed_calls="python")`',
         "seed calls must be a list such as ['python', 'numpy'], not 'python'.",
         api(lambda _: RunConfig(seed_calls="python"))),
    Case("Python", '`RunConfig(env=(("A B", "1"),))`',
         "environment entries must be a variable name and a text value, not 'A B'='1'.",
         api(lambda _: RunConfig(env=(("A B", "1"),)))),
    Case("Python", '`run_configs([RunConfig(env=(("ONEDNN_MAX_CPU_ISA", "PENTIUM"),))])`',
         "ONEDNN_MAX_CPU_ISA='PENTIUM' is not a level oneDNN knows, and it would ignore it without a word; use one of",
         api(lambda _: runner.run_configs([RunConfig(env=(("ONEDNN_MAX_CPU_ISA", "PENTIUM"),))], progress=False))),
    Case("Python", '`run_configs(configs, processes="cold")`', "processes must be one of warm, fresh, not 'cold'.",
         api(lambda _: runner.run_configs([], processes="cold"))),
    Case("Python", "`make_card(note=...)` with 301 characters", "the note must be text of at most 300 characters.",
         api(lambda folder: card.make_card(folder / "c.json", note="x" * 301))),
    Case("Python", '`compare_cards(a, b, setting="gpu")`', "setting must be seeded or cpu, not 'gpu'.",
         api(lambda folder: compare.compare_cards(
             _write(folder, "a.json", json.dumps(document())), _write(folder, "b.json", json.dumps(document())),
             setting="gpu"))),
    Case("Python", '`pool_folder("missing")`', "; put the cards in one and give its path.",
         api(lambda folder: workshop.pool_folder(folder / "missing"))),
    Case("Python", "`upload_cards()` outside Colab",
         "uploading works in Colab; here, put the card files in a folder and give their paths.",
         api(lambda _: colab.upload_cards())),
    Case("control panel", "epochs 0, then Run", "Not run: epochs must be from 1 to 500, not 0.", panel(epochs=0)),
    Case("control panel", "repeats 99, then Run", "Not run: repeats must be from 1 to 50, not 99.", panel(repeats=99)),
    Case("control panel", "seed -1, then Run", "Not run: seed must be from 0 to 4294967295, not -1.",
         panel(seed=-1)),
    Case("control panel", "device gpu on a machine without one",
         "Device gpu is not available because TensorFlow sees no GPU here; choose auto or cpu.",
         panel(device="gpu")),
    Case("control panel", "op determinism on, seed off, then Run",
         "Not run: op determinism needs TensorFlow's seed (tf.random.set_seed): TensorFlow refuses random ops "
         "without one then; turn the seed on, or op determinism off.", panel(op_determinism=True, seed_on=False)),
    Case("control panel", "Run again while a press is running",
         "A run is already in progress; wait for it to finish, or press Stop.", panel(busy=True)),
    Case("control panel", "Stop when nothing runs", "Nothing is running, so there is nothing to stop.",
         panel(stop=True)),
]


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def render_table() -> str:
    lines = ["| where | bad input | the lab's answer (one sentence; paths left out) |", "|---|---|---|"]
    for case in CASES:
        answer = case.answer.replace("|", "\\|")
        lines.append(f"| {case.where} | {case.given.replace('|', chr(92) + '|')} | {answer} |")
    return "\n".join(lines)


@pytest.mark.parametrize("case", [pytest.param(c, marks=[pytest.mark.slow] if c.slow else []) for c in CASES],
                         ids=[f"{c.where}: {c.given}" for c in CASES])
def test_bad_input_gets_one_sentence(case: Case, tmp_path: Path) -> None:
    message = case.make(tmp_path)
    assert case.answer in message, message
    assert "\n" not in message and "Traceback" not in message and len(message) < 500, message


def test_the_docs_table_is_these_cases() -> None:
    doc = (REPO / TABLE_DOC).read_text(encoding="utf-8")
    match = re.search(re.escape(MARK_START) + r"\n(.*?)\n" + re.escape(MARK_END), doc, re.S)
    assert match, f"{TABLE_DOC.as_posix()} has no table between {MARK_START} and {MARK_END}"
    assert match[1] == render_table(), (
        f"{TABLE_DOC.as_posix()}'s bad-input table is stale: run python -m tests.test_bad_inputs --write"
    )
    assert len(CASES) >= 25


def write_table() -> None:
    """Put the table of these cases between the markers of docs/bad-inputs.md."""
    path = REPO / TABLE_DOC
    doc = path.read_text(encoding="utf-8")
    start, end = doc.index(MARK_START) + len(MARK_START), doc.index(MARK_END)
    path.write_text(doc[:start] + "\n" + render_table() + "\n" + doc[end:], encoding="utf-8")


if __name__ == "__main__":
    import sys

    write_table() if "--write" in sys.argv else print(render_table())
