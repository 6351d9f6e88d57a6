"""One module per bead (``f_<id>.py``, or ``bad_<id>.py`` for a bad bead), each with a ``check()``."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType


def names() -> list[str]:
    return sorted(p.stem for p in Path(__file__).parent.glob("*.py") if p.stem != "__init__")


def load(name: str) -> ModuleType:
    return importlib.import_module(f"{__name__}.{name}")
