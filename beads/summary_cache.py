"""A cache of each bead file's :class:`~beads.models.BeadSummary`, so that reading the plan of a
large store does not parse and validate every whole bead each time.

It is only ever a shortcut for work already done: an entry holds the summary of a file that was
read and validated whole (as :meth:`beads.store.Store.load` does) together with the file's
*signature* as it was just before that read: inode, size, mtime and ctime in nanoseconds. Any
change to the file (a hand edit, an ``os.replace``, a ``git checkout``) gives it a new ctime at
least, so the entry no longer matches and the file is read and validated again; a file added or
removed shows in the folder's listing.

Timestamps are coarse (a clock tick of a few milliseconds, a second on some file systems), so two
changes within one tick that keep the size and inode would keep the signature too. As git does
with its index, an entry is therefore written only for a file whose mtime and ctime are more than
:data:`SETTLE_NS` older than the run that writes it: any later change of that file gets a later
ctime, which cannot be set by hand. A file changed more recently is simply read each time.

The cache is one JSON file, written through a temporary file and ``os.replace`` (never seen half
written) and without a lock (whichever process writes last wins; every version is correct). It
is discarded whole when it is unreadable, or when the bead model (``beads/models.py``) or
pydantic changed since it was written. If it cannot be written (a read-only checkout), the store
is only slower.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pydantic

from beads import models
from beads.models import BeadSummary
from beads.setaside import BadStateFile, read_json, set_aside

FORMAT = 2
"""Bump when the layout of an entry changes."""
SETTLE_NS = 3_000_000_000
"""A file changed this recently is not cached: longer than any file system's timestamp tick."""

Signature = tuple[int, int, int, int]
"""Inode, size, mtime and ctime (ns) of a bead file."""
Entry = tuple[Signature, BeadSummary]


def signature(st: os.stat_result) -> Signature:
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def settled(sig: Signature, now_ns: int) -> bool:
    """True when the file last changed long enough before ``now_ns`` for its entry to be kept."""
    return max(sig[2], sig[3]) < now_ns - SETTLE_NS


def _fingerprint() -> str:
    """Changes whenever the rules a cached summary passed may have changed."""
    source = Path(models.__file__).read_bytes()
    return f"{FORMAT}:{pydantic.VERSION}:{hashlib.sha256(source).hexdigest()[:16]}"


class SummaryCache:
    """The cache file at ``path`` (``.mayor/state/bead-summaries.json``).

    One JSON object of columns (a list per field, in the same order; the signatures flattened,
    four numbers a file), which parses several times faster than an object per bead.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Entry]:
        """The entries by bead id (the file is ``<id>.json``); empty when there is no usable cache.

        Every entry is checked as the bead model would check it (an id, a known status, the types);
        a cache with a bad entry is set aside whole and the bead files are read again."""
        try:
            data = read_json(self.path)
        except FileNotFoundError:
            return {}
        except BadStateFile as exc:
            set_aside(self.path, str(exc))
            return {}
        try:
            if data["fingerprint"] != _fingerprint():
                return {}
            flat = iter(data["signatures"])
            columns = (data[key] for key in _COLUMNS)
            entries = {
                i: (sig, BeadSummary(i, t, s, p, e, _timestamp(c), d, ls))
                for sig, i, t, s, p, e, c, d, ls in zip(
                    zip(flat, flat, flat, flat, strict=False), *columns, strict=True
                )
            }
            if not all(_entry_ok(sig, summary) for sig, summary in entries.values()):
                raise ValueError("an entry breaks the bead model's rules")
        except (ValueError, TypeError, KeyError) as exc:
            set_aside(self.path, f"is not a usable summary cache ({exc})")
            return {}
        return entries

    def save(self, entries: Mapping[str, Entry], now_ns: int) -> None:
        """Keep the settled ``entries`` (see :func:`settled`); a failure to write is ignored."""
        kept = [(sig, s) for sig, s in entries.values() if settled(sig, now_ns)]
        data: dict[str, Any] = {
            "fingerprint": _fingerprint(),
            "signatures": [n for sig, _ in kept for n in sig],
            "id": [s.id for _, s in kept],
            "title": [s.title for _, s in kept],
            "status": [s.status for _, s in kept],
            "priority": [s.priority for _, s in kept],
            "estimate_minutes": [s.estimate_minutes for _, s in kept],
            "created_at": [s.created_at.isoformat() for _, s in kept],
            "deps": [s.deps for _, s in kept],
            "labels": [s.labels for _, s in kept],
        }
        text = json.dumps(data, separators=(",", ":"))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        except OSError:
            return
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, self.path)
        except OSError:
            pass
        finally:
            Path(tmp).unlink(missing_ok=True)  # already gone when the replace succeeded


def _timestamp(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _entry_ok(sig: Signature, s: BeadSummary) -> bool:
    """The entry is one :meth:`SummaryCache.save` could have written for a valid bead."""
    return (
        all(type(n) is int for n in sig)
        and type(s.id) is str
        and models.id_problem(s.id) is None
        and type(s.title) is str
        and bool(s.title)
        and s.status in models.STATUSES
        and type(s.priority) is int
        and 0 <= s.priority <= 4
        and (s.estimate_minutes is None or (type(s.estimate_minutes) is int and s.estimate_minutes >= 0))
        and type(s.deps) is list
        and all(type(d) is str for d in s.deps)
        and type(s.labels) is list
        and all(type(label) is str for label in s.labels)
    )


_COLUMNS = ("id", "title", "status", "priority", "estimate_minutes", "created_at", "deps", "labels")
