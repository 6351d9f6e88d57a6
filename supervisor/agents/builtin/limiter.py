"""One rate limiter shared by every agent process of a repository.

Agents are separate processes, so the limiter lives on disk, in ``.mayor/state/limiter/``:
``slot-N.lock`` files cap how many API calls are in flight at once (a call holds one ``flock``),
and ``pause.json`` holds a time before which nobody calls: when one agent meets a 429 or 529, it
pushes that time out (by the server's ``retry-after``), and the others wait too instead of
stampeding. The SDK's own retries and backoff still apply to each call.

``pause.json`` is written whole (a temporary file renamed into place, writers serialised by
``pause.lock``), so a reader never sees half of it: a file that is not ``{"until": <time>}``
with a time at most :data:`MAX_PAUSE_S` ahead is broken (by hand, a crash or an agent) and is set
aside with a message; nobody waits on it.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from beads import setaside
from beads.setaside import BadStateFile, read_json
from beads.store import atomic_write

DEFAULT_CONCURRENCY = 8
DEFAULT_PAUSE_S = 5.0
MAX_PAUSE_S = 120.0


class SharedLimiter:
    def __init__(self, folder: Path, concurrency: int = DEFAULT_CONCURRENCY) -> None:
        self.folder = folder
        self.concurrency = max(1, concurrency)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the in-flight slots (waiting for a free one and for any pause)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        while True:
            self._wait_for_pause()
            for index in random.sample(range(self.concurrency), self.concurrency):
                handle = open(self.folder / f"slot-{index}.lock", "a")  # noqa: SIM115 - held across the yield
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    handle.close()
                    continue
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
                    handle.close()
                return
            time.sleep(0.05 + random.random() * 0.2)

    def pause(self, seconds: float | None) -> None:
        """Ask every agent to hold off for ``seconds`` (the server's retry-after)."""
        wait = min(MAX_PAUSE_S, seconds if seconds and seconds > 0 else DEFAULT_PAUSE_S)
        with self._writing():
            until = max(self._checked(), time.time() + wait)
            atomic_write(self._pause_file, json.dumps({"until": until, "by": os.getpid()}))

    def paused_until(self) -> float:
        """The time before which nobody calls (0: no pause)."""
        found = pause_problem(self._pause_file)
        if isinstance(found, str):
            with self._writing():  # looked at again under the writers' lock: a good file written meanwhile stays
                return self._checked()
        return found or 0.0

    @property
    def _pause_file(self) -> Path:
        return self.folder / "pause.json"

    @contextmanager
    def _writing(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / "pause.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _checked(self) -> float:
        """Under the writers' lock: the pause (0 for none); a broken ``pause.json`` is set aside."""
        found = pause_problem(self._pause_file)
        if not isinstance(found, str):
            return found or 0.0
        state = self.folder.parent
        if state.name == "state":  # .mayor/state/limiter: the repository's event log records it too
            from supervisor.events import set_aside

            set_aside(self._pause_file, found, state.parent / "events.jsonl")
        else:
            setaside.set_aside(self._pause_file, found)
        return 0.0

    def _wait_for_pause(self) -> None:
        while (left := self.paused_until() - time.time()) > 0:
            time.sleep(min(left, 1.0) + random.random() * 0.1)


def pause_problem(path: Path) -> float | str | None:
    """``pause.json`` read and checked: its time, what is wrong with it, or None when there is none."""
    try:
        record = read_json(path)
    except FileNotFoundError:
        return None
    except BadStateFile as exc:
        return str(exc)
    until = record.get("until") if isinstance(record, dict) else None
    if not isinstance(until, int | float) or isinstance(until, bool) or not math.isfinite(until) or until < 0:
        return 'is not a pause ({"until": <seconds since the epoch>})'
    if until > time.time() + MAX_PAUSE_S + 1.0:
        return f"asks every agent to wait until {until:.0f}, longer than the {MAX_PAUSE_S:.0f}s a pause may last"
    return float(until)


def retry_after_s(headers: object) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (a number of seconds), if present."""
    get = getattr(headers, "get", None)
    if get is None:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = get(name)
        if value:
            try:
                return float(value) * scale
            except ValueError:
                continue
    return None
