"""``RunState``: every piece of ``mayor sling``'s in-memory state that more than one thread touches.

One owner, one lock. The scheduler (main thread), the slot threads and the merge thread change
this state only through these methods; each takes the lock for the whole of its read-and-change,
so a check and the change it leads to can never interleave with another thread's (for example
two slot threads that both find the budget spent: only one trips it). Predicates here have no
side effects; the two events (``wake``, ``stopping``) are the only things set from outside.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BusySlot:
    """A slot with an attempt in it, as the target guard needs it."""

    slot: int
    bead_id: str
    started: float
    """When the attempt began (``time.time()``): the guard reads its worktree's reflog from then."""


class RunState:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.wake = threading.Event()
        """Set by any thread when the scheduler should look again (a slot freed, a bead landed)."""
        self.stopping = threading.Event()
        """Set once: Ctrl-C, SIGTERM or an error; slot threads stop their agents, the queue stops landing."""
        self._busy: dict[int, str] = {}
        self._started: dict[int, float] = {}
        self._in_queue: set[str] = set()
        self._touched: set[str] = set()
        self._running_dirs: dict[str, Path] = {}
        self._unlanded: dict[str, str] = {}
        self._clean_slots: set[int] = set()
        self._budget_stop: str | None = None
        self._fatal: BaseException | None = None

    # -- slots -----------------------------------------------------------------------------
    def claim(self, slot: int, bead_id: str) -> None:
        with self._lock:
            self._busy[slot] = bead_id
            self._touched.add(bead_id)

    def free(self, slot: int) -> None:
        with self._lock:
            self._busy.pop(slot, None)
            self._started.pop(slot, None)
        self.wake.set()

    def attempt_began(self, slot: int, started: float) -> None:
        with self._lock:
            self._started[slot] = started

    def free_slots(self, slots: int) -> list[int]:
        with self._lock:
            return [s for s in range(slots) if s not in self._busy]

    def is_busy(self, slot: int) -> bool:
        with self._lock:
            return slot in self._busy

    def taken(self) -> set[str]:
        """Beads in a slot or in the merge queue."""
        with self._lock:
            return set(self._busy.values()) | self._in_queue

    def busy_slots(self) -> list[BusySlot]:
        with self._lock:
            return [BusySlot(s, b, self._started.get(s, 0.0)) for s, b in sorted(self._busy.items())]

    def idle(self) -> bool:
        """No attempt running and nothing waiting to land."""
        with self._lock:
            return not self._busy and not self._in_queue

    def touched(self) -> set[str]:
        """Every bead this run slung or queued."""
        with self._lock:
            return set(self._touched)

    # -- worktrees known clean -------------------------------------------------------------
    def mark_clean(self, slot: int) -> None:
        with self._lock:
            self._clean_slots.add(slot)

    def take_clean(self, slot: int) -> bool:
        """Whether the slot's worktree was left clean; the mark is used up (the next attempt dirties it)."""
        with self._lock:
            if slot in self._clean_slots:
                self._clean_slots.discard(slot)
                return True
            return False

    # -- the merge queue ---------------------------------------------------------------------
    def enqueue(self, bead_id: str) -> bool:
        """Mark a bead as in the queue; False if it already was."""
        with self._lock:
            if bead_id in self._in_queue:
                return False
            self._in_queue.add(bead_id)
            self._touched.add(bead_id)
            return True

    def dequeue(self, bead_id: str) -> None:
        with self._lock:
            self._in_queue.discard(bead_id)

    def in_queue(self, bead_id: str) -> bool:
        with self._lock:
            return bead_id in self._in_queue

    def leave_unlanded(self, bead_id: str, reason: str) -> None:
        """A landing that stayed blocked: the bead stays queued for the next run."""
        with self._lock:
            self._unlanded[bead_id] = reason
            self._in_queue.discard(bead_id)

    def unlanded(self) -> dict[str, str]:
        with self._lock:
            return dict(self._unlanded)

    # -- running agents' spend -------------------------------------------------------------
    def agent_running(self, bead_id: str, run_dir: Path) -> None:
        with self._lock:
            self._running_dirs[bead_id] = run_dir

    def agent_ended(self, bead_id: str) -> None:
        with self._lock:
            self._running_dirs.pop(bead_id, None)

    def running_dirs(self) -> dict[str, Path]:
        """Run folders of the attempts in progress (their live usage counts against the budget)."""
        with self._lock:
            return dict(self._running_dirs)

    # -- stopping ----------------------------------------------------------------------------
    def trip_budget(self, reason: str) -> bool:
        """Record that the budget stopped the run; True only for the first caller."""
        with self._lock:
            if self._budget_stop is not None:
                return False
            self._budget_stop = reason
        self.wake.set()
        return True

    @property
    def budget_stop(self) -> str | None:
        """Why the budget stopped the run, once it has."""
        with self._lock:
            return self._budget_stop

    def fail(self, exc: BaseException) -> None:
        """An exception in a slot or merge thread; the first one is raised by the main thread."""
        with self._lock:
            if self._fatal is None:
                self._fatal = exc
        self.wake.set()

    @property
    def fatal(self) -> BaseException | None:
        with self._lock:
            return self._fatal
