"""Writing many bead files as one change: all of them or none, across a kill -9 or a full disk.

The new files are written into ``.mayor/beads/.tx/`` (invisible to the store: its name starts with
a dot), flushed to disk, and then the file ``COMMITTED`` is made there by an atomic rename: that
rename is the commit point. The files are then renamed into place one by one and the folder
removed. Whoever takes the store's lock next (:func:`recover`) finishes the job a killed writer
left: with ``COMMITTED`` the remaining files are renamed into place (roll forward); without it the
folder is deleted (nothing happened). A rename needs no new space, so a full disk stops a
transaction only before its commit point.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

STAGING = ".tx"
COMMITTED = "COMMITTED"


def staging(folder: Path) -> Path:
    return folder / STAGING


def pending(folder: Path) -> bool:
    """A transaction is being written or was left by a killed writer (cheap: one ``stat``)."""
    return os.path.lexists(staging(folder))


def write_all(folder: Path, files: Mapping[str, str]) -> None:
    """Write ``files`` (name -> text) into ``folder`` as one transaction; call it under the lock."""
    stage = staging(folder)
    recover(folder)
    stage.mkdir(parents=True)
    try:
        for name, text in files.items():
            with open(stage / name, "w", encoding="utf-8") as handle:
                handle.write(text)
        os.sync()  # every staged file on disk before the commit point (one sync, not one per file)
        marker = stage / f".{COMMITTED}.tmp"
        with open(marker, "w", encoding="utf-8") as handle:
            handle.write("\n".join(files) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(marker, stage / COMMITTED)
        _fsync_dir(stage)
    except BaseException:
        if not (stage / COMMITTED).exists():
            shutil.rmtree(stage, ignore_errors=True)
        raise
    _roll_forward(folder)


def recover(folder: Path) -> bool:
    """Finish or undo a transaction a killed writer left; call it under the lock. True if one was found."""
    stage = staging(folder)
    if not os.path.lexists(stage):
        return False
    if (stage / COMMITTED).exists():
        _roll_forward(folder)
    else:
        shutil.rmtree(stage, ignore_errors=True)
        if os.path.lexists(stage):  # not a folder (made by hand): out of the way
            os.unlink(stage)
    return True


def _roll_forward(folder: Path) -> None:
    stage = staging(folder)
    with os.scandir(stage) as entries:
        names = [e.name for e in entries if e.name != COMMITTED and not e.name.startswith(".")]
    for name in names:
        os.replace(stage / name, folder / name)
    _fsync_dir(folder)
    os.unlink(stage / COMMITTED)
    shutil.rmtree(stage)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
