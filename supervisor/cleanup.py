"""What ``mayor gc`` removes: the worktree pool, the ``mayor/<id>`` branches no bead needs, and the
branch ``mayor review`` reads (``mayor-review/head``) once no review is in play.

A bead needs its branch while it is in play, open (a retry keeps its commits) or failed (to be
looked at, then reopened). A branch checked out somewhere is never removed. The pool is left alone
when asked to (``keep_pool``); the caller keeps it while a supervisor runs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from beads.models import ACTIVE, Bead
from supervisor import gitops
from supervisor.proc import git, run
from supervisor.run.worktrees import legacy_pool, pool_dir
from supervisor.views.review import REVIEW_BRANCH

if TYPE_CHECKING:
    from supervisor.repo import Repo


@dataclass
class Collected:
    """What :func:`collect` removed."""

    branches: list[str] = field(default_factory=list)
    freed: int = 0
    """Bytes of the worktrees removed."""


def collect(repo: Repo, keep_pool: bool) -> Collected:
    """Remove the worktree pool (unless ``keep_pool``) and the branches no bead needs."""
    beads = repo.store.load()
    done = Collected()
    if not keep_pool:
        done.freed = _remove_pool(repo)
    for line in git("for-each-ref", "--format=%(refname:short)", "refs/heads/mayor/", cwd=repo.root).splitlines():
        bead = beads.get(line.removeprefix("mayor/"))
        needed = bead is not None and (bead.status in ACTIVE or bead.status in ("open", "failed"))
        if not needed and gitops.checked_out_at(line, repo.root) is None:
            git("branch", "-q", "-D", line, cwd=repo.root)
            done.branches.append(line)
    if _review_branch_unneeded(repo, beads.values()):
        git("branch", "-q", "-D", REVIEW_BRANCH, cwd=repo.root)
        done.branches.append(REVIEW_BRANCH)
    return done


def _review_branch_unneeded(repo: Repo, beads: Iterable[Bead]) -> bool:
    """``mayor-review/head`` exists, is checked out nowhere, and no review bead is in play."""
    if gitops.rev(f"refs/heads/{REVIEW_BRANCH}", repo.root) is None:
        return False
    if gitops.checked_out_at(REVIEW_BRANCH, repo.root) is not None:
        return False
    return not any(b.report_only and b.status in ACTIVE for b in beads)


def _remove_pool(repo: Repo) -> int:
    """Remove the slot worktrees and the merge worktree (and a pool an older version kept under
    ``.git/mayor``); the bytes they held."""
    root = repo.root
    base = pool_dir(root, repo.config.worktrees)
    found = sorted(p for p in [*base.glob("slot-*"), base / "merge"] if p.is_dir()) if base.is_dir() else []
    freed = 0
    for path in [*found, *legacy_pool(root)]:
        freed += size(path)
        run(["git", "worktree", "remove", "--force", str(path)], root, check=False)
        shutil.rmtree(path, ignore_errors=True)
    git("worktree", "prune", cwd=root)
    with contextlib.suppress(OSError):
        base.rmdir()
    return freed


def size(path: Path) -> int:
    """Bytes of the files under ``path`` (links not followed)."""
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(folder, name)).st_size
    return total


def human(size: int) -> str:
    """``512 B``, ``1.5 KiB``, ``3.0 MiB``, ``2.1 GiB``."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{size} B"
        value /= 1024
    return f"{size} B"
