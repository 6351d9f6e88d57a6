"""``mayor gc``: remove the worktrees and branches that no bead needs any more."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from beads.models import ACTIVE
from supervisor import gitops, proc
from supervisor.output import say
from supervisor.proc import git
from supervisor.repo import open_repo
from supervisor.run.lock import describe, holder
from supervisor.run.worktrees import legacy_pool, pool_dir


def _size(path: Path) -> int:
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(folder, name)).st_size
    return total


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{size} B"
        value /= 1024
    return f"{size} B"


def run(*, keep_pool: bool = False) -> int:
    repo = open_repo()
    running = holder(repo.mayor_dir)
    if running is not None:
        say(f"a supervisor is running ({describe(running)}); gc leaves the worktrees alone while it does")
        keep_pool = True
    beads = repo.store.load()
    freed = 0
    if not keep_pool:
        base = pool_dir(repo.root, repo.config.worktrees)
        found = sorted(p for p in [*base.glob("slot-*"), base / "merge"] if p.is_dir()) if base.is_dir() else []
        for path in [*found, *legacy_pool(repo.root)]:
            freed += _size(path)
            proc.run(["git", "worktree", "remove", "--force", str(path)], repo.root, check=False)
            shutil.rmtree(path, ignore_errors=True)
        git("worktree", "prune", cwd=repo.root)
        with contextlib.suppress(OSError):
            base.rmdir()
    removed = []
    for line in git("for-each-ref", "--format=%(refname:short)", "refs/heads/mayor/", cwd=repo.root).splitlines():
        bead = beads.get(line.removeprefix("mayor/"))
        needed = bead is not None and (bead.status in ACTIVE or bead.status in ("open", "failed"))
        if not needed and gitops.checked_out_at(line, repo.root) is None:
            git("branch", "-q", "-D", line, cwd=repo.root)
            removed.append(line)
    say(f"removed {len(removed)} branch(es){'' if keep_pool else ' and the worktree pool'}; freed {_human(freed)}")
    return 0
