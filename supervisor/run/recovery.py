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
from supervisor.run.ray_executor import actor_name
from supervisor.run.remote import repo_id
from supervisor.run.remote_attempt import is_remote

StartSlot = Callable[[int, str, AgentProcess | None], None]
"""How recovery hands an adopted agent back to the scheduler: slot, bead, agent."""


def recover(ctx: RunContext, start_slot: StartSlot) -> None:
    finished = ctx.queue.recover()
    if finished:
        bead_ids, commit = finished
        for bead_id in bead_ids:
            bead = ctx.store.get(bead_id)
            if bead.status == "queued":
                files = ctx.queue.files(commit, bead) if len(bead_ids) > 1 else None
                outcomes.merged(ctx, bead, current(bead).n, commit, files)
                ctx.events.emit(EventType.RECOVERED, bead_id, None, what="completed a landing")
        ctx.queue.journal.unlink(missing_ok=True)  # only now: `mayor cancel` refused them until they said merged
    if ctx.opts.executor == "ray":
        ctx.ray  # noqa: B018 - connect once, in the main thread, before any attempt
    beads = ctx.store.load()
    for bead in sorted(beads.values(), key=lambda b: b.updated_at):
        if bead.status == "running":
            _recover_running(ctx, bead, start_slot)
        elif bead.status == "queued" and ctx.opts.matches(bead):
            outcomes.enqueue(ctx, bead.id)
    if ctx.opts.executor == "ray":
        _release_settled(ctx, beads)


def _release_settled(ctx: RunContext, beads: dict[str, Bead]) -> None:
    """Release this repository's actors whose outcome is on the bead file already (a supervisor
    killed between writing it and releasing); an attempt still running is asked to stop first."""
    keep = {actor_name(repo_id(ctx.repo.root), b.id, current(b).n) for b in beads.values() if b.status == "running"}
    for name in ctx.ray.attempts(repo_id(ctx.repo.root)):
        handle = ctx.ray.by_name(name) if name not in keep else None
        if handle is None:
            continue
        poll = ctx.ray.poll(handle, timeout=5.0)
        if poll.result is None and not poll.lost:
            ctx.ray.cancel(handle, "stopped")  # released by the next run, once it has ended
        else:
            ctx.ray.release(handle)


def _recover_running(ctx: RunContext, bead: Bead, start_slot: StartSlot) -> None:
    if not bead.attempts:  # `running` written by hand, with no attempt: nothing to adopt
        modify(ctx.store, bead.id, lambda b: setattr(b, "status", "open"))
        ctx.events.emit(EventType.RECOVERED, bead.id, None, what="running with no attempt: opened again")
        return
    n = current(bead).n
    if is_remote(ctx.repo.run_dir(bead.id, n)):  # its agent.json is the node's: never adopted here
        _recover_remote(ctx, bead, start_slot)
        return
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


def _recover_remote(ctx: RunContext, bead: Bead, start_slot: StartSlot) -> None:
    """An attempt on the cluster: its slot thread takes it back (running or finished), once."""
    n = current(bead).n
    handle = ctx.ray.find(repo_id(ctx.repo.root), bead.id, n) if ctx.opts.executor == "ray" else None
    free = ctx.state.free_slots(ctx.opts.slots)
    if handle is None or not free or not ctx.opts.matches(bead):
        if handle is not None:
            ctx.ray.cancel(handle, "interrupted")  # its actor is released by a later run
        outcomes.interrupted(ctx, bead.id)
        ctx.events.emit(EventType.RECOVERED, bead.id, n, what="restarting an attempt cut short")
        return
    ctx.events.emit(EventType.RECOVERED, bead.id, n, what="found its attempt on the cluster again", actor=handle.name)
    start_slot(free[0], bead.id, None)
