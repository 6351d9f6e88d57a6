"""``mayor import``: many beads at once from a file or a beads folder, all or nothing."""

from __future__ import annotations

from pathlib import Path

from beads import importer
from beads.errors import MayorError
from beads.models import Bead
from beads.store import Transaction
from supervisor.output import print_json, say
from supervisor.repo import open_repo


def check_args(path: str, source: str) -> Path:
    """The path to read, once the format is known and the path exists."""
    if source not in importer.SOURCES:
        raise MayorError(
            f"unknown --from {source!r}; use --from mayor (a JSON array or JSONL of beads) "
            "or --from beads (a `bd export` JSONL file or a beads backup folder)"
        )
    target = Path(path)
    if not target.exists():
        what = "a JSON or JSONL file" if source == "mayor" else "a `bd export` JSONL file or a beads backup folder"
        raise MayorError(f"{path} does not exist; give the path of {what}")
    return target


def put_all(tx: Transaction, beads: list[Bead]) -> None:
    """Put each bead, keeping the ``updated_at`` it was imported with."""
    for bead in beads:
        updated = bead.updated_at
        tx.put(bead).updated_at = updated


def run(*, path: str, source: str = "mayor", as_json: bool = False) -> int:
    target = check_args(path, source)
    repo = open_repo()
    with repo.store.edit() as tx:
        imported = importer.read(target, source, tx.beads, prefix=repo.store.prefix)
        put_all(tx, imported.beads)
    if as_json:
        print_json([bead.model_dump(mode="json") for bead in imported.beads])
    elif imported.beads:
        print("\n".join(bead.id for bead in imported.beads))
    say(imported.summary())
    return 0
