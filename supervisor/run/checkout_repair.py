"""Finishing mayor's own half-done update of the user's checkout, before anything else runs.

When the target is checked out, a landing moves it with ``git merge --ff-only`` there. A
supervisor killed in the middle of that (a closed terminal, a cancelled CI job) can leave the
checkout with some of the landing's files written while ``HEAD`` is still the old tip, and git's
lock files behind. Every later run would then refuse to start ("uncommitted changes"). The merge
journal (``state/merge.json``: bead, tip, candidate, written after the gate passed) says what
was under way, so :func:`finish_fast_forward` can tell mayor's half-written files from the
user's: it finishes the move only if every changed path holds the old tip's or the candidate's
content, and otherwise touches nothing (the user's changes win; the dirty check then says so).
"""

from __future__ import annotations

import json
from pathlib import Path

from supervisor import gitops
from supervisor.proc import git, run

LOCKS = ("index.lock", "HEAD.lock", "ORIG_HEAD.lock")


def _journal(path: Path) -> tuple[str, str] | None:
    try:
        record = json.loads(path.read_text())
        return str(record["tip"]), str(record["candidate"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _blob(commit: str, path: str, cwd: Path) -> str | None:
    return run(["git", "rev-parse", "--verify", "--quiet", f"{commit}:{path}"], cwd, check=False).stdout.strip() or None


def _on_disk(path: Path, cwd: Path) -> str | None:
    if not path.is_file() or path.is_symlink():
        return None
    return git("hash-object", "--", str(path), cwd=cwd)


def _only_landing_files(checkout: Path, tip: str, candidate: str) -> bool:
    """Every dirty path of the checkout is one the landing changes, holding the tip's or the
    candidate's content (or absent where one of them has no such file)."""
    changed = set(git("diff", "--name-only", "--no-renames", tip, candidate, cwd=checkout).splitlines())
    status = git("status", "--porcelain", "--untracked-files=all", "--no-renames", cwd=checkout).splitlines()
    for line in status:
        name = line[3:]
        if name not in changed:
            return False
        now = _on_disk(checkout / name, checkout)
        if now not in (_blob(tip, name, checkout), _blob(candidate, name, checkout)):
            return False
    return True


def finish_fast_forward(root: Path, target: str, journal: Path) -> list[str]:
    """Finish (or leave alone) a fast-forward of the user's checkout that a killed supervisor
    started; remove the git locks it left. What was done, a line each."""
    record = _journal(journal) if journal.exists() else None
    checkout = gitops.checked_out_at(target, root)
    if record is None or checkout is None:
        return []
    tip, candidate = record
    done = []
    gitdir = Path(git("rev-parse", "--absolute-git-dir", cwd=checkout))
    for name in LOCKS:
        if (gitdir / name).exists():
            (gitdir / name).unlink(missing_ok=True)
            done.append(f"removed {gitdir / name}, left by a killed `git merge` of mayor's landing")
    if gitops.rev("HEAD", checkout) != tip or not gitops.dirty(checkout, untracked=True):
        return done
    if not _only_landing_files(checkout, tip, candidate):
        return done
    git("read-tree", "-u", "--reset", candidate, cwd=checkout)  # index and files at the candidate, HEAD at the tip
    if gitops.cas_update(f"refs/heads/{target}", candidate, tip, root, "mayor: finish a landing cut short"):
        done.append(f"finished the fast-forward of {checkout} to {candidate[:12]} that a killed run had started")
    return done
