"""``mayor gc``: remove the worktrees and branches that no bead needs any more (:mod:`supervisor.cleanup`)."""

from __future__ import annotations

from supervisor.cleanup import collect, human
from supervisor.output import say
from supervisor.repo import open_repo
from supervisor.run.lock import describe, holder


def run(*, keep_pool: bool = False) -> int:
    repo = open_repo()
    running = holder(repo.mayor_dir)
    if running is not None:
        say(f"a supervisor is running ({describe(running)}); gc leaves the worktrees alone while it does")
        keep_pool = True
    done = collect(repo, keep_pool)
    pool = "" if keep_pool else " and the worktree pool"
    say(f"removed {len(done.branches)} branch(es){pool}; freed {human(done.freed)}")
    return 0
