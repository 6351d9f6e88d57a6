"""``mayor init``: make ``.mayor/`` with a commented config in a git repository.

In a Python project the config's ``setup`` gives each worktree its own ``.venv``
(:func:`supervisor.run.workenv.default_setup`). A repository with no commit yet gets its
``.mayor/`` too, and the advice to make a first commit: nothing can land on a branch with none.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from beads.store import atomic_write
from supervisor.config import GITIGNORE, render_default
from supervisor.errors import CommandError, MayorError
from supervisor.output import say
from supervisor.proc import git
from supervisor.repo import MAYOR_DIR


def git_toplevel(cwd: Path) -> Path:
    try:
        return Path(git("rev-parse", "--show-toplevel", cwd=cwd))
    except CommandError:
        raise MayorError(f"{cwd} is not inside a git repository; run `git init` first") from None


def current_branch(cwd: Path) -> str:
    name = git("symbolic-ref", "--quiet", "--short", "HEAD", cwd=cwd, check=False)
    return name or "main"


def has_commit(cwd: Path) -> bool:
    return bool(git("rev-parse", "--verify", "--quiet", "HEAD", cwd=cwd, check=False))


def run(*, target: str | None = None, cwd: Path | None = None) -> int:
    from supervisor.run.workenv import default_setup

    top = git_toplevel(cwd or Path.cwd())
    mayor = top / MAYOR_DIR
    config = mayor / "config.toml"
    if config.exists():
        say(f"{mayor} is already initialised; left as it was")
    else:
        (mayor / "beads").mkdir(parents=True, exist_ok=True)
        setup = default_setup(top, shutil.which("uv") is not None)
        atomic_write(config, render_default(target or current_branch(top), setup))
        ignore = mayor / ".gitignore"
        if not ignore.exists():
            atomic_write(ignore, GITIGNORE)
        say(f"initialised {mayor}; add beads with `mayor add TITLE`")
        if setup:
            say(f"each worktree gets its own .venv: setup = {setup!r} (see {config})")
    if not has_commit(top):
        say(
            "this repository has no commit yet: make a first commit (git add -A && git commit -m 'first commit') "
            "before `mayor sling`; the merge queue lands work on top of the target branch"
        )
    return 0
