"""Git operations the supervisor needs, all through :func:`supervisor.proc.git`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from supervisor.errors import CommandError, MayorError
from supervisor.proc import git, run


def rev(ref: str, cwd: Path) -> str | None:
    out = run(["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd, check=False)
    return out.stdout.strip() or None


def tree_of(commit: str, cwd: Path) -> str:
    return git("rev-parse", f"{commit}^{{tree}}", cwd=cwd)


def common_dir(cwd: Path) -> Path:
    return Path(git("rev-parse", "--path-format=absolute", "--git-common-dir", cwd=cwd))


def is_ancestor(ancestor: str, descendant: str, cwd: Path) -> bool:
    return run(["git", "merge-base", "--is-ancestor", ancestor, descendant], cwd, check=False).returncode == 0


def commits_between(base: str, head: str, cwd: Path) -> int:
    return int(git("rev-list", "--count", f"{base}..{head}", cwd=cwd))


def files_changed(base: str, head: str, cwd: Path) -> list[str]:
    out = git("diff", "--name-only", f"{base}...{head}", cwd=cwd)
    return [line for line in out.splitlines() if line]


def cas_update(ref: str, new: str, old: str, cwd: Path, message: str) -> bool:
    """Move ``ref`` to ``new`` only if it still points at ``old``."""
    proc = run(["git", "update-ref", "-m", message, ref, new, old], cwd, check=False)
    return proc.returncode == 0


def reflog(ref: str, cwd: Path, limit: int = 100) -> list[str]:
    """The values ``ref`` has had, newest (its current value) first; empty when it keeps no reflog."""
    out = run(["git", "reflog", "show", "--format=%H", f"-n{limit}", ref], cwd, check=False).stdout
    return [line for line in out.splitlines() if line]


def dirty(cwd: Path, untracked: bool = False) -> list[str]:
    """Changed tracked files (and untracked ones, if asked) as ``git status --porcelain`` lines."""
    mode = "--untracked-files=all" if untracked else "--untracked-files=no"
    # never the index lock: another thread (or `mayor cancel`) may be landing in that checkout
    return [line for line in git("--no-optional-locks", "status", "--porcelain", mode, cwd=cwd).splitlines() if line]


@dataclass(frozen=True)
class Checkout:
    path: Path
    head: str | None
    branch: str | None


def worktrees(cwd: Path) -> list[Checkout]:
    """Every worktree of the repository, from ``git worktree list --porcelain``."""
    found: list[Checkout] = []
    path: Path | None = None
    head = branch = None
    for line in [*git("worktree", "list", "--porcelain", cwd=cwd).splitlines(), ""]:
        if line.startswith("worktree "):
            path = Path(line[len("worktree ") :])
        elif line.startswith("HEAD "):
            head = line[5:]
        elif line.startswith("branch "):
            branch = line[len("branch refs/heads/") :]
        elif not line and path is not None:
            found.append(Checkout(path, head, branch))
            path, head, branch = None, None, None
    return found


def checked_out_at(branch: str, cwd: Path) -> Path | None:
    for checkout in worktrees(cwd):
        if checkout.branch == branch:
            return checkout.path
    return None


@dataclass(frozen=True)
class MergeResult:
    tree: str | None
    conflicts: list[str]
    message: str


def merge_tree(base: str, other: str, cwd: Path) -> MergeResult:
    """Merge ``other`` into ``base`` without a worktree (``git merge-tree --write-tree``)."""
    proc = run(
        ["git", "merge-tree", "--write-tree", "--name-only", "--messages", base, other],
        cwd,
        check=False,
    )
    if proc.returncode not in (0, 1):
        raise CommandError(["git", "merge-tree", base, other], proc.returncode, proc.stdout, proc.stderr)
    tree, _, rest = proc.stdout.partition("\n")
    if proc.returncode == 0:
        return MergeResult(tree.strip(), [], "")
    files_part, _, messages = rest.partition("\n\n")
    conflicts = [line for line in files_part.splitlines() if line]
    return MergeResult(None, conflicts, messages.strip())


def commit_tree(tree: str, parents: list[str], message: str, cwd: Path) -> str:
    args = ["commit-tree", tree]
    for parent in parents:
        args += ["-p", parent]
    return git(*args, "-m", message, cwd=cwd)


def ensure_branch_exists(branch: str, cwd: Path) -> str:
    sha = rev(f"refs/heads/{branch}", cwd)
    if sha is None:
        if run(["git", "rev-parse", "--verify", "--quiet", "HEAD"], cwd, check=False).returncode != 0:
            raise MayorError(
                f"this repository has no commit yet, so there is no {branch!r} to land on: make a first commit"
            )
        raise MayorError(f"target branch {branch!r} does not exist; create it or pass --target")
    return sha
