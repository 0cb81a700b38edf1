"""The C composer's way and the limited composer's give one verdict: same data, same places,
same refusals, over the hostile cases and a seeded corpus of mutations of them."""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

import pytest

from setright import yamlcompose
from setright.errors import InvalidInput
from setright.yamlfile import YamlDocument, parse_yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "stress"))
sys.path.insert(0, str(ROOT / "tests" / "resolutions"))

import gen  # noqa: E402
from test_hostile_inputs import GOOD, RESOLUTION_CASES  # noqa: E402

PLAIN = [GOOD, "a: [1, {b: |\n    two\n    lines\n  }]\n", "x: 1\n", "", "- a\n- {b: c}\n",
         "k: !!str 12\nn: !!null ''\ni: !!int '7'\n", "d: 2026-11-22\n", "m: {<<: {a: 1}}\n"]


def _texts() -> list[str]:
    cases = [c.content for c in RESOLUTION_CASES if c.content is not None]
    texts = [c.decode("utf-8", "surrogateescape") if isinstance(c, bytes) else c for c in cases]
    rng = random.Random(20261202)
    mutated = [gen.generate(rng, [GOOD], cases) for _ in range(300)]
    texts += [m.decode("utf-8", "surrogateescape") if isinstance(m, bytes) else m for m in mutated]
    return PLAIN + [t for t in texts if len(t) < 300_000 and _utf8(t)]


def _utf8(text: str) -> bool:
    """Whether a file could hold it (`load_yaml` refuses other bytes before parsing)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _paths(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(data, dict):
        for key, value in list(data.items())[:50]:
            out += _paths(value, (*path, key)) + [(*path, str(key))]
    elif isinstance(data, list):
        for index, item in enumerate(data[:50]):
            out += _paths(item, (*path, index))
    return out[:2000]


def _verdict(text: str) -> tuple[str, Any]:
    try:
        doc = parse_yaml(text, "f.yaml")
    except InvalidInput as exc:
        return "refused", [str(p) for p in exc.problems]
    return "parsed", _seen(doc)


def _seen(doc: YamlDocument) -> Any:
    paths = _paths(doc.data) + [("nowhere",), (0, "x")]
    for p in paths:   # a list's items are located together as one by one
        assert doc.locate_items(p) == [doc.locate((*p, i)) for i in range(len(doc.locate_items(p)))]
    return (repr(doc.data)[:10_000], doc.text_digest,
            [(p, doc.locate(p), doc.locate(p, key=True), doc.locate_text(p, 1, 2),
              doc.locate_items(p)) for p in paths])


TEXTS = _texts()


@pytest.mark.parametrize("text", TEXTS, ids=lambda t: f"{len(t)}-chars")
def test_both_ways_give_one_verdict(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = _verdict(text)
    monkeypatch.setattr(yamlcompose, "_c_composer_bounded", lambda: False)
    monkeypatch.setattr(yamlcompose, "_few_levels", lambda text: False)
    assert fast == _verdict(text)


def test_plain_trees_take_the_c_way_and_the_rest_do_not() -> None:
    assert yamlcompose._c_composer_bounded()
    assert yamlcompose._compose_plain(GOOD) is not None
    for text in ("a: &x 1\nb: *x\n", "d: 2026-11-22\n", "m: {<<: {a: 1}}\n", "x: !!null y\n",
                 "x: !custom y\n", "? [a]\n: 1\n", "x: " + "[" * 100 + "]" * 100,
                 "a: 1\nb: {c: 1, c: 2}\n", "x: !!map\n", "x: !!seq ''\n", "!!seq {a: 1}\n"):
        assert yamlcompose._compose_plain(text) is None, text


def test_without_libyaml_limits_only_shallow_texts_take_the_c_way(monkeypatch) -> None:
    monkeypatch.setattr(yamlcompose, "_c_composer_bounded", lambda: False)
    calls: list[str] = []
    monkeypatch.setattr(yamlcompose, "_compose_plain", lambda text: calls.append(text))
    yamlcompose.compose(GOOD)
    deep = "x: " + "[" * 50_000 + "]" * 50_000
    with pytest.raises(Exception, match="nest"):
        yamlcompose.compose(deep)
    assert calls == [GOOD]


def _tree(node: Any) -> Any:
    """A node tree as plain data: kind, tag, value (children as trees), start mark."""
    mark = (node.start_mark.line, node.start_mark.column)
    if isinstance(node.value, list):
        children = [tuple(map(_tree, c)) if isinstance(c, tuple) else _tree(c)
                    for c in node.value]
        return type(node).__name__, node.tag, children, mark
    return type(node).__name__, node.tag, node.value, mark


SCALARS = ["1", "-1", "0x1F", "0o7", "1_000", "1.5", ".inf", "-.Inf", ".nan", "1e3", "true",
           "True", "no", "off", "null", "~", "Null", "", "2026-11-22", "2026-11-22 10:00:00",
           "<<", "=", "a", "'1'", '"true"', "!!str 1", "x" * 80, "12" * 40]


def test_the_c_way_resolves_every_scalar_as_pyyaml_does() -> None:
    """The remembered tags are the resolver's: the same nodes as CSafeLoader's, twice over
    (the second time from memory), for every kind of plain scalar."""
    import yaml

    text = "".join(f"k{n}: {s}\nl{n}: [{s}]\n{s or 'e'}{n}: x\n" for n, s in enumerate(SCALARS))
    for text in (text, text, *TEXTS[:60]):
        try:
            expected = yaml.CSafeLoader(text).get_single_node()
        except yaml.YAMLError:
            continue
        loader = yamlcompose._CLoader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
        assert (node is None) == (expected is None)
        if node is not None:
            assert _tree(node) == _tree(expected)
