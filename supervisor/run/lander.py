"""The merge thread: the one thread that moves the target, through the merge queue's pipeline.

Queued beads arrive on ``ctx.merge_q`` (bead ids; ``WAKE`` from a gate that finished; None ends
the thread). The :class:`~supervisor.run.pipeline.Pipeline` decides what is gated together and
on what; this thread acts on its verdicts: it writes bead files and events, holds landings while
the target is red, and retries a landing the user's checkout blocks a few times before leaving it
queued for the next run. A conflict or a gate failure goes back to an agent.
"""

from __future__ import annotations

import queue
import threading

from beads.models import Bead
from supervisor import gitops
from supervisor.events import EventType
from supervisor.output import say
from supervisor.run import outcomes
from supervisor.run.beadstate import current, end_attempt, modify
from supervisor.run.context import RunContext
from supervisor.run.gates import GateRun
from supervisor.run.merge_queue import Conflict
from supervisor.run.outcomes import Failure
from supervisor.run.pipeline import BLOCKED_RETRY_S, Pipeline

WAKE = ""
"""On ``merge_q``: no bead, only a wake-up (a gate run finished)."""
DEPS_LOOK_S = 1.0
"""How often beads waiting (a dependency on its way, a window to land) are looked at again."""
RED_LOOK_S = 2.0
"""While the target is red, how often the lander looks whether it moved (a rev-parse)."""
BLOCKED_RETRIES = 6
"""Landings blocked by the user's checkout are retried this often, then left queued for the next run."""


class Lander:
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.blocked_tries: dict[str, int] = {}
        """Only the merge thread reads and writes this."""
        self.red: str | None = None
        """The target tip on which the gate fails alone, while landings hold; merge thread only."""
        self.pipeline = Pipeline(ctx, self)
        self.thread = threading.Thread(target=self._main, name="merge-queue", daemon=True)

    def start(self) -> None:
        self.ctx.queue.gates.wake = lambda: self.ctx.merge_q.put(WAKE)
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
            try:
                item = ctx.merge_q.get(timeout=self._patience())
            except queue.Empty:
                item = WAKE
            try:
                if item is None:
                    self.pipeline.finish()
                    return
                if ctx.state.fatal is not None:  # the run is ending on an error: nothing more lands
                    ctx.state.dequeue(item)
                    continue
                if item:
                    self.pipeline.add(item)
                self.pipeline.step()
            except BaseException as exc:
                self.pipeline.abandon()
                ctx.state.fail(exc)
                if item is None:
                    return
            ctx.state.wake.set()

    def _patience(self) -> float | None:
        """How long to wait for the next bead or verdict before looking again (None: no need to)."""
        pipeline = self.pipeline
        if pipeline.ready():
            return 0.0
        if pipeline.window and pipeline.retry_at:
            return RED_LOOK_S
        if self.red is not None:
            return RED_LOOK_S
        return DEPS_LOOK_S if pipeline.pending else None

    # -- what the pipeline reports ---------------------------------------------------------------
    def merged(self, beads: list[Bead], commit: str, gate: GateRun | None) -> None:
        ctx = self.ctx
        for bead in beads:
            n = current(bead).n if bead.attempts else None
            if gate is not None and ctx.opts.gate:
                ctx.events.emit(EventType.GATE_PASSED, bead.id, n, flaky=gate.flaky, candidate=commit)
                if gate.flaky:
                    ctx.events.emit(EventType.GATE_FLAKY, bead.id, n)
            files = ctx.queue.files(commit, bead) if len(beads) > 1 else None
            outcomes.merged(ctx, bead, n, commit, files)
            ctx.state.dequeue(bead.id)

    def gate_failed(self, bead: Bead, gate: GateRun) -> None:
        target = self.ctx.opts.target
        tail = gate.log.read_text(errors="replace")[-4000:] if gate.log.is_file() else ""
        detail = f"the gate `{self.ctx.opts.gate}` failed (exit {gate.code}):\n{tail}"
        self.ctx.events.emit(EventType.GATE_FAILED, bead.id, self._n(bead), flaky=False, candidate=gate.commit)
        self._failed(
            bead,
            Failure(
                "gate_failed",
                f"the gate failed on the merge with {target}",
                f"Your change broke the gate: {target} alone passes it, and the merge of your branch onto "
                f"{target} fails it.\n{detail}",
            ),
        )

    def conflict(self, bead: Bead, conflict: Conflict) -> None:
        target = self.ctx.opts.target
        self.ctx.events.emit(EventType.CONFLICT, bead.id, self._n(bead), files=conflict.files)
        files = ", ".join(conflict.files)
        feedback = (
            f"Your branch conflicts with {target} in: {files}.\n"
            f"The target was merged into your branch; resolve the conflict markers, keep both "
            f"sides' intent, and commit.\n\n{conflict.detail}"
        )
        self._failed(bead, Failure("conflict", f"merge conflict with {target} in {files}", feedback))

    def gone(self, bead: Bead, reason: str) -> None:
        ctx = self.ctx
        modify(ctx.store, bead.id, lambda b: end_attempt(b, "failed", reason, max_attempts=0))
        ctx.events.emit(EventType.FAILED, bead.id, self._n(bead), error=reason)
        ctx.state.dequeue(bead.id)

    def never(self, bead_id: str, why: str) -> None:
        self.ctx.state.leave_unlanded(bead_id, why)

    def _failed(self, bead: Bead, failure: Failure) -> None:
        n = self._n(bead)
        outcomes.failed(self.ctx, bead.id, n or 0, failure, self.ctx.repo.run_dir(bead.id, n or 0))
        self.ctx.state.dequeue(bead.id)

    @staticmethod
    def _n(bead: Bead) -> int | None:
        return current(bead).n if bead.attempts else None

    # -- a red target -------------------------------------------------------------------------
    def green(self) -> bool:
        """While the target is red (found so when a candidate failed the gate and the target alone
        failed it too), landings hold until it moves and passes the gate alone. A target not known
        red is not gated alone here: a failing candidate is."""
        ctx = self.ctx
        if self.red is None:
            return True
        tip = gitops.ensure_branch_exists(ctx.opts.target, ctx.repo.root)
        if tip == self.red:
            return False
        log = ctx.repo.mayor_dir / "state" / "target-gate.log"
        if ctx.queue.gates.check_target(tip, log):
            ctx.events.emit(EventType.TARGET_GREEN, tip=tip)
            say(f"mayor: {ctx.opts.target} passes the gate again at {tip[:12]}; landings go on")
            self.red = None
            return True
        self.hold(f"the gate fails on {ctx.opts.target} alone at {tip[:12]} (log: {log})", tip)
        return False

    def hold(self, detail: str, tip: str) -> None:
        ctx = self.ctx
        self.red = tip
        ctx.events.emit(EventType.TARGET_RED, tip=tip, detail=detail)
        say(
            f"mayor: {ctx.opts.target} is red: {detail}. Landings wait, no bead is charged, agents go on; "
            f"push a fix to {ctx.opts.target} and the queue goes on by itself"
        )

    def blocked(self, beads: list[Bead], detail: str) -> bool:
        """A landing the user's checkout blocks: True to try again later, False when it was tried
        enough (or the run stops) and its beads are left queued for the next run."""
        ctx = self.ctx
        for bead in beads:
            ctx.events.emit(EventType.LANDING_BLOCKED, bead.id, self._n(bead), detail=detail)
        key = beads[0].id
        tries = self.blocked_tries[key] = self.blocked_tries.get(key, 0) + 1
        if ctx.state.stopping.is_set() or tries > BLOCKED_RETRIES:
            for bead in beads:
                ctx.state.leave_unlanded(bead.id, detail)
            return False
        say(f"mayor: {detail} (try {tries} of {BLOCKED_RETRIES}; again in {BLOCKED_RETRY_S:.0f}s)")
        return True
