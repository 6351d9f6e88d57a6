"""Times from the event log: when an event happened, which events end a bead's time in play, and
the timeline of the runs.

A *run* is one ``mayor sling`` (``sling_started`` to ``sling_stopped``, or to its last event when
it was killed). Wall time is the sum of the runs; agent time is the sum of every agent process's
life (``agent_started``/``agent_adopted`` to ``agent_exited``, or to the end of its run). Their
ratio is the speedup that parallel work bought.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from supervisor.events import Event, EventType
from supervisor.views.report_types import Run, Timeline

ENDINGS = frozenset({EventType.MERGED, EventType.FAILED, EventType.DONE, EventType.CANCELLED})
"""The events that end a bead's time in play, which are also the statuses they leave it in."""
CUT_SHORT = "cut short (no sling_stopped)"


def ts(event: Event) -> datetime | None:
    """When ``event`` was written; None when its stamp is missing or unreadable."""
    try:
        return datetime.fromisoformat(str(event["ts"]))
    except (KeyError, ValueError):
        return None


def iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def seconds(start: datetime | None, end: datetime | None) -> float | None:
    """From ``start`` to ``end``, never negative, to the millisecond; None if either is unknown."""
    if start is None or end is None:
        return None
    return round(max(0.0, (end - start).total_seconds()), 3)


@dataclass(frozen=True)
class _Span:
    """One run: the indexes of its first and last events, and its facts."""

    first: int
    last: int
    run: Run


def timeline(events: Sequence[Event]) -> Timeline:
    """Wall time of the runs, the sum of agent time, their ratio and the most agents at once."""
    spans = _runs(events)
    intervals = [interval for span in spans for interval in _agent_lives(events, span)]
    wall = round(sum(s.run["wall_s"] for s in spans), 3)
    agent = round(sum((end - start).total_seconds() for start, end in intervals), 3)
    stamps = [t for t in (ts(e) for e in events) if t is not None]
    return {
        "first_event": iso(min(stamps, default=None)),
        "last_event": iso(max(stamps, default=None)),
        "runs": [s.run for s in spans],
        "wall_s": wall,
        "agent_s": agent,
        "speedup": round(agent / wall, 2) if wall > 0 else None,
        "agents": len(intervals),
        "peak_agents": _peak(intervals),
    }


def _runs(events: Sequence[Event]) -> list[_Span]:
    """Each run: the index range of its events, its start and end, its wall time and how it ended."""
    starts = [i for i, e in enumerate(events) if e["type"] == EventType.SLING_STARTED]
    if not starts:  # events from before runs were marked: one run, first event to last
        starts = [0] if events else []
    spans = []
    for n, first in enumerate(starts):
        limit = starts[n + 1] if n + 1 < len(starts) else len(events)
        stop = next((i for i in range(first, limit) if events[i]["type"] == EventType.SLING_STOPPED), None)
        last = stop if stop is not None else limit - 1
        began, ended = ts(events[first]), ts(events[last])
        reason = events[stop]["data"].get("reason") if stop is not None else CUT_SHORT
        run: Run = {
            "started": iso(began),
            "ended": iso(ended),
            "wall_s": seconds(began, ended) or 0.0,
            "ended_by": reason,
        }
        spans.append(_Span(first, last, run))
    return spans


def _agent_lives(events: Sequence[Event], span: _Span) -> list[tuple[datetime, datetime]]:
    """Agent lives within one run; an agent still alive at the run's end counts until then."""
    open_: dict[tuple[str | None, int | None], datetime] = {}
    lives = []
    for event in events[span.first : span.last + 1]:
        key, when = (event.get("bead"), event.get("attempt")), ts(event)
        if when is None:
            continue
        if event["type"] in (EventType.AGENT_STARTED, EventType.AGENT_ADOPTED):
            open_.setdefault(key, when)
        elif event["type"] == EventType.AGENT_EXITED and key in open_:
            lives.append((open_.pop(key), when))
    end = ts(events[span.last])
    lives += [(start, end) for start in open_.values() if end is not None]
    return lives


def _peak(intervals: Sequence[tuple[datetime, datetime]]) -> int:
    """The most intervals open at once (one that ends as another starts does not overlap it)."""
    edges = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda x: (x[0], x[1]))
    peak = current = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak
