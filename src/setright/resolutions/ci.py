"""Which pull request an apply came from, when CI says so (recorded in the ledger and events).

`SETRIGHT_PR` wins (a number, `#123`, or an http(s) URL); otherwise GitHub
Actions' environment: `GITHUB_REF` of a pull-request run (`refs/pull/123/merge`),
else the event payload at `GITHUB_EVENT_PATH` (`pull_request.number`, e.g. for
`pull_request_target`). A number becomes a URL when `GITHUB_SERVER_URL` and
`GITHUB_REPOSITORY` say where the repository lives, else it is kept as `#123`.
Takes the environment as a mapping so tests need not touch `os.environ`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from setright.errors import SetrightError
from setright.textfile import read_text

PR_ENV = "SETRIGHT_PR"

_NUMBER = re.compile(r"^#?([1-9][0-9]{0,9})$")
_URL = re.compile(r"^https?://\S+$")
_PULL_REF = re.compile(r"^refs/pull/([1-9][0-9]{0,9})/(?:merge|head)$")


def pull_request_from_env(environ: Mapping[str, str]) -> str | None:
    """The pull request as a URL or `#N`, or None when the environment names none.

    An unusable `SETRIGHT_PR` is an error rather than silently dropped: someone
    set it on purpose and expects it in the ledger.
    """
    given = (environ.get(PR_ENV) or "").strip()
    if given:
        if _URL.match(given):
            return given
        match = _NUMBER.match(given)
        if not match:
            raise SetrightError(f"{PR_ENV}={given!r} is not a pull request number or URL",
                                ["use e.g. 123, #123 or https://github.com/OWNER/REPO/pull/123"])
        return _with_url(int(match.group(1)), environ)
    number = _number_from_ref(environ.get("GITHUB_REF")) or _number_from_event(
        environ.get("GITHUB_EVENT_PATH"))
    return None if number is None else _with_url(number, environ)


def _number_from_ref(ref: str | None) -> int | None:
    match = _PULL_REF.match((ref or "").strip())
    return int(match.group(1)) if match else None


def _number_from_event(path: str | None) -> int | None:
    """`pull_request.number` of the event payload; anything unreadable counts as no PR."""
    if not path:
        return None
    try:
        event = json.loads(read_text(path))
    except (OSError, ValueError):
        return None
    pull = event.get("pull_request") if isinstance(event, dict) else None
    number = pull.get("number") if isinstance(pull, dict) else None
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        return None
    return number


def _with_url(number: int, environ: Mapping[str, str]) -> str:
    server = (environ.get("GITHUB_SERVER_URL") or "").strip().rstrip("/")
    repository = (environ.get("GITHUB_REPOSITORY") or "").strip().strip("/")
    if _URL.match(server) and re.fullmatch(r"[\w.-]+/[\w.-]+", repository):
        return f"{server}/{repository}/pull/{number}"
    return f"#{number}"
