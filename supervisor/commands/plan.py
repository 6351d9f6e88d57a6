"""``mayor plan DESIGN.md``: the strong model cuts a design into beads; mayor checks them and adds them.

The asking and checking is :func:`supervisor.planning.draft_plan` (a bad answer goes back to the
model with the error, a few times; then nothing is written). Before adding, beads whose titles look
like those of existing beads are named on stderr; on a terminal, the command asks before adding.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from beads.errors import MayorError
from beads.models import Bead
from supervisor.chat import require_api_key
from supervisor.output import print_json, say
from supervisor.planning import add_all, draft_plan, duplicates


def warn_duplicates(new: Sequence[Bead], existing: Mapping[str, Bead]) -> None:
    for bead, old, ratio in duplicates(new, existing):
        say(
            f"warning: new bead {bead.id} {bead.title!r} looks like a duplicate of {old.id} {old.title!r} "
            f"({old.status}, {ratio:.0%} alike)"
        )


def confirmed(count: int, yes: bool) -> bool:
    """Ask on a terminal unless ``--yes``; scripts and CI are never asked."""
    if yes or not sys.stdin.isatty():
        return True
    sys.stderr.write(f"Add these {count} bead(s)? [y/N] ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def run(*, design: str, dry_run: bool = False, model: str | None = None, yes: bool = False) -> int:
    from supervisor.repo import open_repo

    path = Path(design)
    if not path.is_file():
        raise MayorError(f"{design} is not a file; give the design document (see `mayor design`)")
    repo = open_repo()
    require_api_key("plan")
    existing = repo.store.load()
    beads = draft_plan(repo, path.read_text(encoding="utf-8"), existing, model)
    warn_duplicates(beads, existing)
    if dry_run:
        print_json([bead.model_dump(mode="json") for bead in beads])
        return 0
    if not confirmed(len(beads), yes):
        say("nothing was added")
        return 1
    add_all(repo.store, beads)
    print("\n".join(bead.id for bead in beads))
    return 0
