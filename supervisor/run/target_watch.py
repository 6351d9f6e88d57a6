"""The target holds every landing of this run and moves only forward: checked, not assumed.

Before each landing and once more at the end of a run, :meth:`TargetWatch.verify` compares the
target's tip with the last tip the queue saw or set. A tip that still descends from it moved
forward (the user's own commits are welcome). A tip that is an ancestor of it was moved back (an
agent's ``git update-ref main main~1``, a ``reset``): the target is put back, loudly
(``target_restored``). A tip that is neither lost landings and gained other commits: the queue
stops with a message naming both tips and how to put it right; mayor never guesses there.
"""

from __future__ import annotations

import threading
from pathlib import Path

from supervisor import gitops
from supervisor.errors import MayorError
from supervisor.events import EventLog, EventType
from supervisor.output import say
from supervisor.proc import run


class TargetMovedAway(MayorError):
    """The target lost landings of this run and gained commits they lack: a person must decide."""


class TargetWatch:
    def __init__(self, root: Path, target: str, events: EventLog) -> None:
        self.root = root
        self.target = target
        self.events = events
        self._lock = threading.RLock()
        """Held for each check: the merge thread checks, recovery (main thread) records a landing."""
        self.last: str | None = None
        """The last tip the queue saw or set."""
        self.landings: list[str] = []
        """This run's landings, oldest first."""

    def _tip(self) -> str:
        return gitops.ensure_branch_exists(self.target, self.root)

    def landed(self, commit: str) -> None:
        """A landing of this run: it must stay on the target from now on. The queue has just moved
        the target there, so a tip behind it now was moved back (even to the tip checked before)."""
        with self._lock:
            if self.landings and self.landings[-1] == commit:
                return  # the other beads of a batch: one commit, checked once
            self.landings.append(commit)
            if self.last is None or gitops.is_ancestor(self.last, commit, self.root):
                self.last = commit
            tip = self._tip()
            if self.last is not None and tip != self.last and gitops.is_ancestor(tip, self.last, self.root):
                self._put_back(tip, [c for c in self.landings if not gitops.is_ancestor(c, tip, self.root)])
            # a move sideways is judged at the next verify(), which the queue runs after undoing
            # agents' commits on the target (judged here, an agent's commit would stop the queue)

    def verify(self) -> str:
        """The tip, after putting back a target moved backwards; raises :class:`TargetMovedAway`."""
        with self._lock:
            return self._verify()

    def _verify(self) -> str:
        tip = self._tip()
        if self.last is None or tip == self.last or gitops.is_ancestor(self.last, tip, self.root):
            self.last = tip
            return tip
        lost = [c for c in self.landings if not gitops.is_ancestor(c, tip, self.root)]
        if gitops.is_ancestor(tip, self.last, self.root):
            return self._put_back(tip, lost)
        self.events.emit(EventType.TARGET_RESTORED, was=self.last, now=tip, restored=False, lost=lost)
        raise TargetMovedAway(
            f"{self.target} was moved from {self.last[:12]} to {tip[:12]}, which lacks {len(lost)} landing(s) of "
            f"this run ({', '.join(c[:12] for c in lost) or 'none'}) and holds commits that {self.last[:12]} lacks; "
            f"the queue stops. Put it right by hand (for example `git checkout {self.target} && git merge "
            f"{self.last[:12]}`), then run `mayor sling` again"
        )

    def _put_back(self, tip: str, lost: list[str]) -> str:
        assert self.last is not None
        checkout = gitops.checked_out_at(self.target, self.root)
        if checkout is not None and not gitops.dirty(checkout):
            moved = run(["git", "merge", "--ff-only", "-q", self.last], checkout, check=False).returncode == 0
        else:
            message = "mayor: put back a target moved backwards"
            moved = gitops.cas_update(f"refs/heads/{self.target}", self.last, tip, self.root, message)
        if not moved:
            raise TargetMovedAway(
                f"{self.target} was moved back from {self.last[:12]} to {tip[:12]} and could not be put back; "
                f"run `git checkout {self.target} && git merge --ff-only {self.last[:12]}`, then `mayor sling` again"
            )
        self.events.emit(EventType.TARGET_RESTORED, was=tip, now=self.last, restored=True, lost=lost)
        say(
            f"mayor: {self.target} was moved back to {tip[:12]}, dropping {len(lost)} landing(s) of this run; "
            f"it is put back at {self.last[:12]}. Agents may not move {self.target}: look at who did"
        )
        return self.last
