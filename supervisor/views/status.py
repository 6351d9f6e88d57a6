"""What a run looks like from disk at any moment: the supervisor, the beads in play, the merge queue.

``mayor status`` prints one :func:`snapshot`; a live view keeps a :class:`Tracker`, whose
:meth:`Tracker.snapshot` reads only the events written since its last call, and draws each
snapshot with :func:`render_table` (a rich table, on a terminal) or :func:`plain_lines`.

Everything comes from files another process may be writing: the bead files (replaced whole, never
seen half written), ``events.jsonl`` (whole lines only), ``state/supervisor.json`` (who runs) and
the supervisor's lock (held while a ``mayor sling`` runs; read from ``/proc/locks`` where there is
one, never taken, so looking can never stop a supervisor from starting).

Rows: every bead that is running, queued or in review, and every bead with an event in the
current run (or the last one, once it is over), in the order they first showed up. The merge queue:
the candidates being gated now, in window order (the first on the target, the others speculative,
each built on one ahead of it; see :mod:`supervisor.views.queue_events`), the queued beads waiting
behind them, and the queue's last shape (batch size, speculation depth, measured failure rate).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from beads.errors import MayorError, ValidationError
from beads.models import ACTIVE, STATUSES, Bead, Usage
from supervisor.events import Event, EventLog, EventType
from supervisor.views.queue_events import Window
from supervisor.views.timeline import ENDINGS, ts

if TYPE_CHECKING:
    from rich.table import Table

    from supervisor.repo import Repo
    from supervisor.views.report_types import QueueShape

PROC_LOCKS = Path("/proc/locks")


@dataclass
class SupervisorInfo:
    """Whether a ``mayor sling`` runs here now, and which."""

    running: bool
    pid: int | None = None
    host: str | None = None
    started: str | None = None
    """When it started (ISO 8601), from ``state/supervisor.json``."""
    lock_held: bool | None = None
    """Whether its lock is held; None where that cannot be seen without taking it."""
    stale: bool = False
    """``supervisor.json`` names a supervisor that is gone (killed without cleaning up)."""


@dataclass
class BeadRow:
    """One bead as the live view shows it."""

    id: str
    title: str
    status: str
    attempt: int | None = None
    agent: str | None = None
    started: datetime | None = None
    """When its current (or last) attempt was slung."""
    ended: datetime | None = None
    """When it merged, failed, finished or was cancelled; None while in play."""
    elapsed_s: float | None = None
    last_event: str | None = None
    last_event_at: datetime | None = None
    tokens: int = 0
    """Its whole usage, the running attempt's live usage included."""
    cost_usd: float | None = 0.0
    """None when some of its tokens have no known price ("unpriced", never $0)."""
    error: str | None = None


@dataclass
class GateInfo:
    """A candidate the merge queue gates now."""

    bead: str
    """Its first bead."""
    attempt: int | None
    """The attempt of its first bead."""
    started: datetime | None
    elapsed_s: float | None
    candidate: str = ""
    """The candidate's commit (empty in an event log written before candidates were named)."""
    beads: list[str] = field(default_factory=list)
    """The beads it adds to what it is built on (the target, or a candidate ahead): a batch holds several."""


@dataclass
class Snapshot:
    taken_at: datetime
    supervisor: SupervisorInfo
    rows: list[BeadRow] = field(default_factory=list)
    queue: list[str] = field(default_factory=list)
    """Queued beads in the order the merge queue takes them."""
    landing: str | None = None
    """The bead the merge queue is landing now, while a supervisor runs: the first bead of the first
    candidate gated, else the head of the queue."""
    run_started: datetime | None = None
    """When the current (or last) run started."""
    counts: dict[str, int] = field(default_factory=dict)
    """Every bead of the store by status (statuses with none left out)."""
    gate: GateInfo | None = None
    """The first of :attr:`gates` (the one the target moves to next), if any."""
    gates: list[GateInfo] = field(default_factory=list)
    """Every candidate gated now (from its ``gate_started`` to its verdict), in window order: the
    first is built on the target, each other one on a candidate ahead of it (speculation)."""
    shape: QueueShape | None = None
    """The merge queue's last shape in the current (or last) run: batch, depth and failure rate p."""

    def to_json(self) -> dict[str, Any]:
        return _plain(asdict(self))


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@dataclass
class _Trail:
    """What the events say of one bead."""

    attempt: int | None = None
    started: datetime | None = None
    ended: datetime | None = None
    last: str | None = None
    last_at: datetime | None = None
    last_seq: int = 0
    first_seq_in_run: int | None = None
    queued_seq: int = 0


class Tracker:
    """Follows one repository's event log; each :meth:`snapshot` reads only what was added."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        self.log = EventLog(repo.events_path)
        self.offset = 0
        self.trails: dict[str, _Trail] = {}
        self.run_started: datetime | None = None
        self.window = Window()

    def snapshot(self, now: datetime | None = None) -> Snapshot:
        self._read_events()
        moment = now or datetime.now(UTC)
        statuses = self._statuses()
        beads = self._beads_in_play(statuses)
        rows = [self._row(bead, moment) for bead in beads]
        queue = [b.id for b in sorted((b for b in beads if b.status == "queued"), key=self._queue_key)]
        who = supervisor_info(self.repo)
        gates = self._gates(moment) if who.running else []
        landing = gates[0].bead if gates else queue[0] if who.running and queue else None
        counts = {s: n for s in STATUSES if (n := sum(1 for v in statuses.values() if v == s))}
        first = gates[0] if gates else None
        return Snapshot(moment, who, rows, queue, landing, self.run_started, counts, first, gates, self.window.shape)

    def _gates(self, now: datetime) -> list[GateInfo]:
        out = []
        for c in self.window.candidates:
            elapsed = None if c.started is None else max(0.0, (now - c.started).total_seconds())
            trail = self.trails.get(c.beads[0])
            attempt = c.attempt or (trail.attempt if trail else None)
            out.append(GateInfo(c.beads[0], attempt, c.started, elapsed, c.commit, list(c.beads)))
        return out

    # -- events ------------------------------------------------------------------------------------
    def _read_events(self) -> None:
        if self.log.path.exists() and self.log.path.stat().st_size < self.offset:  # the log was cut: start over
            self.offset, self.trails, self.run_started, self.window = 0, {}, None, Window()
        events, self.offset = self.log.iter_from(self.offset)
        for event in events:
            self._apply(event)

    def _apply(self, event: Event) -> None:
        kind, when, seq = event["type"], ts(event), int(event.get("seq") or 0)
        if kind == EventType.SLING_STARTED:
            self.run_started = when
            for trail in self.trails.values():
                trail.first_seq_in_run = None
        bead = event.get("bead")
        self.window.apply(event)
        if not bead:
            return
        trail = self.trails.setdefault(str(bead), _Trail())
        trail.attempt = event.get("attempt") or trail.attempt
        trail.last, trail.last_at, trail.last_seq = kind, when, seq
        if trail.first_seq_in_run is None and self.run_started is not None:
            trail.first_seq_in_run = seq
        if kind == EventType.SLUNG:
            trail.started, trail.ended = when, None
        elif kind in ENDINGS:
            trail.ended = when
        elif kind == EventType.QUEUED:
            trail.queued_seq = seq

    # -- beads -------------------------------------------------------------------------------------
    def _beads_in_play(self, statuses: dict[str, str]) -> list[Bead]:
        wanted = [i for i, s in statuses.items() if s in ACTIVE]
        wanted += [i for i, t in self.trails.items() if t.first_seq_in_run is not None]
        beads = []
        for bead_id in dict.fromkeys(wanted):
            try:
                beads.append(self.repo.store.get(bead_id))
            except MayorError:  # removed, or being rewritten by hand
                continue
        return sorted(beads, key=self._order_key)

    def _statuses(self) -> dict[str, str]:
        store = self.repo.store
        try:
            return {i: s.status for i, s in store.summaries().items()}
        except ValidationError:  # a broken graph is another command's business
            return {i: b.status for i, b in store.load().items()}

    def _order_key(self, bead: Bead) -> tuple[int, str]:
        trail = self.trails.get(bead.id)
        if trail is None:
            return (0, bead.id)
        return (trail.first_seq_in_run or trail.last_seq, bead.id)

    def _queue_key(self, bead: Bead) -> tuple[int, str, str]:
        trail = self.trails.get(bead.id)
        return (trail.queued_seq if trail else 0, bead.updated_at.isoformat(), bead.id)

    def _row(self, bead: Bead, now: datetime) -> BeadRow:
        trail = self.trails.get(bead.id) or _Trail()
        attempt = bead.attempts[-1] if bead.attempts else None
        started = trail.started or (attempt.started_at if attempt else None)
        ended = _ended(bead, trail)
        elapsed = None if started is None else max(0.0, ((ended or now) - started).total_seconds())
        usage = bead.usage
        if bead.status == "running" and attempt is not None and not attempt.usage.total_tokens:
            usage = usage + self._live_usage(bead.id, attempt.n)
        return BeadRow(
            bead.id,
            bead.title,
            bead.status,
            attempt.n if attempt else trail.attempt,
            attempt.agent if attempt else None,
            started,
            ended,
            elapsed,
            trail.last,
            trail.last_at,
            usage.total_tokens,
            usage.cost_usd,
            bead.error,
        )

    def _live_usage(self, bead_id: str, n: int) -> Usage:
        from supervisor.run.budget import live_usage

        return live_usage(self.repo.run_dir(bead_id, n))


def _ended(bead: Bead, trail: _Trail) -> datetime | None:
    """When the bead stopped being worked on: its ending, or the end of its last attempt if it
    waits to be retried; None while it is in play."""
    if bead.status in ACTIVE:
        return None
    if bead.status == "open":
        attempt = bead.attempts[-1] if bead.attempts else None
        return None if attempt is None or attempt.ended_at is None else (trail.last_at or attempt.ended_at)
    return trail.ended or bead.closed_at or trail.last_at


def snapshot(repo: Repo, now: datetime | None = None) -> Snapshot:
    """The state of ``repo`` now, from disk."""
    return Tracker(repo).snapshot(now)


# -- the supervisor --------------------------------------------------------------------------------


def supervisor_info(repo: Repo) -> SupervisorInfo:
    """Who holds the supervisor lock of ``repo``, if anyone."""
    record = _read_json(repo.mayor_dir / "state" / "supervisor.json")
    held = lock_held(repo.mayor_dir / "locks" / "supervisor.lock")
    pid = record.get("pid") if _whole(record.get("pid")) and 0 < record["pid"] < 1 << 22 else None
    alive = pid is not None and _pid_exists(pid)
    running = held if held is not None else alive
    return SupervisorInfo(
        running=running,
        pid=pid,
        host=_str(record.get("host")),
        started=_str(record.get("started")),
        lock_held=held,
        stale=bool(record) and not running,
    )


def _read_json(path: Path) -> dict[str, Any]:
    """A state file read for display only: anything unusable shows as nothing (never moved from here:
    a live supervisor may be writing it)."""
    try:
        data = json.loads(path.read_bytes()[: 1 << 20])
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _str(value: object) -> str | None:
    return value[:200] if isinstance(value, str) else None


def lock_held(path: Path) -> bool | None:
    """Whether some process holds a ``flock`` on ``path``, read from ``/proc/locks``; None where
    there is no such file (the lock is never taken to find out: that could stop a supervisor)."""
    try:
        inode = path.stat().st_ino
    except OSError:
        return False
    try:
        table = PROC_LOCKS.read_text()
    except OSError:
        return None
    for line in table.splitlines():
        words = line.split()
        if len(words) < 6 or words[1] == "->" or words[1] != "FLOCK":
            continue
        if words[5].rsplit(":", 1)[-1] == str(inode):
            return True
    return False


def _pid_exists(pid: int) -> bool:
    """Some process has this pid (``kill -0``; works without ``/proc``). Not
    :func:`supervisor.run.agentproc._alive`, which asks whether the very process started at a known
    time still runs: ``supervisor.json`` records no start time, and here a guess only matters where
    the lock cannot be read."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- drawing ---------------------------------------------------------------------------------------

COLUMNS = ("bead", "title", "status", "try", "elapsed", "last event", "tokens", "cost")


def cells(row: BeadRow, now: datetime) -> list[str]:
    """The row's cells, as strings, in :data:`COLUMNS` order."""
    from supervisor.views.report_markdown import duration

    last = row.last_event or ""
    if row.last_event_at is not None:
        last += f" ({duration((now - row.last_event_at).total_seconds())} ago)"
    if row.status == "failed" and row.error:
        last = f"failed: {row.error}"
    return [
        row.id,
        row.title,
        row.status,
        str(row.attempt or ""),
        duration(row.elapsed_s) if row.elapsed_s is not None else "",
        last,
        f"{row.tokens:,}" if row.tokens else "",
        cost_text(row),
    ]


def cost_text(row: BeadRow) -> str:
    from supervisor.pricing import usd

    if row.cost_usd is None:
        return "unpriced"
    return usd(row.cost_usd) if row.cost_usd or row.tokens else ""


def supervisor_line(snap: Snapshot) -> str:
    s = snap.supervisor
    if s.running:
        who = f"pid {s.pid}" + (f" on {s.host}" if s.host else "") if s.pid else "pid unknown"
        return f"supervisor: running ({who}" + (f", since {s.started})" if s.started else ")")
    return "supervisor: not running" + (f" (pid {s.pid} left no clean exit)" if s.stale else "")


def queue_line(snap: Snapshot, width: int | None = None) -> str:
    """``merge queue: gating [b1+b2] 40s -> [b3] 12s (speculative) | waiting: b4 -> b5 | batch 4, depth 2,
    p 0.05``: the candidates gated now (in window order, a candidate's beads joined by ``+``), the
    beads waiting behind them, the queue's shape while a supervisor runs. Within ``width``, the shape
    goes first, then waiting beads, then later candidates, then beads inside a candidate, each
    replaced by a count of what is left out."""
    gated = {b for g in snap.gates for b in g.beads}
    waiting = [i for i in snap.queue if i not in gated]
    if not snap.gates and not waiting:
        return "merge queue: (empty)"
    line = ""
    for cut in _cuts(len(snap.gates), len(waiting), max((len(g.beads) for g in snap.gates), default=0)):
        line = _queue_text(snap, waiting, *cut)
        if width is None or len(line) <= width:
            break
    return line


def _cuts(gates: int, waiting: int, widest: int) -> Iterator[tuple[int, int, int, bool]]:
    """``(candidates, waiting beads, beads a candidate, shape)`` to show, from everything to the least."""
    yield gates, waiting, widest, True
    for shown in range(waiting, -1, -1):
        yield gates, shown, widest, False
    for shown in range(gates - 1, 0, -1):
        yield shown, 0, widest, False
    for shown in range(min(widest - 1, 3), 0, -1):
        yield min(gates, 1), 0, shown, False


def _candidate_text(gate: GateInfo, beads: int) -> str:
    """``[b1+b2] 40s``: its beads (the first ``beads`` of them) and how long its gate has run."""
    from supervisor.views.report_markdown import duration

    held = "+".join(gate.beads[:beads]) + (f"+{len(gate.beads) - beads} more" if len(gate.beads) > beads else "")
    return f"[{held}]" + (f" {duration(gate.elapsed_s)}" if gate.elapsed_s is not None else "")


def _queue_text(snap: Snapshot, waiting: list[str], gates: int, shown: int, beads: int, shape: bool) -> str:
    parts = []
    if snap.gates:
        chain = [_candidate_text(gate, beads) for gate in snap.gates[:gates]]
        more = f" -> +{len(snap.gates) - gates} more" if gates < len(snap.gates) else ""
        parts.append("gating " + " -> ".join(chain) + more + (" (speculative)" if len(snap.gates) > 1 else ""))
        names = waiting[:shown]
    else:
        names = [f"{i} (landing)" if i == snap.landing else i for i in waiting[: max(shown, 1)]]
    if names:
        rest = len(waiting) - len(names)
        text = " -> ".join(names) + (f" (+{rest} more)" if rest else "")
        parts.append(("waiting: " if snap.gates else "") + text)
    elif waiting:
        parts.append(f"{len(waiting)} waiting")
    if shape and snap.shape is not None and snap.supervisor.running:
        parts.append(f"batch {snap.shape['batch']}, depth {snap.shape['depth']}, p {snap.shape['p']:g}")
    return "merge queue: " + " | ".join(parts)


def render_table(snap: Snapshot) -> Table:
    """A rich table of the snapshot: the supervisor in its title, the merge queue in its caption."""
    from rich.table import Table
    from rich.text import Text

    table = Table(
        title=Text(supervisor_line(snap)),
        caption=Text(queue_line(snap)),
        header_style="bold",
        title_justify="left",
        caption_justify="left",
    )
    for name in COLUMNS:
        table.add_column(
            name,
            overflow="ellipsis",
            no_wrap=name != "title",
            max_width=40 if name == "title" else None,
            justify="right" if name in ("tokens", "cost", "elapsed", "try") else "left",
        )
    for row in snap.rows:
        table.add_row(*(Text(cell) for cell in cells(row, snap.taken_at)))  # titles are text, never markup
    if not snap.rows:
        table.add_row("", "(no bead in play)", *[""] * (len(COLUMNS) - 2))
    return table


def plain_lines(snap: Snapshot) -> list[str]:
    """The same, for a log or a pipe: the supervisor, a tab-separated header and rows, the queue."""
    lines = [supervisor_line(snap), "\t".join(COLUMNS)]
    lines += ["\t".join(cells(row, snap.taken_at)) for row in snap.rows]
    return [*lines, queue_line(snap)]
