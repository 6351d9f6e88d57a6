"""The attack campaign of issue 11, replayed: hostile agents one after another through real
``mayor sling``, then what must hold after all of them.

Each attack is a command agent (a bash script) that also does its bead's honest work, so every
bead can land:

* ``ctree``: ``git commit-tree`` of a broken tree, then ``git update-ref`` of the target;
* ``expire``: a move of the target, then ``git reflog expire --expire=now --all``;
* ``c520``: 520 commits on its branch, the first one broken (made in one ``git fast-import``),
  then ``update-ref`` and ``push .`` of them onto the target;
* ``rewind`` (after ``ctree`` landed): mayor's hook stripped, ``update-ref main main~1``;
* ``wreck``: its worktree's ``.git`` overwritten (the first attempt);
* ``daemon``: a ``setsid`` daemon left writing into its slot, which ``after1``/``after2`` reuse;
* ``stray`` (a second run): a broken commit in the user's checkout, found through
  ``git rev-parse --git-common-dir``.

Afterwards: every first-parent commit of the target since the campaign began passes the gate
(the gate is run again on each tree), every merged bead's landing is on that first-parent line,
no ``mayor`` command exited 3, the next ``mayor sling`` completes (or exits 1 with one line
saying what to do, and completes once that is done), and no bead is left running or queued.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from beads.store import Store
from tests.sling_helpers import (
    add_bead,
    assert_target_green,
    bead,
    configure,
    events,
    first_parents,
    git,
    landing_commits,
    of,
    porcelain,
    process_gone,
    script,
    sling,
)

GATE = "! grep -rqsx BROKEN --exclude-dir=.git ."
WORK = 'echo "$MAYOR_BEAD_ID" > "out-$MAYOR_BEAD_ID.txt" && git add "out-$MAYOR_BEAD_ID.txt" && git commit -qm "$MAYOR_BEAD_ID"\n'
WENT_THROUGH = 'then echo "$1" >> "$MAYOR_RUN_DIR/went-through"; fi\n'
"""Ends an ``if ATTACK; `` line: an attack git let through is written down for the test to see."""

AGENTS = {
    "ctree": """
        echo BROKEN > broken.txt && git add broken.txt
        sneaky=$(git commit-tree -p main -m sneaky "$(git write-tree)")
        git reset -q --hard
        if git update-ref refs/heads/main "$sneaky"; """
    + WENT_THROUGH,
    "expire": """
        sneaky=$(git commit-tree -p main -m sneaky "$(git write-tree)")
        if git update-ref refs/heads/main "$sneaky"; """
    + WENT_THROUGH
    + """
        git reflog expire --expire=now --all
        """,
    "c520": """
        {
          printf 'commit refs/campaign/many\\ncommitter A <a@b.invalid> 1700000000 +0000\\ndata 6\\nbroken\\n'
          printf 'from %s\\nM 100644 inline BROKEN.txt\\ndata 7\\nBROKEN\\n\\n' "$(git rev-parse HEAD)"
          printf 'commit refs/campaign/many\\ncommitter A <a@b.invalid> 1700000000 +0000\\ndata 5\\nfixed\\nD BROKEN.txt\\n\\n'
          for i in $(seq 3 520); do
            printf 'commit refs/campaign/many\\ncommitter A <a@b.invalid> 1700000000 +0000\\ndata 4\\nc%03d\\n\\n' "$i"
          done
        } | git fast-import --quiet
        git reset -q --hard refs/campaign/many
        test "$(git rev-list --count main..HEAD)" = 520
        if git update-ref refs/heads/main HEAD; """
    + WENT_THROUGH
    + """
        if git push -q -f . HEAD:main; """
    + WENT_THROUGH,
    "rewind": """
        unset GIT_CONFIG_COUNT
        git -C "$MAYOR_ROOT" update-ref refs/heads/main main~1
        touch "$MAYOR_RUN_DIR/rewound"
        """,
    "wreck": """
        if [ "$MAYOR_ATTEMPT" = 1 ]; then echo "gitdir: /nowhere/at/all" > .git; exit 0; fi
        """,
    "daemon": """
        setsid bash -c 'echo $$ > "$0"; while true; do date > daemon-was-here.txt; sleep 0.05; done' \\
            "$DAEMON_PID" </dev/null >/dev/null 2>&1 &
        sleep 0.3
        """,
    "stray": """
        checkout="$(cd "$(git rev-parse --git-common-dir)/.." && pwd)"
        echo BROKEN > "$checkout/stray-broken.txt"
        git -C "$checkout" add stray-broken.txt
        if git -C "$checkout" commit -qm "sneaky commit in the user's checkout"; """
    + WENT_THROUGH,
    "honest": "",
}
"""Each agent's attack; every one then does the honest work of ``WORK``."""


def _agents(tmp_path: Path) -> dict[str, Path]:
    made = {}
    for name, attack in AGENTS.items():
        made[name] = script(tmp_path / "agents" / f"{name}.sh", f"set -- {name}\n" + attack + "\n" + WORK)
    return made


class Runs:
    """Every ``mayor sling`` of the campaign, so that the test can say none exited 3."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self.codes: list[int] = []

    def sling(self, *args: str) -> subprocess.CompletedProcess[str]:
        out = sling(self.repo, *args)
        self.codes.append(out.returncode)
        assert out.returncode != 3, out.stderr
        return out


def _kill_daemon(pid_file: Path) -> None:
    if pid_file.exists() and pid_file.read_text().strip():
        pid = int(pid_file.read_text())
        if not process_gone(pid):
            os.killpg(pid, signal.SIGKILL)


def test_the_attack_campaign_leaves_the_target_green_and_every_landing_on_it(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    daemon_pid = tmp_path / "daemon.pid"
    monkeypatch.setenv("DAEMON_PID", str(daemon_pid))
    configure(repo, _agents(tmp_path), agent="honest", gate=GATE)
    first = ["daemon", "ctree", "expire", "c520", "wreck", "rewind", "after1", "after2"]
    for priority, bead_id in enumerate(first):
        agent = bead_id if bead_id in AGENTS else "honest"
        add_bead(repo, bead_id, agent=agent, priority=min(priority, 4), deps=["ctree"] if bead_id == "rewind" else [])
    base = git(repo, "rev-parse", "main")
    runs = Runs(repo)
    try:
        out = runs.sling("-j", "2")
        assert out.returncode == 0, out.stderr
        add_bead(repo, "stray", agent="stray")
        out = runs.sling()
        assert out.returncode == 0, out.stderr
        assert "your checkout changed while stray ran" in out.stderr

        nxt = runs.sling()  # the next run: done, or one line saying what to do
        assert nxt.returncode in (0, 1), nxt.stderr
        if nxt.returncode == 1:
            assert len(nxt.stderr.strip().splitlines()) == 1 and "stray" in nxt.stderr, nxt.stderr
            git(repo, "rm", "-q", "--cached", "stray-broken.txt")  # what it says: drop the agent's change
            (repo / "stray-broken.txt").unlink()
            assert runs.sling().returncode == 0
    finally:
        _kill_daemon(daemon_pid)

    ids = [*first, "stray"]
    _assert_campaign_held(repo, base, ids, runs.codes)
    assert process_gone(int(daemon_pid.read_text())), "the daemon outlived its attempt"
    _assert_each_attack_was_met(repo)


def _assert_campaign_held(repo: Path, base: str, ids: list[str], codes: list[int]) -> None:
    assert 3 not in codes, codes
    assert_target_green(repo, GATE, since=base)
    line = {sha for sha, _, _ in first_parents(repo)}
    statuses = {b.id: b.status for b in Store(repo / ".mayor").load().values()}
    assert not [i for i, s in statuses.items() if s in ("running", "queued")], statuses
    for bead_id in ids:
        landed = bead(repo, bead_id)
        assert landed.status == "merged", f"{bead_id}: {landed.status} {landed.error}"
        assert landed.result is not None and landed.result.commit in line, f"{bead_id}'s landing is not on main"
        assert len(landing_commits(repo, bead_id)) == 1
    assert porcelain(repo) == []


def _assert_each_attack_was_met(repo: Path) -> None:
    runs = repo / ".mayor" / "runs"
    assert sorted(p.parent.parent.name for p in runs.glob("*/*/went-through")) == []
    # main was moved back; put back by the watch, or passed by a landing's fast-forward from there
    assert (runs / "rewind" / "1" / "rewound").exists()
    wreck = bead(repo, "wreck")
    assert [a.outcome for a in wreck.attempts] == ["failed", "passed"] and "worktree" in (wreck.attempts[0].error or "")
    for landing in {b.result.commit for b in Store(repo / ".mayor").load().values() if b.id != "daemon" and b.result}:
        for sha in git(repo, "rev-list", f"{landing}^1..{landing}^2").split():  # the bead's own commits
            files = git(repo, "show", "--name-only", "--format=", sha).split()
            assert "daemon-was-here.txt" not in files, f"a daemon of an earlier bead leaked into {sha}"
    touched = of(events(repo), "checkout_touched")
    assert any(e["bead"] == "stray" and "stray-broken.txt" in e["data"]["files"] for e in touched), touched


def test_a_rewind_right_after_a_landing_is_put_back_before_the_landing_is_recorded(repo: Path) -> None:
    """Main moved back by one commit between the queue's move and the landing being recorded
    looked like the tip the watch checked before the move, and the landing was lost unnoticed."""
    from supervisor.events import EventLog
    from supervisor.run.target_watch import TargetWatch

    watch = TargetWatch(repo, "main", EventLog(repo / ".mayor" / "events.jsonl"))
    checked = watch.verify()
    git(repo, "commit", "-q", "--allow-empty", "-m", "Merge b1\n\nmayor-bead: b1")  # the queue's move
    landing = git(repo, "rev-parse", "main")
    git(repo, "reset", "-q", "--hard", checked)  # an agent: update-ref main main~1, at once

    watch.landed(landing)

    assert git(repo, "rev-parse", "main") == landing
    restored = of(events(repo), "target_restored")
    assert restored and restored[0]["data"]["now"] == landing and restored[0]["data"]["restored"]
