"""Where a repository's mayor state lives, found without importing git."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from beads.store import Store
from supervisor.config import Config, load_config
from supervisor.errors import NotInitialized

MAYOR_DIR = ".mayor"


def find_root(start: Path | None = None) -> Path:
    """The folder holding ``.mayor``: ``$MAYOR_ROOT`` if set, else the nearest one up from ``start``."""
    env = os.environ.get("MAYOR_ROOT")
    if env:
        root = Path(env)
        if (root / MAYOR_DIR).is_dir():
            return root
        raise NotInitialized(root)
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / MAYOR_DIR).is_dir():
            return folder
    raise NotInitialized(here)


@dataclass
class Repo:
    """One initialised repository: its root, config and bead store."""

    root: Path

    @property
    def mayor_dir(self) -> Path:
        return self.root / MAYOR_DIR

    @cached_property
    def config(self) -> Config:
        return load_config(self.mayor_dir / "config.toml")

    @cached_property
    def store(self) -> Store:
        return Store(self.mayor_dir, prefix=self.config.id_prefix)

    @property
    def runs_dir(self) -> Path:
        return self.mayor_dir / "runs"

    def run_dir(self, bead_id: str, n: int) -> Path:
        """The folder of attempt ``n`` of a bead: ``.mayor/runs/<id>/<n>/``."""
        return self.runs_dir / bead_id / str(n)

    @property
    def events_path(self) -> Path:
        return self.mayor_dir / "events.jsonl"


def open_repo(start: Path | None = None) -> Repo:
    return Repo(find_root(start))
