"""``mayor events`` and ``mayor emit``: reading and writing the event log."""

from __future__ import annotations

import json
import os
import sys

from supervisor.errors import MayorError
from supervisor.events import Event, EventLog
from supervisor.repo import open_repo


def _line(event: Event) -> str:
    who = " ".join(str(x) for x in (event.get("bead"), event.get("attempt") and f"#{event['attempt']}") if x)
    data = " ".join(f"{k}={v}" for k, v in (event.get("data") or {}).items())
    return f"{event['ts']}  {event['seq']:>5}  {event['type']:<16} {who:<16} {data}".rstrip()


def show(*, follow: bool = False, as_json: bool = False) -> int:
    log = EventLog(open_repo().events_path)
    events = log.follow() if follow else iter(log.read())
    for event in events:
        sys.stdout.write((json.dumps(event) if as_json else _line(event)) + "\n")
        sys.stdout.flush()
    return 0


def emit(*, type: str, data: str | None = None) -> int:
    from supervisor.events import TYPES

    if type in TYPES or type.startswith("sling_"):
        raise MayorError(f"{type!r} is an event the supervisor writes; name your milestone otherwise (e.g. step_done)")
    try:
        payload = json.loads(data) if data else {}
    except ValueError as exc:
        raise MayorError(f"--data is not valid JSON ({exc}); pass an object like '{{\"step\": 2}}'") from None
    if not isinstance(payload, dict):
        raise MayorError("--data must be a JSON object, like '{\"step\": 2}'")
    bead = os.environ.get("MAYOR_BEAD_ID")
    attempt = os.environ.get("MAYOR_ATTEMPT")
    EventLog(open_repo().events_path).emit_any(type, bead, int(attempt) if attempt else None, **payload)
    return 0
