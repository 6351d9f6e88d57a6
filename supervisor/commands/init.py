"""``mayor init``: make ``.mayor/`` with a commented config in a git repository."""

from __future__ import annotations

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


def run(*, target: str | None = None, cwd: Path | None = None) -> int:
    top = git_toplevel(cwd or Path.cwd())
    mayor = top / MAYOR_DIR
    config = mayor / "config.toml"
    if config.exists():
        say(f"{mayor} is already initialised; left as it was")
        return 0
    (mayor / "beads").mkdir(parents=True, exist_ok=True)
    atomic_write(config, render_default(target or current_branch(top)))
    ignore = mayor / ".gitignore"
    if not ignore.exists():
        atomic_write(ignore, GITIGNORE)
    say(f"initialised {mayor}; add beads with `mayor add TITLE`")
    return 0
