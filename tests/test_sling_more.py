"""More ``mayor sling`` end to end: the rebase strategy, ``mayor cancel`` of a running agent, and
``mayor events --follow``.

Real git, real processes (the installed ``mayor`` console script, bash agents); durations only
as safety limits, never asserted on.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
from pathlib import Path

from tests.sling_helpers import (
    MAYOR,
    RUN_TIMEOUT_S,
    add_bead,
    assert_target_green,
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
    top_level,
    wait_for,
)

# Each bead writes its own file (so two beads never touch the same path) and commits it.
OWN_FILE = """
mkdir -p work
echo "$MAYOR_BEAD_ID" > "work/$MAYOR_BEAD_ID.txt"
git add work
git commit -q -m "work on $MAYOR_BEAD_ID"
"""
GATE = '! grep -rqsx BROKEN --exclude-dir=.git . && for f in work/*.txt; do [ -e "$f" ] || continue; test -s "$f"; done'


def test_rebase_strategy_lands_linear_history_through_the_gate(repo: Path, tmp_path: Path) -> None:
    configure(repo, {"worker": script(tmp_path / "agents" / "own.sh", OWN_FILE)}, gate=GATE)
    top_level(repo, 'merge = "rebase"')
    add_bead(repo, "a")
    add_bead(repo, "b")
    base = git(repo, "rev-parse", "main")

    proc = sling(repo, "-j", "2")

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert {i: bead(repo, i).status for i in ("a", "b")} == {
        "a": "merged",
        "b": "merged",
    }
    log = events(repo)
    assert len(of(log, "merged", "a")) == 1 and len(of(log, "merged", "b")) == 1
    # Linear: no commit since base has more than one parent, and the first-parent chain is all of it.
    commits = first_parents(repo, since=base)
    assert commits[0][0] == base
    assert all(len(parents) == 1 for _, parents, _ in commits[1:]), commits
    everything = git(repo, "rev-list", f"{base}..main").split()
    assert set(everything) == {sha for sha, _, _ in commits[1:]}
    assert not git(repo, "rev-list", "--merges", f"{base}..main")
    # Both beads' work is on main, each bead's branch head is in main's history.
    assert git(repo, "show", "main:work/a.txt") == "a"
    assert git(repo, "show", "main:work/b.txt") == "b"
    for bead_id in ("a", "b"):
        head = git(repo, "rev-parse", f"refs/heads/mayor/{bead_id}")
        subprocess.run(["git", "merge-base", "--is-ancestor", head, "main"], cwd=repo, check=True)
    assert_target_green(repo, GATE, since=base)


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # pragma: no cover - a reused id owned by someone else
        return True
    return False


def test_cancel_kills_a_running_agent_and_lands_nothing(repo: Path, tmp_path: Path) -> None:
    slow = script(
        tmp_path / "agents" / "slow.sh",
        """
        mkdir -p work
        echo "$MAYOR_BEAD_ID" > "work/$MAYOR_BEAD_ID.txt"
        git add work
        git commit -q -m "partial work on $MAYOR_BEAD_ID"
        for i in $(seq 1 200); do sleep 0.1; done
    """,
    )
    configure(repo, {"slow": slow})
    add_bead(repo, "c")
    base = git(repo, "rev-parse", "main")

    proc = start_sling(repo)
    try:
        wait_for(lambda: of(events(repo), "agent_started", "c"), "the agent to start")
        pid = of(events(repo), "agent_started", "c")[0]["data"]["pid"]
        pgid = os.getpgid(pid)
        cancelled = mayor(repo, "cancel", "c")
        assert cancelled.returncode == 0, cancelled.stdout + cancelled.stderr

        wait_for(lambda: _group_gone(pgid), "the agent's process group to be gone")
        out, err = proc.communicate(timeout=RUN_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()

    assert proc.returncode is not None
    assert bead(repo, "c").status == "cancelled"
    assert len(of(events(repo), "cancelled", "c")) == 1
    assert not of(events(repo), "merged", "c")
    assert git(repo, "rev-parse", "main") == base
    ls = subprocess.run(
        ["git", "cat-file", "-e", "main:work/c.txt"],
        cwd=repo,
        capture_output=True,
        check=False,
    )
    assert ls.returncode != 0, (out, err)


def test_events_follow_json_prints_old_then_new_events(repo: Path) -> None:
    first = mayor(repo, "emit", "step_done", "--data", '{"step": 1}')
    assert first.returncode == 0, first.stderr
    follower = subprocess.Popen(
        [str(MAYOR), "events", "--follow", "--json"],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in follower.stdout], daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        old = json.loads(lines.get(timeout=30))
        assert (old["type"], old["data"]) == ("step_done", {"step": 1})
        second = mayor(repo, "emit", "step_done", "--data", '{"step": 2}')
        assert second.returncode == 0, second.stderr
        new = json.loads(lines.get(timeout=30))
        assert (new["type"], new["data"]) == ("step_done", {"step": 2})
        assert new["seq"] > old["seq"]
        assert follower.poll() is None  # it keeps following
    finally:
        follower.terminate()
        try:
            follower.wait(timeout=10)
        except subprocess.TimeoutExpired:
            follower.kill()
            follower.wait()
