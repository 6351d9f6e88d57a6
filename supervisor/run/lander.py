"""The merge thread: takes queued beads one at a time and lands each through the merge queue.

It is the only thread that calls :class:`~supervisor.run.merge_queue.MergeQueue`, so the target
branch has one mover. A landing that the user's checkout blocks is retried a few times on a
timer, then left queued for the next run; a conflict or a gate failure goes back to an agent.
"""

from __future__ import annotations

import threading
from pathlib import Path

from beads.models import Bead
from supervisor.events import EventType
from supervisor.output import say
from supervisor.run import outcomes
from supervisor.run.beadstate import current, end_attempt, modify
from supervisor.run.context import RunContext
from supervisor.run.merge_queue import BranchGone, Landing
from supervisor.run.outcomes import Failure

BLOCKED_RETRY_S = 5.0
BLOCKED_RETRIES = 6
"""Landings blocked by the user's checkout are retried this often, then left queued for the next run."""


class Lander:
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.blocked_tries: dict[str, int] = {}
        """Only the merge thread reads and writes this."""
        self.thread = threading.Thread(target=self._main, name="merge-queue", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        """Let the queue finish what it holds, then end the thread."""
        self.ctx.merge_q.put(None)
        self.thread.join()

    def _main(self) -> None:
        ctx = self.ctx
        while True:
            bead_id = ctx.merge_q.get()
            if bead_id is None:
                return
            try:
                self._land(bead_id)
            except BaseException as exc:
                ctx.state.dequeue(bead_id)
                ctx.state.fail(exc)
            ctx.state.wake.set()

    def _land(self, bead_id: str) -> None:
        ctx = self.ctx
        bead = ctx.store.get(bead_id)
        if bead.status != "queued" or ctx.state.stopping.is_set():  # after Ctrl-C it waits, queued, for the next run
            ctx.state.dequeue(bead_id)
            return
        n = current(bead).n if bead.attempts else None
        run_dir = ctx.repo.run_dir(bead_id, n or 0)
        try:
            landing = ctx.queue.land(bead, run_dir)
        except BranchGone as gone:
            reason = str(gone)
            modify(ctx.store, bead_id, lambda b: end_attempt(b, "failed", reason, max_attempts=0))
            ctx.events.emit(EventType.FAILED, bead_id, n, error=reason)
            ctx.state.dequeue(bead_id)
            return
        if landing.outcome == "blocked":
            self._blocked(bead_id, n, landing.detail)
            return
        self._record(bead, n, landing, run_dir)
        ctx.state.dequeue(bead_id)

    def _blocked(self, bead_id: str, n: int | None, detail: str) -> None:
        """Retry a landing the user's checkout blocks a few times; then leave it queued for the next run."""
        ctx = self.ctx
        ctx.events.emit(EventType.LANDING_BLOCKED, bead_id, n, detail=detail)
        tries = self.blocked_tries[bead_id] = self.blocked_tries.get(bead_id, 0) + 1
        if ctx.state.stopping.is_set() or tries > BLOCKED_RETRIES:
            ctx.state.leave_unlanded(bead_id, detail)
            return
        say(f"mayor: {detail} (try {tries} of {BLOCKED_RETRIES}; again in {BLOCKED_RETRY_S:.0f}s)")
        threading.Timer(BLOCKED_RETRY_S, ctx.merge_q.put, args=(bead_id,)).start()

    def _record(self, bead: Bead, n: int | None, landing: Landing, run_dir: Path) -> None:
        ctx = self.ctx
        if ctx.opts.gate and landing.outcome != "conflict":
            kind = EventType.GATE_PASSED if landing.outcome == "merged" else EventType.GATE_FAILED
            ctx.events.emit(kind, bead.id, n, flaky=landing.flaky)
            if landing.flaky:
                ctx.events.emit(EventType.GATE_FLAKY, bead.id, n)
        if landing.outcome == "merged":
            assert landing.commit is not None
            outcomes.merged(ctx, bead, n, landing.commit)
            return
        outcomes.failed(ctx, bead.id, n or 0, self._failure(bead, n, landing), run_dir)

    def _failure(self, bead: Bead, n: int | None, landing: Landing) -> Failure:
        target = self.ctx.opts.target
        if landing.outcome == "conflict":
            self.ctx.events.emit(EventType.CONFLICT, bead.id, n, files=landing.files)
            files = ", ".join(landing.files)
            feedback = (
                f"Your branch conflicts with {target} in: {files}.\n"
                f"The target was merged into your branch; resolve the conflict markers, keep both "
                f"sides' intent, and commit.\n\n{landing.detail}"
            )
            return Failure("conflict", f"merge conflict with {target} in {files}", feedback)
        return Failure(
            "gate_failed",
            f"the gate failed on the merge with {target}",
            f"After merging your branch onto {target}, the gate failed.\n{landing.detail}",
        )
