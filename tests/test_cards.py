"""Cards: the file format (write, load, validate, older versions) and the standard card made for real."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from helpers.cards import validation
from helpers.cards.fileformat import (
    FORMAT_VERSION,
    MAX_CARD_BYTES,
    card_document,
    load_card,
    load_results,
    parse_document,
    schema,
    write_card,
)
from helpers.cards.making import make_card
from helpers.core.config import ConfigError
from helpers.core.weights import decode, encode, weights_sha256
from tests.conftest import make_result, run_cli

CARD_LIMIT_BYTES = 300_000  # what a standard card must stay under (issue: cards that travel)


def document(**changes: object) -> dict:
    results = [make_result("a"), make_result("a"), make_result("c", seed=None)]
    doc = card_document(results, "test")
    doc.update(changes)
    return doc


def write(tmp_path: Path, doc: dict | str, name: str = "card.json") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return path


def test_a_card_round_trips_through_its_file(tmp_path: Path) -> None:
    doc = document(note="made in a test")
    path = write_card(tmp_path / "card.json", doc)
    card = load_card(path)
    assert card.name == "card.json" and card.note == "made in a test" and card.path == path
    assert [r.weights_sha256 for r in card.runs] == [r["weights_sha256"] for r in doc["runs"]]
    assert [r.to_dict() for r in card.runs] == doc["runs"]
    assert load_results(path) == card.runs
    jsonschema.validate(doc, schema())
    assert doc["format_version"] == FORMAT_VERSION


def test_a_version_1_card_still_loads(tmp_path: Path) -> None:
    """Version 1 (the first lab) had no per-epoch weights, no note, and fewer fingerprint fields."""
    doc = document(format_version=1)
    for run in doc["runs"]:
        for key in ("weights_per_epoch",):
            run.pop(key)
        for key in ("keras_backend", "gpu_models", "tf32"):
            run["fingerprint"].pop(key)
    card = load_card(write(tmp_path, doc))
    assert len(card.runs) == 3 and card.trajectories == {}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"format": "keras-repro-lab/results", "format_version": 1, "runs": "abc"}', "is not a valid card:"),
        ('{"format": "keras-repro-lab/results", "format_version": 9}', "written by a newer lab (format version 9)"),
    ],
)
def test_text_that_is_not_a_card_is_one_sentence(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_card(write(tmp_path, text))
    message = str(caught.value)
    assert fragment in message and message.startswith("card.json") and message.endswith(".")
    assert "\n" not in message and len(message) < 400


BAD_VALUES = [
    (lambda d: d["runs"][1].pop("config"), "runs[1]: 'config' is a required property"),
    (lambda d: d["runs"][0]["config"].update(epochs=10**9), "run 0: epochs must be from 1 to 500"),
    (lambda d: d["runs"][0].update(mode="cpu"), "run 0 says mode cpu but its settings make it seeded"),
    (lambda d: d["runs"][0].update(weights_sha256="x" * 64), "runs[0].weights_sha256"),
    (lambda d: d["runs"][0]["fingerprint"].update(env={"A": 5}), "runs[0].fingerprint.env.A: 5 is not of type"),
    (lambda d: d.update(runs=[d["runs"][0]] * 1001), "runs: "),
    (lambda d: d["runs"][0].update(tag="t" * 100_000), "runs[0].tag"),
    # Keys are the card author's too (found by Hypothesis): a line break in one stays escaped.
    (lambda d: d["runs"][0]["config"].update(env={"\n": None}), "runs[0].config.env['\\n']: None is not of type"),
]


@pytest.mark.parametrize(("change", "fragment"), BAD_VALUES)
def test_a_card_with_a_bad_value_is_one_sentence_that_says_where(tmp_path: Path, change, fragment: str) -> None:
    doc = document()
    change(doc)
    with pytest.raises(ConfigError) as caught:
        load_card(write(tmp_path, doc))
    message = str(caught.value)
    assert fragment in message, message
    assert "\n" not in message and len(message) < 400


def test_files_too_big_missing_not_text_or_folders_are_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (MAX_CARD_BYTES + 1))
    with pytest.raises(ConfigError, match=r"big.json is not a card: it is 4.0 MB, and a card is at most 4 MB"):
        load_card(big)
    binary = tmp_path / "photo.json"
    binary.write_bytes(b"\xff\xd8\xff\xe0")
    with pytest.raises(ConfigError, match="photo.json is not a card: it is not UTF-8 text"):
        load_card(binary)
    with pytest.raises(ConfigError, match="there is no results file at"):
        load_card(tmp_path / "missing.json")
    with pytest.raises(ConfigError, match="is a folder, not a card"):
        load_card(tmp_path)


def test_writing_refuses_nan_and_missing_folders(tmp_path: Path) -> None:
    doc = document()
    doc["runs"][0]["test_loss"] = float("nan")
    with pytest.raises(ConfigError, match="NaN or infinite number"):
        write_card(tmp_path / "card.json", doc)
    assert not (tmp_path / "card.json").exists()
    with pytest.raises(ConfigError, match="the folder .* does not exist"):
        write_card(tmp_path / "no" / "card.json", document())


def _with_trajectory(doc: dict, snapshots: list, epochs: list[int]) -> dict:
    run = doc["runs"][0]
    run["weights_per_epoch"] = encode(snapshots, epochs)
    run["weights_sha256"] = weights_sha256(snapshots[-1])
    run["initial_weights_sha256"] = weights_sha256(snapshots[0])
    run["config"]["epochs"] = epochs[-1]
    run["loss_per_epoch"] = [2.3] * epochs[-1]
    return doc


def test_per_epoch_weights_are_decoded_and_checked_on_load(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    snaps = [[rng.normal(size=(3, 2)).astype(np.float32)] for _ in range(3)]
    card = load_card(write(tmp_path, _with_trajectory(document(), snaps, [0, 1, 2])))
    epochs, decoded = card.trajectory(card.runs[0])
    assert epochs == [0, 1, 2] and decoded[2][0].tobytes() == snaps[2][0].tobytes()
    assert card.trajectory(card.runs[1]) is None

    lying = _with_trajectory(document(), snaps, [0, 1, 2])
    lying["runs"][0]["weights_sha256"] = "f" * 64  # the trajectory does not end at the run's weights
    with pytest.raises(ConfigError, match="run 0: the weights per epoch do not match the run's own weight hashes"):
        load_card(write(tmp_path, lying))
    corrupt = _with_trajectory(document(), snaps, [0, 1, 2])
    corrupt["runs"][0]["weights_per_epoch"]["sha256"][1] = "0" * 64
    with pytest.raises(ConfigError, match="after epoch 1 do not match their SHA-256"):
        load_card(write(tmp_path, corrupt))


def test_unknown_fields_from_a_newer_lab_are_ignored(tmp_path: Path) -> None:
    doc = document()
    doc["runs"][0]["from_the_future"] = 1
    doc["runs"][0]["config"]["learning_rate_schedule"] = "cosine"
    assert len(load_card(write(tmp_path, doc)).runs) == 3


def test_parse_document_names_the_source() -> None:
    with pytest.raises(ConfigError, match="^pasted text is not a card"):
        parse_document("{", "pasted text")


# --------------------------------------------------------------------------- the schemas; fastjsonschema and jsonschema


def keywords(schema: dict) -> set[str]:
    """Every keyword a schema uses (the names under properties and $defs are names, not keywords)."""
    found = set(schema)
    for key, value in schema.items():
        if key in ("properties", "$defs"):
            children = list(value.values())
        elif key == "allOf":
            children = value
        elif key in ("items", "additionalProperties", "propertyNames") and isinstance(value, dict):
            children = [value]
        else:
            children = []
        for child in children:
            found |= keywords(child)
    return found


@pytest.mark.parametrize("name", ["card", "script"])
def test_each_schema_is_valid_draft_07_using_only_rules_that_have_a_sentence(name: str) -> None:
    schema = validation.schema(name)
    assert jsonschema.validators.validator_for(schema) is jsonschema.Draft7Validator
    jsonschema.Draft7Validator.check_schema(schema)
    unknown = keywords(schema) - validation.STRUCTURE - validation.RULES
    assert not unknown, f"give these a sentence in helpers/cards/validation.py (_sentence, RULES): {unknown}"


def _with_trajectory_of_two_epochs(doc: dict) -> dict:
    rng = np.random.default_rng(2)
    return _with_trajectory(doc, [[rng.normal(size=(2, 2)).astype(np.float32)] for _ in range(3)], [0, 1, 2])


AGREEMENT_CARDS = [
    lambda d: None,
    lambda d: d.update(format_version=1),
    _with_trajectory_of_two_epochs,
    lambda d: d["runs"][0].update(weights_per_epoch="abc"),
    lambda d: _with_trajectory_of_two_epochs(d)["runs"][0]["weights_per_epoch"].update(encoding="raw"),
    lambda d: d["runs"][0].update(loss_per_epoch=[]),
    lambda d: d["runs"][0].update(weights_sha256="f" * 64 + "\n"),
    lambda d: d["runs"][0].update(device="GPU:12345"),
    lambda d: d["runs"][0]["config"].update(env={f"K{i}": "v" for i in range(21)}),
    lambda d: d["runs"][0]["config"].update(env={"K" * 101: "v"}),
    lambda d: d["runs"][0]["fingerprint"].update(env={"a.b[0]": 5}),
    lambda d: d["runs"][0]["fingerprint"].update(env={"a": None, "a.b": 7}),  # "env.a.b": which key is it?
    lambda d: d["verdicts"].append({"claim": "x", "holds": "yes", "detail": ""}),
    lambda d: d.update(runs="abc"),
    lambda d: d.pop("machine"),
    *(change for change, _ in BAD_VALUES),
]


@pytest.mark.parametrize("change", AGREEMENT_CARDS)
def test_fastjsonschema_and_jsonschema_agree_on_cards(change) -> None:
    """Valid or not, the same for both; and one thing wrong is said in the same words at the same place."""
    doc = json.loads(json.dumps(document()))
    change(doc)
    errors = list(jsonschema.Draft7Validator(schema()).iter_errors(doc))
    found = validation.first_error("card", doc)
    assert (found is None) == (not errors), (found, [e.message for e in errors])
    if len(errors) == 1:
        assert found == (list(errors[0].absolute_path), errors[0].message)


SHA = "a" * 64
SCRIPT_PART = {"name": "train.py", "sha256": SHA, "caps": {"max_epochs": 2, "max_steps": None}, "capped": True,
               "facts": {}, "runs": [{
                   "script": "train.py", "script_sha256": SHA, "fix": {"seed": 42, "threads": None, "env": {"A": "1"}},
                   "fits": [{"data_sha256": None, "weights_sha256": SHA, "epochs": 2, "history": {"loss": [0.5, 0.4]},
                             "trajectory_epochs": [0, 1], "layer_sha256_per_epoch": [[SHA]]}],
                   "evaluations": [{"results": {"loss": 0.3, "accuracy": None}}], "model": {}, "fingerprint": {},
                   "import_seconds": 1.0, "output": []}]}


@pytest.mark.parametrize("change", [
    lambda p: None,
    lambda p: p.update(name="a/b.py"),
    lambda p: p["runs"][0].update(output=["printed"]),
    lambda p: p["runs"][0]["fix"].update(seed=2**32),
    lambda p: p["runs"][0]["fits"][0].update(data_sha256="abc"),
    lambda p: p["runs"][0]["fits"][0].pop("weights_sha256"),
    lambda p: p["runs"][0]["evaluations"][0]["results"].update(loss="low"),
    lambda p: p["runs"][0]["fits"][0]["history"].update(loss=[1, "x"]),
    lambda p: p.update(runs=[]),
])
def test_fastjsonschema_and_jsonschema_agree_on_script_parts(change) -> None:
    part = json.loads(json.dumps(SCRIPT_PART))
    change(part)
    errors = list(jsonschema.Draft7Validator(validation.schema("script")).iter_errors(part))
    found = validation.first_error("script", part)
    assert (found is None) == (not errors), (found, [e.message for e in errors])
    if len(errors) == 1:
        assert found == (list(errors[0].absolute_path), errors[0].message)


# --------------------------------------------------------------------------- made for real


@pytest.mark.slow
def test_the_standard_card(plain_card) -> None:
    card = plain_card
    assert [r.mode for r in card.runs] == ["unseeded"] * 2 + ["seeded"] * 2 + ["cpu"] * 2
    assert all(v.holds for v in card.verdicts), card.verdicts
    size = card.path.stat().st_size
    assert size < CARD_LIMIT_BYTES, f"the standard card is {size} bytes"
    assert sorted(card.trajectories) == [2, 4]  # the first seeded and the first CPU-forced run
    for position in (2, 4):
        run = card.runs[position]
        epochs, snaps = card.trajectory(run)
        assert epochs == list(range(11))
        assert weights_sha256(snaps[0]) == run.initial_weights_sha256
        assert weights_sha256(snaps[-1]) == run.weights_sha256
        assert [s.shape for s in snaps[-1]] == [(10, 128), (128,), (128, 10), (10,)]
    # The second seeded run kept no weights per epoch, and has the same bits: recording changes nothing.
    assert card.runs[3].weights_per_epoch is None
    assert card.runs[3].weights_sha256 == card.runs[2].weights_sha256
    assert load_card(card.path).runs[2].weights_sha256 == card.runs[2].weights_sha256
    assert decode(card.runs[2].weights_per_epoch)[0] == list(range(11))


@pytest.mark.slow
def test_the_card_command(tmp_path: Path) -> None:
    out = tmp_path / "mine.json"
    done = run_cli("card", "--out", str(out), "--epochs", "2", "--env", "ONEDNN_MAX_CPU_ISA=AVX2",
                   "--note", "imitated: AVX2", "--quiet")
    assert done.returncode == 0, done.stderr
    assert "seeded runs identical: True" in done.stdout and f"card written to {out}" in done.stdout
    card = load_card(out)
    assert card.note == "imitated: AVX2"
    assert all(dict(r.config.env) == {"ONEDNN_MAX_CPU_ISA": "AVX2"} for r in card.runs)
    assert all(r.fingerprint["env"]["ONEDNN_MAX_CPU_ISA"] == "AVX2" for r in card.runs)
    assert card.document["command"].endswith("--env ONEDNN_MAX_CPU_ISA=AVX2 --note 'imitated: AVX2' --quiet")


def test_make_card_checks_its_arguments_before_running(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="env must map names to values"):
        make_card(tmp_path / "c.json", env=["ONEDNN_MAX_CPU_ISA=AVX2"])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="the note must be text"):
        make_card(tmp_path / "c.json", note="x" * 301)
