"""One rate limiter shared by every agent process of a repository.

Agents are separate processes, so the limiter lives on disk, in ``.mayor/state/limiter/``:
``slot-N.lock`` files cap how many API calls are in flight at once (a call holds one ``flock``),
and ``pause.json`` holds a time before which nobody calls: when one agent meets a 429 or 529, it
pushes that time out (by the server's ``retry-after``), and the others wait too instead of
stampeding. The SDK's own retries and backoff still apply to each call.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / "pause.json", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            try:
                until = float(json.loads(handle.read() or "{}").get("until", 0))
            except ValueError:
                until = 0.0
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps({"until": max(until, time.time() + wait), "by": os.getpid()}))

    def paused_until(self) -> float:
        try:
            return float(json.loads((self.folder / "pause.json").read_text()).get("until", 0))
        except (OSError, ValueError):
            return 0.0

    def _wait_for_pause(self) -> None:
        while (left := self.paused_until() - time.time()) > 0:
            time.sleep(min(left, 1.0) + random.random() * 0.1)


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
