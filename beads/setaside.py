"""Setting a bad state file aside: renamed to ``NAME.bad-<timestamp>`` and named on stderr, so that
the next run goes on from what git and the bead files say instead of crashing on it again.

Only for files mayor can rebuild or do without (``state/``, a run folder's records); a bead file is
the user's and is never moved (see :class:`beads.errors.BeadFileError`).
"""

from __future__ import annotations

import errno
import json
import os
import stat
import sys
import time
from pathlib import Path
from typing import Any

MAX_STATE_BYTES = 16 << 20
"""A state file larger than this is not read: it is no file mayor wrote."""


class BadStateFile(Exception):
    """A state file that cannot be used; ``str()`` says why."""


def read_bytes(path: Path, limit: int = MAX_STATE_BYTES, *, follow: bool = True) -> bytes:
    """Up to ``limit + 1`` bytes of the regular file ``path`` (never blocking on a FIFO put in its
    place; with ``follow`` false, a symlink is refused too); :class:`BadStateFile` when it cannot be
    read or is no regular file. A missing file raises :class:`FileNotFoundError` as ``open`` does."""
    flags = os.O_RDONLY | os.O_NONBLOCK | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow:
            raise BadStateFile("is a symbolic link, not a file mayor wrote") from None
        raise BadStateFile(f"cannot be read ({exc.strerror or exc})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise BadStateFile("is not a regular file")
        with os.fdopen(fd, "rb") as handle:
            fd = -1
            return handle.read(limit + 1)
    except OSError as exc:
        raise BadStateFile(f"cannot be read ({exc.strerror or exc})") from None
    finally:
        if fd >= 0:
            os.close(fd)


def read_json(path: Path) -> Any:
    """The JSON in ``path``; :class:`BadStateFile` when it is unreadable, too big, too deep or not JSON.
    A missing file raises :class:`FileNotFoundError` as ``open`` does."""
    data = read_bytes(path)
    if len(data) > MAX_STATE_BYTES:
        raise BadStateFile(f"is over {MAX_STATE_BYTES >> 20} MiB")
    if not data.strip():
        raise BadStateFile("is empty")
    try:
        return json.loads(data)
    except RecursionError:
        raise BadStateFile("is nested too deeply") from None
    except ValueError as exc:  # UnicodeDecodeError included
        raise BadStateFile(f"is not JSON ({exc})") from None


def set_aside(path: Path, problem: str) -> Path | None:
    """Rename ``path`` to ``path.bad-<UTC time>`` and say so on stderr; the new path, or None when
    the rename failed too (then the message says the file was ignored)."""
    aside = path.with_name(f"{path.name}.bad-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{os.getpid()}")
    try:
        os.replace(path, aside)
    except FileNotFoundError:
        return None
    except OSError as exc:
        _say(f"mayor: {path} {problem}; ignored it (could not move it aside: {exc.strerror or exc})")
        return None
    _say(f"mayor: {path} {problem}; moved it to {aside.name} and went on without it")
    return aside


def _say(line: str) -> None:
    try:
        sys.stderr.write(line.encode("utf-8", "backslashreplace").decode("utf-8") + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
