"""What mayor does with an error it did not expect: a crash log and exit code 3.

A full disk is not a crash: it is the user's to fix, so it is one line and exit code 1. When the
crash log itself cannot be written, the traceback goes to stderr instead (never a second one).
"""

from __future__ import annotations

import errno
import os
import platform
import sys
import time
import traceback
from pathlib import Path

from supervisor import __version__

DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
"""No space left, a quota reached, a file-size limit: all mean "make room and run again"."""


def crash_dir() -> Path:
    try:
        from supervisor.repo import find_root

        return find_root() / ".mayor"
    except Exception:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "mayor"


def disk_full(exc: BaseException) -> OSError | None:
    """The full-disk error behind ``exc`` (itself, or its cause or context), if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in DISK_FULL:
            return current
        current = current.__cause__ or current.__context__
    return None


def write_crash_log(exc: BaseException) -> Path:
    folder = crash_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    body = [
        f"mayor {__version__}",
        f"python {sys.version.split()[0]} on {platform.platform()}",
        f"argv: {sys.argv}",
        f"cwd: {os.getcwd()}",
        "",
        "".join(traceback.format_exception(exc)),
    ]
    path.write_text("\n".join(body), encoding="utf-8", errors="backslashreplace")
    return path


def handle(exc: Exception) -> int:
    """Report an unexpected ``exc`` on stderr; the exit code: 1 for a full disk, else 3."""
    full = disk_full(exc)
    if full is not None:
        where = f" writing {full.filename}" if full.filename else ""
        say(f"mayor: the disk is full ({full.strerror or full}{where}): free space and run again")
        return 1
    try:
        path = write_crash_log(exc)
    except Exception as log_error:
        trace = "".join(traceback.format_exception(exc))
        say(f"{trace}mayor: unexpected error: {exc!r}\nNo crash log could be written ({log_error}); report this.")
        return 3
    say(f"mayor: unexpected error: {exc!r}\nA crash log is at {path}; please report it.")
    return 3


def say(text: str) -> None:
    """``text`` on stderr, whatever characters it holds (a lone surrogate is escaped, not a crash)."""
    try:
        sys.stderr.write(text.encode("utf-8", "backslashreplace").decode("utf-8") + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
