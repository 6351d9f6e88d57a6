"""The dependency graph of a set of beads: validation, order, readiness, critical path.

Functions take a mapping of id to bead and never touch the disk. Edges run from a bead to the
beads it depends on (``deps``); only those edges block. Links never do.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from beads.errors import CycleError, UnknownDependency


class Node(Protocol):
    """What the graph reads of a bead: a :class:`~beads.models.Bead` or a
    :class:`~beads.models.BeadSummary` will do."""

    @property
    def id(self) -> str: ...
    @property
    def deps(self) -> Sequence[str]: ...
    @property
    def status(self) -> str: ...
    @property
    def priority(self) -> int: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def landed(self) -> bool: ...
    @property
    def estimate(self) -> int: ...


N = TypeVar("N", bound=Node)


def validate(beads: Mapping[str, Node]) -> None:
    """Raise on an unknown dependency or a cycle (the error names the cycle)."""
    for bead in beads.values():
        missing = [dep for dep in bead.deps if dep not in beads]
        if missing:
            raise UnknownDependency(bead.id, missing)
    cycle = find_cycle(beads)
    if cycle:
        raise CycleError(cycle)


def find_cycle(beads: Mapping[str, Node]) -> list[str] | None:
    """One dependency cycle as a list of ids (each depends on the next), or None."""
    if _acyclic(beads):
        return None
    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(beads, WHITE)
    for root in sorted(beads):
        if colour[root] != WHITE:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = [root]
        colour[root] = GREY
        while stack:
            node, index = stack[-1]
            deps = beads[node].deps
            if index < len(deps):
                stack[-1] = (node, index + 1)
                dep = deps[index]
                if dep not in colour:
                    continue
                if colour[dep] == GREY:
                    return path[path.index(dep) :]
                if colour[dep] == WHITE:
                    colour[dep] = GREY
                    stack.append((dep, 0))
                    path.append(dep)
            else:
                colour[node] = BLACK
                stack.pop()
                path.pop()
    return None


def _acyclic(beads: Mapping[str, Node]) -> bool:
    """True when every bead can be ordered after its deps (Kahn's algorithm: cheaper than the
    depth-first search that names a cycle, which only runs when there is one)."""
    users = dependents(beads)
    return len(_order(beads, users, by_priority=False)) == len(beads)


def dependents(beads: Mapping[str, Node]) -> dict[str, list[str]]:
    """For each id, the ids that depend on it."""
    out: dict[str, list[str]] = {bead_id: [] for bead_id in beads}
    for bead in beads.values():
        for dep in bead.deps:
            if dep in out:
                out[dep].append(bead.id)
    return out


def _order(beads: Mapping[str, Node], users: Mapping[str, list[str]], by_priority: bool = True) -> list[str]:
    """The ids that can be ordered after their deps; fewer than ``beads`` when there is a cycle.

    ``by_priority``: ties by priority, then id (a heap); otherwise in any valid order (a list).
    """
    waiting = dict.fromkeys(beads, 0)
    for dependents_of in users.values():
        for user in dependents_of:
            waiting[user] += 1
    if not by_priority:
        order = [bead_id for bead_id, n in waiting.items() if n == 0]
        for bead_id in order:  # grows while it is walked
            for user in users[bead_id]:
                waiting[user] -= 1
                if waiting[user] == 0:
                    order.append(user)
        return order
    heap = [(beads[i].priority, i) for i, n in waiting.items() if n == 0]
    heapq.heapify(heap)
    order = []
    while heap:
        bead_id = heapq.heappop(heap)[1]
        order.append(bead_id)
        for user in users[bead_id]:
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(heap, (beads[user].priority, user))
    return order


def topological_order(beads: Mapping[str, Node]) -> list[str]:
    """Every id, each after all of its deps (ties by priority, then id). Assumes no cycle."""
    order = _order(beads, dependents(beads))
    if len(order) != len(beads):
        raise CycleError(find_cycle(beads) or sorted(set(beads) - set(order)))
    return order


def critical_paths(beads: Mapping[str, Node]) -> dict[str, int]:
    """For each bead, the minutes of the longest chain of unlanded work that starts with it.

    A bead that unblocks a long chain scores high, so scheduling it first shortens the run.
    Landed beads score 0.
    """
    users = dependents(beads)
    order = _order(beads, users, by_priority=False)
    if len(order) != len(beads):
        raise CycleError(find_cycle(beads) or sorted(set(beads) - set(order)))
    length: dict[str, int] = {}
    for bead_id in reversed(order):
        bead = beads[bead_id]
        if bead.landed:
            length[bead_id] = 0
            continue
        after = users[bead_id]
        length[bead_id] = bead.estimate + (max([length[u] for u in after]) if after else 0)
    return length


def critical_path(beads: Mapping[str, Node]) -> list[str]:
    """The longest chain of unlanded work, first bead first."""
    length = critical_paths(beads)
    users = dependents(beads)
    start = max((i for i in beads if length[i] > 0), key=lambda i: (length[i], i), default=None)
    chain: list[str] = []
    while start is not None:
        chain.append(start)
        nxt = [u for u in users[start] if length[u] == length[start] - beads[start].estimate and length[u] > 0]
        start = max(nxt, default=None)
    return chain


def is_ready(bead: Node, beads: Mapping[str, Node]) -> bool:
    return bead.status == "open" and all(d not in beads or beads[d].landed for d in bead.deps)


def ready(beads: Mapping[str, N], paths: Mapping[str, int] | None = None) -> list[N]:
    """Open beads whose deps have all landed: by priority, then longest critical path first.

    ``paths``: the :func:`critical_paths` of ``beads``, when the caller has them already.
    """
    holding = {bead_id for bead_id, bead in beads.items() if not bead.landed}
    found = [bead for bead in beads.values() if bead.status == "open" and holding.isdisjoint(bead.deps)]
    if not found:
        return []
    length = critical_paths(beads) if paths is None else paths
    found.sort(key=lambda b: (b.priority, -length[b.id], b.created_at, b.id))
    return found


@dataclass(frozen=True)
class Blocker:
    """Why one bead cannot start: a dep that has not landed, and its state."""

    dep: str
    status: str
    stuck: bool
    """True when the dep will not land by itself (failed or cancelled): a human must act."""

    def describe(self) -> str:
        if self.status == "failed":
            return f"{self.dep} failed (fix it and `mayor reopen {self.dep}`, or `mayor dep rm`)"
        if self.status == "cancelled":
            return f"{self.dep} was cancelled (`mayor reopen {self.dep}` or `mayor dep rm`)"
        return f"waits on {self.dep} ({self.status})"


def blocked(beads: Mapping[str, N]) -> list[tuple[N, list[Blocker]]]:
    """Open beads that cannot start yet, each with the deps that hold it, by priority then id."""
    out: list[tuple[N, list[Blocker]]] = []
    for bead in sorted((b for b in beads.values() if b.status == "open"), key=lambda b: (b.priority, b.id)):
        holds = [
            Blocker(dep, beads[dep].status, beads[dep].status in ("failed", "cancelled"))
            for dep in bead.deps
            if dep in beads and not beads[dep].landed
        ]
        if holds:
            out.append((bead, holds))
    return out
