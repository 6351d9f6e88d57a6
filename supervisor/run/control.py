"""Steering a run from outside it: ``mayor retry ID --note TEXT``.

Requests travel through files, so they work from any process (the CLI, the dashboard) while a
supervisor runs, and wait for the next one when none does:

- ``state/notes/<id>.md``: a note for the bead's next attempt, added to its feedback when it is
  launched, then removed.
- ``state/retry/<id>``: ask the supervisor to stop the running attempt now. It ends as
  ``retry_requested``, which does not count against ``max_attempts``, and the bead is slung
  again with the note.
"""

from __future__ import annotations

from pathlib import Path

from beads.errors import MayorError
from beads.store import atomic_write
from supervisor.repo import Repo


def _notes(repo: Repo) -> Path:
    return repo.mayor_dir / "state" / "notes"


def _requests(repo: Repo) -> Path:
    return repo.mayor_dir / "state" / "retry"


def retry(repo: Repo, bead_id: str, note: str) -> str:
    """Leave ``note`` for the bead's next attempt and, if it is running, ask for a new attempt now.
    What will happen, in words."""
    bead = repo.store.get(bead_id)
    if bead.status not in ("running", "open", "queued", "review"):
        raise MayorError(
            f"{bead_id} is {bead.status}: only a bead that is running or waiting can be retried; "
            f"`mayor reopen {bead_id}` first if it should be done again"
        )
    if note.strip():
        _notes(repo).mkdir(parents=True, exist_ok=True)
        path = _notes(repo) / f"{bead_id}.md"
        earlier = path.read_text() if path.exists() else ""
        atomic_write(path, earlier + note.strip() + "\n")
    if bead.status == "running":
        _requests(repo).mkdir(parents=True, exist_ok=True)
        atomic_write(_requests(repo) / bead_id, "retry\n")
        return f"{bead_id}'s running attempt is stopped and a new one starts with the note"
    return f"{bead_id}'s next attempt gets the note"


def retry_requested(repo: Repo, bead_id: str) -> bool:
    return (_requests(repo) / bead_id).exists()


def clear_request(repo: Repo, bead_id: str) -> None:
    (_requests(repo) / bead_id).unlink(missing_ok=True)


def take_note(repo: Repo, bead_id: str) -> str:
    """The note left for the bead's next attempt (removed once taken), or ''."""
    path = _notes(repo) / f"{bead_id}.md"
    try:
        text = path.read_text()
    except OSError:
        return ""
    path.unlink(missing_ok=True)
    return text
