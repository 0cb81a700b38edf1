"""Composing YAML text into nodes (with their marks) and data, with limits for hostile files.

Config, change and resolution files all compose here (`yamlfile.parse_yaml`
adds positions and duplicate keys). Every refusal names `file:line:column` of
the offending place:

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

Two ways, one verdict. The limited composer (PyYAML's, event by event in
Python, on libyaml's parser) enforces the limits as it goes and words every
refusal. Most files are plain trees, though: no alias, no date, no tag but the
core ones, a few levels deep. Those are composed by libyaml's C composer (the
nodes keep the same marks); one walk over the nodes vouches that the tree is
plain and builds its data as PyYAML's SafeConstructor would (text as written,
other scalars by the SafeConstructor itself), and whatever it cannot vouch for
(or any error at all) is composed again by the limited composer, which decides.
The C composer's own recursion is bounded: a text with fewer than `_C_LEVELS`
of the characters that open a level cannot nest deeper, and beyond that libyaml's
own nesting limit bounds it; a libyaml without one never takes that way for such
a text (`_c_composer_bounded`).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import yaml
from yaml.composer import Composer, ComposerError
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

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
#: the tag of a merge key (`<<`), which the limited composer lets SafeConstructor flatten
MERGE_TAG = _CORE + "merge"
CORE_TAGS = frozenset(_CORE + name for name in ("str", "int", "float", "bool", "null", "seq", "map"))
_NULL_TAG = _CORE + "null"
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})


class LimitExceeded(yaml.MarkedYAMLError):
    """A file went past one of the limits above."""


def _tag_name(tag: str) -> str:
    name = "!!" + tag[len(_CORE):] if tag.startswith(_CORE) else tag
    return name if len(name) <= SHOWN_LIMIT and name.isprintable() else "a long tag"


def compose(text: str) -> tuple[Node | None, Any, bool]:
    """The document's root node (None for an empty one), its data, and whether every
    mapping's keys are known to be distinct (the C way checks them; else: unknown).

    Raises what the limited composer raises (`yaml.YAMLError` and its kin), so a
    refusal is worded the same whichever way the text went."""
    if _few_levels(text) or _c_composer_bounded():
        try:
            composed = _compose_plain(text)
        except Exception:  # noqa: BLE001 - whatever it was, the limited composer decides
            composed = None
        if composed is not None:
            return (*composed, True)
    return (*_compose_limited(text), False)


def _compose_plain(text: str) -> tuple[Node | None, Any] | None:
    """C composition of a plain tree (see the module's doc), or None: not vouched for.

    Only an alias (`*name`) reaches a node twice: a text without a `*` needs no record of
    the nodes seen."""
    if not _HAS_LIBYAML:   # no C composer: the limited one decides
        return None
    loader = _CLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        try:
            return node, _plain_data(node, 1, set() if "*" in text else None,
                                     loader.construct_object)
        except _NotPlain:
            return None
    finally:
        loader.dispose()


#: what `Resolver.resolve` gave each short plain scalar (bounded: the same few recur)
_RESOLVED: dict[str, str] = {}
_RESOLVED_LIMIT, _RESOLVED_LENGTH = 4096, 64


_HAS_LIBYAML = hasattr(yaml, "CSafeLoader")


class _CLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """CSafeLoader, with the three calls its C composer makes into Python per node made
    cheap while SafeLoader has no path resolvers (PyYAML ships none): then `resolve`
    gives the default tag of anything but a plain scalar, and a plain scalar's tag
    depends on its text alone: the default one when no implicit resolver is registered
    for its first character, else the resolver's (a short text's is remembered);
    descending and ascending the path resolvers do nothing. A plan composes 2,000 files
    of 44 nodes."""

    if not yaml.SafeLoader.yaml_path_resolvers:   # as PyYAML ships it
        def resolve(self, kind: type, value: Any, implicit: Any) -> str:
            if kind is not ScalarNode or not implicit[0]:
                return _DEFAULT_TAGS[kind]   # what `Resolver.resolve` gives without paths
            tag = _RESOLVED.get(value)
            if tag is not None:
                return tag
            resolvers = self.yaml_implicit_resolvers
            if value and value[0] not in resolvers and None not in resolvers:
                return Resolver.DEFAULT_SCALAR_TAG   # no resolver for its first character
            tag = super().resolve(kind, value, implicit)
            if len(value) <= _RESOLVED_LENGTH and len(_RESOLVED) < _RESOLVED_LIMIT:
                _RESOLVED[value] = tag
            return tag

        def descend_resolver(self, current_node: Any, current_index: Any) -> None:
            return None

        def ascend_resolver(self) -> None:
            return None


_DEFAULT_TAGS = {ScalarNode: Resolver.DEFAULT_SCALAR_TAG,
                 SequenceNode: Resolver.DEFAULT_SEQUENCE_TAG,
                 MappingNode: Resolver.DEFAULT_MAPPING_TAG}


class _NotPlain(Exception):
    """The tree is not one `_plain_data` vouches for: the limited composer decides."""


_STR_TAG, _SEQ_TAG, _MAP_TAG = _CORE + "str", _CORE + "seq", _CORE + "map"


def _plain_data(node: Node, level: int, seen: set[int] | None, construct: Any) -> Any:
    """The data of a plain tree, as PyYAML's SafeConstructor builds it, in the same walk that
    vouches for it: no node reached twice (no alias; `seen` is None when the text has
    none), core tags only (so no date, no merge key), `!!null` only on a null, distinct
    scalar keys, at most `MAX_DEPTH` levels (what the limits and the duplicate-key check
    let through). Text is the scalar's own value; every other scalar is `construct`ed
    (SafeConstructor's own code). Raises `_NotPlain`."""
    tag = node.tag
    if tag not in CORE_TAGS:
        raise _NotPlain
    if seen is not None:
        if id(node) in seen:
            raise _NotPlain
        seen.add(id(node))
    kind = type(node)
    if kind is ScalarNode:
        if tag == _STR_TAG:
            return node.value
        if tag in (_SEQ_TAG, _MAP_TAG) or tag == _NULL_TAG and node.value not in _NULLS:
            raise _NotPlain   # `!!map` on a scalar: the limited way words the refusal
        return construct(node)
    if level > MAX_DEPTH:
        raise _NotPlain
    if kind is SequenceNode and tag == _SEQ_TAG:
        return [_plain_data(child, level + 1, seen, construct) for child in node.value]
    if kind is MappingNode and tag == _MAP_TAG:
        if seen is None:
            texts = _text_keyed(node.value, level, construct)
            if texts is not None:
                return texts
        data: dict[Any, Any] = {}
        keys: set[str] = set()
        for key, value in node.value:
            if type(key) is not ScalarNode or key.value in keys:
                raise _NotPlain
            keys.add(key.value)
            item = _plain_data(key, level + 1, seen, construct)
            data[item] = _plain_data(value, level + 1, seen, construct)
        if len(data) != len(node.value):   # distinct texts, one key: `1` and `0x1`, `~` and `null`
            raise _NotPlain
        return data
    raise _NotPlain


def _text_keyed(pairs: list[tuple[Node, Node]], level: int, construct: Any
                ) -> dict[str, Any] | None:
    """`_plain_data` of a mapping without aliases whose keys are all text (`!!str` scalars),
    or None when one is not: then its keys are distinct exactly when the data has one item
    per pair, and a text value needs no call."""
    data: dict[str, Any] = {}
    for key, value in pairs:
        if type(key) is not ScalarNode or key.tag != _STR_TAG:
            return None
        data[key.value] = (value.value if type(value) is ScalarNode and value.tag == _STR_TAG
                           else _plain_data(value, level + 1, None, construct))
    if len(data) != len(pairs):
        raise _NotPlain
    return data


#: Levels the C composer may recurse into whatever libyaml allows (a few hundred kB of stack).
_C_LEVELS = 2_000


def _few_levels(text: str) -> bool:
    """Whether `text` cannot nest `_C_LEVELS` deep: every level opens with one of `[{-:?`
    (a text shorter than that has fewer of them, uncounted)."""
    return len(text) < _C_LEVELS or sum(text.count(c) for c in "[{-:?") < _C_LEVELS


@cache
def _c_composer_bounded() -> bool:
    """Whether libyaml refuses deep nesting itself (1,000 levels), flow and block: then the
    C composer's recursion is bounded. Without the C loader, or with a libyaml that composes
    2,000 levels, every file takes the limited composer."""
    if not hasattr(yaml, "CSafeLoader"):
        return False
    for deep in ("[" * 2000 + "]" * 2000, "- " * 2000 + "x"):
        loader = yaml.CSafeLoader(deep)
        try:
            loader.get_single_node()
        except yaml.YAMLError:
            continue
        finally:
            loader.dispose()
        return False
    return True


def _compose_limited(text: str) -> tuple[Node | None, Any]:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    finally:
        loader.dispose()


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
        if tag == _NULL_TAG and event.value not in _NULLS:
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
        if any(key.tag == MERGE_TAG for key, _ in node.value):
            # Constructing flattens the merges into `value`; the duplicate-key check reads
            # the mapping's own pairs (a key given here overrides a merged one, as in YAML)
            node.own_pairs = list(node.value)  # type: ignore[attr-defined]
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
