"""A bead's files on disk, as ``mayor logs``, ``mayor diff``, ``mayor show`` and the dashboard read
them: each attempt's logs and feedback, and the bead's diff against the target.

Everything here only reads: the run folders ``.mayor/runs/<id>/<n>/`` (written by the supervisor and
the agent meanwhile) and git (``git diff``, never a checkout).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from beads.errors import MayorError

if TYPE_CHECKING:
    from beads.models import Attempt, Bead
    from supervisor.repo import Repo

LogKind = Literal["agent", "checks", "gate"]
LOG_FILES: dict[LogKind, str] = {"agent": "agent.log", "checks": "checks.log", "gate": "gate.log"}
TAIL_BYTES = 256 * 1024
"""The most a first read of a log returns (its end); later reads go on from where it stopped."""


def attempt_number(bead: Bead, attempt: int | None = None) -> int:
    """``attempt`` checked against the bead's attempts; the last one when None."""
    numbers = [a.n for a in bead.attempts]
    if not numbers:
        raise MayorError(f"{bead.id} has no attempt yet; nothing to show until `mayor sling` starts it")
    if attempt is None:
        return numbers[-1]
    if attempt not in numbers:
        raise MayorError(f"{bead.id} has no attempt {attempt}; its attempts are {', '.join(map(str, numbers))}")
    return attempt


def log_path(repo: Repo, bead: Bead, kind: LogKind = "agent", attempt: int | None = None) -> Path:
    """The file of one log of one attempt (the last by default); it may not exist yet."""
    return repo.run_dir(bead.id, attempt_number(bead, attempt)) / LOG_FILES[kind]


def read_from(path: Path, offset: int = 0, limit: int = TAIL_BYTES) -> tuple[str, int]:
    """The text of ``path`` after byte ``offset`` (at most its last ``limit`` bytes), and the offset
    to read from next. A file that shrank (rewritten) is read again from its start."""
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, 2)
            if offset > size:
                offset = 0
            start = max(offset, size - limit)
            handle.seek(start)
            data = handle.read(size - start)
    except FileNotFoundError:
        return "", 0
    return data.decode("utf-8", errors="replace"), start + len(data)


def _text(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return None


def attempt_record(repo: Repo, bead: Bead, attempt: Attempt) -> dict[str, Any]:
    """One attempt as the bead page shows it: outcome, times, usage, feedback and its logs."""
    folder = repo.run_dir(bead.id, attempt.n)
    logs = {kind: str(folder / name) for kind, name in LOG_FILES.items() if (folder / name).exists()}
    return {
        **attempt.model_dump(mode="json"),
        "folder": str(folder),
        "logs": logs,
        "feedback_in": _text(folder / "feedback.md") or None,
        "feedback_out": _text(folder / "feedback_out.md") or None,
    }


def branch(bead: Bead) -> str:
    return f"mayor/{bead.id}"


def diff(repo: Repo, bead: Bead) -> str:
    """The bead's change against the target: once landed, its merge commit against its first parent;
    before, its branch since the merge base with the target."""
    from supervisor import gitops
    from supervisor.proc import git

    target = repo.config.target
    commit = bead.result.commit if bead.result else None
    if bead.landed and commit and gitops.rev(commit, repo.root) is not None:
        return git("diff", "--stat", "--patch", f"{commit}^1", commit, cwd=repo.root)
    if gitops.rev(f"refs/heads/{branch(bead)}", repo.root) is not None:
        return git("diff", "--stat", "--patch", f"{target}...{branch(bead)}", cwd=repo.root)
    raise MayorError(f"{bead.id} has no branch {branch(bead)} and no merge commit: nothing to compare with {target}")
