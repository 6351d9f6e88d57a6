"""The dependency graph of a set of beads: validation, order, readiness, critical path.

Functions take a mapping of id to bead and never touch the disk. Edges run from a bead to the
beads it depends on (``deps``); only those edges block. Links never do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from beads.errors import CycleError, UnknownDependency
from beads.models import Bead


def validate(beads: Mapping[str, Bead]) -> None:
    """Raise on an unknown dependency or a cycle (the error names the cycle)."""
    for bead in beads.values():
        missing = [dep for dep in bead.deps if dep not in beads]
        if missing:
            raise UnknownDependency(bead.id, missing)
    cycle = find_cycle(beads)
    if cycle:
        raise CycleError(cycle)


def find_cycle(beads: Mapping[str, Bead]) -> list[str] | None:
    """One dependency cycle as a list of ids (each depends on the next), or None."""
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
                    return path[path.index(dep):]
                if colour[dep] == WHITE:
                    colour[dep] = GREY
                    stack.append((dep, 0))
                    path.append(dep)
            else:
                colour[node] = BLACK
                stack.pop()
                path.pop()
    return None


def dependents(beads: Mapping[str, Bead]) -> dict[str, list[str]]:
    """For each id, the ids that depend on it."""
    out: dict[str, list[str]] = {bead_id: [] for bead_id in beads}
    for bead in beads.values():
        for dep in bead.deps:
            if dep in out:
                out[dep].append(bead.id)
    return out


def topological_order(beads: Mapping[str, Bead]) -> list[str]:
    """Every id, each after all of its deps (ties by priority, then id). Assumes no cycle."""
    import heapq

    waiting = {bead_id: sum(1 for d in bead.deps if d in beads) for bead_id, bead in beads.items()}
    users = dependents(beads)
    heap = [(beads[i].priority, i) for i, n in waiting.items() if n == 0]
    heapq.heapify(heap)
    order: list[str] = []
    while heap:
        _, bead_id = heapq.heappop(heap)
        order.append(bead_id)
        for user in users[bead_id]:
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(heap, (beads[user].priority, user))
    if len(order) != len(beads):
        raise CycleError(find_cycle(beads) or sorted(set(beads) - set(order)))
    return order


def critical_paths(beads: Mapping[str, Bead]) -> dict[str, int]:
    """For each bead, the minutes of the longest chain of unlanded work that starts with it.

    A bead that unblocks a long chain scores high, so scheduling it first shortens the run.
    Landed beads score 0.
    """
    users = dependents(beads)
    length: dict[str, int] = {}
    for bead_id in reversed(topological_order(beads)):
        bead = beads[bead_id]
        if bead.landed:
            length[bead_id] = 0
            continue
        downstream = max((length[u] for u in users[bead_id]), default=0)
        length[bead_id] = bead.estimate + downstream
    return length


def critical_path(beads: Mapping[str, Bead]) -> list[str]:
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


def is_ready(bead: Bead, beads: Mapping[str, Bead]) -> bool:
    return bead.status == "open" and all(d not in beads or beads[d].landed for d in bead.deps)


def ready(beads: Mapping[str, Bead]) -> list[Bead]:
    """Open beads whose deps have all landed: by priority, then longest critical path first."""
    found = [bead for bead in beads.values() if is_ready(bead, beads)]
    if not found:
        return []
    length = critical_paths(beads)
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


def blocked(beads: Mapping[str, Bead]) -> list[tuple[Bead, list[Blocker]]]:
    """Open beads that cannot start yet, each with the deps that hold it, by priority then id."""
    out: list[tuple[Bead, list[Blocker]]] = []
    for bead in sorted(beads.values(), key=lambda b: (b.priority, b.id)):
        if bead.status != "open":
            continue
        holds = [
            Blocker(dep, beads[dep].status, beads[dep].status in ("failed", "cancelled"))
            for dep in bead.deps
            if dep in beads and not beads[dep].landed
        ]
        if holds:
            out.append((bead, holds))
    return out
