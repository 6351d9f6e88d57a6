"""Edge cases found in review: a user's commit merged by an agent, an agent leaving its branch,
checks that write files, events with any data, SARIF paths that start with a dot."""

from __future__ import annotations

from pathlib import Path

from beads.models import Finding
from supervisor.views import review
from tests.sling_helpers import add_bead, bead, configure, events, git, mayor, of, script, sling, start_sling, wait_for


def _commit_config(repo: Path) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "config")


def test_an_agent_merging_the_users_new_commit_never_takes_it_off_main(mayor_repo: Path, tmp_path: Path) -> None:
    flag = tmp_path / "user-committed"
    agent = script(
        tmp_path / "agent.sh",
        f"""
        for i in $(seq 1 400); do [ -e {flag} ] && break; sleep 0.05; done
        git merge -q --no-edit main
        echo work > work.txt && git add work.txt && git commit -q -m "agent work"
    """,
    )
    configure(mayor_repo, {"a": agent})
    _commit_config(mayor_repo)
    add_bead(mayor_repo, "m1")
    proc = start_sling(mayor_repo)
    wait_for(lambda: of(events(mayor_repo), "agent_started"), "the agent to start")
    (mayor_repo / "user.txt").write_text("mine\n")
    git(mayor_repo, "add", "user.txt")
    git(mayor_repo, "commit", "-q", "-m", "the user's own commit")
    user_commit = git(mayor_repo, "rev-parse", "HEAD")
    flag.write_text("go")
    proc.wait(timeout=120)
    assert proc.returncode == 0
    assert bead(mayor_repo, "m1").status == "merged"
    assert not of(events(mayor_repo), "target_restored")
    assert git(mayor_repo, "merge-base", "--is-ancestor", user_commit, "main") == ""
    # the user's checkout matches main: nothing staged behind their back
    assert git(mayor_repo, "status", "--porcelain", "--untracked-files=no") == ""


def test_an_agent_leaving_its_branch_loses_no_commit(mayor_repo: Path, tmp_path: Path) -> None:
    agent = script(
        tmp_path / "agent.sh",
        """
        echo a > a.txt && git add a.txt && git commit -q -m "on the branch"
        git checkout -q --detach
        echo b > b.txt && git add b.txt && git commit -q -m "detached"
    """,
    )
    configure(mayor_repo, {"a": agent})
    _commit_config(mayor_repo)
    add_bead(mayor_repo, "lb")
    assert sling(mayor_repo).returncode == 0
    subjects = git(mayor_repo, "log", "--format=%s", "main").splitlines()
    assert "on the branch" in subjects and "detached" in subjects
    assert (mayor_repo / "a.txt").exists() and (mayor_repo / "b.txt").exists()


def test_files_written_by_checks_are_not_carried_into_the_next_bead(mayor_repo: Path, tmp_path: Path) -> None:
    agent = script(
        tmp_path / "agent.sh",
        """
        echo "$MAYOR_BEAD_ID" > "out-$MAYOR_BEAD_ID.txt" && git add -A && git commit -q -m "work $MAYOR_BEAD_ID"
    """,
    )
    configure(mayor_repo, {"a": agent})
    (mayor_repo / ".mayor" / "config.toml").write_text(
        (mayor_repo / ".mayor" / "config.toml").read_text().replace("slots = 2", "slots = 1")
    )
    _commit_config(mayor_repo)
    add_bead(mayor_repo, "c1", priority=0, acceptance=[{"text": "report", "check": "echo report > check-report.txt"}])
    add_bead(mayor_repo, "c2", priority=1)
    assert sling(mayor_repo).returncode == 0
    assert "check-report.txt" not in git(mayor_repo, "ls-tree", "-r", "--name-only", "main")


def test_emit_takes_any_data_and_refuses_the_supervisors_own_types(mayor_repo: Path) -> None:
    ok = mayor(mayor_repo, "emit", "step", "--data", '{"bead": "y", "type": "z", "attempt": 3}')
    assert ok.returncode == 0, ok.stderr
    assert events(mayor_repo)[-1]["data"] == {"bead": "y", "type": "z", "attempt": 3}
    fake = mayor(mayor_repo, "emit", "merged")
    assert fake.returncode == 1 and "supervisor writes" in fake.stderr
    with open(mayor_repo / ".mayor" / "events.jsonl", "a") as log:
        log.write('{"broken\n')
    assert mayor(mayor_repo, "events").returncode == 0


def test_sarif_keeps_paths_that_start_with_a_dot() -> None:
    found = [
        Finding(file="./.env", line=1, severity="high", title="secret"),
        Finding(file=".github/workflows/ci.yml", line=2, severity="low", title="x"),
    ]
    uris = [
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in review.sarif(found, "0")["runs"][0]["results"]
    ]
    assert uris == [".env", ".github/workflows/ci.yml"]


def test_a_gate_that_times_out_takes_its_children_with_it(tmp_path: Path) -> None:
    from supervisor.proc import run_group

    pidfile = tmp_path / "child.pid"
    gate = f"sleep 300 & echo $! > {pidfile}.tmp && mv {pidfile}.tmp {pidfile}; wait"
    with open(tmp_path / "gate.log", "wb") as log:
        code = run_group(gate, tmp_path, {}, 2.0, log)
    assert code is None
    assert pidfile.exists(), "the gate did not start its child within its timeout (machine too loaded?)"
    pid = int(pidfile.read_text())

    def gone() -> bool:  # SIGKILL is delivered asynchronously; a zombie waiting for its reaper is dead too
        try:
            return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
        except (FileNotFoundError, ProcessLookupError):
            return True

    wait_for(gone, f"the gate's child {pid} to be killed with its group")


def test_a_queued_bead_whose_branch_is_gone_fails_alone(mayor_repo: Path, tmp_path: Path) -> None:
    agent = script(
        tmp_path / "agent.sh",
        """
        echo "$MAYOR_BEAD_ID" > "out-$MAYOR_BEAD_ID.txt" && git add -A && git commit -q -m "work"
    """,
    )
    configure(mayor_repo, {"a": agent})
    _commit_config(mayor_repo)
    add_bead(mayor_repo, "gone", status="queued", attempts=[{"n": 1, "outcome": "passed"}])
    add_bead(mayor_repo, "fine")
    out = sling(mayor_repo)
    assert out.returncode == 1
    assert bead(mayor_repo, "gone").status == "failed" and "is gone" in (bead(mayor_repo, "gone").error or "")
    assert bead(mayor_repo, "fine").status == "merged"
