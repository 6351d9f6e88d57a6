"""``mayor sling`` end to end: the fault matrix of issue 3, item 9 (crash tests live in test_crash.py).

Everything is real: git repositories in ``tmp_path``, ``mayor sling`` as the installed console
script, agents that are small bash scripts, gates that are shell commands. Each test asserts the
outcome where a user would look: bead status and attempts, ``.mayor/events.jsonl``, the target's
history and the exit code. Durations are kept small (timeouts of a second or two) and nothing
asserts on elapsed time.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.sling_helpers import (
    MAYOR,
    PYTHON,
    add_bead,
    assert_target_green,
    bead,
    branches,
    configure,
    events,
    first_parents,
    git,
    landing_commits,
    mayor,
    of,
    pool,
    porcelain,
    process_gone,
    script,
    sling,
    start_sling,
    wait_for,
)

# A bead's work: work/<id>.txt saying which deps it needs. The agent refuses to start a bead whose
# deps are not on its branch yet, and the gate refuses a tree where a bead's file lacks its deps'.
WORKER = """
deps=$("{python}" -c 'import json,os; print(" ".join(json.load(open(os.environ["MAYOR_BEAD_FILE"]))["deps"]))')
for dep in $deps; do
    test -e "work/$dep.txt" || {{ echo "dep $dep is not on my branch"; exit 9; }}
done
mkdir -p work
printf '%s\\nneeds: %s\\n' "$MAYOR_BEAD_ID" "$deps" > "work/$MAYOR_BEAD_ID.txt"
git add work
git commit -q -m "work on $MAYOR_BEAD_ID"
"""
DEPS_GATE = r"""
set -eu
! grep -rqsx BROKEN --exclude-dir=.git .
for f in work/*.txt; do
    [ -e "$f" ] || continue
    for dep in $(sed -n 's/^needs: //p' "$f"); do test -e "work/$dep.txt"; done
done
"""


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """A folder outside the repository where agents leave notes for the test."""
    path = tmp_path / "out"
    path.mkdir()
    return path


def worker(tmp_path: Path, extra: str = "") -> Path:
    return script(tmp_path / "agents" / "worker.sh", extra + WORKER.format(python=PYTHON))


def deps_gate(tmp_path: Path) -> Path:
    return script(tmp_path / "gate.sh", DEPS_GATE)


def statuses(root: Path, ids: list[str]) -> dict[str, str]:
    return {i: bead(root, i).status for i in ids}


def outcomes(root: Path, bead_id: str) -> list[str | None]:
    return [a.outcome for a in bead(root, bead_id).attempts]


# -- the happy path ----------------------------------------------------------------------------


@pytest.mark.parametrize("jobs", [2, 3])
def test_happy_path_lands_every_bead_once_after_its_deps(repo: Path, tmp_path: Path, jobs: int) -> None:
    gate = deps_gate(tmp_path)
    rendezvous = tmp_path / "started"
    rendezvous.mkdir()
    # Every agent waits until two have started (dependents find that already true), so that
    # independent beads surely run side by side, however loaded the machine.
    meet = (
        f"touch {rendezvous}/$MAYOR_BEAD_ID\n"
        f"for i in $(seq 1 600); do [ $(ls {rendezvous} | wc -l) -ge 2 ] && break; sleep 0.05; done\n"
    )
    configure(repo, {"worker": worker(tmp_path, meet)}, gate=gate)
    graph = {"a": [], "b": [], "c": ["a"], "d": ["a", "b"], "e": ["c", "d"], "f": []}
    for bead_id, deps in graph.items():
        add_bead(repo, bead_id, f"Build part {bead_id.upper()}", deps=deps)
    base = git(repo, "rev-parse", "main")

    proc = sling(repo, "-j", str(jobs))

    assert proc.returncode == 0, proc.stderr
    assert statuses(repo, list(graph)) == dict.fromkeys(graph, "merged")
    for bead_id in graph:
        assert outcomes(repo, bead_id) == ["passed"]
    commits = first_parents(repo, since=base)
    assert commits[0][0] == base
    landed = commits[1:]
    assert len(landed) == len(graph)
    for sha, parents, _message in landed:
        assert len(parents) == 2, f"{sha} is not a --no-ff merge commit"
    titles = [message.splitlines()[0] for _, _, message in landed]
    assert sorted(titles) == sorted(f"Merge {i}: Build part {i.upper()}" for i in graph)
    for bead_id in graph:
        assert len(landing_commits(repo, bead_id)) == 1
        assert bead(repo, bead_id).result.commit in {sha for sha, _, _ in landed}
        assert (repo / "work" / f"{bead_id}.txt").exists()  # the user's checkout was brought along

    log = events(repo)
    assert [e["seq"] for e in log] == list(range(1, len(log) + 1))
    for bead_id, deps in graph.items():
        slung = of(log, "slung", bead_id)[0]["seq"]
        for dep in deps:
            assert of(log, "merged", dep)[0]["seq"] < slung, f"{bead_id} started before its dep {dep} landed"
    busy = max_concurrent(log)
    assert busy <= jobs
    assert busy >= 2, "independent beads never ran side by side"
    assert_target_green(repo, f"bash {gate}", since=base)
    assert porcelain(repo) == []


def max_concurrent(log: list[dict]) -> int:
    running, most = 0, 0
    for event in log:
        if event["type"] == "agent_started":
            running += 1
        elif event["type"] == "agent_exited":
            running -= 1
        most = max(most, running)
    return most


# -- agents that fail ------------------------------------------------------------------------------


def test_failing_agent_is_retried_then_failed_and_its_dependent_reported_blocked(
    repo: Path, tmp_path: Path, out: Path
) -> None:
    broken = script(
        tmp_path / "agents" / "broken.sh",
        f"""
        echo "attempt $MAYOR_ATTEMPT" >> {out}/attempts
        cp "$MAYOR_FEEDBACK_FILE" "{out}/feedback-$MAYOR_ATTEMPT"
        echo "partial $MAYOR_ATTEMPT" > partial.txt
        git add partial.txt && git commit -q -m "half of it"
        echo "cannot finish: the widget is missing" >&2
        exit 7
    """,
    )
    configure(repo, {"worker": worker(tmp_path), "broken": broken})
    add_bead(repo, "bad", "Doomed work", agent="broken")
    add_bead(repo, "after", "Needs the doomed work", deps=["bad"])
    add_bead(repo, "fine", "Independent work")
    base = git(repo, "rev-parse", "main")

    proc = sling(repo, "-j", "2", "--max-attempts", "2")

    assert proc.returncode == 1
    failed = bead(repo, "bad")
    assert failed.status == "failed"
    assert [a.outcome for a in failed.attempts] == ["failed", "failed"]
    assert failed.error == "the agent exited 7"
    assert (out / "attempts").read_text().split("\n")[:-1] == ["attempt 1", "attempt 2"]
    assert (out / "feedback-1").read_text() == ""
    second_feedback = (out / "feedback-2").read_text()
    assert "exited with status 7" in second_feedback and "the widget is missing" in second_feedback
    assert "mayor/bad" in branches(repo)
    assert git(repo, "log", "-1", "--format=%s", "mayor/bad") == "half of it"  # its work is kept
    assert landing_commits(repo, "bad") == []

    assert bead(repo, "after").status == "open" and bead(repo, "after").attempts == []
    assert bead(repo, "fine").status == "merged"
    assert len(first_parents(repo, since=base)) == 2
    assert "failed: bad Doomed work: the agent exited 7" in proc.stderr
    assert "not landed: after" in proc.stderr and "bad failed" in proc.stderr
    assert "mayor reopen bad" in proc.stderr

    log = events(repo)
    assert [e["attempt"] for e in of(log, "retried", "bad")] == [1]
    [gave_up] = of(log, "failed", "bad")
    assert gave_up["attempt"] == 2 and gave_up["data"]["outcome"] == "failed"
    assert [e["data"]["code"] for e in of(log, "agent_exited", "bad")] == [7, 7]
    assert of(log, "slung", "after") == []
    # the dependent is shown as blocked by the standard query too
    blocked = mayor(repo, "blocked", "--json")
    assert blocked.returncode == 0 and "bad" in blocked.stdout and "after" in blocked.stdout


def test_agent_that_makes_no_change_fails_with_the_reason(repo: Path, tmp_path: Path) -> None:
    configure(repo, {"idle": script(tmp_path / "agents" / "noop.sh", "echo 'all done, trust me'\n")})
    add_bead(repo, "lazy", "Do nothing")
    tip = git(repo, "rev-parse", "main")

    proc = sling(repo, "--max-attempts", "1")

    assert proc.returncode == 1
    lazy = bead(repo, "lazy")
    assert lazy.status == "failed"
    assert [a.outcome for a in lazy.attempts] == ["no_change"]
    assert "no commit" in (lazy.error or "") and "no change" in (lazy.error or "")
    assert "no change" in proc.stderr
    assert git(repo, "rev-parse", "main") == tip
    assert of(events(repo), "failed", "lazy")[0]["data"]["outcome"] == "no_change"


def test_uncommitted_changes_are_committed_for_the_agent_and_land(repo: Path, tmp_path: Path) -> None:
    sloppy = script(
        tmp_path / "agents" / "sloppy.sh",
        """
        echo "new feature" > feature.txt
        echo "more" >> README.md
        mkdir -p pkg && echo "x = 1" > pkg/mod.py
    """,
    )
    configure(repo, {"sloppy": sloppy})
    add_bead(repo, "dirty", "Leave it uncommitted")

    proc = sling(repo)

    assert proc.returncode == 0, proc.stderr
    assert bead(repo, "dirty").status == "merged"
    log = events(repo)
    assert len(of(log, "committed_leftovers", "dirty")) == 1
    subject = git(repo, "log", "-1", "--format=%s", "mayor/dirty")
    assert subject == "mayor: leftover changes of dirty (attempt 1)"
    for path in ("feature.txt", "pkg/mod.py"):
        assert git(repo, "cat-file", "-t", f"main:{path}") == "blob"
    assert git(repo, "show", "main:README.md").endswith("more")
    assert sorted(bead(repo, "dirty").result.files) == ["README.md", "feature.txt", "pkg/mod.py"]
    assert (repo / "feature.txt").read_text() == "new feature\n"
    assert porcelain(repo) == []


def test_acceptance_checks_are_run_by_the_supervisor_and_fed_back(repo: Path, tmp_path: Path, out: Path) -> None:
    # Attempt 1 claims success without doing the work the check looks for; attempt 2 does it.
    claims = script(
        tmp_path / "agents" / "claims.sh",
        f"""
        cp "$MAYOR_FEEDBACK_FILE" "{out}/feedback-$MAYOR_ATTEMPT"
        echo "attempt $MAYOR_ATTEMPT" > notes.txt
        if [ "$MAYOR_ATTEMPT" = 2 ]; then echo 42 > answer.txt; fi
        git add -A && git commit -q -m "attempt $MAYOR_ATTEMPT"
        echo "all acceptance criteria met"
    """,
    )
    configure(repo, {"claims": claims})
    add_bead(
        repo,
        "ck",
        "Write the answer",
        acceptance=[
            {"text": "the answer is written", "check": "grep -qx 42 answer.txt"},
            {"text": "notes exist", "check": "test -s notes.txt"},
        ],
    )

    proc = sling(repo)

    assert proc.returncode == 0, proc.stderr
    assert outcomes(repo, "ck") == ["check_failed", "passed"]
    log = events(repo)
    checks = [(e["type"], e["attempt"], e["data"]["check"]) for e in log if e["type"].startswith("check_")]
    assert checks == [
        ("check_failed", 1, "grep -qx 42 answer.txt"),
        ("check_passed", 1, "test -s notes.txt"),
        ("check_passed", 2, "grep -qx 42 answer.txt"),
        ("check_passed", 2, "test -s notes.txt"),
    ]
    feedback = (out / "feedback-2").read_text()
    assert "grep -qx 42 answer.txt" in feedback and "the answer is written" in feedback
    assert git(repo, "show", "main:answer.txt") == "42"


def test_ready_beads_start_in_priority_order(repo: Path, tmp_path: Path) -> None:
    configure(repo, {"worker": worker(tmp_path)})
    for bead_id, priority in (("p3", 3), ("p0", 0), ("p2", 2), ("p1", 1)):
        add_bead(repo, bead_id, f"Priority {priority}", priority=priority)

    proc = sling(repo, "-j", "1")

    assert proc.returncode == 0, proc.stderr
    assert [e["bead"] for e in of(events(repo), "slung")] == ["p0", "p1", "p2", "p3"]
    again = sling(repo)
    assert again.returncode == 0, again.stderr
    assert len(of(events(repo), "slung")) == 4  # nothing left to do: nothing slung twice


# -- agents that hang ----------------------------------------------------------------------------


def test_wall_timeout_kills_the_whole_process_group(repo: Path, tmp_path: Path, out: Path) -> None:
    # The grandchild ignores SIGTERM: only killing the whole group with SIGKILL ends it.
    hanger = script(
        tmp_path / "agents" / "hang.sh",
        f"""
        bash -c 'trap "" TERM; exec sleep 300' &
        echo $! > {out}/grandchild-$MAYOR_ATTEMPT.pid
        while true; do echo "still working"; sleep 0.1; done
    """,
    )
    configure(repo, {"hang": hanger})
    add_bead(repo, "slow", "Never finishes")
    tip = git(repo, "rev-parse", "main")

    proc = sling(repo, "--timeout", "1s", "--max-attempts", "2")

    assert proc.returncode == 1
    slow = bead(repo, "slow")
    assert slow.status == "failed"
    assert [a.outcome for a in slow.attempts] == ["timeout", "timeout"]
    assert "wall timeout of 1s" in (slow.error or "")
    for attempt in (1, 2):
        pid = int((out / f"grandchild-{attempt}.pid").read_text())
        assert process_gone(pid), f"grandchild {pid} of attempt {attempt} outlived its agent"
    log = events(repo)
    assert [e["data"]["reason"] for e in of(log, "agent_exited", "slow")] == ["timeout", "timeout"]
    assert git(repo, "rev-parse", "main") == tip
    feedback = (repo / ".mayor" / "runs" / "slow" / "2" / "feedback.md").read_text()
    assert "wall timeout" in feedback and "still working" in feedback


def test_idle_timeout_kills_a_silent_agent_but_not_one_that_changes_files(
    repo: Path, tmp_path: Path, out: Path
) -> None:
    silent = script(
        tmp_path / "agents" / "silent.sh",
        f"""
        sleep 300 &
        echo $! > {out}/sleeper.pid
        wait
    """,
    )
    # Prints nothing, but changes a file often: that is activity, so it is left to finish.
    quiet = script(
        tmp_path / "agents" / "quiet.sh",
        """
        for i in $(seq 1 15); do echo "$i" > progress.txt; sleep 0.2; done
        git add progress.txt && git commit -q -m "quiet progress" >/dev/null
    """,
    )
    configure(repo, {"silent": silent, "quiet": quiet})
    add_bead(repo, "mute", "Says nothing, does nothing", agent="silent")
    add_bead(repo, "busy", "Says nothing, works", agent="quiet")

    proc = sling(repo, "-j", "2", "--idle-timeout", "2s", "--timeout", "60s", "--max-attempts", "1")

    assert proc.returncode == 1
    mute = bead(repo, "mute")
    assert mute.status == "failed" and [a.outcome for a in mute.attempts] == ["idle"]
    assert "idle (no output, no file change) of 2s" in (mute.error or "")
    assert process_gone(int((out / "sleeper.pid").read_text()))
    assert bead(repo, "busy").status == "merged"
    assert git(repo, "show", "main:progress.txt") == "15"
    reasons = {e["bead"]: e["data"]["reason"] for e in of(events(repo), "agent_exited")}
    assert reasons == {"mute": "idle", "busy": "exited"}


def test_git_lock_left_by_a_killed_agent_does_not_stop_the_run(repo: Path, tmp_path: Path) -> None:
    # As if the agent were killed in the middle of `git add`: its worktree's index.lock stays behind.
    locker = script(
        tmp_path / "agents" / "locker.sh",
        """
        echo "attempt $MAYOR_ATTEMPT" > work.txt
        if [ "$MAYOR_ATTEMPT" = 1 ]; then touch "$(git rev-parse --git-dir)/index.lock"; exec sleep 300; fi
        git add work.txt && git commit -q -m "work, attempt $MAYOR_ATTEMPT"
    """,
    )
    configure(repo, {"locker": locker})
    add_bead(repo, "locked", "Killed while git held a lock")

    proc = sling(repo, "--timeout", "1s", "--max-attempts", "2")

    assert proc.returncode == 0, proc.stderr
    assert bead(repo, "locked").status == "merged"
    assert outcomes(repo, "locked") == ["timeout", "passed"]
    assert git(repo, "show", "main:work.txt") == "attempt 2"


# -- agents that touch the target ----------------------------------------------------------------


GREEN_GATE = "! grep -rqsx BROKEN --exclude-dir=.git ."


def test_agent_moving_the_target_ref_itself_lands_once_through_the_queue(repo: Path, tmp_path: Path) -> None:
    rogue = script(
        tmp_path / "agents" / "rogue.sh",
        """
        unset GIT_CONFIG_COUNT  # hostile: past mayor's hooks, so the guard behind them is tested
        echo "rogue work" > rogue.txt
        git add rogue.txt && git commit -q -m "rogue work"
        git update-ref refs/heads/main HEAD
    """,
    )
    configure(repo, {"rogue": rogue}, gate=GREEN_GATE)
    add_bead(repo, "rogue", "Commit straight to main")
    base = git(repo, "rev-parse", "main")

    proc = sling(repo)

    assert proc.returncode == 0, proc.stderr
    assert bead(repo, "rogue").status == "merged"
    commits = first_parents(repo, since=base)
    assert len(commits) == 2 and len(commits[1][1]) == 2  # base, then the queue's merge commit
    assert landing_commits(repo, "rogue") == [commits[1][0]]
    assert git(repo, "log", "--format=%s", "main").splitlines().count("rogue work") == 1
    restored = of(events(repo), "target_restored")
    assert len(restored) == 1 and restored[0]["data"]["now"] == base
    assert_target_green(repo, GREEN_GATE, since=base)
    assert (repo / "rogue.txt").read_text() == "rogue work\n"
    assert porcelain(repo) == []


def test_agent_checking_out_the_target_in_its_worktree_lands_once(repo: Path, tmp_path: Path) -> None:
    git(repo, "checkout", "-q", "-b", "elsewhere")  # the user works on another branch
    rogue = script(
        tmp_path / "agents" / "rogue.sh",
        """
        unset GIT_CONFIG_COUNT  # hostile: past mayor's hooks, so the guard behind them is tested
        git checkout -q main
        echo "on main directly" > direct.txt
        git add direct.txt && git commit -q -m "direct commit on main"
        echo BROKEN > broken.txt
        git add broken.txt && git commit -q -m "an ungated mistake"
        git rm -q broken.txt && git commit -q -m "undo the mistake"
    """,
    )
    configure(repo, {"rogue": rogue}, gate=GREEN_GATE)
    add_bead(repo, "direct", "Work on main itself")
    base = git(repo, "rev-parse", "main")

    proc = sling(repo)

    assert proc.returncode == 0, proc.stderr
    assert bead(repo, "direct").status == "merged"
    commits = first_parents(repo, since=base)
    assert [len(parents) for _, parents, _ in commits[1:]] == [2]
    assert git(repo, "log", "--format=%s", "main").splitlines().count("direct commit on main") == 1
    assert git(repo, "show", "main:direct.txt") == "on main directly"
    assert_target_green(repo, GREEN_GATE, since=base)
    assert git(repo, "symbolic-ref", "--short", "HEAD") == "elsewhere"
    assert not (repo / "direct.txt").exists()  # the user's own checkout was left alone


def test_agent_moving_the_target_while_another_bead_lands(repo: Path, tmp_path: Path, out: Path) -> None:
    """The queue must not build on an agent's ungated commits even when it lands something else meanwhile."""
    rogue = script(
        tmp_path / "agents" / "rogue.sh",
        f"""
        unset GIT_CONFIG_COUNT  # hostile: past mayor's hooks, so the guard behind them is tested
        echo BROKEN > state.txt
        git add state.txt && git commit -q -m "rogue: broken step"
        echo fine > state.txt
        git commit -q -am "rogue: fixed"
        git update-ref refs/heads/main HEAD
        touch {out}/moved
        for i in $(seq 1 600); do
            grep -q '"merged", "bead": "other"' "$MAYOR_ROOT/.mayor/events.jsonl" && break
            sleep 0.05
        done
    """,
    )
    other = script(
        tmp_path / "agents" / "other.sh",
        f"""
        for i in $(seq 1 600); do [ -e {out}/moved ] && break; sleep 0.05; done
        echo other > other.txt
        git add other.txt && git commit -q -m "other work"
    """,
    )
    configure(repo, {"rogue": rogue, "other": other}, gate=GREEN_GATE)
    add_bead(repo, "rogue", "Commit straight to main", agent="rogue")
    add_bead(repo, "other", "Ordinary work", agent="other")
    base = git(repo, "rev-parse", "main")

    proc = sling(repo, "-j", "2")

    assert proc.returncode == 0, proc.stderr
    assert statuses(repo, ["rogue", "other"]) == {"rogue": "merged", "other": "merged"}
    assert_target_green(repo, GREEN_GATE, since=base)
    commits = first_parents(repo, since=base)
    assert [len(parents) for _, parents, _ in commits[1:]] == [2, 2]
    assert git(repo, "log", "--format=%s", "main").splitlines().count("rogue: fixed") == 1
    assert len(landing_commits(repo, "rogue")) == 1 and len(landing_commits(repo, "other")) == 1


def test_agent_forcing_the_target_back_loses_no_landed_bead(repo: Path, tmp_path: Path, out: Path) -> None:
    """An agent resets the target to its own branch, dropping a bead that landed meanwhile."""
    rogue = script(
        tmp_path / "agents" / "rogue.sh",
        """
        unset GIT_CONFIG_COUNT  # hostile: past mayor's hooks, so the guard behind them is tested
        echo mine > mine.txt
        git add mine.txt && git commit -q -m "rogue: mine"
        for i in $(seq 1 600); do
            grep -q '"merged", "bead": "early"' "$MAYOR_ROOT/.mayor/events.jsonl" && break
            sleep 0.05
        done
        git update-ref refs/heads/main HEAD
    """,
    )
    early = script(
        tmp_path / "agents" / "early.sh",
        """
        echo early > early.txt
        git add early.txt && git commit -q -m "early work"
    """,
    )
    configure(repo, {"rogue": rogue, "early": early}, gate=GREEN_GATE)
    add_bead(repo, "rogue", "Force main to my branch", agent="rogue")
    add_bead(repo, "early", "Lands first", agent="early")
    base = git(repo, "rev-parse", "main")

    proc = sling(repo, "-j", "2")

    assert proc.returncode == 0, proc.stderr
    assert statuses(repo, ["rogue", "early"]) == {"rogue": "merged", "early": "merged"}
    assert len(landing_commits(repo, "early")) == 1 and len(landing_commits(repo, "rogue")) == 1
    for path in ("early.txt", "mine.txt"):
        assert git(repo, "cat-file", "-t", f"main:{path}") == "blob"
    assert [len(parents) for _, parents, _ in first_parents(repo, since=base)[1:]] == [2, 2]
    assert porcelain(repo) == []


def test_a_commit_the_user_makes_on_the_target_meanwhile_is_kept(repo: Path, tmp_path: Path, out: Path) -> None:
    waiter = script(
        tmp_path / "agents" / "waiter.sh",
        f"""
        touch {out}/started
        for i in $(seq 1 600); do [ -e {out}/go ] && break; sleep 0.05; done
        echo agent > agent.txt
        git add agent.txt && git commit -q -m "agent work"
    """,
    )
    configure(repo, {"waiter": waiter}, gate=GREEN_GATE)
    add_bead(repo, "late", "Lands after the user's commit")
    base = git(repo, "rev-parse", "main")
    supervisor = start_sling(repo)
    try:
        wait_for(lambda: (out / "started").exists(), "the agent to start")
        (repo / "user.txt").write_text("the user's own work\n")
        git(repo, "add", "user.txt")
        git(repo, "commit", "-q", "-m", "the user's commit")
        user_commit = git(repo, "rev-parse", "HEAD")
    finally:
        (out / "go").touch()
        _, stderr = supervisor.communicate(timeout=60)

    assert supervisor.returncode == 0, stderr
    assert bead(repo, "late").status == "merged"
    commits = first_parents(repo, since=base)
    assert [sha for sha, _, _ in commits[:2]] == [base, user_commit]
    assert len(commits) == 3 and landing_commits(repo, "late") == [commits[2][0]]
    assert of(events(repo), "target_restored") == []
    assert (repo / "agent.txt").exists() and (repo / "user.txt").exists()
    assert porcelain(repo) == []


# -- conflicts and gates ---------------------------------------------------------------------------


def test_conflicting_beads_the_second_resolves_with_the_feedback(repo: Path, tmp_path: Path, out: Path) -> None:
    (repo / "shared.txt").write_text("original\n")
    git(repo, "add", "shared.txt")
    git(repo, "commit", "-q", "-m", "a shared file")
    # Both agents wait for each other, so that both branch from the same tip and truly conflict.
    writer = script(
        tmp_path / "agents" / "writer.sh",
        f"""
        cp "$MAYOR_FEEDBACK_FILE" "{out}/$MAYOR_BEAD_ID-$MAYOR_ATTEMPT.feedback"
        if grep -q '^<<<<<<<' shared.txt; then
            echo "resolving the conflict in attempt $MAYOR_ATTEMPT"
            grep -v -e '^<<<<<<<' -e '^=======' -e '^>>>>>>>' shared.txt | sort > resolved
            mv resolved shared.txt
            git add shared.txt && git commit -q --no-edit
            exit 0
        fi
        touch {out}/started-$MAYOR_BEAD_ID
        for i in $(seq 1 600); do [ "$(ls {out} | grep -c '^started-')" -ge 2 ] && break; sleep 0.05; done
        echo "$MAYOR_BEAD_ID was here" > shared.txt
        git commit -q -am "$MAYOR_BEAD_ID writes the shared line"
    """,
    )
    configure(repo, {"writer": writer}, gate=GREEN_GATE)
    add_bead(repo, "left", "Left writes the line")
    add_bead(repo, "right", "Right writes the line")
    base = git(repo, "rev-parse", "main")

    proc = sling(repo, "-j", "2")

    assert proc.returncode == 0, proc.stderr
    assert statuses(repo, ["left", "right"]) == {"left": "merged", "right": "merged"}
    log = events(repo)
    [conflict] = of(log, "conflict")
    loser = conflict["bead"]
    winner = ({"left", "right"} - {loser}).pop()
    assert conflict["attempt"] == 1 and conflict["data"]["files"] == ["shared.txt"]
    assert outcomes(repo, winner) == ["passed"]
    assert outcomes(repo, loser) == ["conflict", "passed"]
    feedback = (out / f"{loser}-2.feedback").read_text()
    assert "conflict" in feedback and "shared.txt" in feedback and "main" in feedback
    assert [e["attempt"] for e in of(log, "retried", loser)] == [1]
    assert of(log, "merged", winner)[0]["seq"] < of(log, "merged", loser)[0]["seq"]
    assert git(repo, "show", "main:shared.txt").splitlines() == ["left was here", "right was here"]
    assert [len(p) for _, p, _ in first_parents(repo, since=base)[1:]] == [2, 2]
    assert_target_green(repo, GREEN_GATE, since=base)


def test_gate_failure_goes_back_to_the_agent_which_fixes_it(repo: Path, tmp_path: Path, out: Path) -> None:
    fixer = script(
        tmp_path / "agents" / "fixer.sh",
        f"""
        cp "$MAYOR_FEEDBACK_FILE" "{out}/feedback-$MAYOR_ATTEMPT"
        if [ "$MAYOR_ATTEMPT" = 1 ]; then echo BROKEN > value.txt; else echo fixed > value.txt; fi
        git add value.txt && git commit -q -m "value, attempt $MAYOR_ATTEMPT"
    """,
    )
    gate = script(
        tmp_path / "gate.sh",
        """
        if grep -rqsx BROKEN --exclude-dir=.git .; then echo "gate: found a BROKEN file"; exit 1; fi
    """,
    )
    configure(repo, {"fixer": fixer}, gate=gate)
    add_bead(repo, "fixme", "Needs two tries")
    base = git(repo, "rev-parse", "main")

    proc = sling(repo)

    assert proc.returncode == 0, proc.stderr
    assert outcomes(repo, "fixme") == ["gate_failed", "passed"]
    assert bead(repo, "fixme").status == "merged"
    log = events(repo)
    assert [(e["type"], e["attempt"]) for e in log if e["type"] in ("gate_failed", "gate_passed")] == [
        ("gate_failed", 1),
        ("gate_passed", 2),
    ]
    assert of(log, "gate_flaky") == []
    feedback = (out / "feedback-2").read_text()
    assert "broke the gate" in feedback and "found a BROKEN file" in feedback
    commits = first_parents(repo, since=base)
    assert len(commits) == 2 and landing_commits(repo, "fixme") == [commits[1][0]]
    assert git(repo, "show", "main:value.txt") == "fixed"
    assert_target_green(repo, f"bash {gate}", since=base)


def test_flaky_gate_lands_with_a_gate_flaky_event(repo: Path, tmp_path: Path) -> None:
    seen = tmp_path / "gate-runs"
    seen.mkdir()
    # Fails the first time it meets each candidate, passes when run again on it.
    gate = script(
        tmp_path / "gate.sh",
        f"""
        if [ ! -e "{seen}/$MAYOR_CANDIDATE" ]; then touch "{seen}/$MAYOR_CANDIDATE"; echo "flake"; exit 1; fi
    """,
    )
    configure(repo, {"worker": worker(tmp_path)}, gate=gate)
    add_bead(repo, "flaky", "Meets a flaky gate")
    add_bead(repo, "flaky2", "Meets it again")

    proc = sling(repo, "-j", "2")

    assert proc.returncode == 0, proc.stderr
    log = events(repo)
    for bead_id in ("flaky", "flaky2"):
        assert bead(repo, bead_id).status == "merged"
        assert outcomes(repo, bead_id) == ["passed"]
        assert len(of(log, "gate_flaky", bead_id)) == 1
        [passed] = of(log, "gate_passed", bead_id)
        assert passed["data"]["flaky"] is True
        assert len(landing_commits(repo, bead_id)) == 1
    assert of(log, "gate_failed") == [] and of(log, "retried") == []
    assert sorted(p.name for p in seen.iterdir()) == sorted(bead(repo, i).result.commit for i in ("flaky", "flaky2"))


# -- refusing to start -----------------------------------------------------------------------------


def test_malformed_bead_file_stops_sling_before_anything_starts(repo: Path, tmp_path: Path) -> None:
    configure(repo, {"worker": worker(tmp_path)})
    add_bead(repo, "good", "A fine bead")
    broken = repo / ".mayor" / "beads" / "broken.json"
    broken.write_bytes(b'{"id": "broken", "title": "half a bead", "deps": [\n')
    before = broken.read_bytes()
    tip = git(repo, "rev-parse", "main")

    proc = sling(repo)

    assert proc.returncode == 1
    assert "broken.json" in proc.stderr and "invalid JSON" in proc.stderr
    assert broken.read_bytes() == before
    assert bead(repo, "good").status == "open" and bead(repo, "good").attempts == []
    assert of(events(repo), "slung") == []
    assert branches(repo) == set()
    assert git(repo, "rev-parse", "main") == tip


def test_second_supervisor_is_refused_while_one_runs(repo: Path, tmp_path: Path, out: Path) -> None:
    waiter = script(
        tmp_path / "agents" / "waiter.sh",
        f"""
        touch {out}/started
        for i in $(seq 1 600); do [ -e {out}/go ] && break; sleep 0.05; done
        echo done > waited.txt
        git add waited.txt && git commit -q -m "waited"
    """,
    )
    configure(repo, {"waiter": waiter})
    add_bead(repo, "wait", "Waits for the test")
    first = start_sling(repo)
    try:
        wait_for(lambda: (out / "started").exists(), "the first supervisor's agent")
        second = sling(repo)
        assert second.returncode == 1
        assert "already running" in second.stderr and f"pid {first.pid}" in second.stderr
        assert len(of(events(repo), "sling_started")) == 1
    finally:
        (out / "go").touch()
        _, stderr = first.communicate(timeout=60)
    assert first.returncode == 0, stderr
    assert bead(repo, "wait").status == "merged"
    assert len(of(events(repo), "slung", "wait")) == 1


def test_dirty_checkout_of_the_target_refuses_to_start(repo: Path, tmp_path: Path) -> None:
    configure(repo, {"worker": worker(tmp_path)})
    add_bead(repo, "w1", "Some work")
    (repo / "README.md").write_text("# my unsaved edit\n")
    tip = git(repo, "rev-parse", "main")

    proc = sling(repo)

    assert proc.returncode == 1
    assert "uncommitted changes" in proc.stderr and "README.md" in proc.stderr
    assert "commit or stash" in proc.stderr
    assert (repo / "README.md").read_text() == "# my unsaved edit\n"
    assert git(repo, "rev-parse", "main") == tip
    assert porcelain(repo) == [" M README.md"]
    assert bead(repo, "w1").status == "open"
    assert of(events(repo), "slung") == [] and branches(repo) == set()


def test_untracked_files_are_untouched_and_the_checkout_is_brought_forward(repo: Path, tmp_path: Path) -> None:
    configure(repo, {"worker": worker(tmp_path)})
    add_bead(repo, "w1", "First")
    add_bead(repo, "w2", "Second", deps=["w1"])
    (repo / "notes.txt").write_text("my notes\n")
    (repo / "scratch").mkdir()
    (repo / "scratch" / "idea.py").write_text("print('idea')\n")
    before = {p: (repo / p).stat().st_mtime_ns for p in ("notes.txt", "scratch/idea.py")}

    proc = sling(repo, "-j", "2")

    assert proc.returncode == 0, proc.stderr
    assert statuses(repo, ["w1", "w2"]) == {"w1": "merged", "w2": "merged"}
    assert (repo / "work" / "w1.txt").exists() and (repo / "work" / "w2.txt").exists()
    assert git(repo, "rev-parse", "HEAD") == git(repo, "rev-parse", "main")
    assert sorted(porcelain(repo)) == ["?? notes.txt", "?? scratch/idea.py"]
    assert (repo / "notes.txt").read_text() == "my notes\n"
    assert {p: (repo / p).stat().st_mtime_ns for p in before} == before


def test_unknown_agent_is_a_clear_error(repo: Path, tmp_path: Path) -> None:
    configure(repo, {"worker": worker(tmp_path)})
    add_bead(repo, "w1", "Work")
    add_bead(repo, "w2", "Work for a ghost", agent="ghost")

    by_flag = sling(repo, "--agent", "nobody")
    by_bead = sling(repo)

    assert by_flag.returncode == 2  # a bad --agent is a usage error, found by the parser
    assert "--agent" in by_flag.stderr and "no agent 'nobody'" in by_flag.stderr
    assert by_bead.returncode == 1
    [line] = by_bead.stderr.splitlines()
    assert "agent 'ghost'" in line and "[agents.ghost]" in line
    assert of(events(repo), "slung") == [] and branches(repo) == set()
    assert statuses(repo, ["w1", "w2"]) == {"w1": "open", "w2": "open"}


# -- report-only beads, selection, dry run ---------------------------------------------------------


def test_report_only_bead_ends_done_with_its_findings(repo: Path, tmp_path: Path) -> None:
    finding = {"file": "README.md", "line": 1, "severity": "low", "title": "Terse readme", "category": "docs"}
    reviewer = script(
        tmp_path / "agents" / "review.sh",
        f"""
        cat > "$MAYOR_RUN_DIR/result.json" <<'JSON'
        {json.dumps({"summary": "one small thing", "findings": [finding]})}
        JSON
    """,
    )
    configure(repo, {"review": reviewer})
    add_bead(repo, "rev", "Review the readme", kind="review")
    tip = git(repo, "rev-parse", "main")

    proc = sling(repo)

    assert proc.returncode == 0, proc.stderr
    reviewed = bead(repo, "rev")
    assert reviewed.status == "done" and reviewed.closed_at is not None
    assert outcomes(repo, "rev") == ["passed"]
    assert reviewed.result.summary == "one small thing"
    assert [f.model_dump(exclude_defaults=True) for f in reviewed.result.findings] == [finding]
    log = events(repo)
    assert of(log, "done", "rev")[0]["data"]["findings"] == 1
    assert of(log, "queued") == [] and of(log, "merged") == []
    assert git(repo, "rev-parse", "main") == tip


def test_dry_run_starts_nothing(repo: Path, tmp_path: Path, out: Path) -> None:
    configure(repo, {"worker": script(tmp_path / "agents" / "spy.sh", f"touch {out}/ran\n")})
    for bead_id in ("d1", "d2", "d3"):
        add_bead(repo, bead_id, f"Dry {bead_id}")
    add_bead(repo, "d4", "Waits", deps=["d1"])

    proc = sling(repo, "-j", "2", "--dry-run")

    assert proc.returncode == 0, proc.stderr
    assert "would sling 2 of 3 ready bead(s)" in proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split("\t")[0].strip() for line in lines] == ["now", "now", "next"]
    assert sorted(line.split("\t")[1] for line in lines) == ["d1", "d2", "d3"]
    assert not (out / "ran").exists()
    assert of(events(repo), "slung") == [] and branches(repo) == set()
    assert not (repo / ".git" / "mayor").exists() and not pool(repo).exists()
    assert statuses(repo, ["d1", "d2", "d3", "d4"]) == dict.fromkeys(["d1", "d2", "d3", "d4"], "open")


def test_only_and_label_select_beads(repo: Path, tmp_path: Path) -> None:
    configure(repo, {"worker": worker(tmp_path)})
    add_bead(repo, "o1", "Picked by id")
    add_bead(repo, "o2", "Not picked")
    add_bead(repo, "l1", "Labelled", labels=["ui"])
    add_bead(repo, "l2", "Labelled too", labels=["ui", "x"])

    by_id = sling(repo, "--only", "o1")
    assert by_id.returncode == 0, by_id.stderr
    assert statuses(repo, ["o1", "o2", "l1", "l2"]) == {"o1": "merged", "o2": "open", "l1": "open", "l2": "open"}

    by_label = sling(repo, "--label", "ui", "-j", "2")
    assert by_label.returncode == 0, by_label.stderr
    assert statuses(repo, ["o1", "o2", "l1", "l2"]) == {"o1": "merged", "o2": "open", "l1": "merged", "l2": "merged"}
    assert {e["bead"] for e in of(events(repo), "slung")} == {"o1", "l1", "l2"}

    unknown = sling(repo, "--only", "nope")
    assert unknown.returncode == 1 and "nope" in unknown.stderr


# -- events, gc, the worktree pool -----------------------------------------------------------------


def test_agent_milestones_land_in_the_event_log(repo: Path, tmp_path: Path) -> None:
    mayor_script = MAYOR
    emitter = script(
        tmp_path / "agents" / "emitter.sh",
        f"""
        "{mayor_script}" emit milestone --data '{{"step": 1}}'
        "{mayor_script}" emit milestone --data '{{"step": 2, "note": "halfway"}}'
        echo hi > hi.txt
        git add hi.txt && git commit -q -m hi
    """,
    )
    configure(repo, {"emitter": emitter})
    add_bead(repo, "em", "Reports progress")

    proc = sling(repo)

    assert proc.returncode == 0, proc.stderr
    shown = mayor(repo, "events", "--json")
    assert shown.returncode == 0, shown.stderr
    log = [json.loads(line) for line in shown.stdout.splitlines()]
    assert log == events(repo)
    assert all(set(e) == {"ts", "seq", "type", "bead", "attempt", "data"} for e in log)
    assert [e["seq"] for e in log] == sorted({e["seq"] for e in log})
    milestones = of(log, "milestone")
    assert [(m["bead"], m["attempt"], m["data"]) for m in milestones] == [
        ("em", 1, {"step": 1}),
        ("em", 1, {"step": 2, "note": "halfway"}),
    ]
    started, exited = of(log, "agent_started", "em")[0]["seq"], of(log, "agent_exited", "em")[0]["seq"]
    assert all(started < m["seq"] < exited for m in milestones)
    types = [e["type"] for e in log]
    for expected in ("sling_started", "slung", "agent_started", "agent_exited", "queued", "merged", "sling_stopped"):
        assert expected in types
    text = mayor(repo, "events")
    assert text.returncode == 0 and "milestone" in text.stdout and "step=2" in text.stdout
    bad = mayor(repo, "emit", "milestone", "--data", "[1, 2]")
    assert bad.returncode == 2 and "JSON object" in bad.stderr  # a bad --data is a usage error


def test_gc_removes_the_pool_and_landed_branches(repo: Path, tmp_path: Path) -> None:
    configure(repo, {"worker": worker(tmp_path), "broken": script(tmp_path / "agents" / "no.sh", "exit 1\n")})
    add_bead(repo, "g1", "Lands")
    add_bead(repo, "g2", "Lands too")
    add_bead(repo, "g3", "Fails", agent="broken")
    assert sling(repo, "-j", "2", "--max-attempts", "1").returncode == 1
    slots = sorted(p.name for p in pool(repo).iterdir())
    assert set(slots) == {"slot-0", "slot-1"}  # no gate: no merge worktree
    assert slots and branches(repo) == {"mayor/g1", "mayor/g2", "mayor/g3"}

    kept = mayor(repo, "gc", "--keep-pool")

    assert kept.returncode == 0, kept.stderr
    assert "removed 2 branch(es); freed 0 B" in kept.stderr
    assert branches(repo) == {"mayor/g3"}  # a failed bead keeps its work
    assert sorted(p.name for p in pool(repo).iterdir()) == slots

    freed = mayor(repo, "gc")

    assert freed.returncode == 0, freed.stderr
    assert "removed 0 branch(es) and the worktree pool" in freed.stderr
    amount = freed.stderr.rsplit("freed ", 1)[1].split()
    assert float(amount[0]) > 0 and amount[1] in ("B", "KiB", "MiB")
    assert not pool(repo).exists() or list(pool(repo).iterdir()) == []
    listed = git(repo, "worktree", "list", "--porcelain").splitlines()
    assert [line for line in listed if line.startswith("worktree ")] == [f"worktree {repo}"]
    assert branches(repo) == {"mayor/g3"}
    assert porcelain(repo) == []


def test_setup_runs_once_per_fresh_worktree_copy_files_come_in_and_ports_differ(
    repo: Path, tmp_path: Path, out: Path
) -> None:
    (repo / ".gitignore").write_text(".env\n.setup-marker\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-q", "-m", "ignore local files")
    (repo / ".env").write_text("SECRET=1\n")
    checker = f"""
        test "$(cat .env)" = "SECRET=1" || {{ echo "no .env"; exit 3; }}
        test -e .setup-marker || {{ echo "setup did not run here"; exit 4; }}
        echo "$MAYOR_SLOT $MAYOR_PORT $PWD" >> {out}/slots.log
    """
    configure(
        repo,
        {"worker": worker(tmp_path, checker)},
        copy=[".env"],
        setup=f"pwd >> {out}/setup.log && echo made > .setup-marker",
    )
    for bead_id in ("s1", "s2", "s3", "s4", "s5"):
        add_bead(repo, bead_id, f"Pool {bead_id}")

    proc = sling(repo, "-j", "2")

    assert proc.returncode == 0, proc.stderr
    assert statuses(repo, ["s1", "s2", "s3", "s4", "s5"]) == dict.fromkeys(["s1", "s2", "s3", "s4", "s5"], "merged")
    setups = (out / "setup.log").read_text().splitlines()
    used = [line.split() for line in (out / "slots.log").read_text().splitlines()]
    worktrees = {path for _, _, path in used}
    assert len(used) == 5 and len(worktrees) == 2
    gate_worktree = str(pool(repo) / "merge")  # setup is tried there on the bare target before any attempt
    assert sorted(setups) == sorted([*worktrees, gate_worktree]), "setup must run exactly once in each fresh worktree"
    ports = {slot: {port for s, port, _ in used if s == slot} for slot, _, _ in used}
    assert all(len(p) == 1 for p in ports.values()), ports
    assert len({next(iter(p)) for p in ports.values()}) == len(ports) == 2
    assert git(repo, "ls-tree", "--name-only", "main").split().count(".env") == 0  # copied, never committed
    assert (repo / ".env").read_text() == "SECRET=1\n"
