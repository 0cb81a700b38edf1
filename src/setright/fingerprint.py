"""Fingerprints of canonical data: `dh1:` + deepdiff's `DeepHash`.

The `dh1:` prefix names the algorithm, so a future change of hashing is a new
prefix, never a silent mismatch. A plan records the deepdiff version it was
hashed with; under another major version, guards are compared by their data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from setright.jsontext import canonical_json

PREFIX = "dh1:"


def fingerprint(data: Any) -> str:
    from deepdiff import DeepHash  # lazy: deepdiff is slow to import

    return PREFIX + str(DeepHash(data)[data])


def fingerprints(items: Sequence[Any]) -> list[str]:
    """`[fingerprint(item) for item in items]`, the same values, from one `DeepHash`.

    DeepHash hashes every object inside what it is given, each exactly as it
    would alone, so a plan's 10,000 small guard dicts are hashed in one call
    instead of paying DeepHash's set-up 10,000 times.
    """
    if not items:
        return []
    from deepdiff import DeepHash

    batch = list(items)
    hashes = DeepHash(batch)
    return [PREFIX + str(hashes[item]) for item in batch]


def compact_fingerprints(items: Sequence[Any]) -> list[str]:
    """Fingerprints of many small JSON-shaped values (a plan's guards), DeepHashed over
    compact data: each value's canonical JSON text (keys sorted), all in
    one `DeepHash`. A text is one leaf to DeepHash where a guard dict is a dozen nodes,
    so 10,000 guards hash in a fifth of the time; equal data still gives an equal print,
    and any changed value a different one. None (nothing read) stays None."""
    return fingerprints([None if item is None else canonical_json(item) for item in items])


def deepdiff_version() -> str:
    """The version of the deepdiff that hashes here: the module's own `__version__` (the
    fingerprints load it anyway; asking the installed metadata costs a scan of
    site-packages, 30 ms)."""
    import deepdiff

    return str(deepdiff.__version__)


def same_major(a: str, b: str) -> bool:
    return a.split(".", 1)[0] == b.split(".", 1)[0]
