"""The merge queue as its events tell it: the candidates gated now, and what the queue did in all.

The queue (:mod:`supervisor.run.pipeline`) gates a **window** of candidates at once: the first built
on the target's tip, the others speculatively on candidates ahead of them. :class:`Window` follows
the event log and keeps those candidates in window order, each from its ``gate_started`` (whose
``beads`` are what it adds to the candidate it is built on) until its gate is over for the queue:

- its verdict: ``gate_passed``/``gate_failed`` naming it (``data.candidate``), ``merged`` with it as
  ``data.commit``;
- it was discarded: ``gate_cancelled`` naming it, ``bisected`` (a failed batch split in two);
- one of its beads left the queue or met its fate (``gate_*``, ``merged``, ``conflict``, ``failed``,
  ``retried``, ``cancelled``, ``landing_blocked``), or is gated again in another candidate;
- the target turned red, or a run started or stopped: none is gated any more.

A second ``gate_started`` of the same candidate (``gate_retries``) keeps its place and its start.
``mayor status``, the live view and the dashboard show the window; :func:`tally` counts, over
every run in the log, what the mayor summary says of the queue. Events only: no git, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from supervisor.events import Event, EventType
from supervisor.views.report_types import QueueFacts, QueueShape
from supervisor.views.timeline import ts

RUN_EDGES = frozenset({EventType.SLING_STARTED, EventType.SLING_STOPPED, EventType.BUDGET_STOPPED})
ALL_OVER = RUN_EDGES | {EventType.TARGET_RED}
"""Events after which no candidate is gated any more."""
BEAD_OVER = frozenset(
    {EventType.GATE_PASSED, EventType.GATE_FAILED, EventType.GATE_FLAKY, EventType.MERGED, EventType.CONFLICT}
    | {EventType.FAILED, EventType.RETRIED, EventType.CANCELLED, EventType.LANDING_BLOCKED}
)
"""Events that end every candidate holding the event's bead (its verdict, or the bead leaving the queue)."""
NAMES_CANDIDATE: dict[str, str] = {
    EventType.GATE_PASSED: "candidate",
    EventType.GATE_FAILED: "candidate",
    EventType.GATE_CANCELLED: "candidate",
    EventType.MERGED: "commit",
}
"""Events that end the candidate whose commit is in this ``data`` key."""
NAMES_BEADS = frozenset({EventType.GATE_CANCELLED, EventType.BISECTED})
"""Events that end every candidate holding one of ``data.beads``."""


@dataclass
class Candidate:
    """One candidate in the window, from its ``gate_started``."""

    commit: str
    """Its commit (empty in a log written before candidates were named)."""
    beads: list[str]
    """The beads it adds to the candidate it is built on (a batch holds several)."""
    started: datetime | None
    attempt: int | None
    """The attempt of its first bead, when the event names it."""


class Window:
    """The candidates being gated now, in window order, and the queue's last shape (from events)."""

    def __init__(self) -> None:
        self.candidates: list[Candidate] = []
        self.shape: QueueShape | None = None
        """The last ``queue_shape`` of the current (or last) run."""

    def apply(self, event: Event) -> None:
        kind, data = event["type"], event.get("data") or {}
        if kind == EventType.SLING_STARTED:
            self.shape = None
        if kind == EventType.GATE_STARTED:
            self._started(event, data)
        elif kind == EventType.QUEUE_SHAPE:
            self.shape = shape_of(data) or self.shape
        elif kind in ALL_OVER:
            self.candidates = []
        else:
            self._over(kind, event.get("bead"), data)

    def _started(self, event: Event, data: Mapping[str, Any]) -> None:
        bead = event.get("bead")
        beads = _ids(data.get("beads")) or ([str(bead)] if bead else [])
        if not beads:
            return
        named = data.get("candidate")
        commit = named if isinstance(named, str) else ""
        if commit and any(c.commit == commit for c in self.candidates):
            return  # the gate runs again on the same candidate (a retry): it keeps its place and start
        self.candidates = [c for c in self.candidates if not set(c.beads) & set(beads)]
        attempt = event.get("attempt")
        self.candidates.append(Candidate(commit, beads, ts(event), attempt if isinstance(attempt, int) else None))

    def _over(self, kind: str, bead: str | None, data: Mapping[str, Any]) -> None:
        key = NAMES_CANDIDATE.get(kind)
        commit = data.get(key) if key else None
        beads = set(_ids(data.get("beads"))) if kind in NAMES_BEADS else set()
        if bead and kind in BEAD_OVER:
            beads.add(str(bead))
        if not beads and not isinstance(commit, str):
            return
        self.candidates = [
            c for c in self.candidates if not ((c.commit and c.commit == commit) or set(c.beads) & beads)
        ]


def shape_of(data: Mapping[str, Any]) -> QueueShape | None:
    """The ``data`` of a ``queue_shape`` event, if it is one."""
    batch, depth, p = _count(data.get("batch")), _count(data.get("depth")), data.get("p")
    if batch is None or depth is None or not isinstance(p, int | float) or isinstance(p, bool):
        return None
    return {"batch": batch, "depth": depth, "p": float(p)}


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else None


def _ids(value: object) -> list[str]:
    return [str(v) for v in value if isinstance(v, str) and v] if isinstance(value, list) else []


def tally(events: Iterable[Event]) -> QueueFacts | None:
    """What the merge queue did over every run in ``events``; None if no gate ever ran."""
    window = Window()
    runs = peak = bisections = discarded = culprits = 0
    flaky: set[str] = set()
    landings: dict[str, int] = {}
    landed = 0
    shape: QueueShape | None = None
    for event in events:
        window.apply(event)
        peak = max(peak, len(window.candidates))
        kind, data = event["type"], event.get("data") or {}
        if kind == EventType.QUEUE_SHAPE:
            shape = shape_of(data) or shape
        runs += kind == EventType.GATE_STARTED
        bisections += kind == EventType.BISECTED
        discarded += kind == EventType.GATE_CANCELLED
        culprits += kind == EventType.GATE_FAILED
        if kind == EventType.GATE_PASSED and data.get("flaky") is True:
            flaky.add(str(data.get("candidate") or event.get("bead")))
        if kind == EventType.MERGED:
            landed += 1
            if isinstance(data.get("commit"), str):
                landings[data["commit"]] = landings.get(data["commit"], 0) + 1
    if not runs:
        return None
    return {
        "landed": landed,
        "landings": len(landings),
        "batches": sum(1 for n in landings.values() if n > 1),
        "gate_runs": runs,
        "runs_per_landed": round(runs / landed, 2) if landed else None,
        "culprits": culprits,
        "bisections": bisections,
        "discarded": discarded,
        "flaky": len(flaky),
        "peak": peak,
        "shape": shape,
    }
