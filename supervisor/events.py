"""The append-only event log ``.mayor/events.jsonl``: one JSON object a line.

Each line has ``ts``, ``seq``, ``type``, ``bead``, ``attempt`` and ``data``. Lines are appended
under an exclusive ``flock`` on the file itself, so the supervisor and agents (``mayor emit``)
can write at once and ``seq`` stays strictly increasing.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

TYPES = (
    "sling_started",
    "sling_stopped",
    "slung",
    "agent_started",
    "agent_exited",
    "agent_adopted",
    "committed_leftovers",
    "target_restored",
    "check_passed",
    "check_failed",
    "queued",
    "conflict",
    "gate_passed",
    "gate_failed",
    "gate_flaky",
    "merged",
    "landing_blocked",
    "retried",
    "failed",
    "cancelled",
    "done",
    "budget_stopped",
    "recovered",
    "usage",
    "awaiting_approval",
    "approved",
    "rejected",
)
"""Types the supervisor writes; agents may emit others through ``mayor emit``."""


def _last_seq(handle: Any) -> int:
    """The ``seq`` of the last whole line, reading only the end of the file."""
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    chunk = 4096
    while True:
        handle.seek(max(0, size - chunk))
        lines = handle.read().splitlines()
        complete = lines if chunk >= size else lines[1:]
        for line in reversed(complete):
            try:
                return int(json.loads(line)["seq"])
            except (ValueError, KeyError, TypeError):
                continue
        if chunk >= size:
            return 0
        chunk *= 8


class EventLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def emit(self, type: str, bead: str | None = None, attempt: int | None = None, /, **data: Any) -> dict[str, Any]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                event = {
                    "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
                    "seq": _last_seq(handle) + 1,
                    "type": type,
                    "bead": bead,
                    "attempt": attempt,
                    "data": data,
                }
                handle.write(json.dumps(event, default=str) + "\n")
                handle.flush()
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return event

    def read(self) -> list[dict[str, Any]]:
        return list(self.iter_from(0)[0])

    def iter_from(self, offset: int) -> tuple[list[dict[str, Any]], int]:
        """The whole lines after byte ``offset``, and the offset after them."""
        if not self.path.exists():
            return [], offset
        with open(self.path, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
        end = data.rfind(b"\n") + 1
        events = []
        for line in data[:end].splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a line cut by a crash or broken by hand: the others still count
            if isinstance(event, dict) and "type" in event:
                events.append(event)
        return events, offset + end

    def follow(self, poll_s: float = 0.25) -> Iterator[dict[str, Any]]:
        """Every event, then new ones as they are written (until interrupted)."""
        offset = 0
        while True:
            events, offset = self.iter_from(offset)
            yield from events
            if not events:
                time.sleep(poll_s)
