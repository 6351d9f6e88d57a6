"""Changes the supervisor makes to one bead: read it fresh under the lock, change it, write it.

A user's ``mayor cancel`` between two supervisor writes is never overwritten by a stale copy.
"""

from __future__ import annotations

from collections.abc import Callable

from beads.models import Attempt, Bead, Outcome, now
from beads.store import Store, atomic_write, read_bead


def modify(store: Store, bead_id: str, change: Callable[[Bead], None]) -> Bead:
    with store.lock():
        bead = read_bead(store.path(bead_id))
        change(bead)
        bead.updated_at = now()
        atomic_write(store.path(bead_id), bead.to_json())
    return bead


def counted_attempts(bead: Bead) -> int:
    """Attempts that count against the maximum: those since the last ``mayor reopen``, less the
    interrupted ones and those stopped by ``mayor retry``."""
    return sum(1 for a in bead.attempts[bead.attempts_base :] if a.outcome not in ("interrupted", "retry_requested"))


def current(bead: Bead) -> Attempt:
    return bead.attempts[-1]


def begin_attempt(bead: Bead, agent: str) -> None:
    bead.status = "running"
    bead.attempts.append(Attempt(n=len(bead.attempts) + 1, agent=agent, started_at=now()))


def end_attempt(bead: Bead, outcome: Outcome, error: str, max_attempts: int | None = None) -> None:
    if bead.attempts:
        attempt = current(bead)
        attempt.outcome, attempt.error, attempt.ended_at = outcome, error, now()
    if outcome == "cancelled" or bead.status == "cancelled":
        bead.status = "cancelled"
    elif outcome in ("interrupted", "retry_requested"):
        bead.status = "open"
    elif max_attempts is not None and counted_attempts(bead) >= max_attempts:
        bead.status, bead.error = "failed", error
    else:
        bead.status, bead.error = "open", error
