"""Bad input across the command line, the API, the control panel and card loading: one sentence each.

Every case below is run, and its message must contain the answer listed. The README's table of bad
inputs is made from these cases (``python -m tests.test_bad_inputs`` prints it) and a test keeps the
two equal, so the table shows what the lab really answers.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from helpers import card, colab, compare, runner, workshop
from helpers.cardfile import card_document, load_card
from helpers.cli import main
from helpers.config import ConfigError, RunConfig
from helpers.panel import ControlPanel
from helpers.weights import encode, weights_sha256
from tests.conftest import REPO, make_result

MARK_START, MARK_END = "<!-- bad-inputs:start -->", "<!-- bad-inputs:end -->"


@dataclass(frozen=True)
class Case:
    where: str  # "command line", "Python", "control panel", "card file"
    given: str  # what the user did, as they would write it
    answer: str  # what the message says (a fragment of it, without paths that vary)
    make: Callable[[Path], str]  # does it, returns the message


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
    Case("command line", "`audit --repeats 1`",
         "the audit compares runs with each other, so it needs at least 2 repeats.", cli("audit", "--repeats", "1")),
    Case("command line", "`audit --out /no/such/folder/a.json`", "the folder /no/such/folder does not exist.",
         cli("audit", "--out", "/no/such/folder/a.json")),
    Case("command line", "`card --out x.json --env NOVALUE`", "'NOVALUE' must look like NAME=VALUE",
         cli("card", "--out", "x.json", "--env", "NOVALUE")),
    Case("command line", "`card --out x.json --env CUDA_VISIBLE_DEVICES=-1`",
         "set the device and the seed with their own settings, not through env.",
         cli("card", "--out", "{tmp}/x.json", "--env", "CUDA_VISIBLE_DEVICES=-1")),
    Case("command line", "`card --out FOLDER` (a folder)", "it is a folder; give a file name such as",
         cli("card", "--out", "{tmp}")),
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
    Case("card file", "a card cut short (an upload that stopped)", "is not a card: it is not valid JSON",
         card_file(lambda folder: json.dumps(document())[:500])),
    Case("card file", '`{"hello": 1}`', 'is not a results file written by this lab (no "format"',
         card_file('{"hello": 1}')),
    Case("card file", "a card from a newer lab (format version 3)",
         "was written by a newer lab (format version 3); update the lab",
         card_file(lambda folder: json.dumps(document(format_version=3)))),
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


@pytest.mark.parametrize("case", CASES, ids=[f"{c.where}: {c.given}" for c in CASES])
def test_bad_input_gets_one_sentence(case: Case, tmp_path: Path) -> None:
    message = case.make(tmp_path)
    assert case.answer in message, message
    assert "\n" not in message and "Traceback" not in message and len(message) < 500, message


def test_the_readme_table_is_these_cases() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(re.escape(MARK_START) + r"\n(.*?)\n" + re.escape(MARK_END), readme, re.S)
    assert match, f"README.md has no table between {MARK_START} and {MARK_END}"
    assert match[1] == render_table(), "README.md's bad-input table is stale: python -m tests.test_bad_inputs"
    assert len(CASES) >= 25


if __name__ == "__main__":
    print(render_table())
