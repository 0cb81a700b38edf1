"""examples/github-actions and .pre-commit-hooks.yaml.

Statically: both files are valid YAML, the triggers and jobs are what the README says,
and every `setright …` command line in the workflow's `run:` steps is accepted by the
real CLI (click resolves it; an unknown option, a bad choice or a missing argument fails).

Dynamically: the jobs' shell steps run for real (bash, git, setright) in a throw-away
repository: a pull request with resolution files whose names have spaces is validated and
planned into the comment, then merged and applied; bad files, empty diffs and unusable
`before` commits fail or skip the way the README says. The github-script step runs under
node against a fake GitHub API, to show it updates its own comment instead of adding one.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from setright.cli import cli

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "examples" / "github-actions" / "setright.yml"
HOOKS = ROOT / ".pre-commit-hooks.yaml"
MARKER = "<!-- setright-plan -->"

# Representative values for what the `run:` scripts expand.
FILES = ["resolutions/fix app.yaml", "resolutions/fix-billing.yml"]
VARIABLES = {"RUNNER_TEMP": "/runner/temp"}


def load_workflow() -> dict[str, Any]:
    doc = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    # YAML 1.1 (PyYAML) reads the key `on` as the boolean True.
    if True in doc:
        doc["on"] = doc.pop(True)
    return doc


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    return load_workflow()


def uses(steps: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    """The steps that use `action` (any version)."""
    return [s for s in steps if str(s.get("uses", "")).startswith(action + "@")]


def run_steps(workflow: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for job_name, job in workflow["jobs"].items():
        for step in job["steps"]:
            if "run" in step:
                yield job_name, step


# -- the CLI check -------------------------------------------------------------


def _group_split(group: click.Group, args: list[str]) -> int:
    """Index of the subcommand name in `args` (after the group's own options)."""
    takes_value = {}
    for param in group.params:
        if isinstance(param, click.Option):
            for opt in (*param.opts, *param.secondary_opts):
                takes_value[opt] = not (param.is_flag or param.count)
    i = 0
    while i < len(args) and args[i].startswith("-"):
        name = args[i].split("=", 1)[0]
        if name not in takes_value:
            raise click.NoSuchOption(name)
        i += 2 if takes_value[name] and "=" not in args[i] else 1
    return i


def parse_with_cli(argv: list[str]) -> click.Context:
    """Resolve `setright ARGS…` with the real command tree, without running anything."""
    assert argv[0] == "setright", argv
    command: click.Command = cli
    name, args = "setright", argv[1:]
    parent: click.Context | None = None
    while isinstance(command, click.Group):
        split = _group_split(command, args)
        own, rest = args[:split], args[split:]
        # with the group's context settings, as click's own: a command caches its help
        # option from the first context it sees, so one without them (`-h`) would change
        # every later test's help output
        parent = (command.make_context(name, own, parent=parent) if own
                  else click.Context(command, info_name=name, parent=parent,
                                     **command.context_settings))
        if not rest:
            return parent
        sub = command.get_command(parent, rest[0])
        if sub is None:
            raise click.UsageError(f"no such command {rest[0]!r}")
        command, name, args = sub, rest[0], rest[1:]
    return command.make_context(name, args, parent=parent)


def test_parse_with_cli_rejects_what_setright_rejects() -> None:
    """The checker itself: it must fail on the mistakes it is meant to catch."""
    assert parse_with_cli(["setright", "plan", "--format", "markdown", "a.yaml"]).params["fmt"] \
        == "markdown"
    assert parse_with_cli(["setright", "--no-color", "audit", "list", "--json"]).info_name == "list"
    for bad in (["setright", "plan", "--fromat", "markdown"],        # unknown option
                ["setright", "plan", "--format", "html"],             # not a choice
                ["setright", "plan", "-o"],                           # option without its value
                ["setright", "apply", "a.json", "b.json"],            # extra argument
                ["setright", "redrive"],                              # missing argument
                ["setright", "--colour", "plan"],                     # unknown global option
                ["setright", "plna"]):                                # unknown command
        with pytest.raises(click.UsageError):
            parse_with_cli(bad)


# -- extracting the commands -----------------------------------------------------

_COMMAND_START = {";", "&&", "||", "|", "(", "!", "then", "do", "else", "if", "{", "`", "$("}


def _substitute(word: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in VARIABLES:
            raise AssertionError(f"no representative value for ${name} in a setright command")
        return VARIABLES[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, word)


def setright_commands(script: str) -> list[list[str]]:
    """Every `setright …` command in a bash script, expanded with representative values."""
    script = re.sub(r"\\\n[ \t]*", " ", script)  # line continuations
    script = script.replace('"${files[@]}"', shlex.join(FILES))
    commands = []
    for line in script.splitlines():
        if not re.search(r"\bsetright\b", line) or line.lstrip().startswith("#"):
            continue
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        tokens = list(lexer)
        for i, token in enumerate(tokens):
            if token != "setright" or (i and tokens[i - 1] not in _COMMAND_START):
                continue
            words = []
            for word in tokens[i + 1:]:
                if word and set(word) <= set(";&|()<>"):
                    if words and words[-1].isdigit() and word[0] in "<>":
                        words.pop()  # `2>` is a redirection, not an argument
                    break
                words.append(_substitute(word))
            commands.append(["setright", *words])
    return commands


def test_setright_commands_extraction() -> None:
    script = ('status=0\nsetright plan --format markdown -- "${files[@]}" \\\n'
              '  > "$RUNNER_TEMP/plan.md" 2>&1 || status=$?\n'
              'if ! setright validate; then echo "setright failed"; fi  # setright here\n')
    assert setright_commands(script) == [
        ["setright", "plan", "--format", "markdown", "--", *FILES],
        ["setright", "validate"],
    ]


def test_every_setright_command_in_the_workflow_parses(workflow: dict[str, Any]) -> None:
    seen: dict[str, list[list[str]]] = {}
    for job_name, step in run_steps(workflow):
        for argv in setright_commands(step["run"]):
            try:
                ctx = parse_with_cli(argv)
            except (click.UsageError, click.BadParameter) as exc:
                pytest.fail(f"{job_name} / {step.get('name')}: {shlex.join(argv)}: "
                            f"{exc.format_message()}")
            except click.exceptions.Exit as exc:  # --version: an eager option that exits 0
                assert exc.exit_code == 0, argv
                ctx = None
            seen.setdefault(job_name, []).append(argv)
            if ctx is not None and ctx.info_name in ("plan", "validate"):
                # the file list arrives intact, space and all
                assert [str(p) for p in ctx.params["paths"]] == FILES, argv
    plan_job = [" ".join(a) for a in seen["plan"]]
    apply_job = [" ".join(a) for a in seen["apply"]]
    assert any(a.startswith("setright validate") for a in plan_job)
    # one plan makes both the comment (stdout) and the saved JSON plan (-o)
    assert any("plan --format markdown --detailed-exitcode -o plan.json" in a for a in plan_job)
    assert any("plan -o plan.json" in a for a in apply_job)
    assert any(a.startswith("setright apply") and a.endswith("plan.json") for a in apply_job)
    assert not any("--detailed-exitcode" in a for a in apply_job)  # exit 2 would fail the job


# -- the workflow's shape ----------------------------------------------------------


def test_triggers(workflow: dict[str, Any]) -> None:
    on = workflow["on"]
    assert set(on) == {"pull_request", "push"}
    assert on["pull_request"]["paths"] == ["resolutions/**"]
    assert on["push"]["paths"] == ["resolutions/**"]
    assert on["push"]["branches"] == ["main"]


def test_plan_job_comments_and_updates_its_comment(workflow: dict[str, Any]) -> None:
    job = workflow["jobs"]["plan"]
    assert job["if"] == "github.event_name == 'pull_request'"
    assert job["permissions"]["pull-requests"] == "write"
    scripts = uses(job["steps"], "actions/github-script")
    assert len(scripts) == 1
    script = scripts[0]["with"]["script"]
    assert MARKER in script and "updateComment" in script and "createComment" in script
    writer = next(s for s in job["steps"] if s.get("id") == "comment")
    assert MARKER in writer["run"]
    uploads = uses(job["steps"], "actions/upload-artifact")
    assert [u["with"]["path"] for u in uploads] == ["plan.json"]
    [setup] = uses(job["steps"], "actions/setup-python")
    major, minor = map(int, str(setup["with"]["python-version"]).split(".")[:2])
    assert (major, minor) >= (3, 11)


def test_apply_job_runs_only_on_push_to_main(workflow: dict[str, Any]) -> None:
    job = workflow["jobs"]["apply"]
    condition = job["if"]
    assert "github.event_name == 'push'" in condition
    assert "github.ref == 'refs/heads/main'" in condition
    assert "&&" in condition and "||" not in condition
    assert job["concurrency"]["group"] and job["concurrency"]["cancel-in-progress"] is False
    assert job["env"]["SETRIGHT_ACTOR"] == "${{ github.actor }}"
    assert job["env"]["SETRIGHT_STORE"] == "${{ secrets.SETRIGHT_STORE }}"
    assert "pull-requests" not in job.get("permissions", {})
    assert workflow["permissions"] == {"contents": "read"}


def test_only_the_apply_job_gets_the_writers_store_url(workflow: dict[str, Any]) -> None:
    """A pull request's job runs readers only: it gets the read-only role's URL, never
    the secret that can write the store."""
    plan = workflow["jobs"]["plan"]
    assert plan["env"]["SETRIGHT_STORE"] == "${{ secrets.SETRIGHT_STORE_READONLY }}"
    assert "secrets.SETRIGHT_STORE }}" not in yaml.safe_dump(plan)
    assert "SETRIGHT_STORE_READONLY" not in yaml.safe_dump(workflow["jobs"]["apply"])


def test_scripts_take_github_values_from_env_never_inline(workflow: dict[str, Any]) -> None:
    """`${{ … }}` inside a script is a shell-injection risk; values come in through `env:`."""
    for _, step in run_steps(workflow):
        assert "${{" not in step["run"], step.get("name")


def test_checkouts_have_the_history_the_diffs_need(workflow: dict[str, Any]) -> None:
    for job in workflow["jobs"].values():
        [checkout] = uses(job["steps"], "actions/checkout")
        assert checkout["with"]["fetch-depth"] == 0


# -- pre-commit ----------------------------------------------------------------------


def test_pre_commit_hook() -> None:
    hooks = yaml.safe_load(HOOKS.read_text(encoding="utf-8"))
    assert [h["id"] for h in hooks] == ["setright-validate"]
    hook = hooks[0]
    assert hook["entry"] == "setright validate"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is True
    files = re.compile(hook["files"])
    for name in ("resolutions/fix.yaml", "resolutions/fix app.yml", "resolutions/2026-1-x.yaml"):
        assert files.search(name), name
    for name in ("resolutions/README.md", "changes/app/x.yaml", "my-resolutions/x.yaml",
                 "resolutions/old/x.yaml", "resolutions/x.yaml.bak"):
        assert not files.search(name), name
    # pre-commit installs the repository with pip: the entry must be one of its scripts
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert shlex.split(hook["entry"])[0] in scripts
    ctx = parse_with_cli([*shlex.split(hook["entry"]), *FILES, "README.md"])
    assert ctx.info_name == "validate"


def test_pre_commit_hook_validates_real_files(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    hook = yaml.safe_load(HOOKS.read_text(encoding="utf-8"))[0]
    project = make_project(tmp_path / "p")
    good = write_resolution(project, "fix app.yaml", "cache-warm", "APPLIED")
    bad = write_resolution(project, "bad.yaml", "payments", "ROLLED_BACK", reason="")
    monkeypatch.chdir(project)
    monkeypatch.delenv("SETRIGHT_STORE", raising=False)
    entry = shlex.split(hook["entry"])[1:]
    result = CliRunner().invoke(cli, [*entry, str(good.relative_to(project)), "README.md"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, [*entry, str(bad.relative_to(project))])
    assert result.exit_code == 1
    assert "bad.yaml" in result.output and "$.reason" in result.output


# -- running the jobs' shell steps -------------------------------------------------

needs_tools = pytest.mark.skipif(shutil.which("git") is None or shutil.which("bash") is None,
                                 reason="needs git and bash")

CONFIG = """\
version: 1
store: {url: "sqlite:///.setright/audit.db"}
resolutions: resolutions
targets:
  app: {url: "sqlite:///data/app.db", changes: changes/app}
  billing: {url: "sqlite:///data/billing.db", changes: changes/billing}
"""

# Both fail on their second statement, with the first one committed: two FAILED issues.
CHANGES = {
    "app/_0001__cache-warm.yaml":
        "id: cache-warm\ntransactional: false\napply: |\n"
        "  CREATE TABLE cache (k TEXT);\n  INSERT INTO nope VALUES (1);\n",
    "billing/_0001__payments.yaml":
        "id: payments\ntransactional: false\napply: |\n"
        "  CREATE TABLE pay (k TEXT);\n  INSERT INTO nope VALUES (1);\n",
}


def git_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_", "SETRIGHT_")) and k not in ("NO_COLOR",)}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, HOME=str(home),
               GIT_AUTHOR_NAME="Jane", GIT_AUTHOR_EMAIL="jane@example.com",
               GIT_COMMITTER_NAME="Jane", GIT_COMMITTER_EMAIL="jane@example.com")
    return env


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main",
                           *args], cwd=repo, env=git_env(repo.parent / "home"),
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


def make_project(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "setright.yaml").write_text(CONFIG)
    (root / ".gitignore").write_text(".setright/\ndata/\nplan.json\n")
    (root / "README.md").write_text("# ops\n")
    for name, text in CHANGES.items():
        path = root / "changes" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "resolutions").mkdir()
    (root / "data").mkdir()
    return root


def write_resolution(root: Path, name: str, change: str, resolution: str, *,
                     reason: str = "checked the target by hand") -> Path:
    path = root / "resolutions" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump({"version": 1, "reason": reason, "resolutions": [
        {"change": change, "resolution": resolution}]}, sort_keys=False))
    return path


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@dataclass
class StepResult:
    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str]


@dataclass
class JobRun:
    """Runs one job's `run:` steps the way a GitHub runner does (bash -eo pipefail, `env:`
    with `${{ … }}` resolved, GITHUB_OUTPUT, step `if:`s); `uses:` steps and the install
    step are left out (setright is already installed; github-script is tested with node)."""

    workflow: dict[str, Any]
    job_name: str
    repo: Path
    tmp: Path
    context: dict[str, str]
    results: dict[str, StepResult] = field(default_factory=dict)

    def expression(self, expr: str) -> str:
        expr = expr.strip()
        if m := re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expr):
            result = self.results.get(m.group(1))
            return result.outputs.get(m.group(2), "") if result else ""
        if expr not in self.context:
            raise AssertionError(f"the test has no value for ${{{{ {expr} }}}}")
        return self.context[expr]

    def resolve(self, text: str) -> str:
        return re.sub(r"\$\{\{(.*?)\}\}", lambda m: self.expression(m.group(1)), str(text))

    def condition(self, text: str | None) -> bool:
        if text is None:
            return True
        m = re.fullmatch(r"\s*([\w.-]+)\s*(==|!=)\s*'([^']*)'\s*", text)
        assert m, f"the test cannot evaluate the condition {text!r}"
        value = self.expression(m.group(1))
        return (value == m.group(3)) == (m.group(2) == "==")

    def run(self) -> dict[str, StepResult]:
        job = self.workflow["jobs"][self.job_name]
        bin_dir = self.tmp / "bin"
        bin_dir.mkdir(exist_ok=True)
        shim = bin_dir / "setright"
        shim.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m setright \"$@\"\n")
        shim.chmod(0o755)
        runner_temp = self.tmp / "runner temp"  # a space, as a test of the scripts' quoting
        runner_temp.mkdir(exist_ok=True)
        for i, step in enumerate(job["steps"]):
            if "run" not in step or step.get("name") == "Install setright":
                continue
            if not self.condition(step.get("if")):
                continue
            env = git_env(self.tmp / "home")
            env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
            for scope in (self.workflow.get("env", {}), job.get("env", {}), step.get("env", {})):
                env.update({k: self.resolve(v) for k, v in scope.items()})
            output = self.tmp / f"output-{i}"
            output.write_text("")
            env.update(RUNNER_TEMP=str(runner_temp), GITHUB_OUTPUT=str(output))
            script = self.tmp / f"step-{i}.sh"
            script.write_text(step["run"])
            done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                                  cwd=self.repo, env=env, capture_output=True, text=True)
            outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if line)
            self.results[step.get("id") or step["name"]] = StepResult(
                done.returncode, done.stdout, done.stderr, outputs)
            if done.returncode != 0:
                break  # like GitHub: the following steps (without always()) are skipped
        return self.results


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A project whose `setright run` left two FAILED changes in a shared audit store."""
    repo = make_project(tmp_path / "work space")
    store = tmp_path / "shared" / "audit.db"
    store_url = f"sqlite:///{store}"
    git(repo, "init", "-q")
    base = commit_all(repo, "setright project")
    env = {**git_env(tmp_path / "home"), "SETRIGHT_STORE": store_url, "NO_COLOR": "1"}
    done = subprocess.run([sys.executable, "-m", "setright", "run"], cwd=repo, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 1 and "cache-warm: FAILED" in done.stdout, done.stdout + done.stderr
    yield {"repo": repo, "tmp": tmp_path, "store_url": store_url, "base": base, "env": env}


def github_context(scenario: dict[str, Any], **values: str) -> dict[str, str]:
    return {"secrets.SETRIGHT_STORE": scenario["store_url"],
            "secrets.SETRIGHT_STORE_READONLY": scenario["store_url"], "github.actor": "octocat",
            "github.server_url": "https://github.example", "github.repository": "ops/db",
            "github.run_id": "42", **values}


def pull_request_run(scenario: dict[str, Any], base: str, head: str) -> JobRun:
    # The writer's secret points nowhere: a plan job that used it would find no store.
    context = github_context(scenario, **{"github.event.pull_request.base.sha": base,
                                          "github.event.pull_request.head.sha": head,
                                          "secrets.SETRIGHT_STORE": "sqlite:///not-for-prs.db"})
    return JobRun(load_workflow(), "plan", scenario["repo"], scenario["tmp"], context)


def push_run(scenario: dict[str, Any], before: str, after: str, **values: str) -> JobRun:
    context = github_context(scenario, **{"github.event.before": before,
                                          "github.event.after": after, **values})
    return JobRun(load_workflow(), "apply", scenario["repo"], scenario["tmp"], context)


def setright_json(scenario: dict[str, Any], *args: str) -> Any:
    done = subprocess.run([sys.executable, "-m", "setright", *args], cwd=scenario["repo"],
                          env=scenario["env"], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


@needs_tools
def test_pull_request_then_merge_applies_exactly_its_files(scenario: dict[str, Any]) -> None:
    repo = scenario["repo"]
    git(repo, "checkout", "-q", "-b", "fix")
    write_resolution(repo, "fix app.yaml", "cache-warm", "APPLIED")
    write_resolution(repo, "fix-billing.yml", "payments", "ROLLED_BACK")
    (repo / "resolutions" / "notes.md").write_text("not a resolution file\n")
    head = commit_all(repo, "resolve both")

    pr = pull_request_run(scenario, scenario["base"], head).run()
    assert pr["changed"].outputs == {"count": "2"}
    assert "changed: resolutions/fix\\ app.yaml\n" in pr["changed"].stdout  # shell-quoted
    assert pr["validate"].outputs == {"exitcode": "0"}
    assert pr["plan"].outputs == {"exitcode": "2"}  # changes present
    assert all(r.returncode == 0 for r in pr.values()), {k: r.stderr for k, r in pr.items()}
    comment = Path(pr["comment"].outputs["file"]).read_text()
    assert comment.startswith(MARKER + "\n") and "2 to resolve" in comment
    assert "resolutions/fix app.yaml" in comment and "resolutions/fix-billing.yml" in comment
    assert "notes.md" not in comment and "setright validate" not in comment
    assert f"setright plan of {head[:12]}" in comment
    saved = json.loads((repo / "plan.json").read_text())
    assert sorted(f["path"] for f in saved["resolution_files"]) == ["resolutions/fix app.yaml",
                                                                    "resolutions/fix-billing.yml"]
    assert "Fail on errors or conflicts" in pr  # ran, and passed
    (repo / "plan.json").unlink()

    # An unrelated, unapplied resolution file already on main must not be applied.
    git(repo, "checkout", "-q", "main")
    write_resolution(repo, "older.yaml", "payments", "APPLIED")
    before = commit_all(repo, "an older file, never applied")
    git(repo, "merge", "-q", "--no-ff", "fix", "-m", "Merge pull request #7")
    after = git(repo, "rev-parse", "HEAD")

    push = push_run(scenario, before, after).run()
    assert push["changed"].outputs == {"count": "2"}
    assert all(r.returncode == 0 for r in push.values()), {k: r.stderr for k, r in push.items()}
    assert "Apply complete! 2 resolved" in push["Apply"].stdout
    history = setright_json(scenario, "history", "--json")["history"]
    assert len(history) == 2
    assert json.dumps(history).count("octocat") >= 2  # SETRIGHT_ACTOR
    assert "older.yaml" not in json.dumps(history)
    assert setright_json(scenario, "issue", "list", "--json") == {"issues": [], "running": []}

    # Re-running the same workflow run is safe: nothing left to do, exit 0.
    again = push_run(scenario, before, after).run()
    assert all(r.returncode == 0 for r in again.values())
    assert "No changes. Nothing to apply." in again["Apply"].stdout
    assert len(setright_json(scenario, "history", "--json")["history"]) == 2


@needs_tools
def test_a_file_name_cannot_write_a_workflow_command_into_the_log(
        scenario: dict[str, Any]) -> None:
    """A line break in a name must not start a log line GitHub would obey (`::notice`)."""
    repo = scenario["repo"]
    name = "a\n::notice title=setright::reviewed, safe to merge\nx.yaml"
    write_resolution(repo, name, "cache-warm", "APPLIED")
    head = commit_all(repo, "a hostile name")
    pr = pull_request_run(scenario, scenario["base"], head).run()
    assert pr["changed"].outputs == {"count": "1"}
    logged = [line for step in pr.values() for line in step.stdout.splitlines()]
    assert not [line for line in logged if line.startswith("::notice")], logged


@needs_tools
def test_pull_request_with_an_invalid_file_comments_then_fails(scenario: dict[str, Any]) -> None:
    repo = scenario["repo"]
    write_resolution(repo, "fix app.yaml", "cache-warm", "APPLIED", reason="")
    head = commit_all(repo, "no reason given")
    pr = pull_request_run(scenario, scenario["base"], head).run()
    assert pr["validate"].outputs == {"exitcode": "1"}
    assert pr["plan"].outputs == {"exitcode": "1"}
    assert not (repo / "plan.json").exists()
    comment = Path(pr["comment"].outputs["file"]).read_text()
    assert comment.startswith(MARKER)
    assert "`setright validate` found errors" in comment and "$.reason" in comment
    last = pr["Fail on errors or conflicts"]
    assert last.returncode == 1 and "::error::setright validate found errors" in last.stdout


@needs_tools
def test_pull_request_with_a_conflict_fails(scenario: dict[str, Any]) -> None:
    repo = scenario["repo"]
    write_resolution(repo, "typo.yaml", "cache-warmm", "APPLIED")
    head = commit_all(repo, "a change that does not exist")
    pr = pull_request_run(scenario, scenario["base"], head).run()
    assert pr["validate"].outputs == {"exitcode": "0"}
    assert pr["plan"].outputs == {"exitcode": "1"}
    comment = Path(pr["comment"].outputs["file"]).read_text()
    assert re.search(r"\b1 conflicts?\b", comment) and "cache-warmm" in comment
    assert pr["Fail on errors or conflicts"].returncode == 1


@needs_tools
def test_pull_request_without_resolution_files(scenario: dict[str, Any]) -> None:
    repo = scenario["repo"]
    (repo / "resolutions" / "notes.md").write_text("how we resolve things\n")
    (repo / "resolutions" / "old").mkdir()
    (repo / "resolutions" / "old" / "x.yaml").write_text("not loaded by setright\n")
    head = commit_all(repo, "docs only")
    pr = pull_request_run(scenario, scenario["base"], head).run()
    assert pr["changed"].outputs == {"count": "0"}
    assert "validate" not in pr and "plan" not in pr
    comment = Path(pr["comment"].outputs["file"]).read_text()
    assert comment.startswith(MARKER + "\n### setright plan: no resolution files to apply")
    assert pr["Fail on errors or conflicts"].returncode == 0


@needs_tools
def test_push_that_deletes_a_file_applies_nothing(scenario: dict[str, Any]) -> None:
    repo = scenario["repo"]
    write_resolution(repo, "fix app.yaml", "cache-warm", "APPLIED")
    before = commit_all(repo, "add")
    (repo / "resolutions" / "fix app.yaml").unlink()
    after = commit_all(repo, "remove")
    push = push_run(scenario, before, after).run()
    assert push["changed"].outputs == {"count": "0"}
    assert "::notice::No resolution file added or modified" in push["changed"].stdout
    assert set(push) == {"changed"}
    assert setright_json(scenario, "history", "--json")["history"] == []


@needs_tools
@pytest.mark.parametrize("before", ["0" * 40, "1234567890abcdef1234567890abcdef12345678"])
def test_push_without_a_usable_before_commit_fails(scenario: dict[str, Any], before: str) -> None:
    push = push_run(scenario, before, scenario["base"]).run()
    assert push["changed"].returncode == 1
    assert "::error::Cannot tell what this push changed" in push["changed"].stdout
    assert set(push) == {"changed"}


@needs_tools
def test_apply_refuses_without_the_store_secret(scenario: dict[str, Any]) -> None:
    push = push_run(scenario, scenario["base"], scenario["base"],
                    **{"secrets.SETRIGHT_STORE": ""}).run()
    assert push["changed"].returncode == 1
    assert "SETRIGHT_STORE secret is not set" in push["changed"].stdout


# -- the comment step under node -----------------------------------------------------

NODE_HARNESS = """
const calls = [];
const existing = JSON.parse(process.env.EXISTING);
const github = {
  paginate: async (fn, args) => { calls.push(['list', args.issue_number]); return existing; },
  rest: { issues: {
    listComments: () => {},
    updateComment: async (a) => { calls.push(['update', a.comment_id, a.body]); },
    createComment: async (a) => { calls.push(['create', a.issue_number, a.body]);
                                  return { data: { html_url: 'new' } }; },
  } },
};
const context = { repo: { owner: 'ops', repo: 'db' }, issue: { number: 7 } };
const core = { info: () => {} };
(async () => {
%s
})().then(() => console.log(JSON.stringify(calls)), (e) => { console.error(e); process.exit(1); });
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
@pytest.mark.parametrize("existing,expected", [
    ([], ["create", 7]),
    ([{"id": 1, "user": {"type": "User"}, "body": "LGTM " + MARKER},
      {"id": 2, "user": {"type": "Bot"}, "body": "another bot"},
      {"id": 3, "user": {"type": "Bot"}, "body": MARKER + "\nold plan"}], ["update", 3]),
    ([{"id": 1, "user": {"type": "User"}, "body": MARKER}], ["create", 7]),
])
def test_comment_step_updates_its_own_comment(workflow: dict[str, Any], tmp_path: Path,
                                              existing: list[Any], expected: list[Any]) -> None:
    [step] = uses(workflow["jobs"]["plan"]["steps"], "actions/github-script")
    assert step["env"]["COMMENT_FILE"] == "${{ steps.comment.outputs.file }}"
    body = MARKER + "\n### setright plan\n" + "x" * 70000
    (tmp_path / "comment.md").write_text(body)
    (tmp_path / "harness.js").write_text(NODE_HARNESS % step["with"]["script"])
    done = subprocess.run(["node", str(tmp_path / "harness.js")], capture_output=True, text=True,
                          env={**os.environ, "COMMENT_FILE": str(tmp_path / "comment.md"),
                               "EXISTING": json.dumps(existing)})
    assert done.returncode == 0, done.stderr
    calls = json.loads(done.stdout)
    assert calls[0] == ["list", 7] and len(calls) == 2
    assert calls[1][:2] == expected
    posted = calls[1][2]
    assert posted.startswith(MARKER) and len(posted) < 65536 and "truncated" in posted
