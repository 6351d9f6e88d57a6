"""How mayor runs git: never in a way that breaks a landing.

* Looking at the user's checkout never takes its index lock. Slot threads look at it before and
  after each attempt (``checkout_watch.state_of``) while the merge thread may be fast-forwarding it
  (``git merge --ff-only``, which needs ``index.lock``); a plain ``git status`` refreshes the index
  and takes that lock whenever a file's stat data changed, and the landing then fails as "blocked
  by local changes". A tracked file is touched so that a refresh would rewrite the index.
* Ctrl-C never cuts a git command short. The terminal sends SIGINT to mayor's whole process group;
  a git command killed by it failed the merge thread's step (the landing in progress was dropped)
  or an attempt being judged. Real processes: a git command runs in a thread, as in a run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from supervisor import gitops
from supervisor.run.checkout_watch import state_of
from tests.sling_helpers import git, like_a_terminal, wait_for


def test_looking_at_the_checkout_leaves_its_index_alone(git_repo: Path) -> None:
    tracked = next(Path(p) for p in git(git_repo, "ls-files").splitlines())
    index = git_repo / ".git" / "index"
    before = index.stat().st_mtime_ns
    later = before + 5_000_000_000  # stat data a refresh would write back: the file seems changed
    os.utime(git_repo / tracked, ns=(later, later))

    assert state_of(git_repo).changes == frozenset()
    assert gitops.dirty(git_repo) == [] and gitops.dirty(git_repo, untracked=True) == []

    assert index.stat().st_mtime_ns == before
    assert git(git_repo, "status", "--porcelain") == ""  # a plain status rewrites it (the test's own check)
    assert index.stat().st_mtime_ns != before


_GIT_IN_A_THREAD = """
import sys, threading
from supervisor.proc import run

started, finished = sys.argv[1], sys.argv[2]
alias = f"alias.slow=!touch {started}; sleep 1; touch {finished}"
result, done = [], threading.Event()


def work():
    result.append(run(["git", "-c", alias, "slow"], check=False).returncode)
    done.set()


threading.Thread(target=work).start()
try:
    done.wait()
except KeyboardInterrupt:  # as the supervisor's main thread gets it
    print("interrupted")
    done.wait()
print("git exited", result[0])
"""


def test_ctrl_c_does_not_cut_a_git_command_short(git_repo: Path, tmp_path: Path) -> None:
    started, finished = tmp_path / "started", tmp_path / "finished"
    proc = subprocess.Popen(
        [sys.executable, "-c", _GIT_IN_A_THREAD, str(started), str(finished)],
        cwd=git_repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=like_a_terminal,  # Ctrl-C at its default, whatever started this run
    )
    try:
        wait_for(started.exists, "the git command to start")
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does to the whole group
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert out.splitlines() == ["interrupted", "git exited 0"], out + err
    assert finished.exists()
