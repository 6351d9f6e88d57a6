"""Judging an attempt on evidence: commits, leftovers, acceptance checks, result.json."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from beads.models import Bead
from supervisor import gitops
from supervisor.proc import git, run, run_group
from supervisor.run.workenv import worktree_env
from supervisor.run.worktrees import branch_name

CHECK_TIMEOUT_S = 600.0


def commit_leftovers(path: Path, bead: Bead, attempt: int) -> bool:
    """Commit whatever the agent left uncommitted (ignored files excepted). True if it did."""
    if not gitops.dirty(path, untracked=True):
        return False
    git("add", "-A", cwd=path)
    message = f"mayor: leftover changes of {bead.id} (attempt {attempt})\n\nmayor-bead: {bead.id}\n"
    git("commit", "-q", "--no-verify", "-m", message, cwd=path)
    return True


def back_on_branch(path: Path, bead_id: str) -> str | None:
    """If the agent left its branch, carry its work back onto ``mayor/<id>``; say what happened.

    No commit is lost: when the branch already holds commits that HEAD lacks, HEAD's work is
    merged into the branch (a conflict leaves it under ``refs/mayor/stray/<id>`` and says so).
    """
    branch = branch_name(bead_id)
    current = run(["git", "symbolic-ref", "-q", "--short", "HEAD"], path, check=False).stdout.strip()
    if current == branch:
        return None
    head = git("rev-parse", "HEAD", cwd=path)
    where = f"the agent left {branch} (HEAD was {current or 'detached'})"
    tip = gitops.rev(f"refs/heads/{branch}", path)
    if tip is None or gitops.is_ancestor(tip, head, path):
        git("checkout", "-q", "-B", branch, cwd=path)
        return f"{where}; its work was moved back onto {branch}"
    commit_leftovers_as(path, f"mayor: work left off {branch}")
    head = git("rev-parse", "HEAD", cwd=path)
    git("checkout", "-q", "-f", branch, cwd=path)
    if run(["git", "merge", "-q", "--no-edit", head], path, check=False).returncode == 0:
        return f"{where}; its work there was merged back into {branch}"
    run(["git", "merge", "--abort"], path, check=False)
    git("update-ref", f"refs/mayor/stray/{bead_id}", head, cwd=path)
    return f"{where}; its work there conflicts with {branch} and is kept at refs/mayor/stray/{bead_id}"


def commit_leftovers_as(path: Path, message: str) -> None:
    if gitops.dirty(path, untracked=True):
        git("add", "-A", cwd=path)
        git("commit", "-q", "--no-verify", "-m", message, cwd=path)


def conflict_markers(path: Path, target: str) -> list[str]:
    """Files whose changes against ``target`` add conflict markers (an unresolved merge)."""
    diff = run(["git", "diff", "-U0", f"{target}...HEAD"], path, check=False).stdout
    found: list[str] = []
    current = ""
    for line in diff.splitlines():
        if line.startswith("+++ b/"):
            current = line[6:]
        elif line.startswith(("+<<<<<<< ", "+>>>>>>> ")) and current not in found:
            found.append(current)
    return found


@dataclass
class CheckResult:
    text: str
    command: str
    code: int
    output: str

    @property
    def passed(self) -> bool:
        return self.code == 0


def run_checks(bead: Bead, path: Path, env: dict[str, str], log: Path) -> list[CheckResult]:
    results = []
    for criterion in bead.acceptance:
        if not criterion.check:
            continue
        with tempfile.TemporaryFile() as out:
            code = run_group(criterion.check, path, env, CHECK_TIMEOUT_S, out, base=worktree_env(path))
            out.seek(0)
            output = out.read().decode(errors="replace")
        if code is None:
            code, output = 124, output + f"\nmayor: the check timed out after {CHECK_TIMEOUT_S:.0f}s"
        results.append(CheckResult(criterion.text, criterion.check, code, output))
    with open(log, "w", encoding="utf-8") as out:
        for r in results:
            out.write(f"$ {r.command}\n# {r.text}: exit {r.code}\n{r.output}\n")
    return results


def tail(path: Path, chars: int = 3000) -> str:
    """The last ``chars`` characters of a log, reading only its last bytes (an agent may print gigabytes)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 4 * chars))  # a character is at most 4 bytes in UTF-8
            data = handle.read(4 * chars)
    except OSError:
        return ""
    return data.decode("utf-8", errors="replace")[-chars:]


def fingerprint(path: Path) -> object:
    """What the worktree looks like now: a change means the agent is active (not idle)."""
    # --no-optional-locks: never take the index lock under a working agent's feet
    status = run(["git", "--no-optional-locks", "status", "--porcelain", "-uall"], path, check=False).stdout
    head = run(["git", "rev-parse", "HEAD"], path, check=False).stdout
    return hash((status, head, _stamps(path, status)))


def _stamps(path: Path, status: str) -> tuple[tuple[str, int, int], ...]:
    """Size and mtime of each changed file: rewriting the same file again and again is activity."""
    stamps = []
    for line in status.splitlines():
        name = line[3:].split(" -> ")[-1]
        try:
            info = (path / name).stat()
        except OSError:
            continue
        stamps.append((name, info.st_mtime_ns, info.st_size))
    return tuple(stamps)
