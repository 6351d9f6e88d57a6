"""What ``mayor sling`` shows while it runs.

On a terminal: the table of ``mayor status`` (bead, status, attempt, elapsed, last event, tokens
and cost, the merge queue), kept live with rich and redrawn when events arrive, or once a second
for the clocks. Otherwise (CI, a pipe): one plain, timestamped line per event. Both follow
``events.jsonl`` from where the run started.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from typing import Any, TextIO

from supervisor.events import Event, EventLog
from supervisor.repo import Repo

REDRAW_S = 1.0


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
    """A rich ``Live`` display of :func:`supervisor.views.status.render_table`, cheap when idle."""

    def __init__(self, repo: Repo, console: Any = None) -> None:
        from rich.live import Live

        from supervisor.views.status import Tracker, render_table

        self.tracker = Tracker(repo)
        self.render = render_table
        self.drawn = 0.0
        self.live = Live(self.render(self.tracker.snapshot()), console=console, auto_refresh=False)

    def __call__(self, events: list[Event]) -> None:
        if events or time.monotonic() - self.drawn >= REDRAW_S:
            self.redraw()

    def redraw(self) -> None:
        self.live.update(self.render(self.tracker.snapshot()), refresh=True)
        self.drawn = time.monotonic()

    def __enter__(self) -> LiveView:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.redraw()  # the final state
        self.live.__exit__(None, None, None)


def watch(repo: Repo, terminal: bool | None = None) -> AbstractContextManager[Any]:
    """Show a run: the live table on a terminal, plain lines otherwise."""
    stack = ExitStack()
    tty = sys.stdout.isatty() if terminal is None else terminal
    view: Callable[[list[Event]], None] = stack.enter_context(LiveView(repo)) if tty else PlainView()
    stack.enter_context(Watcher(EventLog(repo.events_path), view))
    return stack
