"""The limits of the one YAML loader: aliases, recursion, depth, tags, values."""

from __future__ import annotations

import time

import pytest

from setright.errors import InvalidInput
from setright.yamlfile import ALIAS_BUDGET, MAX_DEPTH, parse_yaml, shown


def refusal(text: str) -> str:
    with pytest.raises(InvalidInput) as caught:
        parse_yaml(text, "f.yaml")
    [problem] = caught.value.problems
    return str(problem)


def aliases_of(size: int, count: int) -> str:
    """An anchored list of `size - 1` scalars (`size` nodes), then `count` aliases of it."""
    items = ", ".join(["x"] * (size - 1))
    return f"a: &a [{items}]\nb: [{', '.join(['*a'] * count)}]\n"


def test_aliases_within_the_budget_are_fine() -> None:
    doc = parse_yaml(aliases_of(100, ALIAS_BUDGET // 100), "f.yaml")
    assert len(doc.data["b"]) == ALIAS_BUDGET // 100


def test_one_alias_past_the_budget_is_refused_where_it_is() -> None:
    assert refusal(aliases_of(100, ALIAS_BUDGET // 100 + 1)) == (
        f"f.yaml:2:{5 + 4 * (ALIAS_BUDGET // 100)}: aliases expand to more than 10,000 nodes")


def test_the_billion_laughs_is_refused_in_a_millisecond_or_so() -> None:
    lines = ["a0: &a0 lol"] + [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]"
                               for n in range(1, 9)]
    start = time.monotonic()
    message = refusal("\n".join(lines))
    assert time.monotonic() - start < 1.0
    assert message == "f.yaml:5:45: aliases expand to more than 10,000 nodes"


def test_merge_keys_of_a_small_anchor_still_work() -> None:
    doc = parse_yaml("base: &b {x: 1}\nt1: {<<: *b, y: 2}\nt2: {<<: *b}\n", "f.yaml")
    assert doc.data["t1"] == {"x": 1, "y": 2} and doc.data["t2"] == {"x": 1}


def test_a_key_given_beside_a_merge_overrides_the_merged_one() -> None:
    """YAML's merge rule (and PyYAML's): the mapping's own key wins, and is what errors name."""
    text = ("resolutions:\n  - &d {change: a, resolution: APPLIED, note: n}\n"
            "  - <<: *d\n    change: b\n    resolution: ROLLED_BACK\n")
    doc = parse_yaml(text, "f.yaml")
    assert doc.data["resolutions"][1] == {"change": "b", "resolution": "ROLLED_BACK", "note": "n"}
    assert doc.locate(("resolutions", 1, "resolution")) == (5, 17)
    assert doc.locate(("resolutions", 1, "note")) == (2, 47)   # merged: where it was written


@pytest.mark.parametrize("text,message", [
    ("x: &b {k: 1}\ny: {<<: *b, k: 2, k: 3}", "f.yaml:2:19: $.y.k: duplicate key 'k'"),
    ("y:\n  <<: {k: 1, k: 2}\n  z: 3", "f.yaml:2:14: $.y.k: duplicate key 'k'"),
])
def test_keys_repeated_in_a_mapping_with_merges_are_still_refused(text: str,
                                                                  message: str) -> None:
    assert refusal(text) == message


@pytest.mark.parametrize("text,message", [
    ("1: a\n0x1: b\n", "f.yaml:2:1: $[1]: duplicate key 1"),
    ("x: {null: a, ~: b}\n", "f.yaml:1:14: $.x[null]: duplicate key null"),
    ("- {true: a, True: b}\n", "f.yaml:1:13: $[0][true]: duplicate key true"),
    ("1.0: a\n1: b\n", "f.yaml:2:1: $[1]: duplicate key 1"),
])
def test_keys_written_apart_that_are_one_key_in_the_data_are_refused(text: str,
                                                                     message: str) -> None:
    """Distinct texts, one key once resolved: the data would silently keep the last."""
    assert refusal(text) == message


def test_a_key_that_is_no_text_is_located_and_named() -> None:
    doc = parse_yaml("a: 1\n~: 2\nx: {7: 3, 1.5: 4, false: 5}\n", "f.yaml")
    assert doc.data == {"a": 1, None: 2, "x": {7: 3, 1.5: 4, False: 5}}
    assert doc.problem((None,), "m", key=True).location() == "f.yaml:2:1"
    assert [doc.problem(("x", k), "m", key=True).location() for k in (7, 1.5, False)] == [
        "f.yaml:3:5", "f.yaml:3:11", "f.yaml:3:19"]
    assert [doc.problem(path, "m").path for path in [(None,), ("x", 1.5), ("x", False)]] == [
        "$[null]", "$.x[1.5]", "$.x[false]"]


@pytest.mark.parametrize("text,where", [
    ("resolutions: &a [*a]", "1:18"),
    ("x: &m {y: *m}", "1:11"),
    ("x: &m [[{y: [*m]}]]", "1:14"),
])
def test_recursive_aliases_are_refused(text: str, where: str) -> None:
    assert refusal(text) == f"f.yaml:{where}: recursive alias: it refers to a node that contains it"


def test_nesting_up_to_the_limit_is_fine_and_one_more_is_refused() -> None:
    inner = MAX_DEPTH - 1  # the top-level mapping is one level
    assert parse_yaml("x: " + "[" * inner + "1" + "]" * inner, "f.yaml").data is not None
    deeper = "x: " + "[" * (inner + 1) + "1" + "]" * (inner + 1)
    # refused at the opening bracket of level MAX_DEPTH + 1
    assert refusal(deeper) == f"f.yaml:1:{3 + inner + 1}: nested more than {MAX_DEPTH} levels deep"


def test_a_hundred_thousand_levels_are_refused_not_a_crash() -> None:
    # libyaml's own flow limit (1,000) or ours, whichever comes first: located, not a crash
    assert "nest" in refusal("x: " + "[" * 100_000)
    assert "nested more than" in refusal("\n".join("  " * i + "k:" for i in range(1_000)))


@pytest.mark.parametrize("text,tag", [
    ("x: !!python/object:os.system y", "!!python/object:os.system"),
    ("x: !!python/name:os.system ''", "!!python/name:os.system"),
    ("x: !secret y", "!secret"),
    ("x: !!binary aGVsbG8=", "!!binary"),
    ("x: !!set {a, b}", "!!set"),
    ("x: !!timestamp 2026-11-22", "!!timestamp"),
    ("x: !<tag:example.com,2000:x> y", "tag:example.com,2000:x"),
])
def test_only_core_tags_may_be_written(text: str, tag: str) -> None:
    assert refusal(text) == (f"f.yaml:1:4: tag {tag} is not allowed: only the core tags !!str, "
                             "!!int, !!float, !!bool, !!null, !!seq and !!map")


def test_core_tags_that_fit_their_value_are_fine() -> None:
    doc = parse_yaml("a: !!str 12\nb: !!int '7'\nc: !!float 1\nd: !!bool yes\ne: !!null ''\n"
                     "f: !!seq [1]\ng: !!map {h: 1}\n", "f.yaml")
    assert doc.data == {"a": "12", "b": 7, "c": 1.0, "d": True, "e": None, "f": [1],
                        "g": {"h": 1}}


@pytest.mark.parametrize("text,word", [
    ("reason: !!int x", "!!int"),
    ("reason: !!float x", "!!float"),
    ("reason: !!bool maybe", "!!bool"),
    ("reason: !!null x", "!!null"),
    ("reason: 2026-13-45", "!!timestamp"),
])
def test_a_core_tag_that_does_not_fit_its_value_is_a_located_error(text: str, word: str) -> None:
    assert refusal(text) == f"f.yaml:1:9: this value is not a valid {word}"


def test_an_integer_too_long_to_read_is_a_located_error() -> None:
    assert refusal("x: " + "9" * 5000) == "f.yaml:1:4: this value is not a valid !!int (too many digits)"


@pytest.mark.parametrize("text,where", [
    ("a: é\nb: x\0y", "2:5"),
    ("a: 1\nb: \x07", "2:4"),
])
def test_bad_characters_are_located_by_line_and_column(text: str, where: str) -> None:
    assert refusal(text).startswith(f"f.yaml:{where}: unacceptable character #x")


def test_duplicate_long_keys_are_described_not_echoed() -> None:
    key = "k" * 500
    assert refusal(f"{key}: 1\n{key}: 2\n").endswith("duplicate key a string of 500 characters")


@pytest.mark.parametrize("value,text", [
    ("OPS-1", "'OPS-1'"),
    ("x" * 41, "a string of 41 characters"),
    ("a\nb", "a string of 3 characters"),
    (7, "7"),
    (10 ** 50, "a number of 51 digits"),
    (["ghp_x"], "a list"),
    ({"a": 1}, "a mapping"),
    (None, "null"),   # as YAML writes them
    (True, "true"),
    # what looks like a credential is described however short: issued tokens' prefixes…
    ("ghp_S3cr3tT0k3n", "a string of 15 characters"),
    ("ghp_" + "a" * 36, "a string of 40 characters"),   # a GitHub token is 40 long
    ("AKIAIOSFODNN7EXAMPLE", "a string of 20 characters"),
    ("glpat-xxxxxxxxxxxx", "a string of 18 characters"),
    ("eyJhbGciOiJIUzI1NiJ9", "a string of 20 characters"),
    # …and a long random run with digits, lower and upper case letters
    ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "a string of 40 characters"),
    # what only resembles one is still quoted: ids, digests, words, sentences
    ("01JD3Q7ZP4", "'01JD3Q7ZP4'"),
    ("ap-01JD3Q7ZP4K5M6N7P8Q9R0S1T2", "'ap-01JD3Q7ZP4K5M6N7P8Q9R0S1T2'"),
    ("c1:" + "ab12" * 9, "'c1:" + "ab12" * 9 + "'"),
    ("user-data-sync-v2", "'user-data-sync-v2'"),
    ("Five Minutes And 30 Seconds", "'Five Minutes And 30 Seconds'"),
])
def test_shown_quotes_only_short_one_line_values(value: object, text: str) -> None:
    assert shown(value) == text


def test_literal_blocks_remember_where_their_text_starts() -> None:
    doc = parse_yaml("id: x\napply: |\n\n    SELECT 1;\n    COMMIT;\n", "f.yaml")
    assert doc.locate_text(("apply",), 2, 0) == (5, 5)
    assert doc.locate_text(("id",), 0, 0) == (1, 5)


@pytest.mark.parametrize("separator", ["\x85", "\u2028", "\u2029"])
def test_a_line_break_only_yaml_sees_is_refused_where_editors_see_it(separator: str) -> None:
    """YAML counts a line at U+2028 (and NEL, U+2029); editors and git do not, so every
    line number after one would be off by one. Escaped in a quoted string, it is fine."""
    text = f"version: 1\n# pasted{separator}\nreason: ok\n"
    with pytest.raises(InvalidInput) as err:
        parse_yaml(text, "r.yaml")
    [problem] = err.value.problems
    assert (problem.line, problem.column) == (2, 9)
    assert problem.message.startswith(f"U+{ord(separator):04X} (a line separator) here")
    assert parse_yaml('reason: "a\\u2028b"\n', "r.yaml").data == {"reason": "a\u2028b"}
