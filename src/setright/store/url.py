"""How a store URL is shown, and the errors that name it (one place for both).

The URL is shown as configured (a relative path stays relative, as written in
setright.yaml, SETRIGHT_STORE or --store) with any `user:password@` removed,
so a message never leaks a secret and always names what the user typed.
"""

from __future__ import annotations

import re

from setright.errors import StoreError

_CREDENTIALS = re.compile(r"//[^/@]*@")


def shown_url(url: str) -> str:
    """A store URL fit to print: as configured, without credentials."""
    return _CREDENTIALS.sub("//", url)


def no_store(url: str) -> StoreError:
    """A reader found nothing at `url`: it never creates a store, so say how to make one."""
    return StoreError(f"no audit store at {shown_url(url)}", [
        "read commands never create one: check store.url, SETRIGHT_STORE or --store,",
        "or create it with 'setright init' (any writer, such as 'setright run', does too)",
    ])


def needs_upgrade(url: str, version: int, current: int) -> StoreError:
    """A reader found a store too old to read as is; readers never upgrade it."""
    return StoreError(
        f"the audit store at {shown_url(url)} needs an upgrade; run a writer "
        "(setright run / apply) or setright init",
        [f"its schema version is {version}; this setright reads {current}"])
