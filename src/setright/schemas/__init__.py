"""JSON Schemas shipped as package data, and validation that names file:line:column."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from setright import validcache
from setright.errors import Problem
from setright.yamlfile import SHOWN_LIMIT, YamlDocument, shape, shown

SCHEMA_FILES = {
    "config": "config.v1.json",
    "change": "change.v1.json",
    "resolution": "resolution.v1.json",
    "plan": "plan.v1.json",
}


def schema_text(name: str) -> str:
    """The schema beside this module; through importlib.resources only where the package is
    not plain files (a zip), since importing it costs every command a few milliseconds."""
    try:
        return Path(__file__).with_name(SCHEMA_FILES[name]).read_text(encoding="utf-8")
    except OSError:
        from importlib import resources

        return resources.files(__name__).joinpath(SCHEMA_FILES[name]).read_text(encoding="utf-8")


@cache
def load_schema(name: str) -> dict[str, Any]:
    return json.loads(schema_text(name))


@cache
def schema_digest(name: str) -> str:
    return hashlib.sha256(schema_text(name).encode("utf-8")).hexdigest()


@cache
def validator_for(name: str) -> Any:
    """One compiled validator per schema, reused for every file (100,000 change files)."""
    from jsonschema import Draft202012Validator  # lazy: keeps `setright --help` fast

    return Draft202012Validator(load_schema(name))


def schema_problems(doc: YamlDocument, name: str) -> list[Problem]:
    """Every schema violation of `doc`, in document order, each located in the file.

    A text that passed this schema before passes again without jsonschema
    (`setright.validcache`); anything else is validated by it.
    """
    if doc.data is None:
        return [doc.problem((), "the file is empty; expected a YAML mapping")]
    if not isinstance(doc.data, dict):  # say what it is, never what it says
        return [doc.problem((), f"expected a mapping, got {shape(doc.data)}")]
    key = (validcache.validation_key(name, schema_digest(name), doc.text_digest)
           if doc.text_digest else None)
    if key is not None and validcache.passed(key):
        return []
    found = _validate(doc, name)
    if not found and key is not None:
        validcache.record_pass(key)
    return found


def data_problems(data: Any, name: str) -> list[tuple[str, str]]:
    """(JSON path, message) of every violation of data that has no file (what `audit fix`
    and `redrive` were given), so the command line obeys the rules a file does."""
    found = _one_per_rule(validator_for(name).iter_errors(data))
    return sorted((e.json_path, _message(e)) for e in found)


def _one_per_rule(errors: Any) -> list[Any]:
    """The errors, but of the `allOf` parts one value fails, only the first: a ticket with a
    line break breaks both of its rules, and is one problem, said once."""
    seen: set[tuple[Any, ...]] = set()
    kept = []
    for error in errors:
        where = list(error.schema_path)
        if "allOf" in where:
            rule = (tuple(error.absolute_path), tuple(where[:where.index("allOf")]))
            if rule in seen:
                continue
            seen.add(rule)
        kept.append(error)
    return kept


def _validate(doc: YamlDocument, name: str) -> list[Problem]:
    found: list[Problem] = []
    for error in _one_per_rule(validator_for(name).iter_errors(doc.data)):
        path = tuple(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = set(error.schema.get("properties", {}))
            hint = f" (allowed: {', '.join(sorted(allowed))})" if allowed else ""
            extra = sorted((k for k in error.instance if k not in allowed), key=str)
            found += [doc.problem((*path, k), f"unknown key {shown(k)}{hint}", key=True)
                      for k in extra]
            if extra:
                continue
        if "propertyNames" in error.schema_path:   # a key the mapping may not have: at it
            found.append(doc.problem((*path, error.instance), _message(error), key=True))
            continue
        found.append(doc.problem(path, _message(error)))
    found.sort(key=lambda p: (p.line or 0, p.column or 0))
    return found


def _message(error: Any) -> str:
    """A shorter, user-facing message for the common validators.

    jsonschema's own messages start with the instance's repr; values longer
    than a short identifier are described instead (`shown`), so a token in
    the wrong place is never echoed into a log or a PR comment.
    """
    description = error.schema.get("description") if isinstance(error.schema, dict) else None
    if error.validator == "required":
        return error.message.replace("is a required property", "is required")
    if error.validator == "type" and (not description or error.instance is None):
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return f"expected {_TYPE_WORDS.get(expected, expected)}, got {_type_word(error.instance)}"
    if error.validator in ("pattern", "enum", "type", "minLength") and description:
        return f"{shown(error.instance)} is not valid: expected {description}"
    if error.validator == "maxLength":
        return f"{shown(error.instance)} is too long: at most {error.validator_value} characters"
    if error.validator == "enum":
        allowed = ", ".join(str(v) for v in error.validator_value)
        return f"{shown(error.instance)} is not one of {allowed}"
    message = str(error.message)
    raw = repr(error.instance)
    if raw in message and (len(raw) > SHOWN_LIMIT or not raw.isprintable()):
        return message.replace(raw, shown(error.instance))
    return message


_TYPE_WORDS = {"object": "a mapping", "array": "a list", "string": "a string",
               "integer": "a whole number", "number": "a number", "boolean": "true or false"}


def _type_word(value: Any) -> str:
    """'a mapping', "str 'yes'", 'a string of 60 characters': short scalars are named, nothing
    longer is quoted (it may be a token that landed in the wrong place)."""
    if isinstance(value, (bool, dict, list)) or value is None:
        return shape(value)
    text = shown(value)
    return shape(value) if text.startswith("a ") else f"{type(value).__name__} {text}"
