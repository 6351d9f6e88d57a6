"""The human decision on a bead waiting in ``review`` (``approval = "human"``).

:func:`approve` sends it to the merge queue (a running ``mayor sling`` picks it up); :func:`reject`
ends its attempt as ``rejected`` and leaves the reason as feedback for its agent's next attempt (or
fails it when no attempt is left). Each writes the bead under the store lock and emits its event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from beads.errors import MayorError
from beads.models import Bead
from supervisor.events import EventLog, EventType
from supervisor.run.beadstate import end_attempt, modify

if TYPE_CHECKING:
    from supervisor.repo import Repo


def _in_review(bead: Bead) -> None:
    if bead.status != "review":
        raise MayorError(f"{bead.id} is {bead.status}, not waiting for approval; see `mayor list --status review`")


def approve(repo: Repo, bead_id: str) -> Bead:
    """Queue ``bead_id`` to land."""

    def change(bead: Bead) -> None:
        _in_review(bead)
        bead.status = "queued"

    bead = modify(repo.store, bead_id, change)
    EventLog(repo.events_path).emit(EventType.APPROVED, bead_id, bead.attempts[-1].n if bead.attempts else None)
    return bead


def reject(repo: Repo, bead_id: str, reason: str) -> Bead:
    """Send ``bead_id`` back to its agent with ``reason`` (its ``feedback_out.md``), or fail it."""

    def change(bead: Bead) -> None:
        _in_review(bead)
        end_attempt(bead, "rejected", f"rejected in review: {reason}", repo.config.max_attempts)

    bead = modify(repo.store, bead_id, change)
    n = bead.attempts[-1].n if bead.attempts else 0
    run_dir = repo.run_dir(bead_id, n)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "feedback_out.md").write_text(f"A reviewer rejected your last attempt:\n\n{reason}\n")
    EventLog(repo.events_path).emit(EventType.REJECTED, bead_id, n, reason=reason)
    return bead
