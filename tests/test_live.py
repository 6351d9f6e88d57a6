"""The live view and the plain log lines, rendered from events to strings."""

from __future__ import annotations

import io
import time

from rich.console import Console

from supervisor.events import EventLog
from supervisor.live import Board, PlainView, Watcher, plain_line, render


def _events(log: EventLog) -> None:
    log.emit("slung", "mr-a", 1, slot=0, worktree="/x")
    log.emit("agent_started", "mr-a", 1, pid=1)
    log.emit("slung", "mr-b", 1, slot=1)
    log.emit("agent_exited", "mr-a", 1, code=0)
    log.emit("usage", "mr-a", 1, tokens=1200, cost_usd=0.012)
    log.emit("queued", "mr-a", None)
    log.emit("usage", "mr-b", 1, tokens=10, cost_usd=None)


def test_board_and_table_show_status_tokens_cost_and_queue(tmp_path) -> None:
    log = EventLog(tmp_path / "events.jsonl")
    _events(log)
    board = Board()
    for event in log.read():
        board.apply(event)
    assert board.rows["mr-a"].status == "queued" and board.queue == ["mr-a"]
    console = Console(file=io.StringIO(), width=120, record=True)
    console.print(render(board, time.time()))
    text = console.export_text()
    assert "mr-a" in text and "queued" in text and "1200" in text and "$0.0120" in text
    assert "unpriced" in text  # mr-b's model had no price: never shown as $0
    assert "merge queue: mr-a" in text
    log.emit("merged", "mr-a", 1, commit="abc")
    board.apply(log.read()[-1])
    assert board.queue == [] and board.rows["mr-a"].status == "merged"


def test_plain_lines_are_timestamped_and_skip_noise(tmp_path) -> None:
    log = EventLog(tmp_path / "events.jsonl")
    _events(log)
    line = plain_line(log.read()[0])
    assert line[2] == ":" and line[5] == ":" and "slung" in line and "mr-a#1" in line
    assert "worktree" not in line


def test_watcher_prints_only_new_events(tmp_path) -> None:
    log = EventLog(tmp_path / "events.jsonl")
    log.emit("sling_started")  # before the watcher: not shown
    out = io.StringIO()
    with Watcher(log, PlainView(out), interval=0.05):
        _events(log)
    lines = out.getvalue().splitlines()
    assert len(lines) == 7 and "sling_started" not in out.getvalue()
