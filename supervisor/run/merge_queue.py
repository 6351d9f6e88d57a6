"""The merge queue: the one place that moves the target branch, one candidate at a time.

For a bead it builds a candidate on the current target tip (a ``--no-ff`` merge commit made with
``git merge-tree --write-tree``, or a rebase), runs the gate on it in a worktree of its own, and
moves the target by compare-and-swap only when the gate passed. Before the move a journal
(``.mayor/state/merge.json``) records the candidate, so a supervisor killed at any moment can tell
a finished landing from one to roll back. Every candidate about to be moved onto the target is also
appended to ``.mayor/state/landed``, so that a restarted supervisor still knows the commits the
queue put there from commits made by others.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from beads.models import Bead, id_problem
from beads.setaside import BadStateFile, read_json
from beads.store import atomic_write
from supervisor import gitops
from supervisor.errors import MayorError
from supervisor.events import set_aside
from supervisor.proc import git, run, run_group
from supervisor.run.groups import GroupRecords
from supervisor.run.workenv import worktree_env
from supervisor.run.worktrees import ADMIN_LOCK, branch_name, pool_dir

MAX_ROUNDS = 5
"""Times a candidate is rebuilt when the target moves under the queue before giving up for now."""


_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def _journal_ok(record: object) -> bool:
    """``state/merge.json`` as :meth:`MergeQueue.land` writes it: a bead id and a full commit id."""
    return (
        isinstance(record, dict)
        and isinstance(record.get("bead"), str)
        and id_problem(record["bead"]) is None
        and isinstance(record.get("candidate"), str)
        and _COMMIT.fullmatch(record["candidate"]) is not None
    )


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


class GateCannotRun(MayorError):
    """The gate exits 126 or 127 on the bare target: a missing or unrunnable command, a config error."""


@dataclass(frozen=True)
class TargetCheck:
    """The gate run on the target alone."""

    tip: str
    passed: bool
    log: Path


@dataclass
class Landing:
    outcome: Literal["merged", "conflict", "gate_failed", "blocked", "target_red", "cancelled"]
    commit: str | None = None
    detail: str = ""
    files: list[str] = field(default_factory=list)
    flaky: bool = False


class MergeQueue:
    def __init__(
        self,
        root: Path,
        target: str,
        gate: str | None,
        state_dir: Path,
        *,
        strategy: str = "merge",
        gate_timeout: float = 1800.0,
        gate_retries: int = 1,
        guard: Callable[[], None] | None = None,
        path: Path | None = None,
        make: Callable[[Path, str], None] | None = None,
        notify: Callable[[str | None, str, Path], object] | None = None,
    ) -> None:
        self.root = root
        self.guard = guard
        """Called before each candidate is built on the target (the supervisor undoes agents' direct commits)."""
        self.target = target
        self.gate = gate
        self.strategy = strategy
        self.gate_timeout = gate_timeout
        self.gate_retries = gate_retries
        self.journal = state_dir / "merge.json"
        self.path = path or pool_dir(root) / "merge"
        """The gate's worktree, beside the slots' (outside the repository and its ``.git``)."""
        self.groups = GroupRecords(state_dir / "groups")
        """The gates running now, so that a restart stops those a killed supervisor left."""
        self.notify = notify
        """Told of each gate run as it starts (bead, candidate, log): the ``gate_started`` event."""
        self.landing: str | None = None
        """The bead being landed (None while the target alone is gated)."""
        self.make = make
        """Makes the gate's worktree (copy files, ``setup``) as the pool makes a slot's; None: a bare worktree."""
        self.landed_log = state_dir / "landed"
        self.landed: set[str] = read_landed(self.landed_log)
        self.green_trees: set[str] = set()
        """Trees the gate passed on in this run: a tip with one of these is known green."""
        """Commits this queue put on the target, in this run or an earlier one (to tell them from
        commits made by others)."""

    # -- recovery -------------------------------------------------------------------------
    def recover(self) -> tuple[str, str] | None:
        """Finish reading a journal left by a killed supervisor.

        Returns ``(bead_id, commit)`` when that landing completed (the target holds the candidate);
        otherwise the landing is rolled back (nothing on the target changed) and None is returned.
        """
        try:
            record = read_json(self.journal)
        except FileNotFoundError:
            return None
        except BadStateFile as exc:
            set_aside(self.journal, str(exc), self.journal.parent.parent / "events.jsonl")
            return None
        if not _journal_ok(record):
            set_aside(self.journal, "is not a landing journal", self.journal.parent.parent / "events.jsonl")
            return None
        tip = gitops.rev(f"refs/heads/{self.target}", self.root)
        self.journal.unlink()
        if tip and gitops.is_ancestor(record["candidate"], tip, self.root):
            return record["bead"], record["candidate"]
        return None

    # -- landing --------------------------------------------------------------------------
    def land(self, bead: Bead, log_dir: Path, wanted: Callable[[], bool] = lambda: True) -> Landing:
        """Land ``bead``'s branch; ``wanted`` is asked last, just before the target moves (a bead
        cancelled while its gate ran is not landed)."""
        self.landing = bead.id
        head = gitops.rev(f"refs/heads/{branch_name(bead.id)}", self.root)
        if head is None:
            raise BranchGone(
                f"branch {branch_name(bead.id)} of {bead.id} is gone (deleted, or not in this clone); "
                f"`mayor reopen {bead.id}` to redo it"
            )
        for _ in range(MAX_ROUNDS):
            if self.guard is not None:
                self.guard()
            tip = gitops.ensure_branch_exists(self.target, self.root)
            if gitops.is_ancestor(head, tip, self.root):
                return Landing("merged", commit=self._landing_commit(bead.id) or tip, detail="already on the target")
            built = self._candidate(bead, tip, head)
            if isinstance(built, Landing):
                return built
            gate = self._run_gate(built, log_dir)
            if gate is not None and gate.outcome == "gate_failed":
                return self._blame(tip, gate, log_dir)
            if not wanted():
                return Landing("cancelled", detail="cancelled while its landing was under way")
            with open(self.landed_log, "a", encoding="utf-8") as log:  # before the move: a kill may follow it
                log.write(built + "\n")
            atomic_write(self.journal, json.dumps({"bead": bead.id, "tip": tip, "candidate": built}))
            try:
                moved = self._move(tip, built)
            finally:
                self.journal.unlink(missing_ok=True)
            if isinstance(moved, Landing):
                return moved
            if moved:
                if self.strategy == "rebase":
                    gitops.cas_update(f"refs/heads/{branch_name(bead.id)}", built, head, self.root, "mayor: rebased")
                self.landed.add(built)
                return Landing("merged", commit=built, flaky=bool(gate and gate.flaky))
        return Landing("blocked", detail=f"{self.target} kept moving under the queue; will try again")

    def _blame(self, tip: str, failed: Landing, log_dir: Path) -> Landing:
        """A candidate failed the gate: the bead's fault only if the target alone passes."""
        check = self.check_target(tip, log_dir / "target-gate.log")
        if check.passed:
            return failed
        detail = f"the gate fails on {self.target} alone at {tip[:12]} (log: {check.log})"
        return Landing("target_red", commit=tip, detail=detail)

    def check_target(self, tip: str, log: Path) -> TargetCheck:
        """Run the gate on the target alone, unless its tree is known green. Exit 126/127 (the
        command cannot run) raises :class:`GateCannotRun`: a config error, not a red target."""
        if not self.gate or gitops.tree_of(tip, self.root) in self.green_trees:
            return TargetCheck(tip, True, log)
        self.landing = None
        self._checkout(tip)
        log.parent.mkdir(parents=True, exist_ok=True)
        code = self._gate_once(log, tip, append=False)
        if code in (126, 127):
            tail = log.read_text(errors="replace").strip()[-800:]
            raise GateCannotRun(
                f"the gate `{self.gate}` cannot run (exit {code}) on {self.target}: {tail}; "
                "fix `gate` in .mayor/config.toml (or --gate) and run mayor sling again"
            )
        if code == 0:
            self.green_trees.add(gitops.tree_of(tip, self.root))
        return TargetCheck(tip, code == 0, log)

    def _landing_commit(self, bead_id: str) -> str | None:
        out = git(
            "log", "--first-parent", "-n1", "--format=%H", f"--grep=^mayor-bead: {bead_id}$", self.target, cwd=self.root
        )
        return out or None

    def _candidate(self, bead: Bead, tip: str, head: str) -> str | Landing:
        if self.strategy == "rebase":
            return self._rebase_candidate(tip, head)
        merged = gitops.merge_tree(tip, head, self.root)
        if merged.tree is None:
            return Landing("conflict", detail=merged.message, files=sorted(set(merged.conflicts)))
        message = f"Merge {bead.id}: {bead.title}\n\nmayor-bead: {bead.id}\n"
        return gitops.commit_tree(merged.tree, [tip, head], message, self.root)

    def _rebase_candidate(self, tip: str, head: str) -> str | Landing:
        self._checkout(head)
        proc = run(["git", "rebase", "-q", tip], self.path, check=False)
        if proc.returncode != 0:
            files = git("diff", "--name-only", "--diff-filter=U", cwd=self.path).splitlines()
            run(["git", "rebase", "--abort"], self.path, check=False)
            return Landing("conflict", detail=(proc.stdout + proc.stderr).strip(), files=files)
        return git("rev-parse", "HEAD", cwd=self.path)

    def _checkout(self, commit: str) -> None:
        if not (self.path / ".git").exists():
            self.ensure_worktree(commit)
            return
        run(["git", "rebase", "--abort"], self.path, check=False)
        git("checkout", "-q", "-f", "--detach", commit, cwd=self.path)
        git("clean", "-q", "-fd", cwd=self.path)

    def ensure_worktree(self, commit: str) -> Path:
        """The gate's worktree, made (with ``setup``) if it is not there yet."""
        if (self.path / ".git").exists():
            return self.path
        if self.make is not None:
            self.make(self.path, commit)
            return self.path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with ADMIN_LOCK:
            git("worktree", "prune", cwd=self.root)
            git("worktree", "add", "-q", "--detach", str(self.path), commit, cwd=self.root)
        return self.path

    def _run_gate(self, candidate: str, log_dir: Path) -> Landing | None:
        """None when there is no gate; else a Landing that says passed (``merged``) or failed."""
        if not self.gate:
            return None
        self._checkout(candidate)
        log_dir.mkdir(parents=True, exist_ok=True)
        log = log_dir / "gate.log"
        for round_ in range(1 + self.gate_retries):
            code = self._gate_once(log, candidate, append=round_ > 0)
            if code == 0:
                self.green_trees.add(gitops.tree_of(candidate, self.root))
                return Landing("merged", commit=candidate, flaky=round_ > 0)
        tail = log.read_text(errors="replace")[-4000:]
        return Landing("gate_failed", detail=f"the gate `{self.gate}` failed (exit {code}):\n{tail}")

    def _gate_once(self, log: Path, candidate: str, append: bool) -> int:
        env = {"MAYOR_CANDIDATE": candidate, "MAYOR_TARGET": self.target}
        if self.notify is not None:
            self.notify(self.landing, candidate, log)
        with open(log, "ab" if append else "wb") as out, self.groups.recording() as started:

            def record(pgid: int) -> None:
                started.append(pgid)
                self.groups.record(pgid, f"the gate on {candidate[:12]}")

            base = worktree_env(self.path)
            code = run_group(self.gate or "true", self.path, env, self.gate_timeout, out, base=base, on_start=record)
            if code is None:
                out.write(f"\nmayor: the gate timed out after {self.gate_timeout:.0f}s\n".encode())
                return 124
        return code

    def _move(self, tip: str, candidate: str) -> bool | Landing:
        """Compare-and-swap the target from ``tip`` to ``candidate``; bring the user's checkout along."""
        checkout = gitops.checked_out_at(self.target, self.root)
        if checkout is None:
            return gitops.cas_update(f"refs/heads/{self.target}", candidate, tip, self.root, "mayor: land")
        if gitops.rev("HEAD", checkout) != tip:
            return False
        proc = run(["git", "merge", "--ff-only", "-q", candidate], checkout, check=False)
        if proc.returncode == 0:
            return True
        if gitops.rev("HEAD", checkout) != tip:
            return False
        detail = (proc.stdout + proc.stderr).strip()
        return Landing(
            "blocked",
            detail=f"{self.target} is checked out at {checkout} and its local changes block the landing "
            f"({detail}); commit or stash them, and the queue goes on",
        )
