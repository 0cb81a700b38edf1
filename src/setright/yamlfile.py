"""YAML loading that remembers where every value came from.

Config, change and resolution files are parsed through `yaml.compose` so each
JSON path maps back to `file:line:column` for error messages. Duplicate keys,
which PyYAML would silently collapse, are reported as problems.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from setright.errors import InvalidInput, Problem

try:  # the C loader is much faster on large files
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

PathKey = tuple[str | int, ...]


def json_path(path: PathKey) -> str:
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.replace("_", "").replace("-", "").isalnum():
            out += f".{part}"
        else:
            out += f"[{part!r}]"
    return out


@dataclass
class YamlDocument:
    """Parsed content plus the position of every value (and every mapping key)."""

    source: str
    data: Any
    marks: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[PathKey, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: PathKey, *, key: bool = False) -> tuple[int | None, int | None]:
        """Line and column (1-based) of the value at `path`, or of its nearest ancestor."""
        if key and path in self.key_marks:
            return self.key_marks[path]
        probe = tuple(path)
        while probe not in self.marks and probe:
            probe = probe[:-1]
        return self.marks.get(probe, (None, None))

    def problem(self, path: PathKey, message: str, *, key: bool = False) -> Problem:
        line, column = self.locate(path, key=key)
        return Problem(self.source, line, column, json_path(path), message)


def _mark(node: yaml.Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def _walk(doc: YamlDocument, node: yaml.Node, path: PathKey, problems: list[Problem]) -> None:
    doc.marks[path] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            child = (*path, key)
            if key in seen:
                line, column = _mark(key_node)
                problems.append(
                    Problem(doc.source, line, column, json_path(child), f"duplicate key {key!r}")
                )
            seen.add(key)
            doc.key_marks[child] = _mark(key_node)
            _walk(doc, value_node, child, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(doc, item, (*path, index), problems)


def parse_yaml(text: str, source: str) -> YamlDocument:
    """Parse one YAML document; raise `InvalidInput` naming file:line:column on bad syntax."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        message = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        raise InvalidInput("invalid YAML", [Problem(source, line, column, "", message)]) from None
    except yaml.YAMLError as exc:
        raise InvalidInput("invalid YAML", [Problem(source, None, None, "", str(exc))]) from None
    finally:
        loader.dispose()
    doc = YamlDocument(source=source, data=data)
    problems: list[Problem] = []
    if node is not None:
        _walk(doc, node, (), problems)
    if problems:
        raise InvalidInput("invalid YAML", problems)
    return doc


def load_yaml(path: Path, source: str | None = None) -> YamlDocument:
    """Read and parse a file; `source` is the name shown in errors (default: the path)."""
    name = source or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput("unreadable file", [Problem(name, None, None, "", f"not UTF-8 text ({exc.reason})")]) from None
    except OSError as exc:
        raise InvalidInput("unreadable file", [Problem(name, None, None, "", exc.strerror or str(exc))]) from None
    return parse_yaml(text, name)
