"""One supervisor per repository: an ``flock`` held for the life of ``mayor sling``.

The kernel drops the lock when the process dies, even by ``kill -9``, so a dead supervisor never
blocks the next one. ``.mayor/state/supervisor.json`` says who holds it, for people.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from beads.models import now
from supervisor.errors import MayorError


def _paths(mayor_dir: Path) -> tuple[Path, Path]:
    return mayor_dir / "locks" / "supervisor.lock", mayor_dir / "state" / "supervisor.json"


@contextmanager
def supervisor_lock(mayor_dir: Path) -> Iterator[None]:
    lock, info = _paths(mayor_dir)
    lock.parent.mkdir(parents=True, exist_ok=True)
    info.parent.mkdir(parents=True, exist_ok=True)
    handle = open(lock, "a+")  # noqa: SIM115 - held for the whole run
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise MayorError(
            f"a supervisor is already running in {mayor_dir.parent} ({describe(holder(mayor_dir))}); "
            "wait for it to finish or stop it with Ctrl-C (kill -INT PID)"
        ) from None
    try:
        info.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": now().isoformat()}))
        yield
    finally:
        info.unlink(missing_ok=True)
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def holder(mayor_dir: Path) -> dict[str, Any] | None:
    """Who runs the supervisor now (pid, host, started), or None if nobody holds the lock."""
    lock, info = _paths(mayor_dir)
    if not lock.exists():
        return None
    with open(lock, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                record = json.loads(info.read_text())
            except (OSError, ValueError, RecursionError):
                return {}
            return record if isinstance(record, dict) else {}
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


def describe(found: dict[str, Any] | None) -> str:
    if not found or "pid" not in found:
        return "its details are unknown"
    return f"pid {found['pid']} on {found.get('host', '?')}, since {found.get('started', '?')}"
