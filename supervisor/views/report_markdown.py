"""The mayor summary in Markdown: the report for people and pull requests.

:func:`render_markdown` turns the facts of :func:`supervisor.views.report.facts` into a
GitHub-flavoured report that starts with :data:`MARKER`, by which a pull request's sticky comment
is found again: a headline, what needs a human, then a section per kind of fact. Long tables fold
into ``<details>``.

Text is escaped for where it goes (:func:`_cell` in a table, :func:`_inline` in a list or a
sentence, :func:`_code` in a code span), and ``@mentions`` in it are neutralised, so text a model
wrote never pings anyone. With ``limit`` the report fits that many bytes (a pull-request comment,
the step summary): sections are cut from the least to the most urgent (per-bead detail first, what
needs a human last), each says what it left out, and a closing note says where the full report is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from supervisor.pricing import usd as _usd
from supervisor.views.report_types import TOKEN_KINDS, BeadFacts, CountKey, Facts, Totals

_T = TypeVar("_T")
MARKER = "<!-- mayor-summary -->"
"""The report's first line: a pull request's sticky comment is the one that carries it."""
DETAILS_ROWS = 8
"""A table longer than this is folded into a ``<details>`` block."""
CELL_CHARS = 240
FILES_SHOWN = 5
BEADS_SHOWN = 10
CAPS: tuple[int, ...] = (200, 100, 50, 20, 8, 3, 0)
"""The rows a section keeps, tried in turn until the report fits its limit."""
SACRIFICE = ("groups", "landed", "conflicts", "blocked", "rejected", "findings", "failed", "needs_human")
"""The sections in the order they are cut to fit a limit: per-bead detail first, what needs a human last."""
FULL_REPORT = "`mayor summary --out mayor-summary.md` (upload it as a workflow artifact)"
_MENTION = re.compile(r"(?<![\w`])@(?=[A-Za-z0-9])")
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


Section = Callable[[Facts, int | None], str]


def render_markdown(f: Facts, narrative: str | None = None, limit: int | None = None) -> str:
    """The report for people and pull requests: a headline, what needs a human, then the tables.

    ``narrative``, a model's short account written from these facts, goes on top when given (its
    ``@mentions`` neutralised). With ``limit``, the report is at most that many UTF-8 bytes."""
    top = [MARKER, "## mayor summary", ""]
    if narrative and narrative.strip():
        top += [_unmention(narrative.strip()), "", "---", ""]
    top.append(headline(f))
    caps: dict[str, int | None] = dict.fromkeys(SECTIONS)
    done: Rendered = {}
    text = _assemble(f, top, caps, done)
    if limit is None or _size(text) <= limit:
        return text
    for name in SACRIFICE:
        for cap in CAPS:
            caps[name] = cap
            text = _assemble(f, top, caps, done, cut=True)
            if _size(text) <= limit:
                return _grow(f, top, caps, done, limit, text)
    return _hard_cut(text, limit)


Rendered = dict[tuple[str, int | None], str]
"""Each section rendered once per cap."""


def _grow(f: Facts, top: list[str], caps: dict[str, int | None], done: Rendered, limit: int, text: str) -> str:
    """Give the room a fit left back to the sections cut on the way, the most urgent first."""
    for name in reversed(SACRIFICE):
        current = caps[name]
        if current is None:
            continue
        for cap in (None, *(c for c in CAPS if c > current)):
            trial = _assemble(f, top, {**caps, name: cap}, done, cut=True)
            if _size(trial) <= limit:
                caps[name], text = cap, trial
                break
    return text


def _assemble(
    f: Facts,
    top: list[str],
    caps: Mapping[str, int | None],
    done: Rendered,
    cut: bool = False,
) -> str:
    """The report with each section cut to its cap; ``done`` keeps each section rendered once per cap."""
    parts = list(top)
    for name, section in SECTIONS.items():
        key = (name, caps[name])
        if key not in done:
            done[key] = section(f, caps[name])
        if done[key]:
            parts += ["", done[key]]
    if cut:
        parts += ["", f"---\n_Cut to fit GitHub's size limit; the full report: {FULL_REPORT}._"]
    return "\n".join(parts).rstrip() + "\n"


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _hard_cut(text: str, limit: int) -> str:
    """The last resort (a huge narrative): whole lines up to ``limit``, open ``<details>`` closed."""
    note = f"\n\n_Cut to fit GitHub's size limit; the full report: {FULL_REPORT}._\n"
    budget = limit - _size(note) - 200
    kept: list[str] = []
    used = 0
    for line in text.splitlines():
        used += _size(line) + 1
        if used > budget:
            break
        kept.append(line)
    body = "\n".join(kept)
    body += "\n\n</details>" * max(0, body.count("<details>") - body.count("</details>"))
    return body + note


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


def _md_needs_human(f: Facts, cap: int | None) -> str:
    items = f["needs_human"]
    if not items:
        return "### Needs a human\nNothing needs a human."
    lines = []
    for item in items:
        what = f"{item['severity']} finding" if item["kind"] == "finding" else item["kind"].replace("_", " ")
        line = f"- **{what}**: {_code(item['bead'])} {_inline(item['title'])}: {_inline(item['detail'])}"
        lines.append(line + (f" → {_inline(item['action'])}" if item.get("action") else ""))
    shown, more = _capped(lines, cap)
    text = f"### Needs a human ({len(items)})\n" + "\n".join(shown[:DETAILS_ROWS])
    if len(shown) > DETAILS_ROWS:
        text += "\n\n" + _details(f"{len(shown) - DETAILS_ROWS} more", "\n".join(shown[DETAILS_ROWS:]))
    return text + _left_out(more, "item")


def _md_landed(f: Facts, cap: int | None) -> str:
    rows = [
        [
            _code(r["id"]),
            _cell(r["title"]),
            _code((r["commit"] or "")[:10]),
            r["attempts"],
            duration(r["duration_s"]),
            _files(r["files"]),
        ]
        for r in f["landed"]
    ]
    columns = ["bead", "title", "merge commit", "attempts", "duration", "files"]
    return _section(f"Landed ({len(rows)})", columns, rows, cap)


def _md_failed(f: Facts, cap: int | None) -> str:
    rows = [
        [_code(r["id"]), _cell(r["title"]), r["attempts"], _cell(r["error"] or ""), _ids(r["blocks"])]
        for r in f["failed"]
    ]
    text = _section(f"Failed ({len(rows)})", ["bead", "title", "attempts", "why", "blocks"], rows, cap)
    history = [
        f"- {_code(r['id'])} attempt {h['n']}: {h['outcome']}: {_inline(h['error'] or '')}"
        for r in f["failed"]
        for h in r["history"]
    ]
    shown, more = _capped(history, None if cap is None else cap * 2)
    if shown:
        text += "\n\n" + _details("Every attempt of the failed beads", "\n".join(shown) + _left_out(more, "attempt"))
    return text


def _md_blocked(f: Facts, cap: int | None) -> str:
    rows = [
        [_code(r["id"]), _cell(r["title"]), _cell("; ".join(o["reason"] for o in r["on"])), _ids(r["stuck_on"])]
        for r in f["blocked"]
    ]
    return _section(f"Blocked ({len(rows)})", ["bead", "title", "blocked on", "held for good by"], rows, cap)


def _md_conflicts(f: Facts, cap: int | None) -> str:
    queue, overlaps = f["conflicts"]["queue"], f["conflicts"]["overlaps"]
    if not queue and not overlaps:
        return ""
    lines = ["### Conflicts between agents"]
    if queue:
        rows = [
            [
                _code(q["bead"]),
                q["attempt"] or "",
                _files(q["files"]),
                _ids(q["with"]) or "(unknown)",
                f"landed on attempt {q['landed_on_attempt']}" if q["resolved"] else "not yet",
            ]
            for q in queue
        ]
        columns = ["bead", "attempt", "files", "after these landed", "resolved"]
        lines += [f"Met in the merge queue ({len(rows)}):", "", _fold(columns, rows, cap)]
    if overlaps:
        rows = [[_code(o["file"]), len(o["beads"]), _ids(o["beads"], BEADS_SHOWN)] for o in overlaps]
        lines += ["", f"Files that the landed work of several beads touched ({len(rows)}):", ""]
        lines.append(_fold(["file", "beads", "which"], rows, cap))
    return "\n".join(lines)


def _md_findings(f: Facts, cap: int | None) -> str:
    items = f["findings"]["items"]
    if not items:
        return ""
    tally = " · ".join(f"{n} {sev}" for sev, n in f["findings"]["counts"].items())
    rows = [
        [i["severity"], _code(i["location"]), _cell(i["title"]), _ids(i["beads"]), _cell(i["category"] or "")]
        for i in items
    ]
    return _section(f"Findings ({tally})", ["severity", "where", "title", "bead", "category"], rows, cap)


def _md_rejected(f: Facts, cap: int | None) -> str:
    items = f["findings"]["rejected"]
    if not items:
        return ""
    rows = [
        [
            _code(r["bead"]),
            _code(f"{r['file']}:{r['line']}" if r["line"] is not None else r["file"]),
            _cell(r["title"]),
            _cell(r["reason"]),
        ]
        for r in items
    ]
    title = f"Rejected findings ({len(rows)}): not in the SARIF, they point nowhere"
    return _section(title, ["bead", "where (as reported)", "title", "why"], rows, cap)


def _md_groups(f: Facts, cap: int | None) -> str:
    beads = {r["id"]: r for r in f["beads"]}
    if not beads:
        return "### Beads\nNo bead yet: `mayor add` or `mayor plan` makes some."
    blocks = ["### By feature"]
    groups, more_groups = _capped(f["groups"], None if cap is None else max(cap, 3))
    for group in groups:
        outcomes = ", ".join(f"{n} {word}" for word, n in sorted(group["outcomes"].items()))
        cost = "unpriced" if group["cost_usd"] is None else _usd(group["cost_usd"])
        count = f"{len(group['beads'])} bead(s)"
        summary = f"<b>{_cell(group['label'])}</b>: {count}, {outcomes} · {_tokens(group['tokens'])} tokens · {cost}"
        members, more = _capped([beads[i] for i in group["beads"]], cap)
        table = _bead_table(members) + _left_out(more, "bead") if members else _left_out(more, "bead").strip()
        blocks.append(_details(summary, table))
    return "\n\n".join(blocks) + _left_out(more_groups, "group")


def _bead_table(records: Sequence[BeadFacts]) -> str:
    rows = []
    for r in records:
        tries = f"{r['attempts']} ({', '.join(r['attempt_outcomes'])})" if r["attempts"] else "0"
        rows.append(
            [
                _code(r["id"]),
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


def _md_cost(f: Facts, cap: int | None = None) -> str:
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


def _md_queue(f: Facts, cap: int | None = None) -> str:
    """One line on the merge queue, when a gate ran: how beads landed, what the gate runs cost."""
    q = f["queue"]
    if q is None:
        return ""
    batches = f" ({q['batches']} of them batches)" if q["batches"] else ""
    per = f", {q['runs_per_landed']:.2f} per landed bead" if q["runs_per_landed"] is not None else ""
    parts = [
        f"{q['landed']} bead(s) landed in {q['landings']} commit(s){batches}",
        f"{q['gate_runs']} gate run(s){per}",
        f"{q['bisections']} bisection(s)",
        f"{q['discarded']} speculative run(s) discarded",
        f"**{q['flaky']} flaky gate run(s)**" if q["flaky"] else "0 flaky gate runs",
    ]
    if q["peak"] > 1:
        parts.append(f"up to {q['peak']} candidates gated at once")
    if q["shape"] is not None:
        shape = q["shape"]
        parts.append(f"last shape: batch {shape['batch']}, depth {shape['depth']}, p {shape['p']:g}")
    return "### Merge queue\n" + " · ".join(parts) + "."


SECTIONS: dict[str, Section] = {
    "needs_human": _md_needs_human,
    "landed": _md_landed,
    "failed": _md_failed,
    "blocked": _md_blocked,
    "conflicts": _md_conflicts,
    "findings": _md_findings,
    "rejected": _md_rejected,
    "groups": _md_groups,
    "queue": _md_queue,
    "cost": _md_cost,
}
"""The sections in the order they are shown."""


# -- Markdown pieces -------------------------------------------------------------------------------


def _section(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]], cap: int | None = None) -> str:
    if not rows:
        return ""
    return f"### {title}\n" + _fold(columns, rows, cap)


def _fold(columns: Sequence[str], rows: Sequence[Sequence[object]], cap: int | None) -> str:
    """A table, in a ``<details>`` block when long, cut to ``cap`` rows with a note of the rest."""
    shown, more = _capped(rows, cap)
    table = _table(columns, shown) if shown else ""
    if len(shown) > DETAILS_ROWS:
        table = _details(f"{len(shown)} rows", table)
    return (table + _left_out(more, "row")).strip()


def _capped(items: Sequence[_T], cap: int | None) -> tuple[list[_T], int]:
    """The first ``cap`` items (all with None), and how many were left out."""
    kept = list(items) if cap is None else list(items[:cap])
    return kept, len(items) - len(kept)


def _left_out(count: int, noun: str) -> str:
    if not count:
        return ""
    return f"\n\n_… and {count:,} more {noun}(s), left out to fit; the full report: {FULL_REPORT}._"


def _table(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _details(summary: str, body: str) -> str:
    return f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>"


def _unmention(text: str) -> str:
    """``@name`` made inert (a zero-width joiner after the ``@``): GitHub notifies no one."""
    return _MENTION.sub("@\u2060", text)


def _inline(text: str, limit: int = CELL_CHARS) -> str:
    """Safe in a list item or a sentence: one line, no HTML, no mention, not too long."""
    flat = " ".join(str(text).split()).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _unmention(flat if len(flat) <= limit else flat[: limit - 1] + "…")


def _cell(text: str) -> str:
    """Safe inside a table cell: as :func:`_inline`, and no pipe that would split the cell."""
    return _inline(text).replace("|", "\\|")


def _code(text: str, in_table: bool = True) -> str:
    """A code span of ``text``, shown as written: no entity (they would show), backticks fenced by a
    longer run, and in a table ``|`` escaped (GitHub reads ``\\|`` there as a pipe)."""
    flat = " ".join(str(text).split())
    flat = flat if len(flat) <= CELL_CHARS else flat[: CELL_CHARS - 1] + "…"
    if not flat:
        return ""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", flat)), default=0) + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    span = f"{fence}{pad}{flat}{pad}{fence}"
    return span.replace("|", "\\|") if in_table else span


def _files(files: Sequence[str]) -> str:
    shown = ", ".join(_code(name) for name in files[:FILES_SHOWN])
    return shown + (f" and {len(files) - FILES_SHOWN} more" if len(files) > FILES_SHOWN else "")


def _ids(ids: Sequence[str], shown: int | None = None) -> str:
    text = ", ".join(_code(i) for i in ids[:shown])
    return text + (f" and {len(ids) - shown} more" if shown is not None and len(ids) > shown else "")


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
