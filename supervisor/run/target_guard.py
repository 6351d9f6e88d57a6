"""Keeping agents' own commits off the target: only the merge queue may move it.

An agent can move the target itself (``git checkout main && git commit`` in its worktree,
``git update-ref refs/heads/main HEAD``, ``git push . HEAD:main``). Such commits passed no gate,
so the supervisor puts the target back and keeps the work on the bead's branch.

Which commits the agent made is read from its worktree's own ``HEAD`` reflog (every commit,
merge, cherry-pick or rebase made there), never inferred from ancestry: a commit you made on
the target yourself, even one an agent merged into its branch, is never taken off the target.
"""

from __future__ import annotations

from collections.abc import Set
from pathlib import Path

from supervisor import gitops
from supervisor.events import EventLog, EventType
from supervisor.proc import git, run

_MAKING = (
    "commit",
    "cherry-pick",
    "revert",
    "am",
    "rebase (pick)",
    "rebase (squash)",
    "rebase (fixup)",
    "rebase (reword)",
    "rebase (edit)",
)
"""Reflog subjects of operations that create a commit. ``checkout``, ``reset``, ``rebase (start)``
and fast-forwards only move HEAD to a commit that already existed (maybe a user's)."""
REFLOG_DEPTH = 500


def _creates(subject: str) -> bool:
    if subject.startswith(("merge ", "pull")):
        return "Fast-forward" not in subject
    return subject.startswith(_MAKING)


def made_in(worktree: Path, since: float = 0.0) -> set[str]:
    """Commits created in ``worktree`` (from its HEAD reflog) at or after ``since`` (the attempt's start)."""
    out = run(
        ["git", "reflog", "show", "--date=unix", "--format=%H %gd %gs", f"-n{REFLOG_DEPTH}", "HEAD"],
        worktree,
        check=False,
    ).stdout
    made = set()
    for line in out.splitlines():
        sha, selector, subject = ([*line.split(" ", 2), "", ""])[:3]
        stamp = selector[selector.find("{") + 1 : -1]
        if stamp.isdigit() and int(stamp) < int(since):
            break
        if _creates(subject):
            made.add(sha)
    return made


class TargetGuard:
    def __init__(self, root: Path, target: str, landed: Set[str], events: EventLog) -> None:
        self.root = root
        self.target = target
        self.landed = landed
        """The queue's own landings (never undone)."""
        self.events = events
        self.cleared: str | None = None
        """The last tip found made by no agent: a commit's maker never changes, so it is not read
        from every busy worktree's reflog again (with many agents, that is many git calls)."""

    @property
    def ref(self) -> str:
        return f"refs/heads/{self.target}"

    def restore(self, worktree: Path, since: float, bead_id: str | None = None) -> str | None:
        """Put the target back if its tip is a commit the agent in ``worktree`` made since ``since``."""
        tip = gitops.rev(self.ref, self.root)
        made = made_in(worktree, since) - set(self.landed)
        if tip is None or tip not in made:
            return None
        back = self._last_good(tip, made)
        if back is None or not gitops.cas_update(
            self.ref, back, tip, self.root, "mayor: undo an agent's direct commit"
        ):
            return None
        self.events.emit(EventType.TARGET_RESTORED, bead_id, None, was=tip, now=back)
        return (
            f"the agent committed onto {self.target} directly; {self.target} was put back to {back[:10]} "
            "and the work is kept on its branch"
        )

    def good_tip(self, worktrees: list[tuple[Path, float, str]]) -> str | None:
        """The target's tip, once no agent working in ``worktrees`` made it (undoing it if one did).

        The tip is read first and checked after, so an agent moving the target in between can
        only make this look again, never hand out its ungated commit.
        """
        for _ in range(5):
            tip = gitops.rev(self.ref, self.root)
            if tip is None or tip == self.cleared or tip in self.landed:
                return tip  # no agent made it: checked already, or the queue's own landing
            culprits = [(w, t, b) for w, t, b in worktrees if tip in made_in(w, t) - set(self.landed)]
            if not culprits:
                self.cleared = tip
                return tip
            for worktree, since, bead_id in culprits:
                self.restore(worktree, since, bead_id)
        return gitops.rev(self.ref, self.root)

    def _last_good(self, tip: str, made: set[str]) -> str | None:
        """The target's newest earlier value the agent did not make: from its reflog, else its history."""
        for sha in gitops.reflog(self.ref, self.root):
            if sha not in made:
                return sha
        for sha in git("rev-list", "--first-parent", f"-n{REFLOG_DEPTH}", tip, cwd=self.root).splitlines():
            if sha not in made:
                return sha
        return None
