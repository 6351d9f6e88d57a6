"""The gate tests exactly the candidate; a red target is not a bead's fault; the run's own
commands are checked before any attempt. Real git, real virtualenvs, real pytest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.sling_helpers import (
    add_bead,
    bead,
    configure,
    events,
    first_parents,
    git,
    mayor,
    of,
    script,
    sling,
    start_sling,
    wait_for,
)

PYPROJECT = """[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "shout"
version = "0.1.0"

[tool.setuptools.packages.find]
where = ["src"]
"""
MODULE = "def shout(text):\n    return text.upper() + '!'\n"
TESTS = "from shout import shout\n\n\ndef test_shout():\n    assert shout('hi') == 'HI!'\n"
# What a careful user writes, offline: each worktree gets its own .venv with the project installed
# in editable mode (the README's recipe; --system-site-packages and --no-build-isolation only
# because this machine has no package index for the tests to use).
VENV_RUN_S = 400.0
"""A hang guard for runs that make a virtualenv in every worktree (slots and each gate worktree):
pip installs on a loaded two-core machine take minutes, never a claim about speed."""
SETUP = (
    f"{sys.executable} -m venv --system-site-packages .venv && "
    ".venv/bin/python -m pip install -q --no-build-isolation --no-deps -e ."
)


def _venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(path)], check=True)
    return path


def _activated(venv: Path) -> dict[str, str]:
    return {**os.environ, "VIRTUAL_ENV": str(venv), "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}


def _pip_editable(venv: Path, project: Path) -> None:
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps", "-e", "."],
        cwd=project,
        check=True,
        capture_output=True,
    )


def _where_shout(venv: Path) -> str:
    probe = "import shout, os; print(os.path.realpath(shout.__file__))"
    out = subprocess.run([str(venv / "bin" / "python"), "-c", probe], capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.fixture
def src_project(mayor_repo: Path, tmp_path: Path) -> tuple[Path, Path]:
    """An src-layout project installed in editable mode into the user's own (active) virtualenv."""
    (mayor_repo / "pyproject.toml").write_text(PYPROJECT)
    (mayor_repo / "src" / "shout").mkdir(parents=True)
    (mayor_repo / "src" / "shout" / "__init__.py").write_text(MODULE)
    (mayor_repo / "tests").mkdir()
    (mayor_repo / "tests" / "test_shout.py").write_text(TESTS)
    (mayor_repo / ".gitignore").write_text(".venv/\n*.egg-info/\n__pycache__/\n.pytest_cache/\n")
    git(mayor_repo, "add", "-A")
    git(mayor_repo, "commit", "-q", "-m", "the shout project")
    user = _venv(tmp_path / "user-venv")
    _pip_editable(user, mayor_repo)
    assert _where_shout(user) == str((mayor_repo / "src" / "shout" / "__init__.py").resolve())
    return mayor_repo, user


def _configure(root: Path, agents: dict[str, Path], **settings: str) -> None:
    """Write the config and commit it (it is tracked: the user's checkout must be clean)."""
    configure(root, agents, **settings)  # type: ignore[arg-type]
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "mayor config")


def _agents(tmp_path: Path) -> dict[str, Path]:
    add_fn = """
        printf 'def whisper(text):\\n    return text.lower() + "..."\\n' > src/shout/whisper.py
        printf 'from shout.whisper import whisper\\n\\n\\ndef test_whisper():\\n    assert whisper("HI") == "hi..."\\n' > tests/test_whisper.py
        git add -A && git commit -q -m "whisper()"
    """
    breaks = """
        sed -i "s/+ '!'/+ '?'/" src/shout/__init__.py
        git add -A && git commit -q -m "shout asks instead"
    """
    return {
        "adds": script(tmp_path / "agents" / "adds.sh", add_fn),
        "breaks": script(tmp_path / "agents" / "breaks.sh", breaks),
    }


def test_an_editable_install_in_the_users_venv_does_not_let_a_breaking_change_land(
    src_project: tuple[Path, Path], tmp_path: Path
) -> None:
    root, user = src_project
    _configure(root, _agents(tmp_path), gate="python -m pytest -q -p no:cacheprovider", setup=SETUP)
    add_bead(root, "good", agent="adds")
    add_bead(root, "bad", agent="breaks")

    out = mayor(root, "sling", "-j", "2", "--max-attempts", "2", env=_activated(user), timeout=VENV_RUN_S)

    assert out.returncode == 1, out.stdout + out.stderr
    assert bead(root, "good").status == "merged" and len(bead(root, "good").attempts) == 1
    assert bead(root, "bad").status == "failed"
    assert bead(root, "bad").attempts[0].outcome == "gate_failed"  # its second attempt has nothing to add
    assert "shout asks instead" not in git(root, "log", "--format=%s", "main")
    # the user's environment still imports the user's checkout
    assert _where_shout(user) == str((root / "src" / "shout" / "__init__.py").resolve())
    _every_first_parent_commit_passes_in_a_fresh_clone(root, tmp_path)


def _every_first_parent_commit_passes_in_a_fresh_clone(root: Path, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(root), str(clone))
    venv = _venv(tmp_path / "clone-venv")
    _pip_editable(venv, clone)
    base = git(root, "rev-list", "--max-parents=0", "main")
    for commit, _, _ in first_parents(root):
        if commit == base or not git(root, "ls-tree", "--name-only", commit, "src"):
            continue
        git(clone, "checkout", "-q", "--detach", commit)
        test = subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
            cwd=clone,
            capture_output=True,
            text=True,
        )
        assert test.returncode == 0, f"{commit} on main fails its tests:\n{test.stdout}"


def test_the_trap_is_named_before_the_run_when_worktrees_have_no_environment_of_their_own(
    src_project: tuple[Path, Path], tmp_path: Path
) -> None:
    root, user = src_project
    _configure(root, _agents(tmp_path), gate="python -m pytest -q -p no:cacheprovider")
    add_bead(root, "good", agent="adds")

    out = mayor(root, "sling", env=_activated(user), timeout=VENV_RUN_S)

    assert "imports shout from" in out.stderr and "outside the candidate" in out.stderr, out.stderr
    assert "setup =" in out.stderr


def test_a_setup_that_would_change_the_users_venv_fails_before_any_attempt(
    src_project: tuple[Path, Path], tmp_path: Path
) -> None:
    root, user = src_project
    _configure(root, _agents(tmp_path), gate="python -m pytest -q", setup="pip install -q --no-deps -e .")
    add_bead(root, "good", agent="adds")

    out = mayor(root, "sling", env=_activated(user), timeout=VENV_RUN_S)

    assert out.returncode == 1 and "setup" in out.stderr and "virtualenv" in out.stderr, out.stderr
    assert bead(root, "good").attempts == []
    assert _where_shout(user) == str((root / "src" / "shout" / "__init__.py").resolve())


@pytest.mark.parametrize(
    ("gate", "setup", "says"),
    [
        ("nosuchcmd --flag", None, "nosuchcmd"),
        ("true", "echo preparing; exit 7", "setup `echo preparing; exit 7` failed"),
        ("true", "nosuchtool install", "nosuchtool"),
    ],
)
def test_a_broken_gate_or_setup_stops_the_run_before_any_attempt(
    mayor_repo: Path, tmp_path: Path, gate: str, setup: str | None, says: str
) -> None:
    configure(mayor_repo, {"w": _agents(tmp_path)["adds"]}, gate=gate, setup=setup)
    add_bead(mayor_repo, "b1")
    add_bead(mayor_repo, "b2")

    out = sling(mayor_repo, "-j", "2")

    assert out.returncode == 1 and says in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) <= 2, out.stderr
    assert bead(mayor_repo, "b1").attempts == [] and bead(mayor_repo, "b2").attempts == []
    assert of(events(mayor_repo), "slung") == []


def test_a_target_made_red_from_outside_holds_the_queue_and_charges_no_bead(mayor_repo: Path, tmp_path: Path) -> None:
    root = mayor_repo
    (root / "health.txt").write_text("ok\n")
    git(root, "add", "health.txt")
    git(root, "commit", "-q", "-m", "health")
    gate = script(tmp_path / "gate.sh", 'grep -qx ok health.txt || { echo "health is $(cat health.txt)"; exit 1; }\n')
    release = tmp_path / "release"
    agent = script(
        tmp_path / "agents" / "w.sh",
        f"""
        if [ "$MAYOR_BEAD_ID" = late ]; then while [ ! -e {release} ]; do sleep 0.05; done; fi
        echo "$MAYOR_BEAD_ID" > "out-$MAYOR_BEAD_ID.txt" && git add -A && git commit -q -m "work $MAYOR_BEAD_ID"
        """,
    )
    configure(root, {"w": agent}, gate=gate)
    add_bead(root, "early")
    add_bead(root, "late")
    proc = start_sling(root, "-j", "2")
    try:
        wait_for(lambda: bead(root, "early").status == "merged", "the first landing")
        (root / "health.txt").write_text("broken\n")  # the user breaks main from outside
        git(root, "commit", "-q", "-am", "oops")
        release.touch()
        wait_for(lambda: of(events(root), "target_red"), "target_red")
        assert bead(root, "late").status == "queued" and len(bead(root, "late").attempts) == 1
        (root / "health.txt").write_text("ok\n")  # and fixes it
        git(root, "commit", "-q", "-am", "fix health")
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out + err
    late = bead(root, "late")
    assert late.status == "merged" and [a.outcome for a in late.attempts] == ["passed"]
    assert of(events(root), "target_green") and "is red" in err
    assert not of(events(root), "retried") and not of(events(root), "failed")


def test_gate_timeout_and_retries_come_from_the_config(mayor_repo: Path, tmp_path: Path) -> None:
    counter = tmp_path / "gate-runs"
    gate = script(tmp_path / "gate.sh", f"echo run >> {counter}\nif [ -e x-1.txt ]; then sleep 60; fi\n")
    agent = script(tmp_path / "agents" / "w.sh", 'echo x > "x-$MAYOR_ATTEMPT.txt" && git add -A && git commit -qm x\n')
    configure(mayor_repo, {"w": agent}, gate=gate)
    config = mayor_repo / ".mayor" / "config.toml"
    config.write_text('gate_timeout = "5s"\ngate_retries = 0\n' + config.read_text())
    git(mayor_repo, "add", "-A")
    git(mayor_repo, "commit", "-q", "-m", "config")
    add_bead(mayor_repo, "t1")

    out = sling(mayor_repo, "--max-attempts", "1")

    assert out.returncode == 1, out.stderr
    log = (mayor_repo / ".mayor" / "runs" / "t1" / "1" / "gate.log").read_text()
    assert "timed out after 5s" in log
    runs = counter.read_text().splitlines()
    assert len(runs) == 2, runs  # the candidate once (no retry), then the target alone once
