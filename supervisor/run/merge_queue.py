"""The merge queue's moves: candidates built on the target, the one compare-and-swap that moves it.

A candidate is built without a worktree: a ``--no-ff`` merge commit made with ``git merge-tree
--write-tree`` for one bead, or for a batch one merge commit whose parents are the tip and every
bead's branch (so ``git log --first-parent`` shows one commit per landing, and each of them is a
tree the gate passed). With ``merge = "rebase"`` a bead's branch is rebased instead, in a build
worktree of its own. Candidates may be built on other candidates (speculation, see
:mod:`supervisor.run.pipeline`); the target only ever moves from its tip to a candidate built on
that tip, by compare-and-swap. Before the move a journal (``.mayor/state/merge.json``) names the
beads and the candidate, and stays until their bead files say ``merged``, so that a supervisor
killed at any moment can tell a finished landing from one to roll back. Every candidate about to
be moved onto the target is also appended to ``.mayor/state/landed``, so that a restarted
supervisor still knows the commits the queue put there from commits made by others.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from beads.models import Bead, id_problem
from beads.setaside import BadStateFile, read_json
from beads.store import atomic_write
from supervisor import gitops
from supervisor.errors import MayorError
from supervisor.events import set_aside
from supervisor.proc import git, run
from supervisor.run.gates import GateCannotRun, GatePool
from supervisor.run.worktrees import ADMIN_LOCK, branch_name

__all__ = ["BranchGone", "Conflict", "GateCannotRun", "MergeQueue", "read_landed"]

_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def journal_beads(record: object) -> list[str] | None:
    """The beads a landing journal names (``beads``, or the older ``bead``); None if it is not one."""
    if not isinstance(record, dict):
        return None
    beads = record.get("beads", [record.get("bead")])
    if not isinstance(beads, list) or not beads or not all(isinstance(b, str) and id_problem(b) is None for b in beads):
        return None
    if not isinstance(record.get("candidate"), str) or _COMMIT.fullmatch(record["candidate"]) is None:
        return None
    return beads


def read_landed(path: Path) -> set[str]:
    """The commits of ``state/landed``. A file with anything but commit ids in it is set aside and
    rewritten with the commit ids it held (the queue only appends full ids, one a line)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return set()
    except OSError as exc:
        set_aside(path, f"cannot be read ({exc.strerror or exc})", path.parent.parent / "events.jsonl")
        return set()
    words = data.split()
    landed = {w.decode() for w in words if _COMMIT.fullmatch(w.decode("latin-1"))}
    if len(landed) < len(set(words)) or (data and not data.endswith(b"\n")):
        set_aside(path, "holds more than commit ids", path.parent.parent / "events.jsonl")
        atomic_write(path, "".join(f"{commit}\n" for commit in sorted(landed)))
    return landed


class BranchGone(MayorError):
    """A queued bead whose branch no longer exists: that bead fails, the run goes on."""


@dataclass
class Conflict:
    """A bead whose branch does not merge onto the base it was built on."""

    bead: str
    files: list[str] = field(default_factory=list)
    detail: str = ""


class MergeQueue:
    """The target's one mover (the merge thread's): builds candidates, moves the target."""

    def __init__(self, root: Path, target: str, state_dir: Path, gates: GatePool, *, strategy: str = "merge") -> None:
        self.root, self.target, self.gates, self.strategy = root, target, gates, strategy
        self.journal = state_dir / "merge.json"
        self.landed_log = state_dir / "landed"
        self.landed: set[str] = read_landed(self.landed_log)
        """Commits this queue put on the target, in this run or an earlier one (to tell them from
        commits made by others)."""
        self._heads: dict[tuple[str, int], str] = {}
        self.batches: set[str] = set()
        """Batch commits built in this run (their files are read per bead from its branch)."""
        self.checkout_lock = threading.Lock()
        """Held while the user's checkout is fast-forwarded, and by whoever compares its state
        (an attempt's checkout watch), so that a landing half-written is never taken for a change."""
        self.build_path = gates.base / "merge-build"
        """Where ``merge = "rebase"`` rebases a branch (never a gate's worktree: gates run meanwhile)."""

    def ensure_worktree(self, commit: str) -> Path:
        """The first gate worktree, made (with ``setup``) if it is not there yet."""
        return self.gates.ensure_worktree(0, commit)

    # -- recovery -------------------------------------------------------------------------
    def recover(self) -> tuple[list[str], str] | None:
        """Finish reading a journal left by a killed supervisor.

        Returns ``(bead_ids, commit)`` when that landing completed (the target holds the candidate;
        the caller removes the journal once the beads say ``merged``); otherwise the landing is
        rolled back (nothing on the target changed) and None is returned.
        """
        try:
            record = read_json(self.journal)
        except FileNotFoundError:
            return None
        except BadStateFile as exc:
            set_aside(self.journal, str(exc), self.journal.parent.parent / "events.jsonl")
            return None
        beads = journal_beads(record)
        if beads is None:
            set_aside(self.journal, "is not a landing journal", self.journal.parent.parent / "events.jsonl")
            return None
        assert isinstance(record, dict)
        tip = gitops.rev(f"refs/heads/{self.target}", self.root)
        if tip and gitops.is_ancestor(record["candidate"], tip, self.root):
            return beads, record["candidate"]  # the journal stays until the caller wrote them merged
        self.journal.unlink()
        return None

    # -- candidates -----------------------------------------------------------------------
    def head(self, bead: Bead) -> str:
        """The head of the bead's branch, read once per attempt (a queued bead's branch stands still)."""
        key = (bead.id, bead.attempts[-1].n if bead.attempts else 0)
        if key in self._heads:
            return self._heads[key]
        head = gitops.rev(f"refs/heads/{branch_name(bead.id)}", self.root)
        if head is None:
            raise BranchGone(
                f"branch {branch_name(bead.id)} of {bead.id} is gone (deleted, or not in this clone); "
                f"`mayor reopen {bead.id}` to redo it"
            )
        self._heads[key] = head
        return head

    def landing_commit(self, bead_id: str) -> str | None:
        """The first-parent commit on the target that landed ``bead_id``, if one did."""
        out = git(
            "log", "--first-parent", "-n1", "--format=%H", f"--grep=^mayor-bead: {bead_id}$", self.target, cwd=self.root
        )
        return out or None

    def build(self, base: str, beads: list[Bead]) -> str | Conflict:
        """The candidate that lands ``beads`` (in this order) on ``base``."""
        if self.strategy == "rebase":
            assert len(beads) == 1, "a rebased candidate holds one bead"
            return self._rebase_candidate(base, beads[0])
        current, heads = base, []
        for bead in beads:
            head = self.head(bead)
            merged = gitops.merge_tree(current, head, self.root)
            if merged.tree is None:
                return Conflict(bead.id, sorted(set(merged.conflicts)), merged.message)
            heads.append(head)
            message = f"Merge {bead.id}: {bead.title}\n\nmayor-bead: {bead.id}\n"
            current = gitops.commit_tree(merged.tree, [current, head], message, self.root)
        if len(beads) == 1:
            return current
        batch = gitops.commit_tree(gitops.tree_of(current, self.root), [base, *heads], batch_message(beads), self.root)
        self.batches.add(batch)
        return batch

    def files(self, commit: str, bead: Bead) -> list[str]:
        """The files ``bead`` changed, as landed by ``commit`` (alone or in a batch)."""
        if commit in self.batches:
            return gitops.files_changed(f"{commit}^1", self.head(bead), self.root)
        if not gitops.rev(f"{commit}^2", self.root):
            return []
        if gitops.rev(f"{commit}^3", self.root) is None:
            return gitops.files_changed(f"{commit}^1", commit, self.root)
        return gitops.files_changed(f"{commit}^1", self.head(bead), self.root)

    def _rebase_candidate(self, base: str, bead: Bead) -> str | Conflict:
        head = self.head(bead)
        path = self._build_worktree(head)
        proc = run(["git", "rebase", "-q", base], path, check=False)
        if proc.returncode != 0:
            files = git("diff", "--name-only", "--diff-filter=U", cwd=path).splitlines()
            run(["git", "rebase", "--abort"], path, check=False)
            return Conflict(bead.id, files, (proc.stdout + proc.stderr).strip())
        return git("rev-parse", "HEAD", cwd=path)

    def _build_worktree(self, commit: str) -> Path:
        path = self.build_path
        if (path / ".git").exists():
            run(["git", "rebase", "--abort"], path, check=False)
            git("checkout", "-q", "-f", "--detach", commit, cwd=path)
            git("clean", "-q", "-fd", cwd=path)
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        with ADMIN_LOCK:
            git("worktree", "prune", cwd=self.root)
            git("worktree", "add", "-q", "--detach", str(path), commit, cwd=self.root)
        return path

    # -- the move --------------------------------------------------------------------------
    @contextmanager
    def moving(
        self, beads: list[Bead], tip: str, candidate: str, wanted: Callable[[], bool] = lambda: True
    ) -> Iterator[bool | str]:
        """Move the target from ``tip`` to ``candidate``; yields True (moved: record the beads
        merged inside the block), False (the target moved meanwhile, or ``wanted`` said no) or why
        the user's checkout blocks it. The journal lives until the block ends, so a kill inside it
        is finished by :meth:`recover`; ``wanted`` is asked once it is written (see
        :mod:`supervisor.run.journal`: a ``mayor cancel`` from then on is refused)."""
        with open(self.landed_log, "a", encoding="utf-8") as log:  # before the move: a kill may follow it
            log.write(candidate + "\n")
        record = {"beads": [b.id for b in beads], "tip": tip, "candidate": candidate}
        atomic_write(self.journal, json.dumps(record))
        try:
            moved = self._move(tip, candidate) if wanted() else False
            if moved is True:
                self.landed.add(candidate)
                if self.strategy == "rebase":
                    ref = f"refs/heads/{branch_name(beads[0].id)}"
                    gitops.cas_update(ref, candidate, self.head(beads[0]), self.root, "mayor: rebased")
            yield moved
        finally:
            self.journal.unlink(missing_ok=True)

    def _move(self, tip: str, candidate: str) -> bool | str:
        """Compare-and-swap the target from ``tip`` to ``candidate``; bring the user's checkout along."""
        checkout = gitops.checked_out_at(self.target, self.root)
        if checkout is None:
            return gitops.cas_update(f"refs/heads/{self.target}", candidate, tip, self.root, "mayor: land")
        if gitops.rev("HEAD", checkout) != tip:
            return False
        with self.checkout_lock:
            proc = run(["git", "merge", "--ff-only", "-q", candidate], checkout, check=False)
        if proc.returncode == 0:
            return True
        if gitops.rev("HEAD", checkout) != tip:
            return False
        detail = (proc.stdout + proc.stderr).strip()
        return (
            f"{self.target} is checked out at {checkout} and its local changes block the landing "
            f"({detail}); commit or stash them, and the queue goes on"
        )


def batch_message(beads: list[Bead]) -> str:
    """One landing commit for several beads: a readable subject, a line per bead, a trailer per bead."""
    lines = [f"Merge {len(beads)} beads: {', '.join(b.id for b in beads)}", ""]
    lines += [f"- {b.id}: {b.title}" for b in beads]
    lines += ["", *(f"mayor-bead: {b.id}" for b in beads)]
    return "\n".join(lines) + "\n"
