"""The mayor summary in Markdown: the report for people and pull requests.

:func:`render_markdown` turns the facts of :func:`supervisor.views.report.facts` into a
GitHub-flavoured report that starts with :data:`MARKER`, by which a pull request's sticky comment
is found again: a headline, what needs a human, then a section per kind of fact. Long tables fold
into ``<details>``; table cells are flattened and escaped.
"""

from __future__ import annotations

from collections.abc import Sequence

from supervisor.pricing import usd as _usd
from supervisor.views.report_types import TOKEN_KINDS, BeadFacts, CountKey, Facts, Totals

MARKER = "<!-- mayor-summary -->"
"""The report's first line: a pull request's sticky comment is the one that carries it."""
DETAILS_ROWS = 8
"""A table longer than this is folded into a ``<details>`` block."""
CELL_CHARS = 240
FILES_SHOWN = 5
WAITING: tuple[tuple[CountKey, str], ...] = (
    ("blocked", "blocked"),
    ("waiting_for_approval", "waiting for approval"),
    ("queued", "queued"),
    ("running", "running"),
    ("to_retry", "to retry"),
    ("not_started", "not started"),
    ("cancelled", "cancelled"),
    ("done", "report(s) done"),
)
"""The counts the headline names after what landed and failed, when not zero."""


def render_markdown(f: Facts, narrative: str | None = None) -> str:
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


def headline(f: Facts) -> str:
    """One line of counts: what landed and failed, what waits, the findings, the spend and speedup."""
    c = f["counts"]
    words = [f"**{c['landed']} landed**", f"**{c['failed']} failed**"]
    for key, word in WAITING:
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


def _md_needs_human(f: Facts) -> str:
    items = f["needs_human"]
    if not items:
        return "### Needs a human\nNothing needs a human."
    lines = [f"### Needs a human ({len(items)})"]
    for item in items:
        what = f"{item['severity']} finding" if item["kind"] == "finding" else item["kind"].replace("_", " ")
        line = f"- **{what}**: `{item['bead']}` {_cell(item['title'])}: {_cell(item['detail'])}"
        lines.append(line + (f" → {_cell(item['action'])}" if item.get("action") else ""))
    return "\n".join(lines)


def _md_landed(f: Facts) -> str:
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


def _md_failed(f: Facts) -> str:
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


def _md_blocked(f: Facts) -> str:
    rows = [
        [f"`{r['id']}`", _cell(r["title"]), _cell("; ".join(o["reason"] for o in r["on"])), _ids(r["stuck_on"])]
        for r in f["blocked"]
    ]
    return _section(f"Blocked ({len(rows)})", ["bead", "title", "blocked on", "held for good by"], rows)


def _md_conflicts(f: Facts) -> str:
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


def _md_findings(f: Facts) -> str:
    items = f["findings"]["items"]
    if not items:
        return ""
    tally = " · ".join(f"{n} {sev}" for sev, n in f["findings"]["counts"].items())
    rows = [
        [i["severity"], f"`{_cell(i['location'])}`", _cell(i["title"]), _ids(i["beads"]), i["category"] or ""]
        for i in items
    ]
    return _section(f"Findings ({tally})", ["severity", "where", "title", "bead", "category"], rows)


def _md_groups(f: Facts) -> str:
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


def _bead_table(records: Sequence[BeadFacts]) -> str:
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


def _md_cost(f: Facts) -> str:
    t, tl = f["totals"], f["timeline"]
    tok = t["tokens"]
    row = [_tokens(tok[k]) for k in TOKEN_KINDS] + [_tokens(tok["total_tokens"]), _total_cost(t)]
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


def _section(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    if not rows:
        return ""
    table = _table(columns, rows)
    if len(rows) > DETAILS_ROWS:
        return f"### {title}\n" + _details(f"{len(rows)} rows", table)
    return f"### {title}\n{table}"


def _table(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
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


def _bead_cost(record: BeadFacts) -> str:
    if record["cost_usd"] is None:
        return "unpriced"
    return _usd(record["cost_usd"]) if record["usage"]["total_tokens"] or record["cost_usd"] else "–"


def _total_cost(totals: Totals) -> str:
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
