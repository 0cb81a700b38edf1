"""What the examples' story scripts share: run the real CLI, record a transcript, and
write it into a README between two markers (so the README shows what really runs).

Used by examples/quickstart/demo.py (SQLite) and examples/postgres/walkthrough.py.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

GIT_ID = ["-c", "user.email=ops@example.com", "-c", "user.name=Ops"]


@dataclass
class Tour:
    """A story told with the real `setright`: each command, its output, and notes."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)  # every command's environment
    transcript: list[tuple[str, str, str]] = field(default_factory=list)  # (step, command, output)
    step: str = ""

    def say(self, title: str) -> None:
        self.step = title
        print(f"\n\033[1m== {title}\033[0m" if sys.stdout.isatty() else f"\n== {title}")

    def setright(self, *args: str, expect: int | tuple[int, ...] = 0,
                 env: dict[str, str] | None = None, show: bool = True) -> str:
        """Run the real CLI; print and record the command and its output."""
        command = "setright " + " ".join(shlex.quote(a) for a in args)
        full_env = {**os.environ, "NO_COLOR": "1", "SETRIGHT_ACTOR": "ops@example.com",
                    "USER": "ops", "LOGNAME": "ops", **self.env, **(env or {})}
        full_env.pop("SETRIGHT_STORE", None)
        full_env.pop("COLUMNS", None)  # the transcript is the README's: one fixed width
        proc = subprocess.run([sys.executable, "-m", "setright", *args], cwd=self.root,
                              env=full_env, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL)
        output = (proc.stdout + proc.stderr).rstrip("\n")
        prefix = " ".join(f"{k}={v}" for k, v in (env or {}).items())
        shown = f"{prefix} {command}".strip()
        print(f"$ {shown}")
        if show and output:
            print(output)
        expected = expect if isinstance(expect, tuple) else (expect,)
        if proc.returncode not in expected:
            raise SystemExit(f"tour: '{shown}' exited {proc.returncode}, expected {expect}\n"
                             f"{output}")
        self.transcript.append((self.step, shown, output))
        return proc.stdout

    def note(self, text: str) -> None:
        """A line of narration (printed, and a paragraph in the README)."""
        print(f"  ({text})")
        self.transcript.append((self.step, "", text))

    def shell(self, command: str) -> None:
        """Record a command the operator types outside setright (already done by the caller)."""
        print(f"$ {command}")
        self.transcript.append((self.step, command, ""))

    def write(self, relative: str, text: str) -> None:
        print(f"$ cat > {relative}")
        print(text.rstrip("\n"))
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self.show_file(relative)

    def show_file(self, relative: str) -> None:
        """Record a file's content (a YAML block in the README)."""
        text = (self.root / relative).read_text(encoding="utf-8")
        self.transcript.append((self.step, f"cat {relative}", text.rstrip("\n")))

    def git(self, *args: str) -> None:
        if shutil.which("git") is None:
            return
        subprocess.run(["git", *GIT_ID, *args], cwd=self.root, check=True, capture_output=True)
        print(f"$ git {' '.join(args)}")


def fill_reason(path: Path, reason: str, ticket: str | None = None) -> None:
    """Do what the operator does in an editor: write the reason (and ticket) of a file
    that `issue get --write` left empty."""
    text = path.read_text(encoding="utf-8").replace('reason: ""', f'reason: "{reason}"', 1)
    if ticket is not None:
        text = text.replace('ticket: ""', f'ticket: "{ticket}"', 1)
    path.write_text(text, encoding="utf-8")


def markdown(transcript: list[tuple[str, str, str]]) -> str:
    """The story as Markdown: a heading per step, a console block per command."""
    out: list[str] = []
    step = None
    for title, command, output in transcript:
        if title != step:
            out += [f"#### {title}", ""]
            step = title
        if not command:
            out += [f"*{output}*", ""]
        elif command.startswith("cat "):
            out += [f"`{command[4:]}`:", "", "```yaml", output, "```", ""]
        else:
            out += ["```console", f"$ {command}", *([output] if output else []), "```", ""]
    return _without_host("\n".join(out).rstrip("\n") + "\n")


def _without_host(text: str) -> str:
    """A runner's `user@host:pid` names this machine: the README shows `runner` instead."""
    return re.sub(rf"@{re.escape(socket.gethostname())}:(\d+)", r"@runner:\1", text)


def markers(command: str) -> tuple[str, str]:
    """The begin and end markers of the section that `command` generates."""
    return f"<!-- tour:begin (generated by {command}) -->", "<!-- tour:end -->"


def replace_section(readme: Path, command: str, text: str) -> None:
    begin, end = markers(command)
    whole = readme.read_text(encoding="utf-8")
    head, _, rest = whole.partition(begin)
    _, _, tail = rest.partition(end)
    if not rest:
        raise SystemExit(f"tour: {readme} has no {begin} marker")
    readme.write_text(f"{head}{begin}\n\n{text}\n{end}{tail}", encoding="utf-8")


def section(readme: Path, command: str) -> str:
    """The generated section currently in `readme` (for the tests that keep it true)."""
    begin, end = markers(command)
    text = readme.read_text(encoding="utf-8")
    return text.partition(begin)[2].partition(end)[0].strip("\n") + "\n"
