"""``mayor approve`` and ``mayor reject``: the human decision on a bead waiting in ``review``
(:mod:`supervisor.approvals`)."""

from __future__ import annotations

from beads.errors import MayorError
from supervisor import approvals
from supervisor.output import say
from supervisor.repo import open_repo


def approve(*, bead_id: str) -> int:
    approvals.approve(open_repo(), bead_id)
    say(f"approved {bead_id}: it is queued to land (a running `mayor sling` picks it up; else run one)")
    return 0


def reject(*, bead_id: str, reason: str) -> int:
    if not reason.strip():
        raise MayorError("say why with --reason: the agent gets it as feedback for its next attempt")
    bead = approvals.reject(open_repo(), bead_id, reason)
    after = "it failed (no attempts left)" if bead.status == "failed" else "it goes back to its agent with your reason"
    say(f"rejected {bead_id}: {after}")
    return 0
