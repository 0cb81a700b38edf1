"""What a message may quote: text that looks like a credential never reaches one.

setright's errors and outputs end up in CI logs and pull request comments, so a
token pasted into the wrong field (a YAML value, a URL's query) is described or
masked wherever it would be echoed (`yamlfile.shown`, and `mask_password` for
every database URL a message or an output names).
"""

from __future__ import annotations

import os
import re
from urllib.parse import unquote

#: What issued tokens start with (GitHub, GitLab, Slack, Stripe, AWS access keys, JWTs)
_TOKEN_MARKS = ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "xoxa-",
                "xoxb-", "xoxp-", "xoxr-", "xoxs-", "sk_live_", "rk_live_", "AKIA", "eyJ")
#: A run of letters and digits (and base64's `+/=`), at least 20 long, with a digit, a
#: lowercase and an uppercase letter: a random secret. Ids (`ap-` + a ULID, hex digests) and
#: words lack one of the three; `-` and `_` end a run, as they separate an id's parts.
_RANDOM_RUN = re.compile(r"(?=[A-Za-z0-9+/=]*[0-9])(?=[A-Za-z0-9+/=]*[a-z])"
                         r"(?=[A-Za-z0-9+/=]*[A-Z])[A-Za-z0-9+/=]{20,}")


def looks_secret(text: str) -> bool:
    """Whether `text` holds what looks like a credential: an issued token's prefix, or a
    long random-looking run of letters and digits."""
    return any(mark in text for mark in _TOKEN_MARKS) or _RANDOM_RUN.search(text) is not None


def escaped_name(name: str) -> str:
    """A file name as a message may print it: bytes that are not UTF-8 as `\\xff`, a
    newline, an escape or any other character that is not printable as `\\n`, `\\x1b`…,
    so a name can neither forge a line of output nor drive the terminal."""
    raw = os.fsencode(name).decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in raw)


def mask_password(text: str) -> str:
    """A URL fit to print, as configured: `scheme://user:***@host/...?password=***`.

    The one masking function: a server URL keeps its user (the role a message is
    about, unless it looks like a token) and loses its password; a SQLite URL has no
    user, so any `user:pw@` written into one is dropped whole. In the query, a
    credential parameter's value and any name or value that looks like a credential
    (`looks_secret`) are masked too."""
    if text[:7].lower() == "sqlite:":
        text = _USERINFO.sub("//", text)
    else:  # the userinfo first, so a literal password holding `?` is masked whole
        text = _masked_userinfo(text)
    base, mark, query = text.partition("?")
    if not mark:
        return text
    return base + "?" + "&".join(_masked_parameter(pair) for pair in query.split("&"))


_USERINFO = re.compile(r"//[^/@]*@")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.I)


def userinfo_end(rest: str) -> int:
    """Where the userinfo of a server URL's `rest` (after `scheme://`) ends: the index of
    its `@`, or -1.

    A password written without percent-encoding may hold `@`, `/` or `?`. The
    URL parser takes the userinfo up to the last `@` before the path. A later `@`
    ends it instead unless a query parameter (`name=value`) comes first, so a
    password with `/` or `?` in it counts whole, and `?application_name=me@ci` is
    not taken for one (`db.url` refuses the first: it cannot be read as meant)."""
    slash = rest.find("/")
    at, last = rest.rfind("@", 0, slash if slash >= 0 else len(rest)), rest.rfind("@")
    if last > at and "=" not in rest[max(at, 0):last]:
        return last
    return at


def _masked_userinfo(text: str) -> str:
    """`scheme://user:***@host…`: the password masked whole, whatever it holds."""
    scheme = _SCHEME.match(text)
    if scheme is None:
        return text
    head, rest = text[:scheme.end()], text[scheme.end():]
    at = userinfo_end(rest)
    if at < 0:
        return text
    user, colon, _ = rest[:at].partition(":")
    user = "***" if looks_secret(user) else user
    return head + user + (":***" if colon else "") + rest[at:]
#: query parameters that carry a credential (libpq's); their values are never shown
_CREDENTIAL_PARAMETERS = frozenset({"password", "sslpassword"})


def _masked_parameter(pair: str) -> str:
    key, equals, value = pair.partition("=")
    if looks_secret(unquote(key)):
        return "***"
    if equals and (unquote(key).lower() in _CREDENTIAL_PARAMETERS or looks_secret(unquote(value))):
        return f"{key}=***"
    return pair
