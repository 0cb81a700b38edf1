"""JSON texts setright writes thousands of times a run, each exactly as `json.dumps` writes it.

`json.dumps(data, sort_keys=True, …)` builds an encoder and walks its Python
wrapper on every call; a runner writes three event metadata texts per change
and a plan digests 10,000 guards. Here each form's C encoder is made once.

They keep no record of the containers being encoded (`check_circular`): every
value is built by setright or parsed from YAML or JSON, which cannot hold a
cycle (the YAML composer refuses a recursive alias), and a record shared
between calls could outlive a failed one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import Any

Encode = Callable[[Any], str]


def sorted_json(data: Any) -> str:
    """`json.dumps(data, sort_keys=True)`: event and audit metadata."""
    return _encoder(", ", ": ", ascii=True, text_default=False)(data)


def canonical_json(data: Any, *, ascii: bool = False) -> str:
    """`json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=ascii,
    default=str)`: the text digests and fingerprints are taken of. It depends only on
    the content: keys sorted, no whitespace."""
    return _encoder(",", ":", ascii=ascii, text_default=True)(data)


@cache
def _encoder(item_separator: str, key_separator: str, *, ascii: bool,
             text_default: bool) -> Encode:
    """One form's encoder: the C encoder `JSONEncoder.encode` would make per call, or
    that encoder's own `encode` where `json` has no C encoder."""
    python = json.JSONEncoder(sort_keys=True, separators=(item_separator, key_separator),
                              ensure_ascii=ascii, default=str if text_default else None)
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython ships the C encoder
        return python.encode
    strings = json.encoder.encode_basestring_ascii if ascii else json.encoder.encode_basestring
    encode = make(None, python.default, strings, None, key_separator, item_separator,
                  True, False, True)
    return lambda data: "".join(encode(data, 0))
