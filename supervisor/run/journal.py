"""The merge queue's journal (``state/merge.json``) as read from outside the queue, and the
handshake that makes ``mayor cancel`` and a landing exclude each other.

The queue writes the journal (the beads it lands, the tip, the candidate) *before* it asks one
last time whether each bead is still wanted (:func:`still_wanted`, under the bead store's lock;
:meth:`~supervisor.run.merge_queue.MergeQueue.moving`), and removes it only *after* each landed
bead's file says ``merged``. ``mayor cancel`` checks the journal under the same lock
(:func:`cancel_refusal`) and refuses while it names the bead. So either the cancel is written
first and the queue sees it (the bead does not land), or the queue asked first and the cancel
sees the journal (it is refused with a message): never "cancelled" printed and the bead merged
after all.

Two forms are read: ``{"bead": id, ...}`` (one bead per candidate) and ``{"beads": [id, ...],
...}`` (a batch). An unreadable journal names no bead here; the supervisor's recovery sets it
aside (a reader in another process never moves a file a live supervisor may be writing).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from beads.setaside import BadStateFile, read_json
from beads.store import Store, read_bead

_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


@dataclass(frozen=True)
class Journal:
    """A landing under way (or cut short by a kill): what ``state/merge.json`` says."""

    beads: tuple[str, ...]
    tip: str | None
    """The target's tip the candidate was built on."""
    candidate: str
    """The commit the target is being moved to."""


def journal_path(mayor_dir: Path) -> Path:
    return mayor_dir / "state" / "merge.json"


def read_journal(mayor_dir: Path) -> Journal | None:
    """The journal, or None when there is none or it is not one the queue wrote."""
    try:
        record = read_json(journal_path(mayor_dir))
    except (FileNotFoundError, BadStateFile):
        return None
    from supervisor.run.merge_queue import journal_beads

    beads = journal_beads(record)
    if beads is None or not isinstance(record, dict):
        return None
    tip = record.get("tip")
    return Journal(tuple(beads), tip if isinstance(tip, str) and _COMMIT.fullmatch(tip) else None, record["candidate"])


def still_wanted(store: Store, bead_ids: Iterable[str]) -> bool:
    """The queue's last question before it moves the target: is every bead still ``queued``?
    Asked under the store's lock, after the journal names them (see the module docstring)."""
    with store.lock():
        return all(read_bead(store.path(bead_id)).status == "queued" for bead_id in bead_ids)


def cancel_refusal(store: Store, bead_id: str, landing_on: tuple[Path, str] | None) -> str | None:
    """Why ``bead_id`` cannot be cancelled now because of a landing, or None. Call it under the
    store's lock, in the transaction that writes the cancel.

    ``landing_on`` (the repository's root and target branch) lets a journal that a stopped run
    left behind be told apart: with no supervisor running, a landing whose candidate never reached
    the target and left the user's checkout untouched is no landing, and the cancel goes ahead."""
    journal = read_journal(store.mayor_dir)
    if journal is None or bead_id not in journal.beads:
        return None
    if landing_on is None or _supervisor_may_run(store.mayor_dir):
        return (
            f"{bead_id} is landing right now: the merge queue is moving the target to its merge, so it can no "
            f"longer be cancelled; once it is merged, undo it with `git revert` (its commit: `mayor show {bead_id}`)"
        )
    return _stale(bead_id, journal, *landing_on)


def _supervisor_may_run(mayor_dir: Path) -> bool:
    from supervisor.views.status import lock_held

    return lock_held(mayor_dir / "locks" / "supervisor.lock") is not False


def _stale(bead_id: str, journal: Journal, root: Path, target: str) -> str | None:
    """A journal no running supervisor owns: refuse if the landing reached the target or is half
    written into the user's checkout (the next ``mayor sling`` finishes it), else None."""
    from supervisor import gitops

    tip = gitops.rev(f"refs/heads/{target}", root)
    if tip is not None and gitops.is_ancestor(journal.candidate, tip, root):
        return (
            f"{bead_id} has landed on {target} ({journal.candidate[:12]}); the run that landed it stopped "
            "before it could record it, and the next `mayor sling` records it as merged. Undo it with "
            "`git revert` if you do not want it"
        )
    checkout = gitops.checked_out_at(target, root)
    if checkout is not None and gitops.rev("HEAD", checkout) == journal.tip and gitops.dirty(checkout, untracked=True):
        return (
            f"a stopped run left {bead_id}'s landing half written into {checkout}; the next `mayor sling` "
            f"finishes it first (then {bead_id} is merged), or, if those changes are yours, commit or stash "
            f"them and cancel {bead_id} again"
        )
    return None
