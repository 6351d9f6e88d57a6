"""The mayor summary: the facts of a run, computed from the beads and events on disk, and their
Markdown.

:func:`facts` reads ``.mayor/beads/*.json`` and ``.mayor/events.jsonl`` and nothing else (no git,
no clock, no model), so the same disk gives the same facts. The dict it returns is also the JSON
output (keys are stable; ``format`` changes if they do). :func:`render_markdown` turns it into a
GitHub-flavoured report that starts with :data:`MARKER`, by which a pull request's sticky comment
is found again.

Times: a *run* is one ``mayor sling`` (``sling_started`` to ``sling_stopped``, or to its last event
when it was killed). Wall time is the sum of the runs; agent time is the sum of every agent
process's life (``agent_started``/``agent_adopted`` to ``agent_exited``, or to the end of its run).
Their ratio is the speedup that parallel work bought.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from beads import graph
from beads.models import SEVERITIES, Bead, Usage
from supervisor.events import EventLog
from supervisor.pricing import usd as _usd
from supervisor.views.review import finding_key

if TYPE_CHECKING:
    from supervisor.repo import Repo

FORMAT = 1
"""The version of the facts' shape."""
MARKER = "<!-- mayor-summary -->"
UNLABELLED = "(unlabelled)"
RANK = {name: index for index, name in enumerate(SEVERITIES)}
URGENT = ("critical", "high")
"""Findings of these severities need a human."""
ENDINGS = ("merged", "failed", "done", "cancelled")
TOKEN_KINDS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
OUTCOME = {
    "merged": "landed",
    "done": "done",
    "failed": "failed",
    "review": "waiting for approval",
    "queued": "queued",
    "running": "running",
    "cancelled": "cancelled",
}
Event = Mapping[str, Any]


# -- facts -----------------------------------------------------------------------------------------


def facts(repo: Repo) -> dict[str, Any]:
    """The facts of every bead and every run recorded in ``repo``."""
    return build(repo.store.load(), EventLog(repo.events_path).read())


def build(beads: Mapping[str, Bead], events: Sequence[Event]) -> dict[str, Any]:
    """The facts of ``beads`` and ``events`` (pure: the same input gives the same output)."""
    trails = _by_bead(events)
    held = {bead.id: holds for bead, holds in graph.blocked(beads)}
    records = [_bead_record(b, trails.get(b.id, []), held.get(b.id, []), beads) for b in _ordered(beads)]
    found = findings(beads.values())
    return {
        "format": FORMAT,
        "targets": _targets(events),
        "counts": _counts(records, found),
        "beads": records,
        "groups": _groups(records),
        "landed": [_landed(r) for r in sorted(records, key=_landing_order) if r["status"] == "merged"],
        "failed": [_failed(beads[r["id"]], records) for r in records if r["status"] == "failed"],
        "blocked": [_blocked(r) for r in records if r["blocked_by"]],
        "conflicts": {"queue": _queue_conflicts(events), "overlaps": _overlaps(records)},
        "needs_human": _needs_human(records, found, trails),
        "findings": {"counts": _severity_counts(found), "items": found},
        "totals": _totals(records),
        "timeline": timeline(events),
    }


def _targets(events: Iterable[Event]) -> list[str]:
    """The branches the runs landed on."""
    return sorted(
        {str(e["data"]["target"]) for e in events if e["type"] == "sling_started" and e["data"].get("target")}
    )


def _ordered(beads: Mapping[str, Bead]) -> list[Bead]:
    return sorted(beads.values(), key=lambda b: (b.created_at, b.id))


def _by_bead(events: Iterable[Event]) -> dict[str, list[Event]]:
    out: dict[str, list[Event]] = {}
    for event in events:
        if event.get("bead"):
            out.setdefault(str(event["bead"]), []).append(event)
    return out


def ts(event: Event) -> datetime | None:
    try:
        return datetime.fromisoformat(str(event["ts"]))
    except (KeyError, ValueError):
        return None


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round(max(0.0, (end - start).total_seconds()), 3)


def _bead_record(
    bead: Bead, trail: Sequence[Event], holds: Sequence[graph.Blocker], beads: Mapping[str, Bead]
) -> dict[str, Any]:
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
        "started_at": _iso(start),
        "ended_at": _iso(end),
        "duration_s": _seconds(start, end),
        "files": list(result.files) if result else [],
        "commit": result.commit if result else None,
        "usage": usage_record(bead.usage),
        "cost_usd": bead.usage.cost_usd,
        "error": bead.error,
        "blocked_by": [_blocker(h) for h in holds],
        "stuck_on": _stuck_on(bead, beads) if holds else [],
        "findings": len(result.findings) if result else 0,
        "deps": list(bead.deps),
    }


def usage_record(usage: Usage) -> dict[str, int]:
    return {**{kind: int(getattr(usage, kind)) for kind in TOKEN_KINDS}, "total_tokens": usage.total_tokens}


def _span(bead: Bead, trail: Sequence[Event]) -> tuple[datetime | None, datetime | None]:
    """From the bead's first ``slung`` to its last ending (merged, failed, done, cancelled)."""
    starts = [ts(e) for e in trail if e["type"] == "slung"]
    ends = [ts(e) for e in trail if e["type"] in ENDINGS]
    start = starts[0] if starts else (bead.attempts[0].started_at if bead.attempts else None)
    end = ends[-1] if ends and bead.status in ENDINGS else None
    if end is None and bead.status in ENDINGS and bead.attempts:
        end = bead.closed_at or bead.attempts[-1].ended_at
    return start, end


def _outcome(bead: Bead, holds: Sequence[graph.Blocker]) -> str:
    if bead.status != "open":
        return OUTCOME.get(bead.status, bead.status)
    if holds:
        return "blocked"
    return "to retry" if bead.attempts else "not started"


def _blocker(hold: graph.Blocker) -> dict[str, Any]:
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


def _counts(records: Sequence[Mapping[str, Any]], found: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    def n(outcome: str) -> int:
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


def _groups(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Beads by their first label (their feature or category); unlabelled ones last, together."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        groups.setdefault(record["labels"][0] if record["labels"] else UNLABELLED, []).append(record)
    order = sorted(groups, key=lambda label: (label == UNLABELLED, label))
    return [_group(label, groups[label]) for label in order]


def _group(label: str, members: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
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


def _landing_order(record: Mapping[str, Any]) -> tuple[str, str]:
    return (record["ended_at"] or "", record["id"])


def _landed(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: record[k] for k in ("id", "title", "commit", "files", "attempts", "duration_s")}


def _failed(bead: Bead, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Why it failed (each attempt's outcome and error), and the beads it holds for good."""
    history = [{"n": a.n, "outcome": a.outcome, "error": a.error} for a in bead.attempts]
    holds = [r["id"] for r in records if bead.id in r["stuck_on"]]
    return {
        "id": bead.id,
        "title": bead.title,
        "error": bead.error,
        "attempts": len(bead.attempts),
        "history": history,
        "blocks": holds,
    }


def _blocked(record: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": record["id"], "title": record["title"], "on": record["blocked_by"], "stuck_on": record["stuck_on"]}


def _queue_conflicts(events: Sequence[Event]) -> list[dict[str, Any]]:
    """Each conflict the merge queue met: the bead, its files, the beads that had just landed the
    same files (since the attempt started), and whether and when the bead landed after all."""
    out = []
    for index, event in enumerate(events):
        if event["type"] != "conflict" or not event.get("bead"):
            continue
        bead_id, files = str(event["bead"]), list(event["data"].get("files") or [])
        landed = [e for e in events[index + 1 :] if e["type"] == "merged" and e.get("bead") == bead_id]
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
        (i for i in range(index) if events[i]["type"] == "slung" and events[i].get("bead") == bead_id), default=0
    )
    found = []
    for event in events[start:index]:
        if event["type"] == "merged" and event.get("bead") != bead_id and files & set(event["data"].get("files") or []):
            found.append(str(event["bead"]))
    return list(dict.fromkeys(found))


def _overlaps(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Pairs of beads whose work touched the same files."""
    owners: dict[str, list[str]] = {}
    for record in records:
        for name in record["files"]:
            owners.setdefault(name, []).append(record["id"])
    pairs: dict[tuple[str, str], list[str]] = {}
    for name, ids in sorted(owners.items()):
        for i, first in enumerate(ids):
            for second in ids[i + 1 :]:
                pairs.setdefault((first, second), []).append(name)
    return [{"beads": list(pair), "files": files} for pair, files in pairs.items()]


def findings(beads: Iterable[Bead]) -> list[dict[str, Any]]:
    """Every finding, de-duplicated as ``mayor review`` does (same file, line and title: the most
    severe is kept, with every bead that reported it), most severe first."""
    best: dict[tuple[str, int | None, str], dict[str, Any]] = {}
    for bead in beads:
        category = str(bead.source.get("category") or bead.kind)
        for finding in bead.result.findings if bead.result else []:
            key = finding_key(finding)
            item = {
                "severity": finding.severity,
                "file": finding.file,
                "line": finding.line,
                "location": f"{finding.file}:{finding.line}" if finding.line else finding.file,
                "title": finding.title,
                "category": finding.category or category,
                "bead": bead.id,
                "beads": [bead.id],
                "description": finding.description,
                "recommendation": finding.recommendation,
            }
            known = best.get(key)
            if known is None or RANK[finding.severity] < RANK[known["severity"]]:
                item["beads"] = sorted({bead.id, *(known["beads"] if known else [])})
                best[key] = item
            elif bead.id not in known["beads"]:
                known["beads"] = sorted({*known["beads"], bead.id})
    return sorted(best.values(), key=lambda f: (RANK[f["severity"]], f["file"], f["line"] or 0, f["title"], f["bead"]))


def _severity_counts(found: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    out = dict.fromkeys(SEVERITIES, 0)
    for item in found:
        out[item["severity"]] += 1
    return out


def _needs_human(
    records: Sequence[Mapping[str, Any]], found: Sequence[Mapping[str, Any]], trails: Mapping[str, Sequence[Event]]
) -> list[dict[str, Any]]:
    """What a person must act on, most urgent first."""
    out: list[dict[str, Any]] = []
    for r in records:
        if r["status"] == "failed":
            out.append(
                {
                    "kind": "failed",
                    "bead": r["id"],
                    "title": r["title"],
                    "detail": r["error"] or "failed",
                    "action": f"fix what stopped it, then `mayor reopen {r['id']}`",
                }
            )
    for item in found:
        if item["severity"] in URGENT:
            out.append(
                {
                    "kind": "finding",
                    "bead": item["bead"],
                    "title": item["title"],
                    "severity": item["severity"],
                    "detail": f"{item['severity']} at {item['location']}",
                    "action": item["recommendation"],
                }
            )
    for r in records:
        if r["status"] == "review":
            out.append(
                {
                    "kind": "approval",
                    "bead": r["id"],
                    "title": r["title"],
                    "detail": "passed its checks",
                    "action": f"`mayor approve {r['id']}` or `mayor reject {r['id']} --reason ...`",
                }
            )
        elif r["status"] == "queued" and trails.get(r["id"]) and trails[r["id"]][-1]["type"] == "landing_blocked":
            detail = trails[r["id"]][-1]["data"].get("detail") or "its landing was blocked"
            out.append(
                {
                    "kind": "landing_blocked",
                    "bead": r["id"],
                    "title": r["title"],
                    "detail": detail,
                    "action": "clear the block, then `mayor sling` lands it",
                }
            )
    return out


def _totals(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Tokens by kind; dollars of the priced usage, and the beads whose usage has no price."""
    tokens = dict.fromkeys([*TOKEN_KINDS, "total_tokens"], 0)
    known = 0.0
    priced = False
    unpriced = []
    for record in records:
        for kind in tokens:
            tokens[kind] += record["usage"][kind]
        if record["cost_usd"] is None:
            unpriced.append(record["id"])
        else:
            known += record["cost_usd"]
            priced = True
    cost = round(known, 6) if priced or not unpriced else None
    return {"tokens": tokens, "cost_usd": cost, "unpriced": unpriced}


# -- the timeline ----------------------------------------------------------------------------------


def timeline(events: Sequence[Event]) -> dict[str, Any]:
    """Wall time of the runs, the sum of agent time, their ratio and the most agents at once."""
    runs = _runs(events)
    intervals = [span for run in runs for span in _agent_spans(events, run)]
    wall = round(sum(r["wall_s"] for r in runs), 3)
    agent = round(sum((end - start).total_seconds() for start, end in intervals), 3)
    stamps = [t for t in (ts(e) for e in events) if t is not None]
    return {
        "first_event": _iso(min(stamps, default=None)),
        "last_event": _iso(max(stamps, default=None)),
        "runs": [{k: v for k, v in r.items() if k not in ("first", "last")} for r in runs],
        "wall_s": wall,
        "agent_s": agent,
        "speedup": round(agent / wall, 2) if wall > 0 else None,
        "agents": len(intervals),
        "peak_agents": _peak(intervals),
    }


def _runs(events: Sequence[Event]) -> list[dict[str, Any]]:
    """Each run: the index range of its events, its start and end, its wall time and how it ended."""
    starts = [i for i, e in enumerate(events) if e["type"] == "sling_started"]
    if not starts:  # events from before runs were marked: one run, first event to last
        starts = [0] if events else []
    runs = []
    for n, first in enumerate(starts):
        limit = starts[n + 1] if n + 1 < len(starts) else len(events)
        stop = next((i for i in range(first, limit) if events[i]["type"] == "sling_stopped"), None)
        last = stop if stop is not None else limit - 1
        began, ended = ts(events[first]), ts(events[last])
        reason = events[stop]["data"].get("reason") if stop is not None else "cut short (no sling_stopped)"
        runs.append(
            {
                "first": first,
                "last": last,
                "started": _iso(began),
                "ended": _iso(ended),
                "wall_s": _seconds(began, ended) or 0.0,
                "ended_by": reason,
            }
        )
    return runs


def _agent_spans(events: Sequence[Event], run: Mapping[str, Any]) -> list[tuple[datetime, datetime]]:
    """Agent lives within one run; an agent still alive at the run's end counts until then."""
    open_: dict[tuple[Any, Any], datetime] = {}
    spans = []
    for event in events[run["first"] : run["last"] + 1]:
        key, when = (event.get("bead"), event.get("attempt")), ts(event)
        if when is None:
            continue
        if event["type"] in ("agent_started", "agent_adopted"):
            open_.setdefault(key, when)
        elif event["type"] == "agent_exited" and key in open_:
            spans.append((open_.pop(key), when))
    end = ts(events[run["last"]])
    spans += [(start, end) for start in open_.values() if end is not None]
    return spans


def _peak(intervals: Sequence[tuple[datetime, datetime]]) -> int:
    edges = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda x: (x[0], x[1]))
    peak = current = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak


# -- Markdown --------------------------------------------------------------------------------------

DETAILS_ROWS = 8
"""A table longer than this is folded into a ``<details>`` block."""
CELL_CHARS = 240
FILES_SHOWN = 5


def render_markdown(f: Mapping[str, Any], narrative: str | None = None) -> str:
    """The report for people and pull requests: a headline, what needs a human, then the tables.

    ``narrative``, a model's short account written from these facts, goes on top when given.
    """
    parts = [MARKER, "## mayor summary", ""]
    if narrative and narrative.strip():
        parts += [narrative.strip(), "", "---", ""]
    parts.append(headline(f))
    sections = (_md_needs_human, _md_landed, _md_failed, _md_blocked, _md_conflicts, _md_findings, _md_groups, _md_cost)
    for section in sections:
        text = section(f)
        if text:
            parts += ["", text]
    return "\n".join(parts).rstrip() + "\n"


def headline(f: Mapping[str, Any]) -> str:
    """One line of counts: what landed and failed, what waits, the findings, the spend and speedup."""
    c = f["counts"]
    words = [f"**{c['landed']} landed**", f"**{c['failed']} failed**"]
    for key, word in (
        ("blocked", "blocked"),
        ("waiting_for_approval", "waiting for approval"),
        ("queued", "queued"),
        ("running", "running"),
        ("to_retry", "to retry"),
        ("not_started", "not started"),
        ("cancelled", "cancelled"),
        ("done", "report(s) done"),
    ):
        if c[key]:
            words.append(f"{c[key]} {word}")
    tail = [
        f"{c['beads']} bead(s)",
        f"{_tokens(f['totals']['tokens']['total_tokens'])} tokens",
        _total_cost(f["totals"]),
    ]
    if c["urgent_findings"]:
        tail.insert(1, f"**{c['urgent_findings']} high/critical finding(s)**")
    speedup = f["timeline"]["speedup"]
    if speedup is not None:
        tail.append(f"{speedup:.1f}× parallel speedup")
    return " · ".join(words) + " — " + " · ".join(tail)


def _md_needs_human(f: Mapping[str, Any]) -> str:
    items = f["needs_human"]
    if not items:
        return "### Needs a human\nNothing needs a human."
    lines = [f"### Needs a human ({len(items)})"]
    for item in items:
        what = f"{item['severity']} finding" if item["kind"] == "finding" else item["kind"].replace("_", " ")
        line = f"- **{what}**: `{item['bead']}` {_cell(item['title'])}: {_cell(item['detail'])}"
        lines.append(line + (f" → {_cell(item['action'])}" if item.get("action") else ""))
    return "\n".join(lines)


def _md_landed(f: Mapping[str, Any]) -> str:
    rows = [
        [
            f"`{r['id']}`",
            _cell(r["title"]),
            f"`{(r['commit'] or '')[:10]}`",
            r["attempts"],
            duration(r["duration_s"]),
            _files(r["files"]),
        ]
        for r in f["landed"]
    ]
    return _section(f"Landed ({len(rows)})", ["bead", "title", "merge commit", "attempts", "duration", "files"], rows)


def _md_failed(f: Mapping[str, Any]) -> str:
    rows = [
        [f"`{r['id']}`", _cell(r["title"]), r["attempts"], _cell(r["error"] or ""), _ids(r["blocks"])]
        for r in f["failed"]
    ]
    text = _section(f"Failed ({len(rows)})", ["bead", "title", "attempts", "why", "blocks"], rows)
    history = [
        f"- `{r['id']}` attempt {h['n']}: {h['outcome']}: {_cell(h['error'] or '')}"
        for r in f["failed"]
        for h in r["history"]
    ]
    return text + ("\n\n" + _details("Every attempt of the failed beads", "\n".join(history)) if history else "")


def _md_blocked(f: Mapping[str, Any]) -> str:
    rows = [
        [f"`{r['id']}`", _cell(r["title"]), _cell("; ".join(o["reason"] for o in r["on"])), _ids(r["stuck_on"])]
        for r in f["blocked"]
    ]
    return _section(f"Blocked ({len(rows)})", ["bead", "title", "blocked on", "held for good by"], rows)


def _md_conflicts(f: Mapping[str, Any]) -> str:
    queue, overlaps = f["conflicts"]["queue"], f["conflicts"]["overlaps"]
    if not queue and not overlaps:
        return ""
    lines = ["### Conflicts between agents"]
    if queue:
        rows = [
            [
                f"`{q['bead']}`",
                q["attempt"] or "",
                _files(q["files"]),
                _ids(q["with"]) or "(unknown)",
                f"landed on attempt {q['landed_on_attempt']}" if q["resolved"] else "not yet",
            ]
            for q in queue
        ]
        lines += [
            "Met in the merge queue:",
            "",
            _table(["bead", "attempt", "files", "after these landed", "resolved"], rows),
        ]
    if overlaps:
        rows = [[_ids(o["beads"]), _files(o["files"])] for o in overlaps]
        lines += ["", "Beads whose landed work touched the same files:", "", _table(["beads", "files"], rows)]
    return "\n".join(lines)


def _md_findings(f: Mapping[str, Any]) -> str:
    items = f["findings"]["items"]
    if not items:
        return ""
    tally = " · ".join(f"{n} {sev}" for sev, n in f["findings"]["counts"].items())
    rows = [
        [i["severity"], f"`{_cell(i['location'])}`", _cell(i["title"]), _ids(i["beads"]), i["category"] or ""]
        for i in items
    ]
    return _section(f"Findings ({tally})", ["severity", "where", "title", "bead", "category"], rows)


def _md_groups(f: Mapping[str, Any]) -> str:
    beads = {r["id"]: r for r in f["beads"]}
    if not beads:
        return "### Beads\nNo bead yet: `mayor add` or `mayor plan` makes some."
    blocks = ["### By feature"]
    for group in f["groups"]:
        outcomes = ", ".join(f"{n} {word}" for word, n in sorted(group["outcomes"].items()))
        cost = "unpriced" if group["cost_usd"] is None else _usd(group["cost_usd"])
        count = f"{len(group['beads'])} bead(s)"
        summary = f"<b>{_cell(group['label'])}</b>: {count}, {outcomes} · {_tokens(group['tokens'])} tokens · {cost}"
        blocks.append(_details(summary, _bead_table([beads[i] for i in group["beads"]])))
    return "\n\n".join(blocks)


def _bead_table(records: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for r in records:
        tries = f"{r['attempts']} ({', '.join(r['attempt_outcomes'])})" if r["attempts"] else "0"
        rows.append(
            [
                f"`{r['id']}`",
                _cell(r["title"]),
                r["kind"],
                r["outcome"],
                tries,
                duration(r["duration_s"]),
                _files(r["files"]),
                _tokens(r["usage"]["total_tokens"]),
                _bead_cost(r),
            ]
        )
    return _table(["bead", "title", "kind", "outcome", "attempts", "duration", "files", "tokens", "cost"], rows)


def _md_cost(f: Mapping[str, Any]) -> str:
    t, tl = f["totals"], f["timeline"]
    tok = t["tokens"]
    row = [_tokens(tok[k]) for k in (*TOKEN_KINDS, "total_tokens")] + [_total_cost(t)]
    lines = [
        "### Cost and time",
        _table(["input", "output", "cache read", "cache write", "total tokens", "cost"], [row]),
    ]
    if tl["runs"]:
        speedup = "n/a" if tl["speedup"] is None else f"**{tl['speedup']:.1f}×**"
        lines += [
            "",
            f"Wall time {duration(tl['wall_s'])} over {len(tl['runs'])} run(s); agent time "
            f"{duration(tl['agent_s'])} in {tl['agents']} agent run(s), at most {tl['peak_agents']} at once; "
            f"speedup from parallel work: {speedup}.",
        ]
    return "\n".join(lines)


# -- Markdown pieces -------------------------------------------------------------------------------


def _section(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    if not rows:
        return ""
    table = _table(columns, rows)
    if len(rows) > DETAILS_ROWS:
        return f"### {title}\n" + _details(f"{len(rows)} rows", table)
    return f"### {title}\n{table}"


def _table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _details(summary: str, body: str) -> str:
    return f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>"


def _cell(text: str) -> str:
    """Safe inside a table cell: one line, no pipe, no HTML, not too long."""
    flat = " ".join(str(text).split()).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
    return flat if len(flat) <= CELL_CHARS else flat[: CELL_CHARS - 1] + "…"


def _files(files: Sequence[str]) -> str:
    shown = ", ".join(f"`{_cell(name)}`" for name in files[:FILES_SHOWN])
    return shown + (f" and {len(files) - FILES_SHOWN} more" if len(files) > FILES_SHOWN else "")


def _ids(ids: Sequence[str]) -> str:
    return ", ".join(f"`{i}`" for i in ids)


def _tokens(n: int) -> str:
    return f"{n:,}" if n else "–"


def _bead_cost(record: Mapping[str, Any]) -> str:
    if record["cost_usd"] is None:
        return "unpriced"
    return _usd(record["cost_usd"]) if record["usage"]["total_tokens"] or record["cost_usd"] else "–"


def _total_cost(totals: Mapping[str, Any]) -> str:
    if totals["cost_usd"] is None:
        return "unpriced"
    known = _usd(totals["cost_usd"])
    n = len(totals["unpriced"])
    return known + (f" + unpriced usage of {n} bead(s)" if n else "")


def duration(seconds: float | None) -> str:
    """``4.2s``, ``3m 05s``, ``1h 02m``; ``–`` when unknown."""
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    return f"{minutes // 60}h {minutes % 60:02d}m"
