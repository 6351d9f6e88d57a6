"""What ``mayor sling`` shows while it runs, built from the event log alone.

On a terminal: a rich live table (bead, status, attempt, elapsed, last event, tokens and cost,
and the merge queue), redrawn when events arrive and once a second for the clocks. Otherwise
(CI, a pipe): one plain, timestamped line per event. Both read ``events.jsonl`` from where the
run started, so they show exactly what ``mayor events`` would.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

from supervisor.events import EventLog

STATUS_OF = {
    "slung": "running", "agent_started": "running", "agent_adopted": "running", "agent_exited": "checking",
    "check_failed": "checking", "check_passed": "checking", "queued": "queued", "gate_passed": "landing",
    "merged": "merged", "conflict": "conflict", "gate_failed": "gate failed", "retried": "retrying",
    "failed": "failed", "done": "done", "cancelled": "cancelled",
}  # fmt: skip


@dataclass
class Row:
    bead: str
    status: str = "open"
    attempt: int | None = None
    started: float | None = None
    ended: float | None = None
    last: str = ""
    tokens: int = 0
    cost: float | None = 0.0


@dataclass
class Board:
    """The state of a run as the events tell it."""

    rows: dict[str, Row] = field(default_factory=dict)
    queue: list[str] = field(default_factory=list)

    def apply(self, event: dict[str, Any]) -> None:
        bead = event.get("bead")
        if not bead:
            return
        row = self.rows.setdefault(bead, Row(bead))
        kind, data, stamp = event["type"], event.get("data") or {}, _stamp(event)
        row.last = kind
        row.attempt = event.get("attempt") or row.attempt
        row.status = STATUS_OF.get(kind, row.status)
        if kind == "slung":
            row.started, row.ended = stamp, None
        elif kind in ("merged", "failed", "done", "cancelled"):
            row.ended = stamp
        elif kind == "usage":
            row.tokens += int(data.get("tokens") or 0)
            row.cost = None if row.cost is None or data.get("cost_usd") is None else row.cost + data["cost_usd"]
        self._track_queue(bead, kind)

    def _track_queue(self, bead: str, kind: str) -> None:
        if kind == "queued" and bead not in self.queue:
            self.queue.append(bead)
        elif kind in ("merged", "conflict", "gate_failed", "failed", "retried") and bead in self.queue:
            self.queue.remove(bead)


def _stamp(event: dict[str, Any]) -> float:
    try:
        return datetime.fromisoformat(event["ts"]).timestamp()
    except (KeyError, ValueError):
        return time.time()


def plain_line(event: dict[str, Any]) -> str:
    """One log line: ``HH:MM:SS  type  bead#attempt  key=value ...``."""
    clock = event.get("ts", "")[11:19]
    who = f"{event['bead']}#{event['attempt']}" if event.get("bead") and event.get("attempt") else event.get("bead") or "-"
    data = " ".join(f"{k}={v}" for k, v in (event.get("data") or {}).items() if k not in ("worktree",))
    return f"{clock}  {event['type']:<15} {who:<14} {data}".rstrip()


def render(board: Board, now: float) -> Any:
    from rich.console import Group
    from rich.table import Table

    table = Table("bead", "status", "try", "elapsed", "last event", "tokens", "cost", title="mayor sling", expand=False)
    for row in board.rows.values():
        elapsed = "" if row.started is None else f"{(row.ended or now) - row.started:5.1f}s"
        cost = "unpriced" if row.cost is None else f"${row.cost:.4f}"
        table.add_row(row.bead, row.status, str(row.attempt or ""), elapsed, row.last, str(row.tokens or ""), cost)
    queue = "merge queue: " + (" -> ".join(board.queue) if board.queue else "(empty)")
    return Group(table, queue)


class Watcher:
    """Tails the event log in a thread and hands new events to ``show``."""

    def __init__(self, log: EventLog, show: Callable[[list[dict[str, Any]]], None], interval: float = 0.25) -> None:
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

    def __call__(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            self.out.write(plain_line(event) + "\n")
        self.out.flush()


class LiveView:
    """A rich ``Live`` display of a :class:`Board`; redraws at most a few times a second."""

    def __init__(self) -> None:
        from rich.live import Live

        self.board = Board()
        self.live = Live(render(self.board, time.time()), refresh_per_second=2, transient=False)

    def __call__(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            self.board.apply(event)
        self.live.update(render(self.board, time.time()))

    def __enter__(self) -> LiveView:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(None, None, None)


def watch(log: EventLog, terminal: bool | None = None) -> Any:
    """The context manager that shows a run: live table on a terminal, plain lines otherwise."""
    from contextlib import ExitStack

    stack = ExitStack()
    tty = sys.stdout.isatty() if terminal is None else terminal
    view: Callable[[list[dict[str, Any]]], None] = stack.enter_context(LiveView()) if tty else PlainView()
    stack.enter_context(Watcher(log, view))
    return stack
