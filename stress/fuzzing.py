"""The file-fuzz driver shared by fuzz_resolution, fuzz_change and fuzz_config.

One input is one file written into a copy of a template project. Each command
runs in-process through the click entry point (hostilehelp.invoke), or, for
every `PROCESS_EVERY`-th input, as a real `setright` process. The promise for
a refusal: exit 1, an `Error:` naming the file with its line (only the name
for bytes that are not UTF-8 or a file without content), no traceback, no
"internal error", no secret echoed, and a byte-equal canonical dump of the
state tables, the target tables and the store's folder.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from core import Context, finish, on_timeline, project_state, raw_fingerprint, shown, shrink_lines, spawn

#: One input in this many runs its last command (the writer, when there is one) as a real
#: `setright` process: 5 % of inputs, the floor the harness promises.
PROCESS_EVERY = 20
SECONDS = 15.0
#: A real process also pays for its start-up, which a loaded machine stretches many times.
PROCESS_SECONDS = 60.0


@dataclass(frozen=True)
class Command:
    args: tuple[str, ...]
    error_first: bool  # a writer refuses with one `Error:` line first on stderr
    writes_on_success: bool = False  # exit 0 may change state (the input was valid)


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str
    seconds: float
    real: bool = False

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_command(root: Path, command: Command, real: bool) -> Outcome:
    from hostilehelp import _adopt, invoke

    start = time.monotonic()
    if real:
        code, out, err = finish(spawn(root, *command.args, **on_timeline()), timeout=60)
        return Outcome(code, out, err, time.monotonic() - start, real=True)
    got = invoke(_adopt(root), *command.args)
    return Outcome(got.exit_code, got.stdout, got.stderr, time.monotonic() - start)


def error_first(stderr: str) -> bool:
    """stderr's first line, after any warnings (and their indented details), is `Error:`."""
    lines = stderr.splitlines()
    while lines and (lines[0].startswith("Warning:") or lines[0].startswith("  ")):
        lines.pop(0)
    return bool(lines) and lines[0].startswith("Error:")


def _has_lines(content: bytes) -> bool:
    try:
        text = content.decode("utf-8-sig")   # a byte order mark alone is no content
    except UnicodeDecodeError:
        return False
    meaningful = [ln for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    return bool(meaningful)


def judge(content: bytes, name: str, command: Command, got: Outcome,
          before: bytes, after: bytes, accepted: Callable[[Outcome], bool]) -> str | None:
    """The broken promise (a short tag and the command), or None."""
    from hostilehelp import SECRET

    tag = " ".join(command.args)
    out = got.output
    if "internal error" in out:
        return f"INTERNAL {tag}"
    if "Traceback" in out:
        return f"TRACEBACK {tag}"
    if got.seconds > (PROCESS_SECONDS if got.real else SECONDS):
        return f"SLOW {tag}"
    if SECRET[:12] in out and SECRET.encode() not in content:
        return f"LEAK {tag}"
    if got.exit_code == 0 or (got.exit_code == 2 and not command.error_first):
        if not command.writes_on_success and after != before:
            return f"STATE-CHANGED-BY-READER {tag}"
        return None
    if got.exit_code != 1:
        return f"EXIT-{got.exit_code} {tag}"
    if accepted(got):  # a valid input whose work failed at run time, as reported
        return None
    if after != before:
        return f"STATE {tag}"
    if command.error_first and not error_first(got.stderr):
        return f"NOT-ERROR {tag}"
    if name not in out:
        return f"UNNAMED {tag}"
    if _has_lines(content) and not re.search(re.escape(name) + r":\d+", out):
        return f"NO-LINE {tag}"
    return None


def fuzz_files(ctx: Context, *, template: Path, where: str, commands: Sequence[Command],
               generate: Callable[[int], bytes], minimum: int,
               accepted: Callable[[Outcome], bool] = lambda _: False) -> None:
    """Generate `minimum × scale` files at `where` and hold every command to the promise."""
    work = ctx.work / "p"
    pristine = project_state(template)
    pristine_raw = raw_fingerprint(template)
    dirty = [True]
    refused = [0]

    def attempt(content: bytes, real: bool) -> tuple[str | None, str]:
        path = work / where
        if dirty[0]:
            if work.exists():
                shutil.rmtree(work)
            shutil.copytree(template, work, symlinks=True)
            dirty[0] = False
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        before, before_raw = pristine, pristine_raw
        try:
            for n, command in enumerate(commands):
                got = run_command(work, command, real and n == len(commands) - 1)
                after_raw = raw_fingerprint(work)
                after = before if after_raw == before_raw else project_state(work)
                if after_raw != pristine_raw:
                    dirty[0] = True  # bookkeeping or state moved: the next input gets a copy
                problem = judge(content, where, command, got, before, after, accepted)
                if got.exit_code == 1 and not accepted(got):
                    refused[0] += 1
                if problem is not None:
                    return problem, shown(got.output, 1200)
                if after != before:
                    break  # the input was valid and applied: later commands see another state
                before, before_raw = after, after_raw
        finally:
            path.unlink(missing_ok=True)
        return None, ""

    for index in ctx.indexes(minimum):
        content = generate(index)
        real = index % PROCESS_EVERY == 0
        problem, output = attempt(content, real)

        def example(content: bytes = content, problem: str | None = problem,
                    output: str = output, real: bool = real, index: int = index) -> dict:
            kind = problem.split()[0] if problem else ""
            small = shrink_lines(content.decode("latin-1"),
                                 lambda t: (attempt(t.encode("latin-1"), real)[0] or "")
                                 .split(" ")[0] == kind).encode("latin-1")
            small_problem, small_output = attempt(small, real)
            return {"case": index, "reproduce": ctx.repro(index), "file": where,
                    "real_process": real, "input": shown(small), "input_bytes": len(small),
                    "original_bytes": len(content),
                    "output": small_output if small_problem else output}

        ctx.result.record(problem, example)
    ctx.result.notes.append(f"{refused[0]} refusals checked over {len(ctx.indexes(minimum))}"
                            f" inputs × {len(commands)} commands; every {PROCESS_EVERY}th input"
                            " through a real process")
