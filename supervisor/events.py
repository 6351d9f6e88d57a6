"""The append-only event log ``.mayor/events.jsonl``: one JSON object a line.

Each line has ``ts``, ``seq``, ``type``, ``bead``, ``attempt`` and ``data``. Lines are appended
under an exclusive ``flock`` on the file itself, so the supervisor and agents (``mayor emit``)
can write at once and ``seq`` stays strictly increasing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TypedDict


class EventType(StrEnum):
    """The types the supervisor writes. Agents may emit others through ``mayor emit``; readers
    compare ``event["type"]`` with these members (a ``StrEnum`` equals its string)."""

    SLING_STARTED = "sling_started"
    SLING_STOPPED = "sling_stopped"
    SLUNG = "slung"
    AGENT_STARTED = "agent_started"
    AGENT_EXITED = "agent_exited"
    AGENT_ADOPTED = "agent_adopted"
    COMMITTED_LEFTOVERS = "committed_leftovers"
    TARGET_RESTORED = "target_restored"
    CHECK_PASSED = "check_passed"
    CHECK_FAILED = "check_failed"
    QUEUED = "queued"
    CONFLICT = "conflict"
    GATE_PASSED = "gate_passed"
    GATE_FAILED = "gate_failed"
    GATE_FLAKY = "gate_flaky"
    MERGED = "merged"
    LANDING_BLOCKED = "landing_blocked"
    RETRIED = "retried"
    FAILED = "failed"
    CANCELLED = "cancelled"
    DONE = "done"
    BUDGET_STOPPED = "budget_stopped"
    RECOVERED = "recovered"
    USAGE = "usage"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    REJECTED = "rejected"
    TARGET_RED = "target_red"
    """The gate fails on the target alone: landings hold, no bead is charged."""
    TARGET_GREEN = "target_green"
    """The gate passes on the target again (after a red target): landings go on."""
    GATE_STARTED = "gate_started"
    """A gate run began on a candidate (``data``: candidate, log, beads: what it holds beyond the target)."""
    GATE_CANCELLED = "gate_cancelled"
    """A speculative candidate was discarded (one it was built on failed, or the target moved)."""
    BISECTED = "bisected"
    """A batch failed the gate: it is split into parts gated apart, to find the culprit (``data``: beads, parts)."""
    QUEUE_SHAPE = "queue_shape"
    """The merge queue chose its batch size and speculation depth (``data``: batch, depth, p)."""
    SETUP_STARTED = "setup_started"
    CHECKOUT_TOUCHED = "checkout_touched"
    """An agent changed the user's checkout during its attempt (named with the bead)."""
    STATE_SET_ASIDE = "state_set_aside"
    """A state file that could not be used was renamed to ``NAME.bad-<time>`` (``data``: path, aside, problem)."""


TYPES = frozenset(EventType)
"""Every type the supervisor writes."""


class Event(TypedDict):
    """One line of ``events.jsonl``."""

    ts: str
    """ISO 8601, UTC, milliseconds."""
    seq: int
    """Strictly increasing through the file."""
    type: str
    """An :class:`EventType`, or an agent's own type (``mayor emit``)."""
    bead: str | None
    attempt: int | None
    data: dict[str, Any]


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
            except (ValueError, KeyError, TypeError, OverflowError, RecursionError):
                continue
        if chunk >= size:
            return 0
        chunk *= 8


def _ends_a_line(handle: Any) -> bool:
    """The file is empty or ends with a newline (a line cut by a crash must not swallow the next)."""
    handle.seek(0, os.SEEK_END)
    if handle.tell() == 0:
        return True
    handle.seek(handle.tell() - 1)
    return bool(handle.read(1) == b"\n")


def set_aside(path: Path, problem: str, events: Path) -> None:
    """:func:`beads.setaside.set_aside` ``path`` and record it in the event log ``events``, if it
    can be written (a full disk or a read-only folder must not turn a recovery into a crash)."""
    from beads import setaside

    aside = setaside.set_aside(path, problem)
    with contextlib.suppress(OSError):
        EventLog(events).emit(EventType.STATE_SET_ASIDE, None, None, path=str(path), aside=str(aside), problem=problem)


def _well_formed(event: Any) -> bool:
    return (
        isinstance(event, dict)
        and isinstance(event.get("type"), str)
        and isinstance(event.get("data", {}), dict)
        and isinstance(event.get("seq", 0), int)
    )


class EventLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def emit(self, type: EventType, bead: str | None = None, attempt: int | None = None, /, **data: Any) -> Event:
        """Append one of the supervisor's own events."""
        return self.emit_any(str(type), bead, attempt, **data)

    def emit_any(self, type: str, bead: str | None = None, attempt: int | None = None, /, **data: Any) -> Event:
        """Append an event of any type (``mayor emit`` from an agent or a person)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "ab+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                event: Event = {
                    "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
                    "seq": _last_seq(handle) + 1,
                    "type": type,
                    "bead": bead,
                    "attempt": attempt,
                    "data": data,
                }
                line = (json.dumps(event, default=str) + "\n").encode("utf-8", "backslashreplace")
                handle.write(line if _ends_a_line(handle) else b"\n" + line)
                handle.flush()
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return event

    def read(self) -> list[Event]:
        return list(self.iter_from(0)[0])

    def iter_from(self, offset: int) -> tuple[list[Event], int]:
        """The whole lines after byte ``offset``, and the offset after them."""
        if not self.path.exists():
            return [], offset
        with open(self.path, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
        end = data.rfind(b"\n") + 1
        events: list[Event] = []
        for line in data[:end].splitlines():
            try:
                event = json.loads(line)
            except (ValueError, RecursionError):
                continue  # a line cut by a crash or broken by hand: the others still count
            if _well_formed(event):
                events.append(event)
        return events, offset + end

    def follow(self, poll_s: float = 0.25) -> Iterator[Event]:
        """Every event, then new ones as they are written (until interrupted)."""
        offset = 0
        while True:
            events, offset = self.iter_from(offset)
            yield from events
            if not events:
                time.sleep(poll_s)
