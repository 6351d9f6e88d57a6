"""The mayor summary: the facts of a run, computed from the beads and events on disk.

:func:`facts` reads ``.mayor/beads/*.json`` and ``.mayor/events.jsonl`` and nothing else (no git,
no clock, no model), so the same disk gives the same facts. They are typed in
:mod:`supervisor.views.report_types` and are also the JSON output (keys are stable; ``format``
changes if they do). Their Markdown, :func:`render_markdown`, is in
:mod:`supervisor.views.report_markdown`; the times of the runs, :func:`timeline`, in
:mod:`supervisor.views.timeline`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from beads import graph
from beads.models import Bead, Usage
from supervisor.events import Event, EventLog, EventType
from supervisor.views import queue_events, review
from supervisor.views.report_markdown import MARKER, render_markdown
from supervisor.views.report_types import (
    FORMAT,
    TOKEN_KINDS,
    BeadFacts,
    Blocked,
    Blocker,
    Conflicts,
    Counts,
    Facts,
    Failed,
    FindingFacts,
    Findings,
    Group,
    Landed,
    NeedsHuman,
    Outcome,
    Overlap,
    QueueConflict,
    Tokens,
    Totals,
)
from supervisor.views.timeline import ENDINGS, iso, seconds, timeline, ts

if TYPE_CHECKING:
    from supervisor.repo import Repo

__all__ = [
    "MARKER",
    "OUTCOME",
    "UNLABELLED",
    "URGENT",
    "build",
    "facts",
    "findings",
    "render_markdown",
    "timeline",
    "tokens_of",
]

UNLABELLED = "(unlabelled)"
URGENT = ("critical", "high")
"""Findings of these severities need a human."""
OUTCOME: dict[str, Outcome] = {
    "merged": "landed",
    "done": "done",
    "failed": "failed",
    "review": "waiting for approval",
    "queued": "queued",
    "running": "running",
    "cancelled": "cancelled",
}
"""The outcome of a bead that is not open, by its status."""


def facts(repo: Repo) -> Facts:
    """The facts of every bead and every run recorded in ``repo``."""
    return build(repo.store.load(), EventLog(repo.events_path).read())


def build(beads: Mapping[str, Bead], events: Sequence[Event]) -> Facts:
    """The facts of ``beads`` and ``events`` (pure: the same input gives the same output)."""
    trails = _by_bead(events)
    held = {bead.id: holds for bead, holds in graph.blocked(beads)}
    records = [_bead_facts(b, trails.get(b.id, []), held.get(b.id, []), beads) for b in _ordered(beads)]
    found = findings(beads.values())
    return {
        "format": FORMAT,
        "targets": _targets(events),
        "counts": _counts(records, found["items"]),
        "beads": records,
        "groups": _groups(records),
        "landed": [_landed(r) for r in sorted(records, key=_landing_order) if r["status"] == "merged"],
        "failed": [_failed(beads[r["id"]], records) for r in records if r["status"] == "failed"],
        "blocked": [_blocked(r) for r in records if r["blocked_by"]],
        "conflicts": _conflicts(events, records),
        "needs_human": _needs_human(records, found["items"], trails),
        "findings": found,
        "totals": _totals(records),
        "timeline": timeline(events),
        "queue": queue_events.tally(events),
    }


def _targets(events: Iterable[Event]) -> list[str]:
    """The branches the runs landed on."""
    return sorted(
        {str(e["data"]["target"]) for e in events if e["type"] == EventType.SLING_STARTED and e["data"].get("target")}
    )


def _ordered(beads: Mapping[str, Bead]) -> list[Bead]:
    return sorted(beads.values(), key=lambda b: (b.created_at, b.id))


def _by_bead(events: Iterable[Event]) -> dict[str, list[Event]]:
    out: dict[str, list[Event]] = {}
    for event in events:
        if event.get("bead"):
            out.setdefault(str(event["bead"]), []).append(event)
    return out


# -- each bead -------------------------------------------------------------------------------------


def _bead_facts(
    bead: Bead, trail: Sequence[Event], holds: Sequence[graph.Blocker], beads: Mapping[str, Bead]
) -> BeadFacts:
    start, end = _span(bead, trail)
    result = bead.result
    return {
        "id": bead.id,
        "title": bead.title,
        "kind": bead.kind,
        "labels": list(bead.labels),
        "status": bead.status,
        "outcome": _outcome(bead, holds),
        "approval": bead.approval,
        "attempts": len(bead.attempts),
        "attempt_outcomes": [a.outcome or "running" for a in bead.attempts],
        "started_at": iso(start),
        "ended_at": iso(end),
        "duration_s": seconds(start, end),
        "files": list(result.files) if result else [],
        "commit": result.commit if result else None,
        "usage": tokens_of(bead.usage),
        "cost_usd": bead.usage.cost_usd,
        "error": bead.error,
        "blocked_by": [_blocker(h) for h in holds],
        "stuck_on": _stuck_on(bead, beads) if holds else [],
        "findings": len(result.findings) if result else 0,
        "deps": list(bead.deps),
    }


def tokens_of(usage: Usage) -> Tokens:
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
        "total_tokens": usage.total_tokens,
    }


def _span(bead: Bead, trail: Sequence[Event]) -> tuple[datetime | None, datetime | None]:
    """From the bead's first ``slung`` to its last ending (merged, failed, done, cancelled)."""
    starts = [ts(e) for e in trail if e["type"] == EventType.SLUNG]
    ends = [ts(e) for e in trail if e["type"] in ENDINGS]
    start = starts[0] if starts else (bead.attempts[0].started_at if bead.attempts else None)
    end = ends[-1] if ends and bead.status in ENDINGS else None
    if end is None and bead.status in ENDINGS and bead.attempts:
        end = bead.closed_at or bead.attempts[-1].ended_at
    return start, end


def _outcome(bead: Bead, holds: Sequence[graph.Blocker]) -> Outcome:
    if bead.status != "open":
        return OUTCOME[bead.status]
    if holds:
        return "blocked"
    return "to retry" if bead.attempts else "not started"


def _blocker(hold: graph.Blocker) -> Blocker:
    return {"dep": hold.dep, "status": hold.status, "stuck": hold.stuck, "reason": hold.describe()}


def _stuck_on(bead: Bead, beads: Mapping[str, Bead]) -> list[str]:
    """The failed or cancelled beads up the dependency chain that hold ``bead`` for good."""
    seen: set[str] = set()
    stuck: set[str] = set()
    todo = [d for d in bead.deps if d in beads]
    while todo:
        dep = beads[todo.pop()]
        if dep.id in seen or dep.landed:
            continue
        seen.add(dep.id)
        if dep.status in ("failed", "cancelled"):
            stuck.add(dep.id)
        todo += [d for d in dep.deps if d in beads]
    return sorted(stuck)


# -- the beads together ----------------------------------------------------------------------------


def _counts(records: Sequence[BeadFacts], found: Sequence[FindingFacts]) -> Counts:
    def n(outcome: Outcome) -> int:
        return sum(1 for r in records if r["outcome"] == outcome)

    return {
        "beads": len(records),
        "landed": n("landed"),
        "done": n("done"),
        "failed": n("failed"),
        "blocked": n("blocked"),
        "waiting_for_approval": n("waiting for approval"),
        "queued": n("queued"),
        "running": n("running"),
        "to_retry": n("to retry"),
        "not_started": n("not started"),
        "cancelled": n("cancelled"),
        "findings": len(found),
        "urgent_findings": sum(1 for f in found if f["severity"] in URGENT),
    }


def _groups(records: Sequence[BeadFacts]) -> list[Group]:
    """Beads by their first label (their feature or category); unlabelled ones last, together."""
    groups: dict[str, list[BeadFacts]] = {}
    for record in records:
        groups.setdefault(record["labels"][0] if record["labels"] else UNLABELLED, []).append(record)
    order = sorted(groups, key=lambda label: (label == UNLABELLED, label))
    return [_group(label, groups[label]) for label in order]


def _group(label: str, members: Sequence[BeadFacts]) -> Group:
    outcomes: dict[str, int] = {}
    for record in members:
        outcomes[record["outcome"]] = outcomes.get(record["outcome"], 0) + 1
    totals = _totals(members)
    return {
        "label": label,
        "beads": [r["id"] for r in members],
        "outcomes": outcomes,
        "tokens": totals["tokens"]["total_tokens"],
        "cost_usd": totals["cost_usd"],
    }


def _landing_order(record: BeadFacts) -> tuple[str, str]:
    return (record["ended_at"] or "", record["id"])


def _landed(r: BeadFacts) -> Landed:
    return {
        "id": r["id"],
        "title": r["title"],
        "commit": r["commit"],
        "files": r["files"],
        "attempts": r["attempts"],
        "duration_s": r["duration_s"],
    }


def _failed(bead: Bead, records: Sequence[BeadFacts]) -> Failed:
    """Why it failed (each attempt's outcome and error), and the beads it holds for good."""
    return {
        "id": bead.id,
        "title": bead.title,
        "error": bead.error,
        "attempts": len(bead.attempts),
        "history": [{"n": a.n, "outcome": a.outcome, "error": a.error} for a in bead.attempts],
        "blocks": [r["id"] for r in records if bead.id in r["stuck_on"]],
    }


def _blocked(record: BeadFacts) -> Blocked:
    return {"id": record["id"], "title": record["title"], "on": record["blocked_by"], "stuck_on": record["stuck_on"]}


def _totals(records: Iterable[BeadFacts]) -> Totals:
    """Tokens by kind; dollars of the priced usage, and the beads whose usage has no price."""
    tokens = tokens_of(Usage())
    known = 0.0
    priced = False
    unpriced = []
    for record in records:
        for kind in TOKEN_KINDS:
            tokens[kind] += record["usage"][kind]
        tokens["total_tokens"] += record["usage"]["total_tokens"]
        if record["cost_usd"] is None:
            unpriced.append(record["id"])
        else:
            known += record["cost_usd"]
            priced = True
    cost = round(known, 6) if priced or not unpriced else None
    return {"tokens": tokens, "cost_usd": cost, "unpriced": unpriced}


# -- conflicts -------------------------------------------------------------------------------------


def _conflicts(events: Sequence[Event], records: Sequence[BeadFacts]) -> Conflicts:
    return {"queue": _queue_conflicts(events), "overlaps": _overlaps(records)}


def _queue_conflicts(events: Sequence[Event]) -> list[QueueConflict]:
    """Each conflict the merge queue met: the bead, its files, the beads that had just landed the
    same files (since the attempt started), and whether and when the bead landed after all."""
    out: list[QueueConflict] = []
    for index, event in enumerate(events):
        if event["type"] != EventType.CONFLICT or not event.get("bead"):
            continue
        bead_id, files = str(event["bead"]), list(event["data"].get("files") or [])
        landed = [e for e in events[index + 1 :] if e["type"] == EventType.MERGED and e.get("bead") == bead_id]
        out.append(
            {
                "bead": bead_id,
                "attempt": event.get("attempt"),
                "files": files,
                "at": event.get("ts"),
                "with": _landed_before(events, index, bead_id, set(files)),
                "resolved": bool(landed),
                "landed_on_attempt": landed[0].get("attempt") if landed else None,
            }
        )
    return out


def _landed_before(events: Sequence[Event], index: int, bead_id: str, files: set[str]) -> list[str]:
    """Beads merged between ``bead_id``'s last ``slung`` before ``events[index]`` and it, touching ``files``."""
    start = max(
        (i for i in range(index) if events[i]["type"] == EventType.SLUNG and events[i].get("bead") == bead_id),
        default=0,
    )
    found = []
    for event in events[start:index]:
        if (
            event["type"] == EventType.MERGED
            and event.get("bead") != bead_id
            and files & set(event["data"].get("files") or [])
        ):
            found.append(str(event["bead"]))
    return list(dict.fromkeys(found))


def _overlaps(records: Sequence[BeadFacts]) -> list[Overlap]:
    """Each file that the work of more than one bead touched, with those beads: most shared first.

    By file, not by pair of beads: 500 beads that all touch ``CHANGELOG.md`` are one entry, not 124,750."""
    owners: dict[str, list[str]] = {}
    for record in records:
        for name in dict.fromkeys(record["files"]):
            owners.setdefault(name, []).append(record["id"])
    shared = [(name, ids) for name, ids in owners.items() if len(ids) > 1]
    shared.sort(key=lambda item: (-len(item[1]), item[0]))
    return [{"file": name, "beads": ids} for name, ids in shared]


# -- findings and what needs a human ---------------------------------------------------------------


def findings(beads: Iterable[Bead]) -> Findings:
    """Every finding, de-duplicated as ``mayor review`` does (:func:`supervisor.views.review.reported`),
    most severe first, and how many of each severity."""
    beads = list(beads)
    found = review.reported(beads)
    return {
        "counts": dict(review.counts(r.finding for r in found)),
        "items": [_finding_facts(r) for r in found],
        "rejected": [
            {"bead": r.bead, "file": r.file, "line": r.line, "title": r.title, "reason": r.reason}
            for r in review.rejections(beads)
        ],
    }


def _finding_facts(reported: review.Reported) -> FindingFacts:
    f = reported.finding
    return {
        "severity": f.severity,
        "file": f.file,
        "line": f.line,
        "location": f"{f.file}:{f.line}" if f.line else f.file,
        "title": f.title,
        "category": f.category,
        "bead": reported.bead,
        "beads": reported.beads,
        "description": f.description,
        "recommendation": f.recommendation,
    }


def _needs_human(
    records: Sequence[BeadFacts], found: Sequence[FindingFacts], trails: Mapping[str, Sequence[Event]]
) -> list[NeedsHuman]:
    """What a person must act on, most urgent first: failures, urgent findings, then waiting beads."""
    out = [_failure(r) for r in records if r["status"] == "failed"]
    out += [_urgent(item) for item in found if item["severity"] in URGENT]
    for r in records:
        if r["status"] == "review":
            out.append(_approval(r))
        elif r["status"] == "queued" and trails.get(r["id"]):
            last = trails[r["id"]][-1]
            if last["type"] == EventType.LANDING_BLOCKED:
                out.append(_landing_blocked(r, last["data"].get("detail") or "its landing was blocked"))
    return out


def _failure(r: BeadFacts) -> NeedsHuman:
    return {
        "kind": "failed",
        "bead": r["id"],
        "title": r["title"],
        "detail": r["error"] or "failed",
        "action": f"fix what stopped it, then `mayor reopen {r['id']}`",
    }


def _urgent(item: FindingFacts) -> NeedsHuman:
    return {
        "kind": "finding",
        "bead": item["bead"],
        "title": item["title"],
        "severity": item["severity"],
        "detail": f"{item['severity']} at {item['location']}",
        "action": item["recommendation"],
    }


def _approval(r: BeadFacts) -> NeedsHuman:
    return {
        "kind": "approval",
        "bead": r["id"],
        "title": r["title"],
        "detail": "passed its checks",
        "action": f"`mayor approve {r['id']}` or `mayor reject {r['id']} --reason ...`",
    }


def _landing_blocked(r: BeadFacts, detail: str) -> NeedsHuman:
    return {
        "kind": "landing_blocked",
        "bead": r["id"],
        "title": r["title"],
        "detail": detail,
        "action": "clear the block, then `mayor sling` lands it",
    }
