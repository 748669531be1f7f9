"""The card schemas, checked with fastjsonschema, and what is wrong said in the lab's words.

A card is checked against ``card.schema.json`` (a script card's ``"script"`` part against
``script.schema.json`` too) before anything reads it. fastjsonschema turns a schema into Python code
once per process (about 60 ms for the card's) and then checks a card in well under a millisecond;
jsonschema, which the lab used before, costs about a second to import (its optional format
checkers build a grammar at import), more than the whole of ``compare`` may take. fastjsonschema
reads drafts 04, 06 and 07, so the schemas are draft-07.

fastjsonschema stops at the first thing wrong and names it by its rule (``type``, ``required``...),
the bad value and the schema around it; :func:`first_error` says it as jsonschema said it (``'high'
is not of type 'number'``), at the path of keys and indexes that leads to it. The tests check that
jsonschema (draft-07) and this agree on valid and invalid cards, message included.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from helpers.core.config import shown

DRAFT = "http://json-schema.org/draft-07/schema#"
SCHEMAS = {"card": "card.schema.json", "script": "script.schema.json"}
# Every keyword the schemas may use (a test keeps them to these): those that structure or describe a
# schema and fail nothing of their own, and the rules, each with its sentence below.
STRUCTURE = frozenset({"$schema", "$defs", "$ref", "title", "description", "properties", "items", "allOf"})
RULES = frozenset({"type", "enum", "const", "required", "pattern", "maxLength", "minItems", "maxItems", "minimum",
                   "maximum", "maxProperties", "propertyNames", "additionalProperties"})

Steps = list  # str keys and int indexes, from the document's top down to the bad value


@functools.cache
def schema(name: str) -> dict[str, Any]:
    """The schema ``name`` ("card" or "script"), as JSON."""
    return json.loads(resources.files("helpers.cards").joinpath(SCHEMAS[name]).read_text(encoding="utf-8"))


def _no_remote_refs(uri: str) -> Any:
    raise ValueError(f"the card schemas refer only to themselves, not to {uri}")


def _compile(definition: dict[str, Any]) -> Any:
    import fastjsonschema

    # use_default=False: checking a card must never change it. No $ref leaves the schema, and none may fetch.
    return fastjsonschema.compile(definition, handlers={"http": _no_remote_refs, "https": _no_remote_refs},
                                  use_default=False)


@functools.cache
def _validator(name: str) -> Any:
    return _compile(schema(name))


@functools.cache
def _sub_validator(name: str, definition: str) -> Any:
    """A validator of one part of schema ``name`` (JSON text), its ``$defs`` at hand."""
    return _compile({"$schema": DRAFT, "$defs": schema(name).get("$defs", {}), "allOf": [json.loads(definition)]})


def first_error(name: str, document: Any) -> tuple[Steps, str] | None:
    """The first thing wrong with ``document`` under schema ``name``: where (keys and indexes) and what
    (jsonschema's sentence); None when the document is valid."""
    from fastjsonschema import JsonSchemaValueException

    try:
        _validator(name)(document)
    except JsonSchemaValueException as error:
        return _explained(name, document, error)
    return None


def _explained(name: str, document: Any, error: Any) -> tuple[Steps, str]:
    path = _steps(document, error)
    value, definition, rule = error.value, error.definition if isinstance(error.definition, dict) else {}, error.rule
    if rule == "propertyNames":  # a key is wrong: say what is wrong with the first bad one, as jsonschema does
        names = _sub_validator(name, json.dumps(definition["propertyNames"]))
        from fastjsonschema import JsonSchemaValueException

        for key in value:
            try:
                names(key)
            except JsonSchemaValueException as inner:
                return path, _sentence(inner.rule, key, inner.definition or {}, inner.message)
    return path, _sentence(rule, value, definition, error.message)


def _sentence(rule: str | None, value: Any, definition: dict[str, Any], fallback: str) -> str:
    """jsonschema's sentence for ``value`` breaking ``rule`` of ``definition``."""
    bound = definition.get(rule) if rule else None
    if rule == "type":
        return f"{value!r} is not of type {', '.join(repr(t) for t in (bound if isinstance(bound, list) else [bound]))}"
    if rule == "enum":
        return f"{value!r} is not one of {bound!r}"
    if rule == "const":
        return f"{bound!r} was expected"
    if rule == "required":
        missing = next((key for key in bound if key not in value), bound[0])
        return f"{missing!r} is a required property"
    if rule == "pattern":
        return f"{value!r} does not match {bound!r}"
    if rule in ("minItems", "minLength"):
        return f"{value!r} {'should be non-empty' if bound == 1 else 'is too short'}"
    if rule in ("maxItems", "maxLength", "maxProperties"):
        too_many = "has too many properties" if rule == "maxProperties" else "is too long"
        return f"{value!r} {'is expected to be empty' if bound == 0 else too_many}"
    if rule == "minimum":
        return f"{value!r} is less than the minimum of {bound!r}"
    if rule == "maximum":
        return f"{value!r} is greater than the maximum of {bound!r}"
    if rule == "additionalProperties":
        extras = sorted((key for key in value if key not in definition.get("properties", {})), key=str)
        listed = ", ".join(repr(key) for key in extras)
        return f"Additional properties are not allowed ({listed} {'was' if len(extras) == 1 else 'were'} unexpected)"
    return " ".join(fallback.split()[1:]) or fallback  # fastjsonschema's own words, without its "data..." name


def _steps(document: Any, error: Any) -> Steps:
    """The keys and indexes the error's name (``data.runs[0].config.env.A``) stands for, read against the
    document itself down to the bad value: a key from a card's author may hold dots or brackets."""

    def walk(node: Any, rest: str) -> Steps | None:
        if not rest:
            return [] if node is error.value or (type(node) is type(error.value) and node == error.value) else None
        if isinstance(node, list) and rest.startswith("["):
            index, _, after = rest[1:].partition("]")
            if index.isdigit() and int(index) < len(node):
                found = walk(node[int(index)], after)
                if found is not None:
                    return [int(index), *found]
        if isinstance(node, dict) and rest.startswith("."):
            for key in node:
                if isinstance(key, str) and rest.startswith(key, 1):
                    found = walk(node[key], rest[1 + len(key):])
                    if found is not None:
                        return [key, *found]
        return None

    found = walk(document, (error.name or "data")[len("data"):])
    return found if found is not None else list(error.path[1:])  # fastjsonschema's own reading, keys as text


def _step(step: int | str) -> str:
    if isinstance(step, int):
        return f"[{step}]"
    quoted = shown(step)
    return f".{step}" if step.isidentifier() and quoted == repr(step) else f"[{quoted}]"


def where(steps: Steps) -> str:
    """``runs[0].test_accuracy``: a short plain key stands as it is, any other key is quoted as ``shown``
    quotes values (a key may hold anything, a line break included); "" for the top level."""
    return "".join(_step(step) for step in steps).lstrip(".")
