"""The merge queue's pipeline: which beads are gated together, on what, and what each verdict means.

Beads waiting to land are **groups** in arrival order: a single bead, or a part of a failed
batch (gated as it is, to find the culprit). The **window** holds the candidates being gated, each built
on the one before it (the first on the target's tip): candidate k = tip + the beads of candidates
1..k. Their gates run at once, each in a gate worktree of its own (:mod:`supervisor.run.gates`).
Verdicts are read in order only:

- the first candidate passed: the target moves to it by compare-and-swap (its beads land), and
  the next candidate, built on it, becomes the first;
- it failed on a tip that passes the gate alone: the candidates built on it are discarded (their
  gates killed) and their beads wait again, in order; a batch is split into parts (bisection, see
  :func:`split`), a single bead is the culprit and goes back to its agent with the gate's log;
  innocent beads are never charged an attempt. Nothing is built on a candidate known to fail: the
  next one is built on the last candidate before it, and stays when the failure is taken out;
- the tip alone fails the gate (a red target): everything waits, no bead is charged.

How many beads a candidate holds and how deep the window goes is :mod:`supervisor.run.queue_policy`'s
choice. A bead is built on top of its dependencies only when they have landed or are in the window
ahead of it. A bead that conflicts with the window but not with the tip waits for the window to land
(a ``git merge-tree`` check costs milliseconds; a candidate sure to conflict would cost a gate run).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from beads.models import Bead
from supervisor import gitops
from supervisor.errors import MayorError
from supervisor.events import EventType
from supervisor.output import say
from supervisor.run.beadstate import current
from supervisor.run.context import RunContext
from supervisor.run.gates import GateRun
from supervisor.run.journal import still_wanted
from supervisor.run.merge_queue import BranchGone, Conflict
from supervisor.run.queue_policy import FailureRate, Shape, shape, unit_size

BLOCKED_RETRY_S = 5.0
"""A landing blocked by the user's checkout is tried again this often."""


@dataclass
class Group:
    ids: list[str]
    fixed: bool = False
    """Gated as it is (a part of a failed batch); else a single bead, batched as the policy says."""


@dataclass
class Candidate:
    beads: list[Bead]
    base: str
    commit: str
    gate: GateRun
    fixed: bool


class Owner(Protocol):
    """What the pipeline tells the merge thread (which writes bead files, events and messages)."""

    def merged(self, beads: list[Bead], commit: str, gate: GateRun | None) -> None: ...
    def gate_failed(self, bead: Bead, gate: GateRun) -> None: ...
    def conflict(self, bead: Bead, conflict: Conflict) -> None: ...
    def gone(self, bead: Bead, reason: str) -> None: ...
    def never(self, bead_id: str, why: str) -> None: ...
    def blocked(self, beads: list[Bead], detail: str) -> bool: ...
    def hold(self, detail: str, tip: str) -> None: ...
    def green(self) -> bool: ...


class Pipeline:
    """The merge thread's: groups waiting, candidates gated; nothing here is shared."""

    def __init__(self, ctx: RunContext, owner: Owner) -> None:
        self.ctx, self.owner = ctx, owner
        self.queue, self.gates = ctx.queue, ctx.queue.gates
        self.pending: list[Group] = []
        self.window: list[Candidate] = []
        self.rate = FailureRate(ctx.repo.mayor_dir / "state" / "queue-stats.json")
        self.retry_at = 0.0
        """A landing the user's checkout blocked is tried again from this time (monotonic)."""
        self._shape: Shape | None = None
        self._skip: set[str] = set()
        self._fresh: set[str] = set()
        """Branch heads found not on the target yet."""

    def ready(self) -> bool:
        """A verdict can be acted on now (a known verdict needs no gate run to wake the thread)."""
        return bool(self.window) and self.window[0].gate.finished.is_set() and time.monotonic() >= self.retry_at

    def add(self, bead_id: str) -> None:
        """A bead to land: behind the others, but a bead back after failing the gate goes first (it
        is gated alone, and the sooner it is judged the sooner its agent hears)."""
        if bead_id in self._ids():
            return
        try:
            first = _risky(self.ctx.store.get(bead_id))
        except MayorError:
            first = False
        self.pending.insert(0 if first else len(self.pending), Group([bead_id]))

    def _ids(self) -> set[str]:
        return {i for g in self.pending for i in g.ids} | {b.id for c in self.window for b in c.beads}

    # -- a step: read verdicts in order, then build and start what the gates can take ----------
    def step(self) -> None:
        self._settle()
        if self.ctx.state.stopping.is_set():
            self.discard(1)  # stop speculating; the first candidate's verdict is still awaited
            if not self.window:
                self.drop()
            return
        if not self.window and not self.owner.green():
            return
        self._fill()

    def finish(self) -> None:
        """The run ends: the first candidate's verdict is awaited and acted on; all else waits,
        queued, for the next run."""
        self.discard(1)
        while self.window:
            self.window[0].gate.finished.wait()
            self.retry_at = 0.0
            self._settle()
        self.drop()
        self.gates.join()

    def abandon(self) -> None:
        """After an error: every gate is stopped, every bead waits, queued, for the next run."""
        self.discard(0)
        self.drop()
        self.gates.join()

    def drop(self) -> None:
        for group in self.pending:
            for bead_id in group.ids:
                self.ctx.state.dequeue(bead_id)
        self.pending = []

    def discard(self, start: int, drop: frozenset[str] = frozenset()) -> None:
        """Discard the candidates from ``start`` on: gates killed, their beads (but ``drop``) wait again."""
        gone, self.window = self.window[start:], self.window[:start]
        self._requeue(gone, drop)

    def _discard_built_on(self, failed: Candidate) -> None:
        """Discard the candidates built on ``failed`` (directly or through another); the ones built
        past it (it was known to fail when they were built) stay."""
        bad, gone = {failed.commit}, []
        for candidate in self.window:
            if candidate.base in bad:
                bad.add(candidate.commit)
                gone.append(candidate)
        self.window = [c for c in self.window if c not in gone]
        self._requeue(gone, frozenset())

    def _requeue(self, gone: list[Candidate], drop: frozenset[str]) -> None:
        groups: list[Group] = []
        for candidate in gone:
            if not candidate.gate.finished.is_set():
                self.gates.cancel(candidate.gate)
                self.ctx.events.emit(EventType.GATE_CANCELLED, candidate=candidate.commit, beads=_ids(candidate.beads))
            ids = [b.id for b in candidate.beads if b.id not in drop]
            groups += [Group(ids, True)] if candidate.fixed and ids else [Group([i]) for i in ids]
        self.pending[:0] = groups

    # -- verdicts ----------------------------------------------------------------------------
    def _settle(self) -> None:
        while self.window and self.window[0].gate.finished.is_set() and time.monotonic() >= self.retry_at:
            head = self.window[0]
            self.gates.record(head.gate)
            if head.gate.passed:
                if not self._land(head):
                    return
            else:
                self._failed(head)

    def _land(self, head: Candidate) -> bool:
        ctx = self.ctx
        unwanted = frozenset(b.id for b in head.beads if ctx.store.get(b.id).status != "queued")
        if unwanted:  # cancelled (or reopened) while its gate ran: it does not land
            for bead_id in unwanted:
                ctx.state.dequeue(bead_id)
                status = ctx.store.get(bead_id).status
                say(f"mayor: {bead_id} became {status} while its landing was under way; it did not land")
            self.discard(0, unwanted)
            return False
        ctx.guard_target()  # first undo what running agents put on the target, then:
        ctx.watch.verify()  # every landing of this run still there, the target moved only forward
        tip = gitops.ensure_branch_exists(ctx.opts.target, ctx.repo.root)
        if tip != head.base:
            self.discard(0)
            return False
        wanted = lambda: still_wanted(ctx.store, _ids(head.beads))  # noqa: E731 - asked with the journal written
        with self.queue.moving(head.beads, tip, head.commit, wanted) as moved:
            if moved is True:
                self.window.pop(0)
                self.owner.merged(head.beads, head.commit, head.gate)
                for _ in head.beads:
                    self.rate.observe(False)
                return True
        if moved is False:
            self.discard(0)
        elif self.owner.blocked(head.beads, moved):
            self.retry_at = time.monotonic() + BLOCKED_RETRY_S
        else:
            self.discard(0, frozenset(self._ids()))
            self.retry_at = 0.0
        return False

    def _failed(self, head: Candidate) -> None:
        ctx = self.ctx
        tip = gitops.ensure_branch_exists(ctx.opts.target, ctx.repo.root)
        if tip != head.base or head.gate.cancelled:
            self.discard(0)
            return
        self._discard_built_on(head)  # whatever the target alone says
        log = ctx.repo.mayor_dir / "state" / "target-gate.log"
        if not self.gates.check_target(tip, log):
            self.discard(0)
            self.owner.hold(f"the gate fails on {ctx.opts.target} alone at {tip[:12]} (log: {log})", tip)
            return
        self.window.pop(0)
        if len(head.beads) > 1:
            parts = split(_ids(head.beads), self.gates.capacity + 1)
            self.pending[:0] = [Group(part, True) for part in parts]
            ctx.events.emit(EventType.BISECTED, beads=_ids(head.beads), parts=parts)
            return
        self.rate.observe(True)
        self.owner.gate_failed(head.beads[0], head.gate)

    # -- building ----------------------------------------------------------------------------
    def _fill(self) -> None:
        self._skip = set()
        limit = self._limit()
        while len(self.window) < limit.depth and self.gates.free() > 0:
            group = self._next_group(limit)
            if group is None:
                return
            beads, fixed = group
            base = self._base()
            built = self._build(base, beads)
            if built is None:
                continue
            commit, beads = built
            gate = self.gates.start(commit, self._log(commit, beads), _ids(beads))
            if gate is None:
                self.pending.insert(0, Group(_ids(beads), fixed))
                return
            self.window.append(Candidate(beads, base, commit, gate, fixed))

    def _base(self) -> str:
        """What the next candidate is built on: the last candidate not known to fail (one that
        failed will be taken out, so nothing is built on it), else the tip."""
        for candidate in reversed(self.window):
            if not _failing(candidate):
                return candidate.commit
        return self._tip()

    def _limit(self) -> Shape:
        opts = self.ctx.opts
        p = self.rate.estimate()
        limit = shape(opts.queue, p, self.gates.capacity, opts.merge, opts.max_batch)
        if limit != self._shape:
            self._shape = limit
            self.ctx.events.emit(EventType.QUEUE_SHAPE, batch=limit.batch, depth=limit.depth, p=round(p, 3))
        return limit

    def _tip(self) -> str:
        self.ctx.guard_target()
        self.ctx.watch.verify()
        return gitops.ensure_branch_exists(self.ctx.opts.target, self.ctx.repo.root)

    def _log(self, commit: str, beads: list[Bead]) -> Path:
        if len(beads) == 1:
            bead = beads[0]
            return self.ctx.repo.run_dir(bead.id, current(bead).n if bead.attempts else 0) / "gate.log"
        return self.ctx.repo.mayor_dir / "state" / "gates" / f"{commit[:12]}.log"

    def _next_group(self, limit: Shape) -> tuple[list[Bead], bool] | None:
        """The beads of the next candidate, taken out of :attr:`pending`; None if none can go now."""
        ahead = {b.id for c in self.window if not _failing(c) for b in c.beads}
        singles = sum(1 for g in self.pending if not g.fixed)
        size = unit_size(limit, singles, self.gates.free())
        chosen: list[Bead] = []
        for group in list(self.pending):
            if group.fixed and chosen:
                continue
            beads = self._eligible(group, ahead | {b.id for b in chosen})
            if beads is None or (chosen and _risky(beads[0])):
                continue
            self.pending.remove(group)
            if group.fixed or _risky(beads[0]):
                return beads, group.fixed
            chosen += beads
            if len(chosen) >= size:
                break
        return (chosen, False) if chosen else None

    def _eligible(self, group: Group, ahead: set[str]) -> list[Bead] | None:
        """The group's beads if they may be built now (each dependency landed or ahead of it)."""
        beads: list[Bead] = []
        for bead_id in list(group.ids):
            if bead_id in self._skip:
                return None
            bead = self._queued(bead_id, group)
            if bead is None:
                continue
            if self._deps_wait(bead, group, ahead | {b.id for b in beads}):
                return None
            beads.append(bead)
        return beads or None

    def _queued(self, bead_id: str, group: Group) -> Bead | None:
        """The bead, if it still waits to land; else it leaves the queue (cancelled, reopened,
        already on the target, its branch gone)."""
        ctx = self.ctx
        bead = ctx.store.get(bead_id)
        if bead.status != "queued":
            self._leave(group, bead_id)
            ctx.state.dequeue(bead_id)
            return None
        try:
            head = self.queue.head(bead)
        except BranchGone as gone:
            self._leave(group, bead_id)
            self.owner.gone(bead, str(gone))
            return None
        if head in self._fresh:
            return bead
        tip = gitops.ensure_branch_exists(ctx.opts.target, ctx.repo.root)
        if gitops.is_ancestor(head, tip, ctx.repo.root):
            self._leave(group, bead_id)
            self.owner.merged([bead], self.queue.landing_commit(bead.id) or tip, None)
            return None
        self._fresh.add(head)  # not on the target: checked once, not at every look
        return bead

    def _leave(self, group: Group, bead_id: str) -> None:
        group.ids.remove(bead_id)
        if not group.ids and group in self.pending:
            self.pending.remove(group)

    def _deps_wait(self, bead: Bead, group: Group, ahead: set[str]) -> bool:
        """True while a dependency is on its way; one that will not land in this run leaves the
        bead queued for a later run."""
        on_its_way, never = unlanded_deps(self.ctx, bead, ahead)
        if never:
            self._leave(group, bead.id)
            self.owner.never(bead.id, f"waits on {', '.join(never)}, which will not land in this run")
            return True
        return on_its_way

    def _build(self, base: str, beads: list[Bead]) -> tuple[str, list[Bead]] | None:
        """Build the candidate; a bead that conflicts with the tip goes back to its agent, one that
        conflicts only with the window waits (skipped in this fill)."""
        while beads:
            built = self.queue.build(base, beads)
            if isinstance(built, str):
                return built, beads
            bead = next(b for b in beads if b.id == built.bead)
            beads = [b for b in beads if b is not bead]
            tip = gitops.ensure_branch_exists(self.ctx.opts.target, self.ctx.repo.root)
            real = self.queue.build(tip, [bead])
            if isinstance(real, Conflict):
                self.owner.conflict(bead, real)
            else:
                self._skip.add(bead.id)
                self.pending.insert(0, Group([bead.id]))
        return None


def _ids(beads: list[Bead]) -> list[str]:
    return [b.id for b in beads]


def _failing(candidate: Candidate) -> bool:
    """Its verdict is in, and it failed."""
    return candidate.gate.finished.is_set() and not candidate.gate.passed


def split(ids: list[str], most: int) -> list[list[str]]:
    """A failed batch in up to ``most`` parts of near-equal size, in order. Built on each other,
    the last part's candidate is the failed batch's tree (known, not gated again), so with ``g``
    gates free, ``g + 1`` parts find the culprit's part in one round of gate runs."""
    count = max(2, min(len(ids), most))
    size, extra = divmod(len(ids), count)
    parts, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        parts.append(ids[start:end])
        start = end
    return parts


def unlanded_deps(ctx: RunContext, bead: Bead, ahead: set[str]) -> tuple[bool, list[str]]:
    """Whether a dependency of ``bead`` is on its way (running, queued, in review, or open and
    taken by this run), and the ones that will not land in this run; ``ahead`` are in the window."""
    never: list[str] = []
    pending = False
    for dep_id in bead.deps:
        if dep_id in ahead:
            continue
        try:
            dep = ctx.store.get(dep_id)
        except MayorError:
            continue
        if dep.landed:
            continue
        if dep.status in ("running", "queued", "review") or (dep.status == "open" and ctx.opts.matches(dep)):
            pending = True
        else:
            never.append(f"{dep_id} ({dep.status})")
    return pending, never


def _risky(bead: Bead) -> bool:
    """Its last attempt failed the gate: it is gated alone, so that it cannot sink a batch."""
    counted = [a for a in bead.attempts if a.outcome not in (None, "interrupted", "passed")]
    return bool(counted) and counted[-1].outcome == "gate_failed"
