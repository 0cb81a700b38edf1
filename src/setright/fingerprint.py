"""Fingerprints of canonical data: `dh1:` + deepdiff's `DeepHash`.

The `dh1:` prefix names the algorithm, so a future change of hashing is a new
prefix, never a silent mismatch. A plan records the deepdiff version it was
hashed with; under another major version, guards are compared by their data.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from typing import Any

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
    compact data (DESIGN §9.5): each value's canonical JSON text (keys sorted), all in
    one `DeepHash`. A text is one leaf to DeepHash where a guard dict is a dozen nodes,
    so 10,000 guards hash in a fifth of the time; equal data still gives an equal print,
    and any changed value a different one. None (nothing read) stays None."""
    encode = _canonical_encoder() or (lambda item, _: [canonical_json(item)])
    return fingerprints([None if item is None else "".join(encode(item, 0)) for item in items])


def canonical_json(data: Any) -> str:
    """JSON text of `data` that depends only on its content: keys sorted, no whitespace."""
    return _CANONICAL.encode(data)


#: `json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
#: default=str)` builds this encoder on every call; a plan encodes 10,000 guards
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                              default=str)


@cache
def _canonical_encoder() -> Any:
    """The C encoder `_CANONICAL.encode` makes on every call (half of its time for a small
    guard), made once; None where `json` has no C encoder. It keeps no record of the
    containers it is in (`check_circular`): a guard is read from the store, never circular,
    and a record shared between calls could outlive a failed one."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    return make(None, _CANONICAL.default, json.encoder.encode_basestring, None, ":", ",",
                True, False, True)


def deepdiff_version() -> str:
    """The version of the deepdiff that hashes here: the module's own `__version__` (the
    fingerprints load it anyway; asking the installed metadata costs a scan of
    site-packages, 30 ms)."""
    import deepdiff

    return str(deepdiff.__version__)


def same_major(a: str, b: str) -> bool:
    return a.split(".", 1)[0] == b.split(".", 1)[0]
