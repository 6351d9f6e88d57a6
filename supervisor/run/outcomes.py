"""How an attempt or a landing ends, written to the bead and the event log in one place.

Slot threads and the merge thread both end attempts (a gate failure or a conflict is found by
the queue), so the writing lives here, not in either of them. Each function changes the bead
through :func:`~supervisor.run.beadstate.modify` (fresh read under the store lock) and then
emits the event that says so.
"""

from __future__ import annotations

from pathlib import Path

from beads.models import Attempt, Bead, Outcome, Result, now
from supervisor import gitops
from supervisor.agents import Report
from supervisor.events import EventType
from supervisor.run.agentproc import ExitReason
from supervisor.run.beadstate import current, end_attempt, modify
from supervisor.run.context import RunContext
from supervisor.run.control import clear_request
from supervisor.run.worktrees import branch_name


class Failure(Exception):
    """An attempt that did not pass: its outcome word and what the next attempt should know."""

    def __init__(self, outcome: Outcome, error: str, feedback: str = "") -> None:
        super().__init__(error)
        self.outcome: Outcome = outcome
        self.error = error
        self.feedback = feedback or error


def passed(ctx: RunContext, bead_id: str, n: int, result: Report) -> None:
    def change(b: Bead) -> None:
        attempt = current(b)
        attempt.outcome, attempt.ended_at = "passed", now()
        attempt.commit = gitops.rev(f"refs/heads/{branch_name(b.id)}", ctx.repo.root)
        b.result = b.result or Result()
        b.result.summary = result.summary or b.result.summary
        b.result.findings = result.findings
        if b.report_only:
            b.status, b.closed_at = "done", now()
        elif b.approval == "human":
            b.status = "review"
        else:
            b.status = "queued"

    bead = modify(ctx.store, bead_id, change)
    if bead.status == "done":
        ctx.events.emit(EventType.DONE, bead_id, n, findings=len(result.findings))
    elif bead.status == "queued":
        enqueue(ctx, bead_id)
    else:
        ctx.events.emit(EventType.AWAITING_APPROVAL, bead_id, n)


def enqueue(ctx: RunContext, bead_id: str) -> None:
    """Hand a queued bead to the merge thread (once)."""
    if ctx.state.enqueue(bead_id):
        ctx.events.emit(EventType.QUEUED, bead_id, None)
        ctx.merge_q.put(bead_id)


def failed(ctx: RunContext, bead_id: str, n: int, failure: Failure, run_dir: Path) -> None:
    """The attempt did not pass: retried while attempts are left, else failed."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "feedback_out.md").write_text(failure.feedback)
    bead = modify(ctx.store, bead_id, lambda b: end_attempt(b, failure.outcome, failure.error, ctx.opts.max_attempts))
    kind = EventType.FAILED if bead.status == "failed" else EventType.RETRIED
    ctx.events.emit(kind, bead_id, n, outcome=failure.outcome, error=failure.error)


def interrupted(ctx: RunContext, bead_id: str) -> None:
    """Cut short by the supervisor (stopped, budget): not counted, the bead is open again."""
    stop = ctx.state.budget_stop
    why = f"stopped by the budget: {stop}" if stop else "the supervisor was stopped"
    modify(ctx.store, bead_id, lambda b: end_attempt(b, "interrupted", why))


def stopped(ctx: RunContext, bead_id: str, n: int, reason: ExitReason) -> bool:
    """End an attempt the supervisor stopped (Ctrl-C, the budget, ``mayor retry``, ``mayor cancel``)
    without a verdict, wherever it ran; False when ``reason`` is no such stop (judge it then)."""
    if reason in ("interrupted", "budget"):
        interrupted(ctx, bead_id)
    elif reason == "retry":
        clear_request(ctx.repo, bead_id)
        ctx.events.emit(EventType.RETRIED, bead_id, n, outcome="retry_requested", error="retried by the user")
        modify(ctx.store, bead_id, lambda b: end_attempt(b, "retry_requested", "stopped by `mayor retry`"))
    elif reason == "cancelled":
        ctx.events.emit(EventType.CANCELLED, bead_id, n)
        modify(ctx.store, bead_id, lambda b: end_attempt(b, "cancelled", "cancelled by the user"))
    else:
        return False
    return True


def merged(ctx: RunContext, bead: Bead, n: int | None, commit: str, files: list[str] | None = None) -> None:
    """``files``: what the bead changed, when ``commit`` landed more than it (a batch)."""
    root = ctx.repo.root
    if files is None:
        files = gitops.files_changed(f"{commit}^1", commit, root) if gitops.rev(f"{commit}^2", root) else []

    def change(b: Bead) -> None:
        b.status, b.closed_at, b.error = "merged", now(), None
        b.result = b.result or Result()
        b.result.commit, b.result.files = commit, files

    modify(ctx.store, bead.id, change)
    ctx.events.emit(EventType.MERGED, bead.id, n, commit=commit, files=files)
    ctx.watch.landed(commit)


def last_counted(bead: Bead, before: int) -> Attempt | None:
    """The latest attempt before number ``before`` that was not interrupted (its feedback counts)."""
    return next((a for a in reversed(bead.attempts) if a.n < before and a.outcome != "interrupted"), None)
