"""After a restart: finish a half-done landing, adopt agents still running, requeue queued beads.

Everything a killed supervisor leaves is on disk: the merge journal, the bead files and each
attempt's ``agent.json``. The next ``mayor sling`` reads them before it slings anything.
"""

from __future__ import annotations

from collections.abc import Callable

from beads.models import Bead
from supervisor.events import EventType
from supervisor.run import outcomes
from supervisor.run.agentproc import AgentProcess
from supervisor.run.beadstate import current, modify
from supervisor.run.context import RunContext

StartSlot = Callable[[int, str, AgentProcess | None], None]
"""How recovery hands an adopted agent back to the scheduler: slot, bead, agent."""


def recover(ctx: RunContext, start_slot: StartSlot) -> None:
    finished = ctx.queue.recover()
    if finished:
        bead_id, commit = finished
        bead = ctx.store.get(bead_id)
        if bead.status == "queued":
            outcomes.merged(ctx, bead, current(bead).n, commit)
            ctx.events.emit(EventType.RECOVERED, bead_id, None, what="completed a landing")
    beads = ctx.store.load()
    for bead in sorted(beads.values(), key=lambda b: b.updated_at):
        if bead.status == "running":
            _recover_running(ctx, bead, start_slot)
        elif bead.status == "queued" and ctx.opts.matches(bead):
            outcomes.enqueue(ctx, bead.id)


def _recover_running(ctx: RunContext, bead: Bead, start_slot: StartSlot) -> None:
    if not bead.attempts:  # `running` written by hand, with no attempt: nothing to adopt
        modify(ctx.store, bead.id, lambda b: setattr(b, "status", "open"))
        ctx.events.emit(EventType.RECOVERED, bead.id, None, what="running with no attempt: opened again")
        return
    n = current(bead).n
    agent = AgentProcess.adopt(ctx.repo.run_dir(bead.id, n))
    slot = agent.extra.get("slot") if agent else None
    if agent is None or not isinstance(slot, int) or ctx.state.is_busy(slot) or not ctx.opts.matches(bead):
        if agent is not None and not agent.gone:
            agent.kill("interrupted")  # not ours to finish in this run: never let it write into a reused slot
        outcomes.interrupted(ctx, bead.id)
        ctx.events.emit(EventType.RECOVERED, bead.id, n, what="restarting an attempt cut short")
        return
    ctx.events.emit(EventType.RECOVERED, bead.id, n, what="found its agent again", pid=agent.pid)
    start_slot(slot, bead.id, agent)
