"""``mayor sling``: keep up to X beads running, judge their work, land it through the queue.

The scheduler is the main thread: it holds the supervisor lock, recovers what a killed run left,
then loops (fill free slots from the ready beads, sleep until something happens) until no attempt
runs and nothing waits to land. Each busy slot runs an :class:`~supervisor.run.attempt.AttemptRunner`
in a thread of its own; one :class:`~supervisor.run.lander.Lander` thread lands beads. They share
only :class:`~supervisor.run.state.RunState`. All else is on disk (bead files, run folders, the
merge journal), so a supervisor killed at any moment is resumed by the next ``mayor sling``.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from beads import graph
from beads.models import Bead, BeadSummary
from supervisor import gitops
from supervisor.agents.context import write_context
from supervisor.errors import MayorError
from supervisor.events import EventType
from supervisor.output import say
from supervisor.run import outcomes
from supervisor.run.agentproc import AgentProcess
from supervisor.run.attempt import AttemptRunner
from supervisor.run.checkout_repair import finish_fast_forward
from supervisor.run.checkout_watch import blamed
from supervisor.run.context import RunContext
from supervisor.run.dryrun import describe, unrunnable
from supervisor.run.lander import Lander
from supervisor.run.lock import supervisor_lock
from supervisor.run.preflight import check_commands
from supervisor.run.recovery import recover
from supervisor.run.spend import check_budget
from supervisor.run.verdict import verdict
from supervisor.run.worktrees import adopt_legacy_pool

LOOK_S = 2.0
"""How often an idle scheduler looks whether another process wrote a bead (a stat, nothing more)."""


class Scheduler:
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.threads: dict[int, threading.Thread] = {}
        """Slot threads, by slot; only the main thread reads and writes this."""

    # -- the whole run ---------------------------------------------------------------------
    def run(self) -> int:
        ctx = self.ctx
        (ctx.repo.mayor_dir / "state").mkdir(parents=True, exist_ok=True)
        with supervisor_lock(ctx.repo.mayor_dir):
            beads = ctx.store.load()
            graph.validate(beads)
            journal = ctx.repo.mayor_dir / "state" / "merge.json"
            for what in finish_fast_forward(ctx.repo.root, ctx.opts.target, journal):  # before the dirty check
                say(f"mayor: {what}")
                ctx.events.emit(EventType.RECOVERED, what=what)
            self._preflight(beads)
            if ctx.opts.dry_run:
                return self._dry_run(beads)
            for what in ctx.queue.gates.groups.stop_orphans():  # gates a killed supervisor left running
                ctx.events.emit(EventType.RECOVERED, what=what)
            for what in adopt_legacy_pool(ctx.repo.root, ctx.pool.base):
                ctx.events.emit(EventType.RECOVERED, what=what)
            check_commands(ctx)
            ctx.events.emit(EventType.SLING_STARTED, slots=ctx.opts.slots, target=ctx.opts.target, pid=os.getpid())
            write_context(ctx.repo.root, ctx.opts.target, ctx.opts.gate, ctx.repo.mayor_dir / "state")
            lander = Lander(ctx)
            lander.start()
            try:
                with _sigterm_as_interrupt():
                    recover(ctx, self._start_slot)
                    self._loop()
            except KeyboardInterrupt:
                self._shutdown(lander)
                ctx.events.emit(EventType.SLING_STOPPED, reason="interrupted")
                say("mayor: interrupted; running agents were stopped. `mayor sling` resumes.")
                return 130
            except BaseException:
                self._shutdown(lander)
                ctx.events.emit(EventType.SLING_STOPPED, reason="error")
                raise
            lander.stop()
            ctx.watch.verify()  # an agent may move the target after the last landing too
            ctx.events.emit(EventType.SLING_STOPPED, reason="done")
            return verdict(ctx)

    def _preflight(self, beads: dict[str, Bead]) -> None:
        ctx = self.ctx
        target, root = ctx.opts.target, ctx.repo.root
        gitops.ensure_branch_exists(target, root)
        checkout = gitops.checked_out_at(target, root)
        if checkout is not None:
            changed = gitops.dirty(checkout)
            agents = blamed(ctx.repo.mayor_dir / "state", [line[3:] for line in changed])
            if changed and agents:
                raise MayorError(
                    f"{target} is checked out at {checkout} with uncommitted changes to tracked files "
                    f"({', '.join(line[3:] for line in changed[:5])}) that appeared while the agents of "
                    f"{', '.join(agents)} ran (event checkout_touched): look at them with `git diff`, then keep "
                    "(commit) or drop (git restore) them, and run mayor sling again"
                )
            if changed:
                raise MayorError(
                    f"{target} is checked out at {checkout} with uncommitted changes to tracked files "
                    f"({', '.join(line[3:] for line in changed[:5])}); commit or stash them first, so that landing "
                    "work there cannot touch them"
                )
        ctx.pool  # noqa: B018 - a bad `worktrees` key stops the run here, before anything starts
        unknown = [i for i in ctx.opts.only if i not in beads]
        if unknown:
            raise MayorError(f"--only names unknown bead(s) {', '.join(unknown)}; see `mayor list`")
        wanted = [b for b in beads.values() if ctx.opts.matches(b) and b.status in ("open", "running", "queued")]
        found = unrunnable(ctx.repo, wanted, ctx.opts.agent)
        if found and not ctx.opts.dry_run:
            raise MayorError(describe(found))

    def _dry_run(self, beads: dict[str, Bead]) -> int:
        opts = self.ctx.opts
        ready = [b for b in graph.ready(beads) if opts.matches(b)]
        say(
            f"would sling {min(len(ready), opts.slots)} of {len(ready)} ready bead(s) "
            f"with {opts.slots} slot(s) onto {opts.target}:"
        )
        cannot = dict(unrunnable(self.ctx.repo, ready, opts.agent))
        for index, bead in enumerate(ready):
            when = "now " if index < opts.slots else "next"
            print(f"{when}\t{bead.id}\t{self.ctx.agent_name(bead)}\t{bead.title}")
        for bead_id, why in cannot.items():
            say(f"cannot run {bead_id}: {why}")
        return 1 if cannot else 0

    # -- the scheduling loop ---------------------------------------------------------------
    def _loop(self) -> None:
        state = self.ctx.state
        while True:
            fatal = state.fatal
            if fatal is not None:
                raise fatal
            seen = self._beads_changed_at()
            beads = self.ctx.store.summaries()  # cached: a wake does not parse every whole bead
            if not state.stopping.is_set():
                self._fill(beads)
            if state.idle():
                return
            while not state.wake.wait(timeout=LOOK_S) and self._beads_changed_at() == seen:
                pass  # asleep: no event, no bead written by another process (mayor approve, add)
            state.wake.clear()

    def _beads_changed_at(self) -> int:
        try:
            return self.ctx.store.dir.stat().st_mtime_ns
        except OSError:
            return 0

    def _fill(self, beads: Mapping[str, BeadSummary]) -> None:
        ctx, state = self.ctx, self.ctx.state
        unlanded = state.unlanded()
        for bead in beads.values():  # approved by `mayor approve` while we run
            if bead.status == "queued" and bead.id not in unlanded and ctx.opts.matches(bead):
                outcomes.enqueue(ctx, bead.id)
        if check_budget(ctx):
            return
        free = state.free_slots(ctx.opts.slots)
        if not free:
            return
        taken = state.taken()
        for bead in graph.ready(beads):
            if not free:
                break
            if bead.id in taken or not ctx.opts.matches(bead):
                continue
            self._start_slot(free.pop(0), bead.id, None)

    def _start_slot(self, slot: int, bead_id: str, adopt: AgentProcess | None) -> None:
        self.ctx.state.claim(slot, bead_id)
        thread = threading.Thread(target=self._slot_main, args=(slot, bead_id, adopt), name=f"slot-{slot}", daemon=True)
        self.threads[slot] = thread
        thread.start()

    def _slot_main(self, slot: int, bead_id: str, adopt: AgentProcess | None) -> None:
        try:
            AttemptRunner(self.ctx, slot).run(bead_id, adopt)
        except BaseException as exc:
            self.ctx.state.fail(exc)
        finally:
            self.ctx.state.free(slot)

    def _shutdown(self, lander: Lander) -> None:
        self.ctx.state.stopping.set()
        for thread in list(self.threads.values()):
            thread.join()
        lander.stop()


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a cancelled CI job, ``kill``) stops a run the way Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
