"""The live view and the plain log lines, rendered from a repository's events to strings."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from supervisor.events import EventLog
from supervisor.repo import Repo
from supervisor.views.live import LiveView, PlainView, Watcher, plain_line
from tests.sling_helpers import add_bead


def _events(log: EventLog) -> None:
    log.emit("slung", "mr-a", 1, slot=0, worktree="/x")
    log.emit("agent_started", "mr-a", 1, pid=1)
    log.emit("slung", "mr-b", 1, slot=1)
    log.emit("agent_exited", "mr-a", 1, code=0)
    log.emit("queued", "mr-a", None)


def test_live_view_draws_the_status_table(mayor_repo: Path) -> None:
    add_bead(mayor_repo, "mr-a", "Add the parser", status="queued")
    add_bead(mayor_repo, "mr-b", "Write the docs", status="running", attempts=[{"n": 1}])
    repo = Repo(mayor_repo)
    _events(EventLog(repo.events_path))
    out = io.StringIO()
    console = Console(file=out, width=140, force_terminal=True, color_system=None)
    with LiveView(repo, console=console) as view:
        view([{}])
    text = out.getvalue()
    assert "mr-a" in text and "Add the parser" in text and "queued" in text
    assert "mr-b" in text and "running" in text
    assert "merge queue: mr-a" in text


def test_plain_lines_are_timestamped_and_skip_noise(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.jsonl")
    _events(log)
    line = plain_line(log.read()[0])
    assert line[2] == ":" and line[5] == ":" and "slung" in line and "mr-a#1" in line
    assert "worktree" not in line


def test_watcher_prints_only_new_events(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.jsonl")
    log.emit("sling_started")  # before the watcher: not shown
    out = io.StringIO()
    with Watcher(log, PlainView(out), interval=0.05):
        _events(log)
    lines = out.getvalue().splitlines()
    assert len(lines) == 5 and "sling_started" not in out.getvalue()
