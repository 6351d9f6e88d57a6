"""``mayor approve`` and ``mayor reject``: the human decision on a bead waiting in ``review``."""

from __future__ import annotations

from beads.errors import MayorError
from beads.models import Bead
from supervisor.events import EventLog, EventType
from supervisor.output import say
from supervisor.repo import open_repo
from supervisor.run.beadstate import end_attempt, modify


def _in_review(bead: Bead) -> None:
    if bead.status != "review":
        raise MayorError(f"{bead.id} is {bead.status}, not waiting for approval; see `mayor list --status review`")


def approve(*, bead_id: str) -> int:
    repo = open_repo()

    def change(bead: Bead) -> None:
        _in_review(bead)
        bead.status = "queued"

    bead = modify(repo.store, bead_id, change)
    EventLog(repo.events_path).emit(EventType.APPROVED, bead_id, bead.attempts[-1].n if bead.attempts else None)
    say(f"approved {bead_id}: it is queued to land (a running `mayor sling` picks it up; else run one)")
    return 0


def reject(*, bead_id: str, reason: str) -> int:
    if not reason.strip():
        raise MayorError("say why with --reason: the agent gets it as feedback for its next attempt")
    repo = open_repo()

    def change(bead: Bead) -> None:
        _in_review(bead)
        end_attempt(bead, "rejected", f"rejected in review: {reason}", repo.config.max_attempts)

    bead = modify(repo.store, bead_id, change)
    n = bead.attempts[-1].n if bead.attempts else 0
    run_dir = repo.run_dir(bead_id, n)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "feedback_out.md").write_text(f"A reviewer rejected your last attempt:\n\n{reason}\n")
    EventLog(repo.events_path).emit(EventType.REJECTED, bead_id, n, reason=reason)
    after = "it failed (no attempts left)" if bead.status == "failed" else "it goes back to its agent with your reason"
    say(f"rejected {bead_id}: {after}")
    return 0
