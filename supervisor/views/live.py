"""What ``mayor sling`` shows while it runs.

On a terminal: :func:`render_fitted`, kept live with rich and redrawn when events arrive, or once a
second for the clocks: the supervisor, the counts by status (waiting beads included), the merge
queue (the candidates gated now with their beads and how long each has run, the beads waiting, the
queue's shape: :func:`supervisor.views.status.queue_line`, cut to the terminal's width), then the
table of ``mayor status`` (bead, status, attempt, elapsed, last event or failure reason, tokens and
cost) with every bead in play and as many finished ones as fit the terminal's height; the rest are
folded into one line. Otherwise (CI, a pipe): one plain, timestamped line per event. Both follow
``events.jsonl`` from where the run started.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from typing import TYPE_CHECKING, Any, TextIO

from supervisor.events import Event, EventLog
from supervisor.repo import Repo

if TYPE_CHECKING:
    from rich.console import Group

    from supervisor.views.status import BeadRow, Snapshot

REDRAW_S = 1.0
IN_PLAY = ("running", "queued", "review")
FIXED_LINES = 8
"""Lines that are not bead rows: supervisor, counts, queue, the table's borders and header, the fold."""


def plain_line(event: Event) -> str:
    """One log line: ``HH:MM:SS  type  bead#attempt  key=value ...``."""
    clock = event.get("ts", "")[11:19]
    who = (
        f"{event['bead']}#{event['attempt']}"
        if event.get("bead") and event.get("attempt")
        else event.get("bead") or "-"
    )
    data = " ".join(f"{k}={v}" for k, v in (event.get("data") or {}).items() if k not in ("worktree",))
    return f"{clock}  {event['type']:<15} {who:<14} {data}".rstrip()


class Watcher:
    """Tails the event log in a thread and hands new events (maybe none) to ``show``."""

    def __init__(self, log: EventLog, show: Callable[[list[Event]], None], interval: float = 0.25) -> None:
        self.log = log
        self.show = show
        self.interval = interval
        self.offset = log.path.stat().st_size if log.path.exists() else 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="live-view", daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            self._poll()
            self.stop.wait(self.interval)
        self._poll()

    def _poll(self) -> None:
        events, self.offset = self.log.iter_from(self.offset)
        self.show(events)

    def __enter__(self) -> Watcher:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


class PlainView:
    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.out = out

    def __call__(self, events: list[Event]) -> None:
        for event in events:
            self.out.write(plain_line(event) + "\n")
        if events:
            self.out.flush()


class LiveView:
    """A rich ``Live`` display of :func:`render_fitted`, sized to the terminal, cheap when idle."""

    def __init__(self, repo: Repo, console: Any = None) -> None:
        from rich import get_console
        from rich.live import Live

        from supervisor.views.status import Tracker

        self.tracker = Tracker(repo)
        self.drawn = 0.0
        self.console = console or get_console()
        self.live = Live(self.render(self.tracker.snapshot()), console=self.console, auto_refresh=False)

    def __call__(self, events: list[Event]) -> None:
        if events or time.monotonic() - self.drawn >= REDRAW_S:
            self.redraw()

    def render(self, snap: Snapshot) -> Group:
        size = self.console.size
        return render_fitted(snap, size.height, size.width)

    def redraw(self) -> None:
        self.live.update(self.render(self.tracker.snapshot()), refresh=True)
        self.drawn = time.monotonic()

    def __enter__(self) -> LiveView:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.redraw()  # the final state
        self.live.__exit__(None, None, None)


def counts_line(snap: Snapshot) -> str:
    """``3 running · 2 queued · 10 merged · 1 failed · 33 waiting`` (waiting: open beads)."""
    order = ("running", "queued", "review", "merged", "done", "failed", "cancelled", "open")
    parts = [f"{snap.counts[s]} {'waiting' if s == 'open' else s}" for s in order if snap.counts.get(s)]
    return " · ".join(parts) or "no bead yet"


def fitted_rows(snap: Snapshot, room: int) -> tuple[list[BeadRow], list[BeadRow]]:
    """The rows to draw in ``room`` lines, in that order, and the finished ones folded away. Beads in
    play come first and always show (running, queued, review); then failed beads; then the others,
    the most recently finished first."""
    playing = sorted((r for r in snap.rows if r.status in IN_PLAY), key=lambda r: IN_PLAY.index(r.status))
    rest = [r for r in snap.rows if r.status not in IN_PLAY]
    rest.sort(key=lambda r: (r.status != "failed", -(r.ended or r.started or snap.taken_at).timestamp()))
    keep = max(0, room - len(playing))
    if len(rest) > keep:  # one line goes to the fold itself
        keep = max(0, keep - 1)
    return playing + rest[:keep], rest[keep:]


MIN_WIDTHS = {"status": 9, "try": 3, "elapsed": 7, "tokens": 7, "cost": 8, "title": 12}
MAX_WIDTHS = {"title": 40, "last event": 60}


def render_fitted(snap: Snapshot, height: int, width: int = 100) -> Group:
    """The live view in ``height`` lines (beyond them only when the beads in play need more)."""
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from supervisor.views.status import COLUMNS, cells, queue_line, supervisor_line

    rows, folded = fitted_rows(snap, height - FIXED_LINES)
    table = Table(header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, expand=True)
    for name in COLUMNS:
        smallest = max((len(r.id) for r in rows), default=4) if name == "bead" else MIN_WIDTHS.get(name)
        right = name in ("tokens", "cost", "elapsed", "try")
        table.add_column(
            name,
            no_wrap=True,
            overflow="ellipsis",
            min_width=smallest,
            max_width=MAX_WIDTHS.get(name),
            justify="right" if right else "left",
            ratio={"title": 1, "last event": 2}.get(name),  # the last event holds the failure reason
        )
    for row in rows:
        table.add_row(*cells(row, snap.taken_at), style="red" if row.status == "failed" else None)
    if not rows:
        table.add_row("", "(no bead in play)", *[""] * (len(COLUMNS) - 2))
    lines = (supervisor_line(snap), counts_line(snap), queue_line(snap, width))
    parts: list[Any] = [*(Text(line) for line in lines), table]  # text, never markup: `[b1+b2]` is no style
    if folded:
        tally: dict[str, int] = {}
        for row in folded:
            tally[row.status] = tally.get(row.status, 0) + 1
        parts.append(f"… {len(folded)} more finished: " + ", ".join(f"{n} {s}" for s, n in tally.items()))
    return Group(*parts)


def watch(repo: Repo, terminal: bool | None = None) -> AbstractContextManager[Any]:
    """Show a run: the live table on a terminal, plain lines otherwise."""
    stack = ExitStack()
    tty = sys.stdout.isatty() if terminal is None else terminal
    view: Callable[[list[Event]], None] = stack.enter_context(LiveView(repo)) if tty else PlainView()
    stack.enter_context(Watcher(EventLog(repo.events_path), view))
    return stack
