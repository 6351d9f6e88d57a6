"""Agents that go for the target: refused by mayor's hooks, caught by the target watch behind them.

Real git, real processes: each attack is a bash agent. Whatever it does, every first-parent
commit on the target passes the gate, every merged bead's landing is on the target, and the run
says what happened.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sling_helpers import (
    add_bead,
    assert_target_green,
    bead,
    configure,
    events,
    git,
    landing_commits,
    of,
    script,
    sling,
)

GATE = "! grep -rqsx BROKEN --exclude-dir=.git ."


@pytest.mark.parametrize(
    "attack",
    [
        "git update-ref refs/heads/main HEAD",
        'git update-ref refs/heads/main "$(git commit-tree -p main -m sneaky "$(git write-tree)")"',
        "git push -q . HEAD:main",
        "git branch -f main HEAD",
        'git -C "$MAYOR_ROOT" merge -q --ff-only "$(git rev-parse HEAD)"',
        "for i in $(seq 1 520); do git commit -q --allow-empty -m c$i; done; git update-ref refs/heads/main HEAD",
    ],
    ids=["update-ref", "commit-tree", "push-dot", "branch-f", "in-users-checkout", "520-commits"],
)
def test_a_careless_agent_cannot_move_the_target(repo: Path, tmp_path: Path, attack: str) -> None:
    agent = script(
        tmp_path / "agents" / "careless.sh",
        f"""
        echo BROKEN > first.txt && git add first.txt && git commit -q -m "a broken first step"
        git rm -q first.txt && echo fine > work.txt && git add work.txt && git commit -q -m "then the work"
        if {attack}; then echo "the attack went through" > "$MAYOR_RUN_DIR/attack"; fi
        """,
    )
    configure(repo, {"careless": agent}, gate=GATE)
    add_bead(repo, "c1")
    base = git(repo, "rev-parse", "main")

    out = sling(repo)

    assert out.returncode == 0, out.stderr
    log = (repo / ".mayor" / "runs" / "c1" / "1" / "agent.log").read_text()
    refusals = (
        "mayor: refused: an agent may not move main",
        "refusing to update checked out branch",
        "cannot force update",
    )
    assert any(r in log for r in refusals), log  # mayor's hook, or git's own guard of a checked-out branch
    assert not (repo / ".mayor" / "runs" / "c1" / "1" / "attack").exists()
    assert bead(repo, "c1").status == "merged" and len(landing_commits(repo, "c1")) == 1
    assert not of(events(repo), "target_restored"), "the hook should have stopped it before the guard"
    assert_target_green(repo, GATE, since=base)


def test_an_agent_that_strips_the_hooks_and_rewinds_the_target_is_put_right(repo: Path, tmp_path: Path) -> None:
    """After a landing, a hostile agent moves main back past it: the landing must not vanish."""
    early = script(tmp_path / "agents" / "early.sh", 'echo early > early.txt && git add -A && git commit -qm "early"\n')
    rewind = script(
        tmp_path / "agents" / "rewind.sh",
        """
        unset GIT_CONFIG_COUNT
        for i in $(seq 1 600); do
            grep -q '"merged", "bead": "early"' "$MAYOR_ROOT/.mayor/events.jsonl" && break
            sleep 0.05
        done
        git -C "$MAYOR_ROOT" update-ref refs/heads/main main~1
        echo late > late.txt && git add -A && git commit -qm "late"
        """,
    )
    configure(repo, {"early": early, "rewind": rewind}, gate=GATE)
    add_bead(repo, "early", agent="early", priority=0)
    add_bead(repo, "late", agent="rewind", priority=1)
    base = git(repo, "rev-parse", "main")

    out = sling(repo, "-j", "2")

    assert out.returncode == 0, out.stderr
    restored = [e for e in of(events(repo), "target_restored") if e["data"].get("restored")]
    assert restored, "the rewind went unnoticed"
    assert "was moved back" in out.stderr
    for bead_id in ("early", "late"):
        assert bead(repo, bead_id).status == "merged"
        assert len(landing_commits(repo, bead_id)) == 1, f"{bead_id}'s landing is not on main"
    assert_target_green(repo, GATE, since=base)


def test_the_users_own_hooks_still_run_for_agents(repo: Path, tmp_path: Path) -> None:
    hooks = repo / ".git" / "hooks"
    (hooks / "commit-msg").write_text('#!/bin/sh\ngrep -q "^feat" "$1" || { echo "use feat: messages" >&2; exit 1; }\n')
    (hooks / "commit-msg").chmod(0o755)
    agent = script(
        tmp_path / "agents" / "a.sh",
        """
        echo x > x.txt && git add x.txt
        if git commit -q -m "no prefix"; then echo "hook skipped" > "$MAYOR_RUN_DIR/skipped"; fi
        git commit -q -m "feat: x"
        """,
    )
    configure(repo, {"a": agent})
    add_bead(repo, "h1")

    out = sling(repo)

    assert out.returncode == 0, out.stderr
    assert not (repo / ".mayor" / "runs" / "h1" / "1" / "skipped").exists()
    assert "use feat: messages" in (repo / ".mayor" / "runs" / "h1" / "1" / "agent.log").read_text()


def test_an_agent_that_deletes_its_worktrees_git_fails_alone_and_the_run_goes_on(repo: Path, tmp_path: Path) -> None:
    wrecker = script(
        tmp_path / "agents" / "wreck.sh",
        """
        if [ "$MAYOR_BEAD_ID" = wreck ] && [ "$MAYOR_ATTEMPT" = 1 ]; then rm -rf .git; exit 0; fi
        echo "$MAYOR_BEAD_ID" > "out-$MAYOR_BEAD_ID.txt" && git add -A && git commit -qm "work $MAYOR_BEAD_ID"
        """,
    )
    configure(repo, {"w": wrecker})
    for bead_id in ("wreck", "fine1", "fine2"):
        add_bead(repo, bead_id)

    out = sling(repo, "-j", "1")

    assert out.returncode == 0, out.stderr
    wreck = bead(repo, "wreck")
    assert wreck.status == "merged" and wreck.attempts[0].outcome == "failed"
    assert "worktree" in (wreck.attempts[0].error or "")
    assert {bead(repo, b).status for b in ("fine1", "fine2")} == {"merged"}


def test_a_daemon_an_agent_leaves_behind_does_not_write_into_the_next_bead(repo: Path, tmp_path: Path) -> None:
    agent = script(
        tmp_path / "agents" / "d.sh",
        """
        if [ "$MAYOR_BEAD_ID" = first ]; then
            setsid bash -c 'while true; do date > daemon-was-here.txt; sleep 0.05; done' </dev/null >/dev/null 2>&1 &
        fi
        echo "$MAYOR_BEAD_ID" > "out-$MAYOR_BEAD_ID.txt" && git add "out-$MAYOR_BEAD_ID.txt" && git commit -qm "$MAYOR_BEAD_ID"
        sleep 0.3
        """,
    )
    configure(repo, {"d": agent})
    add_bead(repo, "first", priority=0)
    add_bead(repo, "second", priority=1)
    add_bead(repo, "third", priority=2)

    out = sling(repo, "-j", "1")

    assert out.returncode == 0, out.stderr
    for sha in git(repo, "rev-list", "main").split():
        files = git(repo, "show", "--name-only", "--format=", sha)
        if "out-second.txt" in files or "out-third.txt" in files:
            assert "daemon-was-here.txt" not in files, "a daemon of an earlier bead leaked into a later one"


def test_a_dependency_added_while_a_bead_runs_still_orders_the_landings(repo: Path, tmp_path: Path) -> None:
    release = tmp_path / "release"
    agent = script(
        tmp_path / "agents" / "a.sh",
        f"""
        while [ ! -e {release}-$MAYOR_BEAD_ID ]; do sleep 0.05; done
        echo "$MAYOR_BEAD_ID" > "out-$MAYOR_BEAD_ID.txt" && git add -A && git commit -qm "$MAYOR_BEAD_ID"
        """,
    )
    configure(repo, {"a": agent})
    add_bead(repo, "slow")
    add_bead(repo, "quick")
    from tests.sling_helpers import mayor, start_sling, wait_for

    proc = start_sling(repo, "-j", "2")
    try:
        wait_for(lambda: bead(repo, "quick").status == "running", "quick to start")
        assert mayor(repo, "dep", "add", "quick", "slow").returncode == 0
        Path(f"{release}-quick").touch()
        wait_for(lambda: bead(repo, "quick").status == "queued", "quick to be queued")
        Path(f"{release}-slow").touch()
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out + err
    landings = [e["bead"] for e in of(events(repo), "merged")]
    assert landings == ["slow", "quick"], landings


def test_a_fast_forward_cut_short_in_the_users_checkout_is_finished_before_the_dirty_check(
    repo: Path, tmp_path: Path
) -> None:
    """What killing the supervisor's process group mid-landing leaves: some of the landing's files
    written into the user's checkout, HEAD still at the old tip, git's index.lock behind."""
    import json

    from tests.sling_helpers import porcelain

    tip = git(repo, "rev-parse", "main")
    git(repo, "branch", "mayor/m1", "main")
    work = tmp_path / "m1-work"
    git(repo, "worktree", "add", "-q", str(work), "mayor/m1")
    (work / "a.txt").write_text("a\n")
    (work / "b.txt").write_text("b\n")
    git(work, "add", "a.txt", "b.txt")
    git(work, "commit", "-q", "-m", "m1's work")
    git(repo, "worktree", "remove", str(work))
    tree = git(repo, "merge-tree", "--write-tree", "main", "mayor/m1")
    candidate = git(repo, "commit-tree", tree, "-p", "main", "-p", "mayor/m1", "-m", "Merge m1\n\nmayor-bead: m1")
    add_bead(repo, "m1", status="queued", attempts=[{"n": 1, "outcome": "passed"}])
    state = repo / ".mayor" / "state"
    state.mkdir(parents=True, exist_ok=True)
    (state / "merge.json").write_text(json.dumps({"bead": "m1", "tip": tip, "candidate": candidate}))
    (state / "landed").write_text(candidate + "\n")
    (repo / "a.txt").write_text("a\n")  # the killed `git merge --ff-only` wrote one file of two
    (repo / ".git" / "index.lock").write_text("")
    configure(repo, {"w": script(tmp_path / "agents" / "w.sh", "true\n")})

    out = sling(repo)

    assert out.returncode == 0, out.stderr
    assert "finished the fast-forward" in out.stderr and "index.lock" in out.stderr
    assert git(repo, "rev-parse", "main") == candidate
    assert bead(repo, "m1").status == "merged" and len(landing_commits(repo, "m1")) == 1
    assert porcelain(repo) == [] and not (repo / ".git" / "index.lock").exists()


def test_the_users_own_changes_in_the_checkout_are_never_taken_for_a_cut_short_landing(
    repo: Path, tmp_path: Path
) -> None:
    import json

    tip = git(repo, "rev-parse", "main")
    (repo / ".mayor" / "state").mkdir(parents=True, exist_ok=True)
    (repo / ".mayor" / "state" / "merge.json").write_text(json.dumps({"bead": "x", "tip": tip, "candidate": tip}))
    readme = next(p for p in repo.iterdir() if p.is_file() and p.name != ".gitignore")
    readme.write_text("the user's own edit\n")
    configure(repo, {"w": script(tmp_path / "agents" / "w.sh", "true\n")})

    out = sling(repo)

    assert out.returncode == 1 and "uncommitted changes" in out.stderr
    assert readme.read_text() == "the user's own edit\n"


def test_mayor_retry_stops_the_running_attempt_and_starts_one_with_the_note(repo: Path, tmp_path: Path) -> None:
    from tests.sling_helpers import mayor, start_sling, wait_for

    agent = script(
        tmp_path / "agents" / "slow.sh",
        """
        if [ "$MAYOR_ATTEMPT" = 1 ]; then sleep 300; fi
        cp "$MAYOR_FEEDBACK_FILE" got-feedback.txt && git add -A && git commit -qm "with the note"
        """,
    )
    configure(repo, {"slow": agent})
    add_bead(repo, "r1")
    proc = start_sling(repo)
    try:
        wait_for(lambda: of(events(repo), "agent_started"), "the first attempt")
        said = mayor(repo, "retry", "r1", "--note", "use the other approach")
        assert said.returncode == 0 and "stopped" in said.stderr, said.stderr
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out + err
    r1 = bead(repo, "r1")
    assert r1.status == "merged" and [a.outcome for a in r1.attempts] == ["retry_requested", "passed"]
    assert "use the other approach" in git(repo, "show", "main:got-feedback.txt")


def test_an_agent_writing_into_the_users_checkout_is_named_not_the_user(repo: Path, tmp_path: Path) -> None:
    (repo / "README.md").write_text("# the user's readme\n")
    git(repo, "add", "README.md")
    git(repo, "commit", "-q", "-m", "readme")
    agent = script(
        tmp_path / "agents" / "stray.sh",
        """
        echo "stray" >> "$MAYOR_ROOT/README.md"
        echo x > x.txt && git add x.txt && git commit -qm x
        """,
    )
    configure(repo, {"stray": agent})
    add_bead(repo, "s1")

    first = sling(repo)

    touched = of(events(repo), "checkout_touched")
    assert touched and touched[0]["bead"] == "s1" and "README.md" in touched[0]["data"]["files"], first.stderr
    assert "your checkout changed while s1 ran" in first.stderr
    add_bead(repo, "s2")
    second = sling(repo)
    assert second.returncode == 1
    assert "appeared while the agents of s1 ran" in second.stderr, second.stderr
