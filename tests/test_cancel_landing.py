"""``mayor cancel`` against a landing in progress: the cancel wins, or it is refused with a message.

Real git, real processes: ``mayor sling`` runs in the background, and the moments of the landing
are held open by files the test creates and removes (a gate that waits, and the user's own
``post-merge`` hook, which runs when the queue fast-forwards the user's checkout: after the
target moved, before the bead's file says ``merged``).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from beads.errors import MayorError
from beads.models import Bead
from beads.store import Store
from supervisor.editing import cancel
from supervisor.run.gates import GatePool
from supervisor.run.groups import GroupRecords
from supervisor.run.journal import Journal, read_journal, still_wanted
from supervisor.run.lock import supervisor_lock
from supervisor.run.merge_queue import MergeQueue
from tests.sling_helpers import (
    RUN_TIMEOUT_S,
    add_bead,
    bead,
    configure,
    git,
    landing_commits,
    mayor,
    script,
    sling,
    start_sling,
    wait_for,
)


def _agent(tmp_path: Path) -> Path:
    return script(tmp_path / "agents" / "work.sh", 'echo "$MAYOR_BEAD_ID" > "$MAYOR_BEAD_ID.txt" && git add -A\n')


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"mayor sling hung:\n{err}") from None
    return proc.returncode, err


def test_a_cancel_while_the_target_moves_is_refused_and_the_bead_lands(repo: Path, tmp_path: Path) -> None:
    hold, inside = tmp_path / "hold", tmp_path / "inside"
    hook = repo / ".git" / "hooks" / "post-merge"
    hook.write_text(f"#!/bin/sh\ntouch '{inside}'\nwhile [ -e '{hold}' ]; do sleep 0.02; done\n")
    hook.chmod(0o755)
    configure(repo, {"w": _agent(tmp_path)}, gate="true")
    add_bead(repo, "b1")
    base = git(repo, "rev-parse", "main")
    hold.touch()

    proc = start_sling(repo)
    try:
        wait_for(lambda: inside.exists() or proc.poll() is not None, "the queue's fast-forward of the checkout")
        assert proc.poll() is None, proc.communicate()
        assert git(repo, "rev-parse", "main") != base  # the target has moved; the bead's file is not written yet
        refused = mayor(repo, "cancel", "b1")
        assert refused.returncode == 1, refused.stderr
        assert "b1 is landing right now" in refused.stderr and "git revert" in refused.stderr
        assert refused.stderr.count("\n") == 1, refused.stderr
        assert bead(repo, "b1").status == "queued"
    finally:
        hold.unlink(missing_ok=True)
    code, err = _finish(proc)

    assert code == 0, err
    assert bead(repo, "b1").status == "merged" and len(landing_commits(repo, "b1")) == 1
    assert not (repo / ".mayor" / "state" / "merge.json").exists()
    assert mayor(repo, "cancel", "b1").returncode == 1  # landed: nothing to cancel


def test_a_cancel_while_the_gate_runs_wins(repo: Path, tmp_path: Path) -> None:
    hold, gating = tmp_path / "hold", tmp_path / "gating"
    gate = f"touch '{gating}'; while [ -e '{hold}' ]; do sleep 0.02; done"
    configure(repo, {"w": _agent(tmp_path)}, gate=gate)
    add_bead(repo, "b1")
    base = git(repo, "rev-parse", "main")
    hold.touch()

    proc = start_sling(repo)
    try:
        wait_for(lambda: gating.exists() or proc.poll() is not None, "the gate on b1's candidate")
        assert proc.poll() is None, proc.communicate()
        cancelled = mayor(repo, "cancel", "b1")
        assert cancelled.returncode == 0 and "cancelled b1" in cancelled.stderr, cancelled.stderr
    finally:
        hold.unlink(missing_ok=True)
    code, err = _finish(proc)

    assert code != 3, err
    assert bead(repo, "b1").status == "cancelled"
    assert git(repo, "rev-parse", "main") == base and landing_commits(repo, "b1") == []
    assert not (repo / ".mayor" / "state" / "merge.json").exists()


def _b1_branch(repo: Path, tmp_path: Path) -> None:
    """``mayor/b1`` with one commit of work on main, as an agent leaves it."""
    work = tmp_path / "b1-work"
    git(repo, "worktree", "add", "-q", "-b", "mayor/b1", str(work), "main")
    (work / "b1.txt").write_text("b1\n")
    git(work, "add", "b1.txt")
    git(work, "commit", "-q", "-m", "b1's work")
    git(repo, "worktree", "remove", str(work))


def _stale_journal(repo: Path, tmp_path: Path, *, landed: bool) -> str:
    """b1 queued with a branch, and the journal of its landing that a killed run left: the
    candidate on main (``landed``) or not; returns the candidate."""
    tip = git(repo, "rev-parse", "main")
    _b1_branch(repo, tmp_path)
    tree = git(repo, "merge-tree", "--write-tree", "main", "mayor/b1")
    candidate = git(repo, "commit-tree", tree, "-p", "main", "-p", "mayor/b1", "-m", "Merge b1\n\nmayor-bead: b1")
    add_bead(repo, "b1", status="queued", attempts=[{"n": 1, "outcome": "passed"}])
    state = repo / ".mayor" / "state"
    state.mkdir(parents=True, exist_ok=True)
    (state / "merge.json").write_text(json.dumps({"beads": ["b1"], "tip": tip, "candidate": candidate}))
    if landed:
        git(repo, "merge", "-q", "--ff-only", candidate)
    return candidate


def test_a_landing_a_killed_run_finished_is_refused_and_the_next_run_records_it(repo: Path, tmp_path: Path) -> None:
    candidate = _stale_journal(repo, tmp_path, landed=True)
    configure(repo, {"w": _agent(tmp_path)})

    refused = mayor(repo, "cancel", "b1")

    assert refused.returncode == 1, refused.stderr
    assert f"b1 has landed on main ({candidate[:12]})" in refused.stderr and "mayor sling" in refused.stderr
    out = sling(repo)
    assert out.returncode == 0, out.stderr
    assert bead(repo, "b1").status == "merged" and landing_commits(repo, "b1") == [candidate]
    assert not (repo / ".mayor" / "state" / "merge.json").exists()


def test_a_landing_a_killed_run_never_made_does_not_stop_a_cancel(repo: Path, tmp_path: Path) -> None:
    _stale_journal(repo, tmp_path, landed=False)
    base = git(repo, "rev-parse", "main")
    configure(repo, {"w": _agent(tmp_path)})

    cancelled = mayor(repo, "cancel", "b1")

    assert cancelled.returncode == 0 and "cancelled b1" in cancelled.stderr, cancelled.stderr
    out = sling(repo)
    assert out.returncode == 0, out.stderr
    assert bead(repo, "b1").status == "cancelled" and git(repo, "rev-parse", "main") == base
    assert not (repo / ".mayor" / "state" / "merge.json").exists()


def test_a_landing_half_written_into_the_checkout_is_refused(repo: Path, tmp_path: Path) -> None:
    _stale_journal(repo, tmp_path, landed=False)
    (repo / "b1.txt").write_text("b1\n")  # the killed `git merge --ff-only` wrote its file, HEAD still the tip

    refused = mayor(repo, "cancel", "b1")

    assert refused.returncode == 1, refused.stderr
    assert "half written" in refused.stderr and "next `mayor sling` finishes it" in refused.stderr
    assert bead(repo, "b1").status == "queued"


def _queue_with_b1(repo: Path, tmp_path: Path) -> tuple[MergeQueue, Bead, str, str]:
    """The merge queue of ``repo`` (no gate) with b1 queued: its tip and b1's candidate built on it."""
    _b1_branch(repo, tmp_path)
    queued = add_bead(repo, "b1", status="queued", attempts=[{"n": 1, "outcome": "passed"}])
    state = repo / ".mayor" / "state"
    state.mkdir(parents=True, exist_ok=True)
    gates = GatePool(repo, "main", None, tmp_path / "pool", 1, GroupRecords(state / "groups"))
    queue = MergeQueue(repo, "main", state, gates)
    tip = git(repo, "rev-parse", "main")
    candidate = queue.build(tip, [queued])
    assert isinstance(candidate, str)
    return queue, queued, tip, candidate


def test_the_queue_asks_whether_a_bead_is_wanted_only_once_the_journal_names_it(repo: Path, tmp_path: Path) -> None:
    queue, b1, tip, candidate = _queue_with_b1(repo, tmp_path)
    seen: list[Journal | None] = []

    def wanted() -> bool:
        seen.append(read_journal(repo / ".mayor"))
        return False  # as if `mayor cancel` had just been written

    with queue.moving([b1], tip, candidate, wanted) as moved:
        assert moved is False

    assert len(seen) == 1 and seen[0] is not None and seen[0].beads == ("b1",) and seen[0].candidate == candidate
    assert git(repo, "rev-parse", "main") == tip and not queue.journal.exists()


def test_a_cancel_is_refused_until_the_landed_bead_is_written(repo: Path, tmp_path: Path) -> None:
    queue, b1, tip, candidate = _queue_with_b1(repo, tmp_path)
    store = Store(repo / ".mayor")

    with queue.moving([b1], tip, candidate, lambda: still_wanted(store, ["b1"])) as moved:
        assert moved is True and git(repo, "rev-parse", "main") == candidate
        # a live run, between the move and the bead's `merged`
        with supervisor_lock(repo / ".mayor"), pytest.raises(MayorError, match="b1 is landing right now"):
            cancel(store, "b1", landing_on=(repo, "main"))

    assert not queue.journal.exists()
    assert cancel(store, "b1", landing_on=(repo, "main")) == "queued"  # no journal: nothing stops it
