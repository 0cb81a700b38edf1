"""The seeded generator of hostile YAML: mutations of a valid file and of the suite's cases.

Every choice comes from the `random.Random` it is given, so an input is a pure
function of (seed, category, index). Contents are bytes (some inputs are not UTF-8).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from hostilehelp import SECRET, bomb, nested

#: Values that are wrong somewhere, or strange everywhere.
HOSTILE_VALUES = [
    "7", "-1", "0", "1.5", "~", "true", "no", "''", '""', '"   "', "[]", "{}", "[a, b]", "{a: 1}",
    "[[[[1]]]]", "2026-13-45", "2026-11-22", ".inf", ".nan", "0x1F", "9" * 400, SECRET,
    "!!int x", "!!float x", "!!bool maybe", "!!null x", "!!binary aGVsbG8=", "!!set {a, b}",
    "!!python/object:os.system x", "!!python/name:os.system ''", "!custom x",
    "!<tag:example.com,2000:x> y", "!!str {a: 1}", "!!map", "!!timestamp x",
    "*nope", "&a [*a]", "&m {y: *m}", "'ché-变更-🙂'", "\"it's \\\"quoted\\\"\"",
    "\"x'; DROP TABLE t; --\"", "\"\u202eevil\"", "\"a\\nb\"", "\"x\\n\"", "\"\\0\"",
    "'\t'", "|\n  block", ">\n  folded", "\"unclosed", "[unclosed", "{unclosed: 1",
    "a: b: c", "- item", "? complex", "@reserved", "`backtick", "%directive",
]

#: Whole lines to insert at a random place.
HOSTILE_LINES = [
    "extra: 1", "version: 1", "---", "...", "- 1", "? [a, b]\n: 1", "{a: 1}: 1", ":::",
    "x: " + nested(60), "x: " + "{a: " * 40 + "1" + "}" * 40, "%YAML 1.1", "%TAG ! tag:x,1:",
    "x: &a [*a]", "<<: *nope", "key only", "\tx: 1", "# comment", "",
]

Mutation = Callable[[random.Random, list[str]], list[str]]


def _line_at(rng: random.Random, lines: list[str]) -> int:
    return rng.randrange(len(lines)) if lines else 0


def truncate(rng: random.Random, lines: list[str]) -> list[str]:
    text = "\n".join(lines)
    return text[:rng.randrange(max(1, len(text)))].split("\n")


def delete_line(rng: random.Random, lines: list[str]) -> list[str]:
    i = _line_at(rng, lines)
    return lines[:i] + lines[i + 1:]


def duplicate_line(rng: random.Random, lines: list[str]) -> list[str]:
    i = _line_at(rng, lines)
    return lines[:i + 1] + lines[i:] if lines else lines


def swap_lines(rng: random.Random, lines: list[str]) -> list[str]:
    if len(lines) < 2:
        return lines
    i, j = rng.sample(range(len(lines)), 2)
    lines = list(lines)
    lines[i], lines[j] = lines[j], lines[i]
    return lines


def replace_value(rng: random.Random, lines: list[str]) -> list[str]:
    """`key: value` on a random line becomes `key: <hostile value>`."""
    keyed = [i for i, line in enumerate(lines) if ":" in line]
    if not keyed:
        return lines
    i = rng.choice(keyed)
    key = lines[i].split(":", 1)[0]
    value = rng.choice(HOSTILE_VALUES)
    return lines[:i] + [f"{key}: {value}"] + lines[i + 1:]


def insert_line(rng: random.Random, lines: list[str]) -> list[str]:
    i = rng.randrange(len(lines) + 1)
    indent = " " * rng.choice([0, 0, 2, 4, 1, 3])
    new = [indent + part for part in rng.choice(HOSTILE_LINES).split("\n")]
    return lines[:i] + new + lines[i:]


def reindent(rng: random.Random, lines: list[str]) -> list[str]:
    i = _line_at(rng, lines)
    if not lines:
        return lines
    stripped = lines[i].lstrip(" ")
    return lines[:i] + [" " * rng.choice([0, 1, 2, 3, 5, 8]) + stripped] + lines[i + 1:]


def inject_char(rng: random.Random, lines: list[str]) -> list[str]:
    if not lines:
        return lines
    i = _line_at(rng, lines)
    char = rng.choice(["\0", "\x07", "\t", "\r", "\ufeff", "\u2028", "\x85", "\udcff", "é",
                       "\U0001F642", "'", '"', "#", "&", "*", "!", "|", ">", "%", "@", "`"])
    pos = rng.randrange(len(lines[i]) + 1)
    return lines[:i] + [lines[i][:pos] + char + lines[i][pos:]] + lines[i + 1:]


def alias_bomb(rng: random.Random, lines: list[str]) -> list[str]:
    levels, width = rng.choice([(8, 10), (4, 50), (3, 200), (6, 9)])
    i = rng.randrange(len(lines) + 1)
    return lines[:i] + bomb(levels, width, key=f"b{rng.randrange(99)}").rstrip("\n").split(
        "\n") + lines[i:]


def deep_nesting(rng: random.Random, lines: list[str]) -> list[str]:
    depth = rng.choice([30, 120, 1_000, 20_000])
    flow = rng.random() < 0.7
    value = nested(depth, flow=flow) if flow else "\n" + nested(min(depth, 300), flow=False)
    return replace_value_with(rng, lines, value)


def huge(rng: random.Random, lines: list[str]) -> list[str]:
    size = rng.choice([10_000, 200_000, 1_000_000])
    return replace_value_with(rng, lines, "x" * size)


def replace_value_with(rng: random.Random, lines: list[str], value: str) -> list[str]:
    keyed = [i for i, line in enumerate(lines) if ":" in line]
    if not keyed:
        return lines + [f"x: {value}"]
    i = rng.choice(keyed)
    return lines[:i] + [f"{lines[i].split(':', 1)[0]}: {value}"] + lines[i + 1:]


#: (weight, mutation): cheap structural damage most often, expensive files rarely.
MUTATIONS: list[tuple[int, Mutation]] = [
    (12, replace_value), (8, truncate), (6, delete_line), (4, duplicate_line), (4, swap_lines),
    (8, insert_line), (5, reindent), (6, inject_char), (2, alias_bomb), (2, deep_nesting),
    (1, huge),
]


def mutate(rng: random.Random, text: str, rounds: int | None = None) -> str:
    lines = text.split("\n")
    weights = [w for w, _ in MUTATIONS]
    for _ in range(rounds or rng.choice([1, 1, 1, 2, 2, 3])):
        op = rng.choices([m for _, m in MUTATIONS], weights)[0]
        lines = op(rng, lines)
    return "\n".join(lines)


def generate(rng: random.Random, good: Sequence[str], cases: Sequence[bytes]) -> bytes:
    """A valid file mutated, or one of the suite's hostile cases mutated further."""
    if cases and rng.random() < 0.3:
        base = rng.choice(cases)
        if rng.random() < 0.3:
            return base  # as the suite wrote it (still a new context: another template)
        text = base.decode("utf-8", "surrogateescape")
        return mutate(rng, text, 1).encode("utf-8", "surrogateescape")
    text = mutate(rng, rng.choice(list(good)))
    return text.encode("utf-8", "surrogateescape")
