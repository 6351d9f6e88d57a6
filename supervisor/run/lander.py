"""The merge thread: takes queued beads one at a time and lands each through the merge queue.

It is the only thread that calls :class:`~supervisor.run.merge_queue.MergeQueue`, so the target
branch has one mover. A landing that the user's checkout blocks is retried a few times on a
timer, then left queued for the next run; a conflict or a gate failure goes back to an agent.
"""

from __future__ import annotations

import threading
from pathlib import Path

from beads.models import Bead
from supervisor import gitops
from supervisor.errors import MayorError
from supervisor.events import EventType
from supervisor.output import say
from supervisor.run import outcomes
from supervisor.run.beadstate import current, end_attempt, modify
from supervisor.run.context import RunContext
from supervisor.run.merge_queue import BranchGone, Landing
from supervisor.run.outcomes import Failure

DEPS_LOOK_S = 1.0
"""How often a queued bead whose dependency is still on its way is looked at again."""
RED_LOOK_S = 2.0
"""While the target is red, how often the lander looks whether it moved (a rev-parse)."""
BLOCKED_RETRY_S = 5.0
BLOCKED_RETRIES = 6
"""Landings blocked by the user's checkout are retried this often, then left queued for the next run."""


class Lander:
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.blocked_tries: dict[str, int] = {}
        """Only the merge thread reads and writes this."""
        self.red: str | None = None
        """The target tip on which the gate fails alone, while landings hold; merge thread only."""
        self.thread = threading.Thread(target=self._main, name="merge-queue", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        """Let the queue finish what it holds, then end the thread."""
        self.ctx.merge_q.put(None)
        self.thread.join()

    def _main(self) -> None:
        ctx = self.ctx
        try:
            ctx.watch.verify()  # the tip this run starts from
        except BaseException as exc:
            ctx.state.fail(exc)
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
        if bead.status != "queued" or ctx.state.stopping.is_set() or not self._green():
            ctx.state.dequeue(bead_id)  # after Ctrl-C it waits, queued, for the next run
            return
        n = current(bead).n if bead.attempts else None
        run_dir = ctx.repo.run_dir(bead_id, n or 0)
        if not self._deps_landed(bead):
            return
        ctx.guard_target()  # first undo what running agents put on the target, then:
        ctx.watch.verify()  # every landing of this run still there, the target moved only forward
        try:
            landing = ctx.queue.land(bead, run_dir, wanted=lambda: ctx.store.get(bead_id).status == "queued")
        except BranchGone as gone:
            reason = str(gone)
            modify(ctx.store, bead_id, lambda b: end_attempt(b, "failed", reason, max_attempts=0))
            ctx.events.emit(EventType.FAILED, bead_id, n, error=reason)
            ctx.state.dequeue(bead_id)
            return
        if landing.outcome == "cancelled":
            ctx.state.dequeue(bead_id)
            say(f"mayor: {bead_id} was cancelled while its landing was under way; it did not land")
            return
        if landing.outcome == "blocked":
            self._blocked(bead_id, n, landing.detail)
            return
        if landing.outcome == "target_red":
            self._hold(landing.detail, landing.commit)
            ctx.merge_q.put(bead_id)  # not the bead's fault: it lands once the target is green
            return
        self._record(bead, n, landing, run_dir)
        ctx.state.dequeue(bead_id)

    # -- dependencies ----------------------------------------------------------------------------
    def _deps_landed(self, bead: Bead) -> bool:
        """A bead lands only after its dependencies (one may be added while it runs). One still on
        its way: look again in a second. One that will not land in this run: the bead stays queued."""
        ctx = self.ctx
        pending: list[str] = []
        never: list[str] = []
        for dep_id in bead.deps:
            try:
                dep = ctx.store.get(dep_id)
            except MayorError:
                continue
            if dep.landed:
                continue
            on_its_way = dep.status in ("running", "queued", "review") or (
                dep.status == "open" and ctx.opts.matches(dep)
            )
            (pending if on_its_way else never).append(f"{dep_id} ({dep.status})")
        if never:
            ctx.state.leave_unlanded(bead.id, f"waits on {', '.join(never)}, which will not land in this run")
            return False
        if pending:
            threading.Timer(DEPS_LOOK_S, ctx.merge_q.put, args=(bead.id,)).start()
            return False
        return True

    # -- a red target -------------------------------------------------------------------------
    def _green(self) -> bool:
        """While the target is red (found so when a candidate failed the gate and the target alone
        failed it too), wait until it moves and passes the gate alone; False if the run stops
        meanwhile. A target not known red is not gated alone here: a failing candidate is."""
        ctx = self.ctx
        while self.red is not None:
            tip = gitops.ensure_branch_exists(ctx.opts.target, ctx.repo.root)
            if tip == self.red:
                if ctx.state.stopping.wait(RED_LOOK_S):
                    return False
                continue
            check = ctx.queue.check_target(tip, ctx.repo.mayor_dir / "state" / "target-gate.log")
            if check.passed:
                ctx.events.emit(EventType.TARGET_GREEN, tip=tip)
                say(f"mayor: {ctx.opts.target} passes the gate again at {tip[:12]}; landings go on")
                self.red = None
            else:
                self._hold(f"the gate fails on {ctx.opts.target} alone at {tip[:12]} (log: {check.log})", tip)
        return True

    def _hold(self, detail: str, tip: str | None = None) -> None:
        ctx = self.ctx
        tip = tip or gitops.ensure_branch_exists(ctx.opts.target, ctx.repo.root)
        self.red = tip
        ctx.events.emit(EventType.TARGET_RED, tip=tip, detail=detail)
        say(
            f"mayor: {ctx.opts.target} is red: {detail}. Landings wait, no bead is charged, agents go on; "
            f"push a fix to {ctx.opts.target} and the queue goes on by itself"
        )

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
            f"Your change broke the gate: {target} alone passes it, and the merge of your branch onto "
            f"{target} fails it.\n{landing.detail}",
        )
