"""YAML loading that remembers where every value came from, with limits for hostile files.

Config, change and resolution files all load here. libyaml (the C parser)
scans and parses when present; composition is PyYAML's composer extended
with limits, so every refusal names `file:line:column` of the offending event:

* aliases: the nodes reached through aliases (an alias of a list of 10 scalars
  counts 11) may not exceed `ALIAS_BUDGET` in one file. A 412-byte "billion
  laughs" would otherwise expand to 10^8 nodes in validation, digests and
  messages; real files use aliases, if at all, for a handful of shared values.
* recursion: an alias inside the node it names (`&a [*a]`) is refused.
* depth: more than `MAX_DEPTH` levels of lists and mappings is refused (setright's formats
  need 4), before Python's recursion limit can turn it into a crash.
* tags: only the core tags (`!!str`, `!!int`, `!!float`, `!!bool`, `!!null`,
  `!!seq`, `!!map`) may be written; `!!python/...`, `!custom`, `!!binary`,
  `!!set` ... are refused. A core tag whose value does not fit it (`!!int x`,
  `!!null x`, a date like 2026-13-45) is a located error too.

Duplicate keys, which PyYAML would silently collapse, are reported as problems.
Messages describe shapes, never quote a file's raw content (it may be a token
reached through a symbolic link); `shown()` is the one place that decides how
much of a value a message may show.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer, ComposerError
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from setright.errors import InvalidInput, Problem

try:  # the C parser is much faster on large files
    from yaml.cyaml import CParser

    _PARSER: tuple[type, ...] = (CParser,)
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    _PARSER = (Reader, Scanner, Parser)

#: Nodes a file may reach through aliases, all aliases together.
ALIAS_BUDGET = 10_000
#: Levels of nesting (lists and mappings) a file may have.
MAX_DEPTH = 100
#: Characters of a value a message may quote; longer values are described, not shown.
SHOWN_LIMIT = 40

_CORE = "tag:yaml.org,2002:"
CORE_TAGS = frozenset(_CORE + name for name in ("str", "int", "float", "bool", "null", "seq", "map"))

_NULLS = frozenset({"", "~", "null", "Null", "NULL"})

PathKey = tuple[str | int, ...]


def json_path(path: PathKey) -> str:
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.replace("_", "").replace("-", "").isalnum():
            out += f".{part}"
        else:
            out += f"[{shown(part)}]"
    return out


def shown(value: Any) -> str:
    """How a message may mention `value`: short one-line text and numbers quoted, the rest
    described by shape ('a string of 5,000 characters', 'a mapping'), never echoed."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, (int, float)):
        text = repr(value)
        return text if len(text) <= SHOWN_LIMIT else f"a number of {len(text):,} digits"
    if isinstance(value, str):
        if len(value) <= SHOWN_LIMIT and value.isprintable():
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
    """Parsed content plus the position of every value (and every mapping key)."""

    source: str
    data: Any
    marks: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    #: literal block scalars (`key: |`): line and column of their first content line
    blocks: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    #: sha256 of the text it was parsed from ("" when unknown): the validation cache's key
    text_digest: str = ""

    def locate(self, path: PathKey, *, key: bool = False) -> tuple[int | None, int | None]:
        """Line and column (1-based) of the value at `path`, or of its nearest ancestor."""
        if key and path in self.key_marks:
            return self.key_marks[path]
        probe = tuple(path)
        while probe not in self.marks and probe:
            probe = probe[:-1]
        return self.marks.get(probe, (None, None))

    def locate_text(self, path: PathKey, line: int, column: int) -> tuple[int | None, int | None]:
        """Where 0-based `line`/`column` of the text value at `path` is in the file.

        Exact for literal blocks (`|`), whose lines are the file's lines; other
        scalars fold or escape their lines, so the scalar's own start is named.
        """
        if path in self.blocks:
            first, indent = self.blocks[path]
            return first + line, indent + column + 1
        return self.locate(path)

    def problem(self, path: PathKey, message: str, *, key: bool = False) -> Problem:
        line, column = self.locate(path, key=key)
        return Problem(self.source, line, column, json_path(path), message)


class LimitExceeded(yaml.MarkedYAMLError):
    """A file went past one of the limits above."""


def _tag_name(tag: str) -> str:
    name = "!!" + tag[len(_CORE):] if tag.startswith(_CORE) else tag
    return name if len(name) <= SHOWN_LIMIT and name.isprintable() else "a long tag"


class _LimitedComposer(Composer):
    """PyYAML's composer, counting alias expansion and depth, and checking tags."""

    def _start_limits(self) -> None:
        self.anchors: dict[str, Node] = {}
        self._sizes: dict[int, int] = {}  # id(anchored node) → nodes it expands to
        self._open: set[int] = set()  # collections being composed (their aliases recurse)
        self._counts: list[int] = [0]  # expanded size of each open collection, innermost last
        self._through_aliases = 0
        self._last = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            return self._alias(self.get_event())
        event = self.peek_event()
        # a new collection's level is the number of open ones plus one (the top mapping is 1)
        if len(self._counts) > MAX_DEPTH and self.check_event(yaml.SequenceStartEvent,
                                                              yaml.MappingStartEvent):
            raise LimitExceeded(None, None, f"nested more than {MAX_DEPTH} levels deep",
                                event.start_mark)
        anchor = event.anchor
        if anchor is not None and anchor in self.anchors:
            raise ComposerError("found duplicate anchor; first occurrence",
                                self.anchors[anchor].start_mark, "second occurrence",
                                event.start_mark)
        tag = getattr(event, "tag", None)
        if tag is not None and tag != "!" and tag not in CORE_TAGS:
            raise LimitExceeded(None, None, f"tag {_tag_name(tag)} is not allowed: only the core "
                                "tags !!str, !!int, !!float, !!bool, !!null, !!seq and !!map",
                                event.start_mark)
        if tag == _CORE + "null" and event.value not in _NULLS:
            raise ConstructorError(None, None, "this value is not a valid !!null",
                                   event.start_mark)
        self.descend_resolver(parent, index)
        if self.check_event(yaml.ScalarEvent):
            node: Node = self.compose_scalar_node(anchor)
            size = 1
        elif self.check_event(yaml.SequenceStartEvent):
            node = self.compose_sequence_node(anchor)
            size = self._last
        else:
            node = self.compose_mapping_node(anchor)
            size = self._last
        self.ascend_resolver()
        if anchor is not None:
            self._sizes[id(node)] = size
        self._counts[-1] += size
        return node

    def _alias(self, event: yaml.AliasEvent) -> Node:
        anchor = event.anchor
        if anchor not in self.anchors:
            raise ComposerError(None, None, "found undefined alias", event.start_mark)
        node = self.anchors[anchor]
        if id(node) in self._open:
            raise LimitExceeded(None, None, "recursive alias: it refers to a node that contains "
                                "it", event.start_mark)
        size = self._sizes[id(node)]
        self._through_aliases += size
        if self._through_aliases > ALIAS_BUDGET:
            raise LimitExceeded(None, None, f"aliases expand to more than {ALIAS_BUDGET:,} nodes",
                                event.start_mark)
        self._counts[-1] += size
        return node

    def _open_collection(self, node: Node, anchor: str | None) -> None:
        if anchor is not None:
            self.anchors[anchor] = node
        self._open.add(id(node))
        self._counts.append(1)

    def _close_collection(self, node: Node) -> None:
        node.end_mark = self.get_event().end_mark
        self._open.discard(id(node))
        self._last = self._counts.pop()

    def compose_sequence_node(self, anchor: str | None) -> SequenceNode:  # type: ignore[override]
        start = self.get_event()
        tag = start.tag
        if tag is None or tag == "!":
            tag = self.resolve(SequenceNode, None, start.implicit)
        node = SequenceNode(tag, [], start.start_mark, None, flow_style=start.flow_style)
        self._open_collection(node, anchor)
        index = 0
        while not self.check_event(yaml.SequenceEndEvent):
            node.value.append(self.compose_node(node, index))
            index += 1
        self._close_collection(node)
        return node

    def compose_mapping_node(self, anchor: str | None) -> MappingNode:  # type: ignore[override]
        start = self.get_event()
        tag = start.tag
        if tag is None or tag == "!":
            tag = self.resolve(MappingNode, None, start.implicit)
        node = MappingNode(tag, [], start.start_mark, None, flow_style=start.flow_style)
        self._open_collection(node, anchor)
        while not self.check_event(yaml.MappingEndEvent):
            key = self.compose_node(node, None)
            value = self.compose_node(node, key)
            node.value.append((key, value))
        self._close_collection(node)
        return node


class _Constructor(SafeConstructor):
    """SafeConstructor whose value errors (`!!int x`, 2026-13-45) name the node's place."""

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError, OverflowError,
                RecursionError) as exc:
            what = _tag_name(node.tag) if node.tag else "value"
            limit = " (too many digits)" if "digits" in str(exc) else ""
            raise ConstructorError(None, None, f"this value is not a valid {what}{limit}",
                                   node.start_mark) from None


class _Loader(_LimitedComposer, *_PARSER, _Constructor, Resolver):  # type: ignore[misc]
    def __init__(self, stream: str) -> None:
        if len(_PARSER) == 1:
            _PARSER[0].__init__(self, stream)
        else:  # pragma: no cover - the pure-Python reader, scanner and parser
            _PARSER[0].__init__(self, stream)
            _PARSER[1].__init__(self)
            _PARSER[2].__init__(self)
        _Constructor.__init__(self)
        Resolver.__init__(self)
        self._start_limits()


def _mark(node: yaml.Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def _walk(doc: YamlDocument, node: yaml.Node, path: PathKey, problems: list[Problem],
          lines: list[str]) -> None:
    doc.marks[path] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(id(key_node))
            child = (*path, key)
            if key in seen:
                line, column = _mark(key_node)
                problems.append(
                    Problem(doc.source, line, column, json_path(child),
                            f"duplicate key {shown(key)}")
                )
            seen.add(key)
            doc.key_marks[child] = _mark(key_node)
            _walk(doc, value_node, child, problems, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(doc, item, (*path, index), problems, lines)
    elif isinstance(node, ScalarNode) and node.style == "|":
        doc.blocks[path] = _block_start(lines, node.start_mark.line + 1)


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


def parse_yaml(text: str, source: str) -> YamlDocument:
    """Parse one YAML document; raise `InvalidInput` naming file:line:column on bad syntax."""
    loader = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
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
    finally:
        if loader is not None:
            loader.dispose()
    doc = YamlDocument(source=source, data=data,
                       text_digest=hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest())
    problems: list[Problem] = []
    if node is not None:
        _walk(doc, node, (), problems, text.split("\n"))
    if problems:
        raise InvalidInput("invalid YAML", problems)
    return doc


def outside_link(path: Path, root: Path) -> bool:
    """True when `path` lies in `root` but resolves outside it (through a symbolic link).

    Paths outside the project to begin with (a folder named in the config,
    a file named on the command line) are the operator's choice, not a link.
    """
    real_root = root.resolve()
    absolute = Path(os.path.abspath(path))
    inside = any(absolute.is_relative_to(r) for r in (root, real_root))
    return inside and not absolute.resolve().is_relative_to(real_root)


def load_yaml(path: Path, source: str | None = None, *, root: Path | None = None) -> YamlDocument:
    """Read and parse a file; `source` is the name shown in errors (default: the path).

    With `root` (the project folder), a file that is a symbolic link to
    something outside the project is refused by name, unread.
    """
    name = source or str(path)
    if root is not None and outside_link(path, root):
        raise InvalidInput("refused file", [Problem(
            name, None, None, "", "is a symbolic link to a file outside the project; refused")])
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput("unreadable file", [Problem(name, None, None, "", f"not UTF-8 text ({exc.reason})")]) from None
    except OSError as exc:
        raise InvalidInput("unreadable file", [Problem(name, None, None, "", exc.strerror or str(exc))]) from None
    return parse_yaml(text, name)
