"""The crash log written when mayor meets an error it did not expect (exit code 3)."""

from __future__ import annotations

import os
import platform
import sys
import time
import traceback
from pathlib import Path

from supervisor import __version__


def crash_dir() -> Path:
    try:
        from supervisor.repo import find_root

        return find_root() / ".mayor"
    except Exception:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "mayor"


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
    path.write_text("\n".join(body), encoding="utf-8")
    return path
