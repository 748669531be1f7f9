"""Property-based tests: whatever comes in, the lab gives a result or one ConfigError sentence.

Settings, cards and comparisons are the places where input comes from people and files the lab
does not control (a workshop's cards come from strangers). Hypothesis throws arbitrary values,
arbitrary JSON and valid cards with arbitrary parts replaced at them; any other exception, or a
message that is not one line, fails the test. The same changed cards check that the lab's schema check
(fastjsonschema) and jsonschema agree.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from helpers.cards import validation
from helpers.cards.compare import compare_cards
from helpers.cards.fileformat import card_document, card_from_document, load_card, parse_document
from helpers.core.config import ConfigError, RunConfig
from helpers.core.weights import encode, weights_sha256
from tests.conftest import make_fingerprint, make_result

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20))
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
              st.text(max_size=20)),
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children,
                                                                               max_size=4)),
    max_leaves=12,
)
anything = st.one_of(scalars, json_values, st.tuples(scalars, scalars), st.lists(st.tuples(scalars, scalars)))


def one_sentence(error: ConfigError) -> None:
    message = str(error)
    assert message and "\n" not in message and len(message) < 1000, message


@SETTINGS
@given(st.dictionaries(st.sampled_from(["seed", "task", "device", "epochs", "batch_size", "seed_calls",
                                        "op_determinism", "jit_compile", "env"]), anything))
def test_any_settings_give_a_config_or_one_sentence(values: dict[str, Any]) -> None:
    try:
        config = RunConfig(**values)
    except ConfigError as error:
        one_sentence(error)
        return
    assert RunConfig.from_dict(config.to_dict()) == config
    assert isinstance(config.label, str)


@SETTINGS
@given(anything)
def test_any_settings_document_gives_a_config_or_one_sentence(data: Any) -> None:
    try:
        RunConfig.from_dict(data)
    except ConfigError as error:
        one_sentence(error)


def valid_document() -> dict[str, Any]:
    """A card with a seeded run that carries per-epoch weights, a CPU-forced and an unseeded run."""
    rng = np.random.default_rng(0)
    snapshots = [[rng.normal(size=(2, 3)).astype(np.float32), rng.normal(size=3).astype(np.float32)]
                 for _ in range(3)]
    recorded = make_result("a", epochs=2)
    recorded.loss_per_epoch = [2.3, 2.2]
    recorded.weights_per_epoch = encode(snapshots, [0, 1, 2])
    recorded.initial_weights_sha256 = weights_sha256(snapshots[0])
    recorded.weights_sha256 = weights_sha256(snapshots[-1])
    runs = [recorded, make_result("b", device="cpu", epochs=2), make_result("c", seed=None)]
    return json.loads(json.dumps(card_document(runs, "test")))


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in a JSON document, as a tuple of keys and indexes."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths(child, (*prefix, index))
    return found


def replaced(document: dict[str, Any], where: tuple, new: Any) -> Any:
    document = copy.deepcopy(document)
    if not where:
        return new
    parent = document
    for step in where[:-1]:
        parent = parent[step]
    parent[where[-1]] = new
    return document


VALID = valid_document()
PLACES = paths(VALID)
# A second machine for comparisons: Keras 2 on a GPU, seeded runs on the GPU and CPU-forced ones.
SECOND = json.loads(json.dumps(card_document(
    [make_result("d", fingerprint=make_fingerprint(tensorflow="2.15.1", keras="2.15.0",
                                                   gpus=["/physical_device:GPU:0"]), ran_on="GPU:0", epochs=2),
     make_result("b", device="cpu", epochs=2)], "test")))
SECOND_PLACES = paths(SECOND)


@st.composite
def same_kind(draw: Any, places: list[tuple], document: dict[str, Any]) -> tuple[tuple, Any]:
    """A place in ``document`` and a new value of the same JSON kind, so the change often passes the
    schema and reaches the code behind it."""
    where = draw(st.sampled_from(places))
    old: Any = document
    for step in where:
        old = old[step]
    if isinstance(old, bool):
        new = draw(st.booleans())
    elif isinstance(old, int):
        new = draw(st.one_of(st.integers(-3, 3 * max(1, abs(old))), st.integers()))
    elif isinstance(old, float):
        new = draw(st.floats(allow_nan=False, allow_infinity=False))
    elif isinstance(old, str):
        new = draw(st.one_of(st.text(max_size=70), st.sampled_from(["", "0", "cpu", "GPU:0", "seeded", "f" * 64])))
    else:
        new = draw(json_values)
    return where, new


def load_text(text: str) -> Any:
    try:
        return card_from_document(parse_document(text, "card.json"), "card.json")
    except ConfigError as error:
        one_sentence(error)
        return None


@SETTINGS
@given(json_values)
def test_any_json_is_a_card_or_one_sentence(value: Any) -> None:
    load_text(json.dumps(value))


@SETTINGS
@given(st.sampled_from(PLACES), json_values)
def test_a_card_with_any_part_replaced_loads_or_is_one_sentence(where: tuple, new: Any) -> None:
    load_text(json.dumps(replaced(VALID, where, new)))


@SETTINGS
@given(st.binary(max_size=200))
def test_any_bytes_in_a_file_are_a_card_or_one_sentence(tmp_path_factory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("bytes") / "card.json"
    path.write_bytes(data)
    try:
        load_card(path)
    except ConfigError as error:
        one_sentence(error)


@SETTINGS
@given(same_kind(PLACES, VALID))
def test_a_card_with_any_value_changed_loads_or_is_one_sentence(change: tuple[tuple, Any]) -> None:
    event("loaded" if load_text(json.dumps(replaced(VALID, *change))) is not None else "refused")


@SETTINGS
@given(same_kind(PLACES, VALID), same_kind(SECOND_PLACES, SECOND), st.sampled_from([None, "seeded", "cpu", "gpu", 3]))
def test_comparing_any_two_cards_gives_a_comparison_or_one_sentence(change_a: tuple[tuple, Any],
                                                                     change_b: tuple[tuple, Any], setting: Any) -> None:
    a = load_text(json.dumps(replaced(VALID, *change_a)))
    b = load_text(json.dumps(replaced(SECOND, *change_b)))
    if a is None or b is None:
        event("a card was refused")
        return
    try:
        comparison = compare_cards(a, b, setting=setting)
    except ConfigError as error:
        event("refused")
        one_sentence(error)
        return
    event("compared")
    json.dumps(comparison.to_dict(), allow_nan=False)
    assert comparison.conclusion and "\n" not in comparison.conclusion
    comparison.text()


DRAFT7 = jsonschema.Draft7Validator(validation.schema("card"))


def agrees_with_jsonschema(document: Any) -> None:
    """The lab's check (fastjsonschema) and jsonschema's draft-07 validator find the same documents valid,
    and say one thing wrong in the same words at the same place."""
    errors = list(DRAFT7.iter_errors(document))
    found = validation.first_error("card", document)
    assert (found is None) == (not errors), (found, [e.message for e in errors])
    if len(errors) == 1:
        assert found == (list(errors[0].absolute_path), errors[0].message)


@SETTINGS
@given(st.sampled_from(PLACES), json_values)
def test_the_schema_check_agrees_with_jsonschema_on_any_part_replaced(where: tuple, new: Any) -> None:
    agrees_with_jsonschema(replaced(VALID, where, new))


@SETTINGS
@given(same_kind(PLACES, VALID))
def test_the_schema_check_agrees_with_jsonschema_on_any_value_changed(change: tuple[tuple, Any]) -> None:
    agrees_with_jsonschema(replaced(VALID, *change))
