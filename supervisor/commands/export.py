"""``mayor export --to beads FILE``: every bead as a beads JSONL file that ``bd import`` reads."""

from __future__ import annotations

from pathlib import Path

from beads import export
from beads.errors import MayorError
from beads.store import atomic_write
from supervisor.output import say
from supervisor.repo import open_repo

TARGETS: tuple[str, ...] = ("beads",)


def run(*, path: str, target: str = "beads") -> int:
    if target not in TARGETS:
        raise MayorError(f"unknown --to {target!r}; use --to beads (a JSONL file that `bd import` reads)")
    out = Path(path)
    if out.is_dir():
        raise MayorError(f"{path} is a folder; give the path of the JSONL file to write")
    if not out.parent.is_dir():
        raise MayorError(f"{out.parent} does not exist; create it first or give another path")
    beads = open_repo().store.load()
    text = export.to_jsonl(beads.values())
    atomic_write(out, text)
    say(f"exported {len(beads)} bead(s) to {path}; load them with `bd import {path}`")
    return 0
