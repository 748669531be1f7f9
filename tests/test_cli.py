"""The command line, as a teacher uses it: output format, verdicts, and one-line errors."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pytest

from tests.conftest import run_cli


def schema() -> dict:
    return json.loads(resources.files("helpers.cards").joinpath("card.schema.json").read_text())


@pytest.mark.slow
def test_run_json_is_one_object_with_runs() -> None:
    done = run_cli("run", "--mode", "unseeded", "--repeats", "2", "--epochs", "2", "--json", "--quiet")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    jsonschema.validate(document, schema())
    runs = document["runs"]
    assert [r["mode"] for r in runs] == ["unseeded", "unseeded"]
    assert runs[0]["seed"] is None and runs[0]["device"] == "CPU:0"
    assert runs[0]["weights_sha256"] != runs[1]["weights_sha256"]


@pytest.mark.slow
def test_audit_prints_verdicts_and_writes_every_run(tmp_path) -> None:
    out = tmp_path / "audit.json"
    done = run_cli("audit", "--repeats", "2", "--epochs", "2", "--out", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    for line in ("unseeded runs all differ: True", "seeded runs identical: True", "CPU-forced runs identical: True",
                 "CPU-forced runs identical to default seeded runs: True",
                 "No GPU: TensorFlow sees only the CPU"):
        assert line in done.stdout
    document = json.loads(out.read_text())
    jsonschema.validate(document, schema())
    assert len(document["runs"]) == 6
    assert all(v["holds"] for v in document["verdicts"])

    from helpers.cards.fileformat import load_results
    assert [r.mode for r in load_results(out)] == ["unseeded"] * 2 + ["seeded"] * 2 + ["cpu"] * 2


def test_help_explains_each_option() -> None:
    done = run_cli("run", "--help")
    assert done.returncode == 0
    for option in ("--mode", "--seed", "--repeats", "--task", "--json", "--processes", "--epochs"):
        assert option in done.stdout
    assert "--out" in run_cli("audit", "--help").stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["bogus"], "invalid choice: 'bogus'"),  # argparse's own refusal
        (["run", "--mode", "seeded", "--repeats", "0"], "repeats must be from 1 to 50, not 0."),  # a ConfigError
    ],
)
def test_errors_are_one_line_exit_2_no_traceback(args: list[str], fragment: str) -> None:
    """The two ways a command refuses, as a real process: exit 2, one line on stderr, nothing on stdout.
    Every message itself is checked in test_bad_inputs.py, in this process."""
    done = run_cli(*args)
    assert done.returncode == 2
    assert fragment in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr and done.stdout == ""
