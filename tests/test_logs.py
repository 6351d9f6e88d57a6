"""``mayor logs``, ``mayor diff`` and what ``mayor show`` adds (merge commit, files, log paths),
after a real run of script agents."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.dashboard_helpers import ran_repo, setup_repo
from tests.sling_helpers import MAYOR, bead, mayor, start_sling, wait_for


@pytest.fixture
def ran(mayor_repo: Path, tmp_path: Path) -> Path:
    return ran_repo(mayor_repo, tmp_path)


def test_logs_prints_the_agents_log_of_the_last_attempt(ran: Path) -> None:
    proc = mayor(ran, "logs", "bad")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "bead bad cannot be done: the flux capacitor is missing\n"


def test_logs_of_the_gate_and_the_checks(ran: Path) -> None:
    gate = mayor(ran, "logs", "a", "--gate", "--attempt", "1")
    assert gate.returncode == 0, gate.stderr
    assert gate.stdout == (ran / ".mayor" / "runs" / "a" / "1" / "gate.log").read_text()
    missing = mayor(ran, "logs", "bad", "--checks")
    assert missing.returncode == 1 and "has no checks.log" in missing.stderr
    assert mayor(ran, "logs", "a", "--gate", "--checks").returncode == 2
    wrong = mayor(ran, "logs", "a", "--attempt", "3")
    assert wrong.returncode == 1 and "has no attempt 3; its attempts are 1" in wrong.stderr


def test_logs_follow_prints_as_the_agent_writes_and_stops_when_it_ends(mayor_repo: Path, tmp_path: Path) -> None:
    release = tmp_path / "release"
    setup_repo(mayor_repo, tmp_path, wait_for=release)
    run = start_sling(mayor_repo, "-j", "2", "--max-attempts", "1", "--only", "a")
    try:
        wait_for(lambda: bead(mayor_repo, "a").status == "running", "a to run")
        follow = subprocess.Popen([str(MAYOR), "logs", "a", "-f"], cwd=mayor_repo, stdout=subprocess.PIPE, text=True)
        assert follow.stdout is not None
        assert follow.stdout.readline() == "agent for a says hello\n"
        release.touch()
        rest, _ = follow.communicate(timeout=60)
        assert rest == "agent for a is done\n" and follow.returncode == 0
    finally:
        release.touch()
        run.communicate(timeout=90)


def test_diff_shows_the_merge_commits_change(ran: Path) -> None:
    proc = mayor(ran, "diff", "b")
    assert proc.returncode == 0, proc.stderr
    assert "work/b.txt" in proc.stdout and "+b" in proc.stdout and "work/a.txt" not in proc.stdout


def test_diff_of_a_bead_with_no_branch_says_so(ran: Path) -> None:
    from tests.sling_helpers import add_bead

    add_bead(ran, "new", "Not started")
    proc = mayor(ran, "diff", "new")
    assert proc.returncode == 1 and "no branch mayor/new and no merge commit" in proc.stderr


def test_show_lists_the_merge_commit_files_and_log_paths(ran: Path) -> None:
    proc = mayor(ran, "show", "a")
    assert proc.returncode == 0, proc.stderr
    commit = bead(ran, "a").result.commit
    assert f"merge commit: {commit}" in proc.stdout
    assert "files: work/a.txt" in proc.stdout
    runs = ran / ".mayor" / "runs" / "a" / "1"
    assert f"  1. {runs / 'agent.log'}" in proc.stdout and f"  1. {runs / 'gate.log'}" in proc.stdout
