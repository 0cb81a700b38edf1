"""Saved plan files (`plan -o FILE`): the JSON plan plus a digest over its content.

Loading checks, in order: JSON, nesting depth, `format_version`, the schema,
the digest, and that the plan's own summary fields (`summary`, `applyable`,
`errored`) agree with its actions. Every refusal is an `Error:` naming the plan
field. None of this makes a plan trustworthy — anyone can recompute the digest —
so `apply` re-derives every action from the files the plan names (planner/stale.py);
these checks only keep a malformed file from reaching the code that reads it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import stat
from pathlib import Path, PureWindowsPath
from typing import Any

from setright.errors import InvalidInput, Problem, SetrightError
from setright.jsontext import canonical_json
from setright.planner.model import FORMAT_VERSION, Plan
from setright.textfile import read_text

#: Deeper than any plan setright writes (guards nest four levels); refusing more keeps
#: recursive readers (schema, digest, views) away from a hostile file.
MAX_DEPTH = 24
MAX_PROBLEMS = 10


def _short(message: str) -> str:
    """Schema messages quote the offending value: keep a hostile one from flooding the screen."""
    return message if len(message) <= 160 else message[:159] + "…"


def plan_digest(data: dict[str, Any]) -> str:
    body = {k: v for k, v in data.items() if k != "digest"}
    return "sha256:" + hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def save_plan(plan: Plan, path: Path) -> str:
    """Write the plan whole or not at all; return its digest.

    A new file beside `path` (a fresh name, never one that already exists, so no
    link planted there is followed) is on disk before it is renamed over `path`:
    a crash leaves the old plan or the new one, never half of one."""
    refusal = _not_replaceable(path)
    if refusal:
        raise SetrightError(f"not saving the plan over {path}: {refusal}",
                            ["-o replaces an existing file only when it is a plan setright"
                             " saved; nothing was saved, choose another path"])
    data = plan.as_dict()
    data["digest"] = plan_digest(data)
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        raise SetrightError(f"cannot write the plan file {path}: {exc.strerror or exc}",
                            ["nothing was saved; choose another path with -o"]) from None
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
    return str(data["digest"])


#: How every plan file setright saves begins (`Plan.fields` puts the version first).
_SAVED_PLAN_START = b'{\n  "format_version": '


def _not_replaceable(path: Path) -> str | None:
    """Why the file at `path` must not be replaced by a plan: a link, a device, a FIFO or a
    folder (renaming over it would replace it), or a file that is not a saved plan (a
    mistyped `-o setright.yaml` or `-o resolutions/x.yaml` would lose it). None: free."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:   # nothing there (or nothing reachable): the write says what fails
        return None
    if stat.S_ISLNK(mode):
        return "it is a symbolic link"
    if not stat.S_ISREG(mode):
        return "it is not a regular file"
    try:
        with open(path, "rb") as existing:
            start = existing.read(len(_SAVED_PLAN_START))
    except OSError as exc:
        return f"it cannot be read ({exc.strerror or exc})"
    return None if start == _SAVED_PLAN_START else "it is not a plan setright saved"


def _too_deep(data: Any, limit: int) -> str | None:
    """The JSON path of the first value nested deeper than `limit`, or None (iterative)."""
    stack: list[tuple[Any, str, int]] = [(data, "$", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > limit:
            return path
        if isinstance(value, dict):
            stack.extend((v, f"{path}.{k}", depth + 1) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value))
    return None


#: `\uD800`–`\uDFFF` as JSON writes them: strictly decoded UTF-8 holds no surrogate, so a
#: text without this holds none after parsing either (a valid pair parses to one character)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _shown_key(key: str) -> str:
    """A key as a JSON path may print it, a lone surrogate as `\\ud800`."""
    return key.encode("utf-8", "backslashreplace").decode("utf-8")


def _lone_surrogate(data: Any) -> tuple[str, str] | None:
    """(JSON path, surrogate) of the first string (key or value) holding a lone surrogate.

    JSON may escape one (`"\\ud800"`), and it parses, but it is no character: it cannot
    be encoded as UTF-8, so the digest, the terminal and the store would each fail on it."""
    stack: list[tuple[Any, str]] = [(data, "$")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                found = _surrogate_in(key)
                if found:
                    return f"{path}.{_shown_key(key)}", found
                stack.append((item, f"{path}.{key}"))
        elif isinstance(value, list):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(value))
        elif isinstance(value, str):
            found = _surrogate_in(value)
            if found:
                return path, found
    return None


def _surrogate_in(text: str) -> str:
    """The first surrogate in `text`, escaped (`\\ud800`), or ''."""
    for char in text:
        if "\ud800" <= char <= "\udfff":
            return f"\\u{ord(char):04x}"
    return ""


def _bad_name(path: str) -> str | None:
    """Why a plan's resolution file name is not one `plan` writes (a root-relative POSIX
    name), or None: `apply` reads the file by it and the ledger records it."""
    if path.startswith("/") or PureWindowsPath(path).anchor:
        return "is absolute"
    if ".." in path.split("/"):
        return "leads out of its folder (..)"
    return None


def _invalid(name: str, path: str, message: str) -> InvalidInput:
    return InvalidInput("invalid plan file", [Problem(name, None, None, path, message)])


def _consistency(plan: Plan, data: dict[str, Any], name: str) -> None:
    """The plan's summary fields must be what its actions say (checked, not trusted)."""
    derived = {"errored": plan.errored, "applyable": plan.applyable, "summary": plan.summary}
    for key, value in derived.items():
        if data[key] != value:
            raise _invalid(name, f"$.{key}", f"is {json.dumps(data[key])}, but the plan's actions "
                           f"and errors make it {json.dumps(value)}; make a new plan")
    for index, ref in enumerate(plan.resolution_files):
        why = _bad_name(ref.path)
        if why:
            raise _invalid(name, f"$.resolution_files[{index}].path",
                           f"{ref.path!r} {why}; a plan names its files inside the project, "
                           "directly in the resolutions folder; make a new plan")
    named = {f.path for f in plan.resolution_files}
    for index, action in enumerate(plan.actions):
        if action.file not in named:
            raise _invalid(name, f"$.actions[{index}].file",
                           f"{action.file!r} is not one of the plan's resolution_files")


def load_plan(path: Path, shown: str | None = None) -> tuple[Plan, str]:
    """Read a saved plan; return it and its digest, or raise naming what is wrong."""
    from setright.schemas import validator_for

    name = shown or str(path)
    try:
        text = read_text(path)
    except UnicodeDecodeError as exc:
        raise SetrightError(f"cannot read plan file {name}: not UTF-8 text ({exc.reason})") \
            from None
    except OSError as exc:
        raise SetrightError(f"cannot read plan file {name}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput("invalid plan file", [Problem(name, exc.lineno, exc.colno, "",
                                                         f"not valid JSON: {exc.msg}")]) from None
    except RecursionError:
        raise _invalid(name, "$", f"nested deeper than {MAX_DEPTH} levels; "
                       "not a plan setright wrote") from None
    except ValueError:   # an integer of more digits than Python converts (4,300)
        raise _invalid(name, "$", "holds a number too long to read; "
                       "not a plan setright wrote") from None
    if _SURROGATE_ESCAPE.search(text):
        lone = _lone_surrogate(data)
        if lone is not None:
            raise _invalid(name, lone[0], f"holds a lone surrogate ({lone[1]}), which is not "
                           "text; not a plan setright wrote")
    deep = _too_deep(data, MAX_DEPTH)
    if deep is not None:
        raise _invalid(name, deep, f"nested deeper than {MAX_DEPTH} levels; "
                       "not a plan setright wrote")
    if isinstance(data, dict) and "format_version" in data \
            and data["format_version"] != FORMAT_VERSION:
        raise _invalid(name, "$.format_version",
                       f"{json.dumps(data['format_version'])} is not a plan format this "
                       f"setright reads (it reads {FORMAT_VERSION}); make the plan again with "
                       "this setright")
    found = sorted(validator_for("plan").iter_errors(data), key=lambda e: e.json_path)
    problems = [Problem(name, None, None, e.json_path, _short(e.message))
                for e in found[:MAX_PROBLEMS]]
    if len(found) > MAX_PROBLEMS:
        problems.append(Problem(name, None, None, "", f"and {len(found) - MAX_PROBLEMS} more"))
    if problems:
        raise InvalidInput("invalid plan file", problems)
    if plan_digest(data) != data["digest"]:
        raise SetrightError(f"plan file {name} was modified after it was saved",
                            ["its digest does not match its content; make a new plan"])
    plan = Plan.from_dict(data)
    _consistency(plan, data, name)
    return plan, data["digest"]
