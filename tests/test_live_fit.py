"""The live view of a 50-bead run fits a 100x30 terminal: counts, every running bead, the merge
queue and the gate's progress at the top; failure reasons shown; finished beads folded."""

from __future__ import annotations

import fcntl
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from supervisor.events import EventLog
from supervisor.repo import Repo
from supervisor.views.live import LiveView
from tests.sling_helpers import add_bead

PLAN = {"merged": 20, "failed": 3, "running": 4, "queued": 3, "open": 20}


@pytest.fixture
def fifty(mayor_repo: Path) -> Iterator[Path]:
    """50 beads in the middle of a run, the supervisor's lock held (as a running ``mayor sling``)."""
    log = EventLog(Repo(mayor_repo).events_path)
    log.emit("sling_started")
    n = 0
    for status, count in PLAN.items():
        for _ in range(count):
            n += 1
            bead_id = f"mr-{n:02d}"
            fields: dict = {"status": status}
            if status != "open":
                fields["attempts"] = [{"n": 1, "agent": "builtin"}]
                log.emit("slung", bead_id, 1, slot=n % 4)
            if status == "failed":
                fields["error"] = f"acceptance check failed for {bead_id}: tests/test_x.py::test_{n} asserts 3 == 4"
                log.emit("failed", bead_id, 1)
            elif status == "merged":
                log.emit("merged", bead_id, 1)
            elif status == "queued":
                log.emit("queued", bead_id, 1)
            elif status == "running":
                log.emit("agent_started", bead_id, 1, pid=100 + n)
            add_bead(mayor_repo, bead_id, f"A task with a rather long title, number {n}, to fill the column", **fields)
    log.emit("gate_started", "mr-28", 1)
    lock = mayor_repo / ".mayor" / "locks" / "supervisor.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield mayor_repo


def test_a_50_bead_run_fits_a_100x30_terminal(fifty: Path) -> None:
    out = io.StringIO()
    console = Console(file=out, width=100, height=30, force_terminal=True, color_system=None, legacy_windows=False)
    view = LiveView(Repo(fifty), console=console)
    console.print(view.render(view.tracker.snapshot()))
    lines = out.getvalue().rstrip("\n").splitlines()

    assert len(lines) <= 30, "\n".join(lines)
    assert all(len(line) <= 100 for line in lines)
    text = "\n".join(lines)
    assert "4 running · 3 queued · 20 merged · 3 failed · 20 waiting" in lines[1]
    assert lines[2].startswith("merge queue: gating [mr-28] ") and lines[2].endswith(" | waiting: mr-29 -> mr-30")
    for n in range(24, 31):  # every running and queued bead has its row
        assert f"mr-{n:02d}" in text
    assert lines[3].split() == ["bead", "title", "status", "try", "elapsed", "last", "event", "tokens", "cost"]
    assert "failed: acceptance check" in text  # the reason, not only the status
    assert "more finished:" in lines[-1] and "merged" in lines[-1]
