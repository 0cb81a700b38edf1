"""The validation cache: unchanged valid files skip jsonschema; nothing makes an invalid one pass."""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from setright import validcache
from setright.errors import InvalidInput
from setright.resolutions.files import read_resolution_file
from setright.schemas import schema_digest

VALID = "version: 1\nreason: checked by hand\nresolutions:\n  - change: a\n    resolution: APPLIED\n"
INVALID = "version: 1\nreason: checked by hand\nresolutions:\n  - change: a\n    resolution: MAYBE\n"

LOAD_TWICE = """
import sys
from pathlib import Path
from setright.resolutions.files import read_resolution_file
file, problems = read_resolution_file(Path(sys.argv[1]), Path(sys.argv[1]).parent)
print(len(problems), "jsonschema" in sys.modules)
"""


def _limit_memory() -> None:
    """A runaway read (of /dev/zero, say) fails fast instead of eating the host's memory."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def load(path: Path) -> tuple[int, bool]:
    """Load in a fresh process: no verdict carried over, and a hang or crash fails the test."""
    done = subprocess.run([sys.executable, "-c", LOAD_TWICE, str(path)], check=True,
                          capture_output=True, text=True, env=os.environ.copy(), timeout=60,
                          preexec_fn=_limit_memory if os.name == "posix" else None)
    assert done.stderr == ""
    out = done.stdout.split()
    return int(out[0]), out[1] == "True"


def entries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "secret")


def test_a_file_validated_before_is_not_validated_again(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(VALID)
    assert load(path) == (0, True)       # first time: jsonschema validates it
    assert load(path) == (0, False)      # unchanged: not even imported
    path.write_text(VALID.replace("by hand", "by hand, twice"))
    assert load(path) == (0, True)       # another text: validated again


def test_an_invalid_file_is_validated_and_reported_every_time(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(INVALID)
    assert load(path) == (1, True)
    assert load(path) == (1, True)
    assert entries(validcache.cache_dir()) == []


def problems_of(path: Path) -> list[str]:
    return [p.message for p in read_resolution_file(path, path.parent)[1]]


def test_a_tampered_cache_cannot_make_an_invalid_file_pass(tmp_path: Path) -> None:
    folder = validcache.cache_dir()
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(VALID)
    bad.write_text(INVALID)
    expected = problems_of(bad)
    assert expected and problems_of(good) == []
    [good_entry] = entries(folder)

    bad_key = validcache.validation_key("resolution", schema_digest("resolution"),
                                        hashlib.sha256(INVALID.encode()).hexdigest())
    # entries named by what an attacker can compute: the key itself, its hashes, an HMAC
    # under a guessed secret; each holding a copy of the good entry or made-up bytes
    guessed = hmac.digest(b"x" * 32, bad_key.encode(), "sha256").hex()
    names = [bad_key, hashlib.sha256(bad_key.encode()).hexdigest(), guessed]
    for name in names:
        forged = folder / name[:2] / name
        forged.parent.mkdir(parents=True, exist_ok=True)
        for content in (good_entry.read_bytes(), b"ok", b"", b"0" * 64):
            forged.write_bytes(content)
            assert problems_of(bad) == expected
    # a cache whose secret was replaced trusts none of its old entries
    (folder / "secret").write_bytes(b"y" * 32)
    validcache._secrets.clear()
    assert problems_of(bad) == expected
    assert validcache.passed(validcache.validation_key(
        "resolution", schema_digest("resolution"), hashlib.sha256(VALID.encode()).hexdigest())
    ) is False


def test_an_entry_is_named_by_the_seal_of_its_key(tmp_path: Path) -> None:
    """The seal is the name: the entry of a key that passed exists, another key's does not,
    and a renamed entry counts for nothing."""
    good = tmp_path / "good.yaml"
    good.write_text(VALID)
    assert problems_of(good) == []
    folder = validcache.cache_dir()
    key = validcache.validation_key("resolution", schema_digest("resolution"),
                                    hashlib.sha256(VALID.encode()).hexdigest())
    secret = (folder / "secret").read_bytes()
    seal = hmac.digest(secret, key.encode(), "sha256").hex()
    assert entries(folder) == [folder / seal[:2] / seal]
    assert validcache.passed(key)
    other = seal[:-1] + ("1" if seal[-1] == "0" else "0")
    (folder / seal[:2] / seal).rename(folder / seal[:2] / other)
    assert not validcache.passed(key)


def test_an_unwritable_or_disabled_cache_only_means_validating(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(VALID)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))     # mkdir under a file fails
    assert problems_of(path) == [] and problems_of(path) == []
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv(validcache.DISABLE_ENV, "off")
    assert problems_of(path) == []
    assert not (tmp_path / "cache").exists()


def test_a_config_with_a_problem_is_still_refused_after_a_valid_one(tmp_path: Path) -> None:
    from setright.config import load_config

    path = tmp_path / "setright.yaml"
    path.write_text("version: 1\nstore: {}\ntargets: {}\n")
    load_config(path)
    load_config(path)
    path.write_text("version: 1\nstore: {}\ntargets: {}\nbogus: 1\n")
    with pytest.raises(InvalidInput, match="unknown key 'bogus'"):
        load_config(path)


def test_one_folder_settles_the_cache_folder_for_its_block(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch of files looks in one folder, however the environment changes inside the
    block; outside it every lookup reads the environment again."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "a"))
    with validcache.one_folder():
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "b"))
        assert validcache.cache_dir() == tmp_path / "a" / "setright" / "validated"
        monkeypatch.setenv(validcache.DISABLE_ENV, "off")
        with validcache.one_folder():
            assert validcache.cache_dir() == tmp_path / "a" / "setright" / "validated"
    assert validcache.cache_dir() is None
    monkeypatch.delenv(validcache.DISABLE_ENV)
    assert validcache.cache_dir() == tmp_path / "b" / "setright" / "validated"


def key_of(text: str) -> str:
    return validcache.validation_key("resolution", schema_digest("resolution"),
                                     hashlib.sha256(text.encode()).hexdigest())


def plant(folder: Path, secret: bytes, text: str) -> None:
    """What someone who knows the secret can do: name the entry of any text."""
    seal = hmac.digest(secret, key_of(text).encode(), "sha256").hex()
    (folder / seal[:2]).mkdir(exist_ok=True)
    (folder / seal[:2] / seal).write_bytes(b"")


posix_only = pytest.mark.skipif(os.name != "posix", reason="owners and modes are POSIX's")
as_root = pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0,
                             reason="only root can give a file to another user")
NOBODY = 65534


def _symlinked_secret(folder: Path) -> None:
    elsewhere = folder.parent / "elsewhere"
    (folder / "secret").rename(elsewhere)       # still ours, mode 0600: only the link is wrong
    (folder / "secret").symlink_to(elsewhere)


def _symlinked_folder(folder: Path) -> None:
    real = folder.with_name("real")
    folder.rename(real)
    folder.symlink_to(real, target_is_directory=True)


NOT_OURS: dict[str, Callable[[Path], None]] = {
    "folder of another user": lambda f: os.chown(f, NOBODY, -1),
    "secret of another user": lambda f: os.chown(f / "secret", NOBODY, -1),
    "folder others may enter": lambda f: f.chmod(0o755),
    "folder the group may write": lambda f: f.chmod(0o770),
    "secret the group may read": lambda f: (f / "secret").chmod(0o640),
    "secret anyone may read": lambda f: (f / "secret").chmod(0o604),
    "secret a symlink": _symlinked_secret,
    "folder a symlink": _symlinked_folder,
}


@posix_only
@pytest.mark.parametrize("how", [
    pytest.param(how, marks=[as_root] if "another user" in how else [], id=how)
    for how in NOT_OURS])
def test_a_cache_not_ours_alone_is_not_trusted(tmp_path: Path, how: str) -> None:
    """Whoever can read the secret or write the folder can name entries, so such a cache
    means validating every time: an entry planted for an invalid file counts for nothing."""
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(VALID)
    bad.write_text(INVALID)
    expected = problems_of(bad)
    assert expected and problems_of(good) == []
    folder = validcache.cache_dir()
    secret = (folder / "secret").read_bytes()
    NOT_OURS[how](folder)
    plant(folder, secret, INVALID)
    validcache._secrets.clear()                     # a new process
    assert problems_of(bad) == expected
    assert not validcache.passed(key_of(VALID))
    assert problems_of(good) == []
    assert len(entries(folder)) == 2                 # the good file's and the planted one


@posix_only
@pytest.mark.parametrize("kind", ["/dev/zero", "fifo"])
def test_a_secret_that_is_no_file_is_neither_read_nor_waited_for(tmp_path: Path,
                                                                  kind: str) -> None:
    """A symlink to /dev/zero never ends and a FIFO never answers: validate, silently."""
    good = tmp_path / "good.yaml"
    good.write_text(VALID)
    assert load(good) == (0, True)
    secret = validcache.cache_dir() / "secret"
    secret.unlink()
    if kind == "fifo":
        os.mkfifo(secret, 0o600)
    else:
        secret.symlink_to(kind)
    assert load(good) == (0, True)
    assert load(good) == (0, True)


@posix_only
def test_the_cache_is_checked_once_per_process(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A plan looks up 2,000 files: the folder and secret are checked once, not per lookup."""
    checks: list[Path] = []
    check = validcache._read_secret
    monkeypatch.setattr(validcache, "_read_secret",
                        lambda folder: checks.append(folder) or check(folder))

    def lookups() -> int:
        checks.clear()
        assert not any(validcache.passed(key_of(f"{INVALID}#{n}")) for n in range(100))
        return len(checks)

    assert lookups() == 1                            # no cache yet
    good = tmp_path / "good.yaml"
    good.write_text(VALID)
    assert problems_of(good) == []
    assert lookups() == 0                            # the secret it wrote is known
    validcache._secrets.clear()
    assert lookups() == 1
    (validcache.cache_dir() / "secret").chmod(0o644)
    validcache._secrets.clear()
    assert lookups() == 1                            # not trusted, and not asked again


@posix_only
def test_a_relative_xdg_cache_home_is_ignored(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The XDG spec: a relative path is ignored (it would put the cache in the work tree);
    a home that is no absolute path turns the cache off."""
    project, home = tmp_path / "project", tmp_path / "home"
    project.mkdir()
    home.mkdir()
    monkeypatch.chdir(project)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", ".cache")
    folder = home / ".cache" / "setright" / "validated"
    assert validcache.cache_dir() == folder
    path = project / "ok.yaml"
    path.write_text(VALID)
    assert problems_of(path) == []
    assert [p.name for p in project.iterdir()] == ["ok.yaml"]
    assert validcache.passed(key_of(VALID)) and len(entries(folder)) == 1
    monkeypatch.setenv("HOME", "relative-home")
    assert validcache.cache_dir() is None
    assert problems_of(path) == [] and [p.name for p in project.iterdir()] == ["ok.yaml"]
