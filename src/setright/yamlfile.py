"""YAML loading that remembers where every value came from, with limits for hostile files.

Config, change and resolution files all load here. `yamlcompose` turns the
text into nodes and data under the limits it lists (aliases, recursion, depth,
tags), each refusal naming `file:line:column`; the nodes are kept with the
document, so the position of any value is looked up when a message or an
entry needs it instead of being recorded for every value.

Duplicate keys, which PyYAML would silently collapse, are reported as problems;
keys are compared, located and named as the data has them (`1` and `0x1` are one
key, `~` is null). Messages describe shapes, never quote a file's raw content (it
may be a token reached through a symbolic link); `shown()` is the one place that
decides how much of a value a message may show, and it never quotes what looks
like a credential.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from setright.errors import InvalidInput, Problem
from setright.redact import escaped_name, looks_secret, mask_password
from setright.textfile import read_text
from setright.yamlcompose import ALIAS_BUDGET, MAX_DEPTH, MERGE_TAG, SHOWN_LIMIT, compose

__all__ = ["ALIAS_BUDGET", "MAX_DEPTH", "SHOWN_LIMIT", "YamlDocument", "json_path",
           "load_yaml", "parse_yaml", "shape", "shown"]

PathKey = tuple[Any, ...]   # list indexes and mapping keys (YAML keys may be null, numbers…)


def json_path(path: PathKey) -> str:
    """`$.entries[0].change`; a key that is not a short plain name is shown in brackets
    (`shown`): `$['a b']`, `$[a string of 5,000 characters]`, and a YAML key that is no
    text at all, `$[null]`, `$[1.5]`, `$[true]`."""
    out = "$"
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif isinstance(part, str) and part.replace("_", "").replace("-", "").isalnum() \
                and len(part) <= SHOWN_LIMIT and not looks_secret(part):
            out += f".{part}"
        else:
            out += f"[{shown(part)}]"
    return out


def shown(value: Any) -> str:
    """How a message may mention `value`: short one-line text and numbers quoted, the rest
    described by shape ('a string of 5,000 characters', 'a mapping'), never echoed. Text
    that looks like a credential is described however short: a token pasted into the wrong
    field must not reach a CI log or a pull request comment, nor a URL's password."""
    if value is None:
        return "null"        # as YAML writes them, not as Python does
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        text = repr(value)
        return text if len(text) <= SHOWN_LIMIT else f"a number of {len(text):,} digits"
    if isinstance(value, str):
        if "://" in value:
            value = mask_password(value)  # a URL, even a refused one, loses its password
        if len(value) <= SHOWN_LIMIT and value.isprintable() and not looks_secret(value):
            return repr(value)
        return f"a string of {len(value):,} characters"
    return shape(value)


def shape(value: Any) -> str:
    """'a mapping', 'a list', 'a string', ...: what a value is, without any of its content."""
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "nothing (null)"
    for kind, word in ((dict, "a mapping"), (list, "a list"), (str, "a string"),
                       (int, "a whole number"), (float, "a number")):
        if isinstance(value, kind):
            return word
    return f"a {type(value).__name__}"


@dataclass
class YamlDocument:
    """Parsed content plus its nodes, which know the position of every value and key."""

    source: str
    data: Any
    root: Node | None = field(default=None, repr=False)
    #: the text it was parsed from (literal blocks are located in its lines)
    text: str = field(default="", repr=False)
    #: sha256 of the text it was parsed from ("" when unknown): the validation cache's key
    text_digest: str = ""

    def _reach(self, path: PathKey) -> tuple[Node | None, Node | None, bool]:
        """The node at the longest reachable prefix of `path`, the key node of the last part
        (when it is a mapping's), and whether the whole path was reached."""
        node, key_node = self.root, None
        for part in path:
            found = _child(node, part)
            if found is None:
                return node, None, False
            key_node, node = found
        return node, key_node, True

    def locate(self, path: PathKey, *, key: bool = False) -> tuple[int | None, int | None]:
        """Line and column (1-based) of the value at `path`, or of its nearest ancestor."""
        node, key_node, reached = self._reach(path)
        if key and reached and key_node is not None:
            return _mark(key_node)
        return (None, None) if node is None else _mark(node)

    def locate_items(self, path: PathKey) -> list[tuple[int, int]]:
        """`locate((*path, i))` for every item `i` of the list at `path` (none: not a list),
        reaching the list once: a resolution file's entries are located together."""
        node, _, reached = self._reach(path)
        return [_mark(item) for item in node.value] if reached and isinstance(
            node, SequenceNode) else []

    def locate_text(self, path: PathKey, line: int, column: int) -> tuple[int | None, int | None]:
        """Where 0-based `line`/`column` of the text value at `path` is in the file.

        Exact for literal blocks (`|`), whose lines are the file's lines; other
        scalars fold or escape their lines, so the scalar's own start is named.
        """
        node, _, reached = self._reach(path)
        if reached and isinstance(node, ScalarNode) and node.style == "|":
            first, indent = _block_start(self.text.split("\n"), node.start_mark.line + 1)
            return first + line, indent + column + 1
        return self.locate(path)

    def problem(self, path: PathKey, message: str, *, key: bool = False) -> Problem:
        line, column = self.locate(path, key=key)
        return Problem(self.source, line, column, json_path(path), message)


def _key_of(key_node: Node) -> Any:
    """What a mapping key is called in paths: the key as the data has it (its text, or the
    null, number or boolean a plain scalar resolves to); a collection key: a name of its own."""
    if not isinstance(key_node, ScalarNode):
        return str(id(key_node))
    if key_node.tag == yaml.resolver.BaseResolver.DEFAULT_SCALAR_TAG:   # !!str
        return key_node.value
    return yaml.constructor.SafeConstructor().construct_object(key_node)


def _child(node: Node | None, part: str | int) -> tuple[Node | None, Node] | None:
    """(key node or None, child node) of `node` at `part`, or None when it has none."""
    if isinstance(node, MappingNode):
        for key_node, value_node in reversed(node.value):   # the last wins, as in the data
            if _key_of(key_node) == part:                    # (a key given over a merged one)
                return key_node, value_node
    elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return None, node.value[part]
    return None


def _mark(node: Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def _duplicate_keys(source: str, node: Node, path: PathKey, problems: list[Problem]) -> None:
    """A problem for every key repeated in its mapping, in document order. A mapping with
    merge keys is read as written (`own_pairs`): a key given there may override a merged
    one, as YAML's merge rule says; the merged mappings are checked where they are."""
    if isinstance(node, MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in getattr(node, "own_pairs", node.value):
            if key_node.tag == MERGE_TAG:
                _duplicate_keys(source, value_node, path, problems)
                continue
            key = _key_of(key_node)
            if key in seen:
                line, column = _mark(key_node)
                problems.append(Problem(source, line, column, json_path((*path, key)),
                                        f"duplicate key {shown(key)}"))
            seen.add(key)
            if not isinstance(value_node, ScalarNode):
                _duplicate_keys(source, value_node, (*path, key), problems)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            if not isinstance(item, ScalarNode):
                _duplicate_keys(source, item, (*path, index), problems)


def _block_start(lines: list[str], first: int) -> tuple[int, int]:
    """1-based line of a literal block's content and the content's indentation."""
    for line in lines[first:]:
        if line.strip():
            return first + 1, len(line) - len(line.lstrip(" "))
    return first + 1, 0


def _reader_position(text: str, exc: yaml.reader.ReaderError) -> tuple[int | None, int | None]:
    """Line and column of a bad character (libyaml counts UTF-8 bytes, PyYAML characters)."""
    position = exc.position
    if isinstance(position, int) and position >= 0:
        encoded = text.encode("utf-8")
        before = encoded[:position].decode("utf-8", "ignore") if len(encoded) != len(text) \
            else text[:position]
        return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
    return None, None


#: characters YAML reads as a line break and editors, grep and git do not
_HIDDEN_BREAKS = ("\x85", "\u2028", "\u2029")


def _hidden_break(text: str, source: str) -> Problem | None:
    """A raw NEL, line or paragraph separator: YAML would count a line there that no editor
    shows, and every line number after it would be off by one."""
    found = [at for at in (text.find(c) for c in _HIDDEN_BREAKS) if at >= 0]
    if not found:
        return None
    at = min(found)
    line, column = text.count("\n", 0, at) + 1, at - (text.rfind("\n", 0, at) + 1) + 1
    return Problem(source, line, column, "", f"U+{ord(text[at]):04X} (a line separator) "
                   "here: YAML reads it as a line break, editors and git do not; remove it, "
                   f"or write it as \\u{ord(text[at]):04x} in a double-quoted string")


def parse_yaml(text: str, source: str) -> YamlDocument:
    """Parse one YAML document; raise `InvalidInput` naming file:line:column on bad syntax."""
    hidden = _hidden_break(text, source)
    if hidden is not None:
        raise InvalidInput("invalid YAML", [hidden])
    try:
        node, data, keys_distinct = compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        message = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        raise InvalidInput("invalid YAML", [Problem(source, line, column, "", message)]) from None
    except yaml.reader.ReaderError as exc:
        line, column = _reader_position(text, exc)
        character = f"#x{exc.character:04x}" if isinstance(exc.character, int) else "character"
        message = f"unacceptable character {character}: {exc.reason}"
        raise InvalidInput("invalid YAML", [Problem(source, line, column, "", message)]) from None
    except yaml.YAMLError as exc:
        raise InvalidInput("invalid YAML", [Problem(source, None, None, "", str(exc))]) from None
    except RecursionError:
        raise InvalidInput("invalid YAML", [Problem(source, None, None, "",
                                                    "nested too deeply")]) from None
    problems: list[Problem] = []
    if node is not None and not keys_distinct:
        _duplicate_keys(source, node, (), problems)
    if problems:
        raise InvalidInput("invalid YAML", problems)
    return YamlDocument(source=source, data=data, root=node, text=text,
                        text_digest=hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest())


def outside_link(path: Path, root: Path) -> bool:
    """True when `path` lies in `root` but resolves outside it (through a symbolic link).

    Paths outside the project to begin with (a folder named in the config,
    a file named on the command line) are the operator's choice, not a link.
    """
    real_root = _real_folder(str(root))
    absolute = os.path.abspath(path)
    inside = any(_within(absolute, r) for r in ((str(root),) if root.is_absolute() else ())
                 + (real_root,))
    return inside and not _within(_real_file(absolute), real_root)


def relative_text(path: str, root: Path) -> str | None:
    """`path` (absolute, normalised text) relative to the absolute `root`, in POSIX form,
    when it is inside it by text; None otherwise (then ask pathlib, which also knows a
    case-insensitive file system). Names thousands of files a run: `relative_to` costs
    more than reading a small file."""
    prefix = _prefix(os.fspath(root))
    if prefix is not None and path.startswith(prefix) and len(path) > len(prefix):
        return path[len(prefix):].replace(os.sep, "/")
    return None


@lru_cache(maxsize=64)
def _prefix(root: str) -> str | None:
    """What the paths inside the absolute `root` start with (None: `root` is relative).
    Keyed by text: a `Path` key is hashed and compared part by part on every call."""
    return os.path.join(root, "") if os.path.isabs(root) else None


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(os.path.join(folder, ""))


@lru_cache(maxsize=64)
def _real_folder(folder: str) -> str:
    """`os.path.realpath` of a folder, once per process: a plan reads 2,000 files from one
    folder of one project, and each resolution walks every part of the path."""
    return os.path.realpath(folder)


def _real_file(absolute: str) -> str:
    """`os.path.realpath` of a file: its folder's, plus its name unless it is a link."""
    if os.path.islink(absolute):
        return os.path.realpath(absolute)
    folder, name = os.path.split(absolute)
    return os.path.join(_real_folder(folder), name)


def load_yaml(path: Path, source: str | None = None, *, root: Path | None = None) -> YamlDocument:
    """Read and parse a file; `source` is the name shown in errors (default: the path).

    With `root` (the project folder), a file that is a symbolic link to
    something outside the project is refused by name, unread.
    """
    name = source or str(path)
    if not path.name.isprintable():  # git allows any byte but NUL and `/` in a name
        raise InvalidInput("refused file", [Problem(
            escaped_name(name), None, None, "", "its name holds a control character or bytes "
            "that are not UTF-8, which no message could show as they are; rename the file")])
    if root is not None and outside_link(path, root):
        raise InvalidInput("refused file", [Problem(
            name, None, None, "", "is a symbolic link to a file outside the project; refused")])
    try:
        text = read_text(path, regular=True)   # a FIFO among change files must not hang
    except UnicodeDecodeError as exc:
        raise InvalidInput("unreadable file", [Problem(name, None, None, "", f"not UTF-8 text ({exc.reason})")]) from None
    except OSError as exc:
        raise InvalidInput("unreadable file", [Problem(name, None, None, "", exc.strerror or str(exc))]) from None
    return parse_yaml(text, name)
