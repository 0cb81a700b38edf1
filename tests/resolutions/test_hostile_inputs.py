"""Hostile resolution files and setright.yaml through the real CLI.

Each case is one file; every command that reads it must refuse it with an
`Error:` naming the file and line, exit 1, no "internal error", no traceback,
no secret echoed, quickly, and with the store and the target untouched.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hostilehelp import (
    SECRET, Case, base_project, bomb, check, fresh, invoke, nested, place, replace_line, state,
    truncations, wrong_types,
)

RES = "resolutions/2026-11-23-hostile.yaml"

GOOD = """\
version: 1
reason: verified by hand
ticket: OPS-1
author: jane@example.com
resolutions:
  - change: fails-again
    resolution: ROLLED_BACK
    expect: FAILED
    target: app
    note: checked
"""

HEAD = "".join(GOOD.splitlines(keepends=True)[:4])
LISTS, MAPS = ["[a, b]", "{a: 1}"], ["{a: 1}", "[a]"]
SCALARS = ["7", "~", "true", "1.5", "2026-11-22"]



def merge_bomb(levels: int = 8) -> str:
    """Merge keys (`<<: [*b, *b, ...]`) that multiply a mapping's pairs at every level."""
    out = "a: &b0 {x: 1, y: 2}\n"
    for n in range(1, levels + 1):
        out += f"b{n}: &b{n}\n  <<: [{', '.join([f'*b{n - 1}'] * 10)}]\n"
    return out


RESOLUTION_CASES: list[Case] = [
    *wrong_types(GOOD, {
        "version": (1, "version", ["2", '"1"', "[1]", "{a: 1}", "~", "true", "1.5", SECRET]),
        "reason": (2, "reason", [*LISTS, *SCALARS, '""', '"   "']),
        "ticket": (3, "ticket", [*LISTS, *SCALARS, '" OPS"', '"a\\nb"']),
        "author": (4, "author", [*LISTS, "7", "~", "true", '""']),
        "change": (6, "  - change", [*LISTS, "7", "~", "true", '""', '" "']),
        "resolution": (7, "    resolution", ["MAYBE", "applied", "7", "[APPLIED]", "~", "true"]),
        "expect": (8, "    expect", ["[]", "[FAILED, FAILED]", "NOPE", "7", "{a: 1}", "[7]", "~"]),
        "target": (9, "    target", ['"a b"', "7", "[app]", "~", '"-x"']),
        "note": (10, "    note", ["7", "[a]", "{a: 1}", "~", "true"]),
    }),
    *(Case(f"type-resolutions-{i}", HEAD + f"resolutions: {value}\n", line=5,
           secret=value == SECRET)
      for i, value in enumerate(["7", "x", "{a: 1}", "~", "[]", SECRET, "''"])),
    *(Case(f"type-entry-{i}", HEAD + f"resolutions:\n  - {value}\n", line=6,
           secret=value == SECRET)
      for i, value in enumerate(["7", "x", "[a]", "~", SECRET, "{}"])),
    Case("unknown-top-key", GOOD + "extra: 1\n", line=11),
    Case("unknown-entry-key", GOOD + "    extra: 1\n", line=11),
    Case("long-unknown-key", GOOD + "k" * 5000 + ": 1\n", line=11, secret=True),
    # keys that are no text: null (also an anchored empty key), numbers, booleans
    Case("anchored-null-key-alone", "&resolutions:", line=1),
    *(Case(f"non-text-top-key-{i}", GOOD + f"{key}: 1\n", line=11)
      for i, key in enumerate(["~", "null", "7", "1.5", "true", "? "])),
    *(Case(f"non-text-entry-key-{i}", GOOD + f"    {key}: x\n", line=11)
      for i, key in enumerate(["~", "7", "1.5", "false"])),
    # two texts, one key in the data: a duplicate, named at the second
    *(Case(f"equal-keys-{i}", GOOD + f"{a}: 1\n{b}: 2\n", line=12)
      for i, (a, b) in enumerate([("1", "0x1"), ("null", "~"), ("true", "True"), ("1.0", "1")])),
    # what a terminal acts on, in any text a plan, a table or the ledger shows
    Case("reason-escape", replace_line(GOOD, 2, 'reason: "ok\\e[2J"'), line=2),
    Case("reason-carriage-return", replace_line(GOOD, 2, 'reason: "ok\\rforged"'), line=2),
    Case("ticket-escape", replace_line(GOOD, 3, 'ticket: "OPS-1\\e[1m"'), line=3),
    Case("author-bidi", replace_line(GOOD, 4, 'author: "jane\\u202emoc.elpmaxe"'), line=4),
    Case("author-newline", replace_line(GOOD, 4, 'author: "jane\\nError: forged"'), line=4),
    Case("note-escape", replace_line(GOOD, 10, '    note: "\\e]0;title\\a"'), line=10),
    Case("expect-trailing-newline", replace_line(GOOD, 8, '    expect: "FAILED\\n"'), line=8),
    Case("expect-item-newline", replace_line(GOOD, 8, '    expect: ["FAILED\\n"]'), line=8),
    Case("target-trailing-newline", replace_line(GOOD, 9, '    target: "app\\n"'), line=9),
    Case("redrive-trailing-newline", GOOD + 'redrives:\n  - apply: "ap-1\\n"\n', line=12),
    Case("redrive-bad-id", GOOD + "redrives:\n  - apply: x\n", line=12),
    Case("redrive-force-text", GOOD + "redrives:\n  - {apply: ap-1, force: maybe}\n", line=12),
    Case("redrive-not-list", GOOD + "redrives: {apply: ap-1}\n", line=11),
    # tags
    Case("tag-int-x", replace_line(GOOD, 2, "reason: !!int x"), line=2),
    Case("tag-float-x", replace_line(GOOD, 2, "reason: !!float x"), line=2),
    Case("tag-bool-maybe", replace_line(GOOD, 2, "reason: !!bool maybe"), line=2),
    Case("tag-force-bool", GOOD + "redrives:\n  - {apply: ap-1, force: !!bool maybe}\n",
         line=12),
    Case("tag-timestamp-x", replace_line(GOOD, 2, "reason: !!timestamp x"), line=2),
    Case("tag-int-version", replace_line(GOOD, 1, "version: !!int 1x"), line=1),
    Case("tag-null-x", replace_line(GOOD, 3, "ticket: !!null x"), line=3),
    Case("tag-python-object", replace_line(GOOD, 2, "reason: !!python/object:os.system x"), line=2),
    Case("tag-python-name", replace_line(GOOD, 2, "reason: !!python/name:os.system ''"), line=2),
    Case("tag-custom", replace_line(GOOD, 2, "reason: !secret x"), line=2),
    Case("tag-custom-map", replace_line(GOOD, 5, "resolutions: !list"), line=5),
    Case("tag-binary", replace_line(GOOD, 2, "reason: !!binary aGVsbG8="), line=2),
    Case("tag-set", replace_line(GOOD, 2, "reason: !!set {a, b}"), line=2),
    Case("tag-str-on-map", replace_line(GOOD, 2, "reason: !!str {a: 1}"), line=2),
    Case("tag-map-on-list", replace_line(GOOD, 5, "resolutions: !!map"), line=5),
    Case("tag-uri", replace_line(GOOD, 2, "reason: !<tag:example.com,2000:x> y"), line=2),
    Case("bad-date", replace_line(GOOD, 2, "reason: 2026-13-45"), line=2),
    Case("huge-int", replace_line(GOOD, 1, "version: " + "9" * 5000), line=1),
    # aliases
    Case("bomb-top", GOOD + bomb(), line=16),  # a4: where the budget runs out
    Case("bomb-reason", bomb(key="anchors") + GOOD.replace("verified by hand", "*a8"), line=None),
    Case("bomb-note", GOOD.replace("    note: checked\n", bomb(key="note", indent=4)), line=None),
    Case("bomb-wide", GOOD + bomb(levels=3, width=200), line=None),
    Case("recursive-list", replace_line(GOOD, 5, "resolutions: &a [*a]"), line=5),
    Case("recursive-map", GOOD + "x: &m {y: *m}\n", line=11),
    Case("recursive-deep", GOOD + "x: &m [[[[{y: [*m]}]]]]\n", line=11),
    Case("undefined-alias", replace_line(GOOD, 2, "reason: *nope"), line=2),
    Case("merge-bomb", merge_bomb() + GOOD, line=None),
    # nesting
    Case("deep-flow-200", replace_line(GOOD, 10, "    note: " + nested(200)), line=10),
    Case("deep-flow-100000", replace_line(GOOD, 10, "    note: " + nested(100_000)), line=10),
    Case("deep-open-100000", "x: " + "[" * 100_000, line=1),
    Case("deep-map-150", GOOD + "x:\n" + "\n".join("  " * (i + 1) + "k:" for i in range(150))
         + " 1\n", line=None),
    Case("deep-flowmap-300", GOOD + "x: " + "{a: " * 300 + "1" + "}" * 300 + "\n", line=11),
    # encodings and bytes
    Case("nul-byte", GOOD.replace("verified", "veri\0fied"), line=2),
    Case("non-utf8", GOOD.encode().replace(b"verified", b"v\xffrified")),
    Case("latin1", GOOD.replace("by hand", "par la résolution").encode("latin-1")),
    Case("utf16", GOOD.encode("utf-16"), bad=False),
    Case("bom-valid", "\ufeff" + GOOD, bad=False),
    Case("bom-twice", "\ufeff\ufeff" + GOOD, bad=False),
    Case("bell-char", GOOD.replace("verified", "veri\x07fied"), line=2),
    Case("tab-indent", GOOD.replace("    resolution:", "\tresolution:"), line=7),
    Case("tabs-everywhere", GOOD.replace("  ", "\t")),
    Case("cr-only", GOOD.replace("\n", "\r"), bad=False),
    Case("crlf", GOOD.replace("\n", "\r\n"), bad=False),
    Case("empty", ""),
    Case("whitespace", "   \n\n  \n"),
    Case("comments-only", "# nothing here\n# at all\n"),
    Case("doc-marker-only", "---\n"),
    Case("doc-end-only", "...\n"),
    Case("multi-doc", GOOD + "---\n" + GOOD, line=11),
    Case("multi-doc-empty-first", "---\n---\n" + GOOD, line=2),
    Case("dup-reason", GOOD + "reason: again\n", line=11),
    Case("dup-change", GOOD.replace("    note: checked", "    change: seed"), line=10),
    Case("top-list", "- " + GOOD.replace("\n", "\n  "), line=1),
    Case("top-secret", SECRET + "\n", line=1, secret=True),
    Case("top-secret-quoted", f'"{SECRET}"\n', line=1, secret=True),
    Case("top-int", "42\n", line=1),
    Case("top-null", "~\n"),
    Case("secret-in-reason-list", replace_line(GOOD, 2, f"reason: [{SECRET}]"), line=2,
         secret=True),
    Case("secret-as-version", replace_line(GOOD, 1, f"version: {SECRET}"), line=1, secret=True),
    Case("secret-as-expect", replace_line(GOOD, 8, f"    expect: {SECRET}"), line=8, secret=True),
    # a token shorter than a quotable value is not quoted either (a fuzzer's find)
    Case("short-secret-as-resolution", replace_line(GOOD, 7, f"    resolution: {SECRET[:15]}"),
         line=7, secret=True),
    Case("short-secret-as-expect", replace_line(GOOD, 8, f"    expect: {SECRET[:20]}"),
         line=8, secret=True),
    Case("short-secret-as-key", GOOD + f"{SECRET[:16]}: 1\n", line=11, secret=True),
    Case("secret-as-resolution", replace_line(GOOD, 7, f"    resolution: {SECRET}"), line=7,
         secret=True),
    Case("secret-as-target", replace_line(GOOD, 9, f"    target: '{SECRET} x'"), line=9,
         secret=True),
    Case("unclosed-quote", replace_line(GOOD, 2, 'reason: "never closed'), line=None),
    Case("unclosed-flow", replace_line(GOOD, 8, "    expect: [FAILED"), line=None),
    Case("bad-indent", GOOD.replace("    resolution:", "   resolution:"), line=None),
    Case("key-only", "version\n", line=1),
    Case("colon-soup", ":::\n", line=None),
    Case("complex-key", "? [a, b]\n: 1\n", line=1),
    Case("map-key", "{a: 1}: 1\n", line=1),
    # huge values (valid shapes: only robustness)
    Case("huge-reason", replace_line(GOOD, 2, "reason: " + "x" * 2_000_000), bad=False),
    Case("huge-id", replace_line(GOOD, 6, "  - change: " + "c" * 200_000), bad=False),
    Case("unicode-id", replace_line(GOOD, 6, "  - change: 'ché-变更-🙂'"), bad=False),
    Case("quote-id", replace_line(GOOD, 6, "  - change: \"it's \\\"quoted\\\"\""), bad=False),
    Case("sql-id", replace_line(GOOD, 6, "  - change: \"x'; DROP TABLE t; --\""), bad=False),
    Case("rtl-id", replace_line(GOOD, 6, "  - change: \"\u202eevil\""), bad=False),
    Case("many-entries", GOOD + "".join(f"  - {{change: c{i}, resolution: APPLIED}}\n"
                                        for i in range(3000)), bad=False),
    # truncations: whatever parses is valid; nothing may crash
    *(Case(f"truncated-{offset}", text, bad=False) for offset, text in truncations(GOOD, 5)),
]

OUTSIDE = "../outside"
SYMLINK_CASES: list[Case] = [
    Case("link-outside-secret", SECRET.encode() + b"\n", link_to=f"{OUTSIDE}/token.txt"),
    Case("link-outside-valid", GOOD.encode(), link_to=f"{OUTSIDE}/valid.yaml"),
    Case("link-outside-abs-dev-null", None, link_to="/dev/null"),
    Case("link-chain-outside", SECRET.encode(), link_to="resolutions/.inner-link"),
]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile") / "base"
    base_project(root)
    return root


def _res_commands(case: Case) -> list[tuple[tuple[str, ...], bool]]:
    """(command, whether its stderr must start with `Error:`); the writer only for bad input."""
    readers = [(("validate",), False), (("plan",), False),
               (("plan", "--format", "markdown"), False), (("plan", "--format", "json"), False)]
    return readers + ([(("apply", "--auto-approve", "--allow-dirty"), True)] if case.bad else [])


def _run_resolution_case(case: Case, template: Path, tmp_path: Path) -> None:
    project = fresh(template, tmp_path / "p")
    if case.id == "link-chain-outside":
        place(project, "resolutions/.inner-link", Case("inner", SECRET.encode(),
                                                       link_to=f"{OUTSIDE}/chained.txt"))
    place(project, RES, case)
    before = state(project)
    for command, error_first in _res_commands(case):
        outcome = invoke(project, *command)
        # plan and validate list every problem; `apply` refuses with one Error: line
        check(case, outcome, RES, error_first=error_first)
        if case.bad and command[0] == "plan" and "json" not in command:
            assert "Error" in outcome.output, f"NOT-ERROR {case.id}: {outcome.output[:500]}"
    assert state(project) == before, f"STATE {case.id}"


@pytest.mark.parametrize("case", RESOLUTION_CASES, ids=lambda c: c.id)
def test_hostile_resolution_file(case: Case, template: Path, tmp_path: Path) -> None:
    _run_resolution_case(case, template, tmp_path)


@pytest.mark.parametrize("case", SYMLINK_CASES, ids=lambda c: c.id)
def test_symlink_out_of_the_project_is_refused_by_name(case: Case, template: Path,
                                                       tmp_path: Path) -> None:
    _run_resolution_case(case, template, tmp_path)
    project = fresh(template, tmp_path / "q")
    if case.id == "link-chain-outside":
        place(project, "resolutions/.inner-link", Case("inner", SECRET.encode(),
                                                       link_to=f"{OUTSIDE}/chained.txt"))
    place(project, RES, case)
    outcome = invoke(project, "validate")
    assert f"{RES}: " in outcome.output and "symbolic link" in outcome.output, outcome.output
    named = invoke(project, "validate", str(project.root / RES))
    assert "symbolic link" in named.output and named.exit_code == 1, named.output


def test_symlink_inside_the_project_is_read(template: Path, tmp_path: Path) -> None:
    project = fresh(template, tmp_path / "p")
    (project.root / "drafts").mkdir()
    (project.root / "drafts" / "real.yaml").write_text(GOOD)
    (project.root / RES).symlink_to(project.root / "drafts" / "real.yaml")
    outcome = invoke(project, "validate")
    assert outcome.exit_code == 0, outcome.output


# -- file names ------------------------------------------------------------------------------

#: names git can hold that no message could print as they are: a forged line, a terminal
#: escape, bytes that are not UTF-8 (the plan used to fail saving them: internal error)
NAMES = {"forged-line": ("a\nError: forged.yaml", "a\\nError: forged.yaml"),
         "escape": ("c\x1b[31mred.yaml", "c\\x1b[31mred.yaml"),
         "not-utf8": (os.fsdecode(b"bad\xff.yaml"), "bad\\xff.yaml")}


@pytest.mark.parametrize("kind", sorted(NAMES))
@pytest.mark.parametrize("folder", ["resolutions", "changes/app"])
def test_a_file_name_no_message_could_show_is_refused_escaped(
        template: Path, tmp_path: Path, folder: str, kind: str) -> None:
    name, shown = NAMES[kind]
    project = fresh(template, tmp_path / "p")
    body = GOOD if folder == "resolutions" else "id: odd\napply: SELECT 1;\n"
    (project.root / folder / name).write_text(body)
    before = state(project)
    refusal = (f"{folder}/{shown}: its name holds a control character or bytes that are not "
               "UTF-8, which no message could show as they are; rename the file")
    commands = (("validate",), ("plan", "-o", "saved.json"), ("apply", "--auto-approve")) \
        if folder == "resolutions" else (("status",), ("run",))
    for command in commands:
        outcome = invoke(project, *command)
        assert outcome.exit_code == 1, outcome.output
        assert refusal in outcome.output, outcome.output
        assert "internal error" not in outcome.output and "Traceback" not in outcome.output
        assert all(line.isprintable() for line in outcome.output.splitlines()), outcome.output
        assert "\nError: forged" not in outcome.output
    assert not (project.root / "saved.json").exists()
    assert state(project) == before


# -- setright.yaml ---------------------------------------------------------------------------

CONFIG = """\
version: 1
store: {url: "sqlite:///.setright/audit.db"}
targets:
  app: {url: "sqlite:///data/app.db", changes: changes/app}
run: {max_attempts: 3}
lock: {ttl: 60s}
redrive: {max_age: 1d}
policy: {require_ticket: false}
"""

TARGETS = CONFIG.splitlines(keepends=True)[2] + CONFIG.splitlines(keepends=True)[3]
CONFIG_CASES: list[Case] = [
    *wrong_types(CONFIG, {
        "version": (1, "version", ['"1"', "2", "[1]", "~", SECRET]),
        "store": (2, "store", ["7", "[a]", "x", '{url: "postgres://h"}', "{url: 7}",
                               "{audit_table: 'a b'}", "{audit_table: 7}"]),
        "target": (4, "  app", ["7", "[a]", "{changes: x}", "{url: 7}", '{url: "mysql://x"}',
                                "{url: sqlite:///x.db, changes: ''}", "~"]),
        "run": (5, "run", ["{max_attempts: 0}", "{max_attempts: x}", "{max_attempts: 1.5}",
                           "{max_attempts: !!int x}", "{max_attempts: !!bool maybe}", "7"]),
        "lock": (6, "lock", ["{ttl: forever}", "{ttl: -1s}", "{ttl: !!float x}", "{ttl: ''}",
                             f"{{ttl: {SECRET}}}", "{ttl: [1]}"]),
        "redrive": (7, "redrive", ["{max_age: soon}", "{max_age: []}", "{max_age: 1y}"]),
        "policy": (8, "policy", ["{require_ticket: yes please}", "{require_ticket: 7}",
                                 "{require_ticket: !!bool maybe}", "{x: 1}"]),
    }),
    *(Case(f"type-targets-{i}", CONFIG.replace(TARGETS, f"targets: {value}\n"), line=3)
      for i, value in enumerate(["[]", "7", "x", "~", "[{app: 1}]"])),
    Case("cfg-ttl-negative", replace_line(CONFIG, 6, "lock: {ttl: -5}"), line=6),
    Case("cfg-ttl-inf", replace_line(CONFIG, 6, "lock: {ttl: .inf}"), line=6),
    Case("cfg-ttl-nan", replace_line(CONFIG, 6, "lock: {ttl: .nan}"), line=6),
    Case("cfg-age-negative", replace_line(CONFIG, 7, "redrive: {max_age: -1}"), line=7),
    Case("cfg-table-newline", replace_line(CONFIG, 2, 'store: {audit_table: "t\\n"}'), line=2),
    Case("cfg-target-newline", CONFIG.replace("  app:", '  "app\\n":'), line=4),
    Case("cfg-target-name", CONFIG.replace("  app:", "  'a b':"), line=4),
    # a target name is text: a YAML key that resolves to a number, null or boolean is refused
    *(Case(f"cfg-target-name-{i}", CONFIG.replace("  app:", f"  {key}:"), line=4)
      for i, key in enumerate(["1", "~", "null", "true", "1.5", "? "])),
    Case("cfg-non-text-top-key", CONFIG + "~: 1\n", line=9),
    # a parameter setright reads is checked where it is written, before any connection
    *(Case(f"cfg-url-parameter-{i}", replace_line(CONFIG, 2, f'store: {{url: "{url}"}}'),
           line=2)
      for i, url in enumerate([
          "mysql://u@127.0.0.1:1/db?read_timeout=abc", "mysql://u@127.0.0.1:1/db?ssl_verify_cert=ture",
          "mariadb://u@127.0.0.1:1/db?charset=latin1", "postgresql://u@127.0.0.1:1/db?connect_timeout=nan",
          "postgresql://u@127.0.0.1:1/db?connect_timeout=1e999", f"mysql://u@127.0.0.1:1/db?{SECRET}=1",
          f"oracle://u:{SECRET}@h/db", f"mysql+x://u@h/db?password={SECRET}"])),
    Case("cfg-resolutions-int", CONFIG + "resolutions: 7\n", line=9),
    Case("cfg-resolutions-empty", CONFIG + "resolutions: ''\n", line=9),
    Case("cfg-unknown", CONFIG + "extra: 1\n", line=9),
    Case("cfg-bomb", CONFIG + bomb(), line=14),
    Case("cfg-recursive", CONFIG.replace("targets:\n", "targets: &t\n  x: *t\n"), line=4),
    Case("cfg-python", CONFIG + "x: !!python/object/apply:os.system ['true']\n", line=9),
    Case("cfg-custom-tag", replace_line(CONFIG, 2, "store: !store {url: x}"), line=2),
    Case("cfg-deep", CONFIG + "x: " + nested(100_000) + "\n", line=9),
    Case("cfg-nul", CONFIG.replace("version: 1", "version: 1\0"), line=1),
    Case("cfg-non-utf8", CONFIG.encode() + b"x: \xfe\n"),
    Case("cfg-empty", ""),
    Case("cfg-multi-doc", CONFIG + "---\n" + CONFIG, line=9),
    Case("cfg-dup", CONFIG + "version: 1\n", line=9),
    Case("cfg-top-secret", SECRET + "\n", line=1, secret=True),
    Case("cfg-top-list", "- 1\n", line=1),
    Case("cfg-tab", CONFIG.replace("  app:", "\tapp:"), line=4),
    Case("cfg-bom", "\ufeff" + CONFIG, bad=False),
    Case("cfg-ttl-0", replace_line(CONFIG, 6, "lock: {ttl: 0s}"), bad=False),
    Case("cfg-ttl-number", replace_line(CONFIG, 6, "lock: {ttl: 7}"), bad=False),
    Case("cfg-ttl-huge", replace_line(CONFIG, 6, "lock: {ttl: 99999999999999999999d}"), bad=False),
    Case("cfg-age-huge", replace_line(CONFIG, 7, "redrive: {max_age: 1e308}"), bad=False),
    Case("cfg-attempts-huge", replace_line(CONFIG, 5, "run: {max_attempts: " + "9" * 4000 + "}"),
         bad=False),
    *(Case(f"cfg-truncated-{offset}", text, bad=False)
      for offset, text in truncations(CONFIG, 11)),
]

CONFIG_COMMANDS = (("status",), ("validate",), ("plan",), ("issue", "list"), ("run",))


@pytest.mark.parametrize("case", CONFIG_CASES, ids=lambda c: c.id)
def test_hostile_config(case: Case, template: Path, tmp_path: Path) -> None:
    project = fresh(template, tmp_path / "p")
    place(project, "setright.yaml", case)
    before = state(project)
    for command in CONFIG_COMMANDS if case.bad else CONFIG_COMMANDS[:-1]:
        check(case, invoke(project, *command), "setright.yaml")
    assert state(project) == before, f"STATE {case.id}"


SNAPSHOT_CASES = ("bomb-top", "recursive-list", "tag-int-x", "tag-python-object", "deep-flow-200",
                  "top-secret", "secret-as-expect", "long-unknown-key", "nul-byte")


def test_refusals_read_well(template: Path, tmp_path: Path, snapshot) -> None:  # type: ignore[no-untyped-def]
    """What a reviewer sees for each kind of refusal: validate, and the PR comment."""
    by_id = {c.id: c for c in RESOLUTION_CASES + SYMLINK_CASES}
    seen = {}
    for name in (*SNAPSHOT_CASES, "link-outside-secret"):
        project = fresh(template, tmp_path / name)
        place(project, RES, by_id[name])
        seen[name] = invoke(project, "validate").output
    seen["markdown:link-outside-secret"] = invoke(project, "plan", "--format", "markdown").output
    assert seen == snapshot
