"""Looking at the user's checkout never takes its index lock.

Slot threads look at the checkout before and after each attempt (``checkout_watch.state_of``)
while the merge thread may be fast-forwarding it (``git merge --ff-only``, which needs
``index.lock``); a plain ``git status`` refreshes the index and takes that lock whenever a file's
stat data changed, and the landing then fails as "blocked by local changes". Real git: a tracked
file is touched so that a refresh would rewrite the index, and the index must stay as it was.
"""

from __future__ import annotations

import os
from pathlib import Path

from supervisor import gitops
from supervisor.run.checkout_watch import state_of
from tests.sling_helpers import git


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
