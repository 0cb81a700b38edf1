"""Building frozen dataclasses in bulk.

A frozen dataclass's generated `__init__` sets each field through
`object.__setattr__`; a plan makes 10,000 entries and `issue get` facts for every
unsettled change, and a runner reads a task row and a change's state per change, so
they are made here at a third of that cost, as that `__init__` leaves them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields as dataclass_fields
from typing import Any, TypeVar

_T = TypeVar("_T")
_FIELD_NAMES: dict[type, frozenset[str]] = {}
_FIELD_ORDER: dict[type, tuple[str, ...]] = {}


def made(cls: type[_T], values: dict[str, Any]) -> _T:
    """`cls(**values)` of a frozen dataclass (no `__post_init__`, no default factory) given
    every one of its fields. Naming a field `cls` does not have, or leaving one out, is a
    `TypeError`, as the `__init__` would raise."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = frozenset(f.name for f in dataclass_fields(cls))  # type: ignore[arg-type]
    if values.keys() != names:
        raise TypeError(f"{cls.__name__} takes {sorted(names)}, not {sorted(values)}")
    instance = object.__new__(cls)
    instance.__dict__.update(values)
    return instance


def made_from(cls: type[_T], values: Sequence[Any]) -> _T:
    """`cls(*values)` of such a dataclass given every field in order (a database row):
    the wrong number of values is a `TypeError`, as the `__init__` would raise."""
    names = _FIELD_ORDER.get(cls)
    if names is None:
        names = _FIELD_ORDER[cls] = tuple(f.name for f in dataclass_fields(cls))  # type: ignore[arg-type]
    if len(values) != len(names):
        raise TypeError(f"{cls.__name__} takes {len(names)} values, not {len(values)}")
    instance = object.__new__(cls)
    instance.__dict__.update(zip(names, values))
    return instance
