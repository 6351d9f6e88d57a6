"""Process groups the supervisor starts outside an agent (gates), recorded on disk while they run,
so that the next run stops the ones a killed supervisor left behind instead of letting them
overlap with its own gates."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from beads.store import atomic_write
from supervisor.run.agentproc import _alive, start_ticks


class GroupRecords:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @contextmanager
    def recording(self) -> Iterator[list[int]]:
        """Record each group id appended to the yielded list (through ``on_start``); forget it after."""
        started: list[int] = []
        try:
            yield started
        finally:
            for pgid in started:
                (self.folder / f"{pgid}.json").unlink(missing_ok=True)

    def record(self, pgid: int, what: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write(self.folder / f"{pgid}.json", json.dumps({"pgid": pgid, "ticks": start_ticks(pgid), "what": what}))

    def stop_orphans(self) -> list[str]:
        """Kill the recorded groups still running (left by a killed supervisor); what was stopped."""
        stopped = []
        for path in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []:
            try:
                record = json.loads(path.read_text())
                pgid, ticks = int(record["pgid"]), record.get("ticks")
            except (OSError, ValueError, KeyError, TypeError):
                path.unlink(missing_ok=True)
                continue
            if _alive(pgid, ticks if isinstance(ticks, int) else None):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, signal.SIGKILL)
                stopped.append(f"stopped {record.get('what', 'a process group')} {pgid} left by a killed supervisor")
            path.unlink(missing_ok=True)
        return stopped
