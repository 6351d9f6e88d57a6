"""Changes to the plan: ``mayor add``, ``update``, ``cancel``, ``reopen`` and ``dep add``/``dep rm``.

Each change is one store transaction (:meth:`beads.store.Store.edit`): the graph is validated
with the change before anything is written, so a change that would break it writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from beads.errors import MayorError
from beads.models import ACTIVE, Bead, Criterion
from beads.store import Store, bead_from
from supervisor.errors import UsageError


def criteria(accept: Sequence[str], check: Sequence[str]) -> list[Criterion]:
    """Pair the n-th ``--accept`` with the n-th ``--check``; extras stand alone."""
    out = [Criterion(text=text, check=cmd) for text, cmd in zip(accept, check, strict=False)]
    out += [Criterion(text=text) for text in accept[len(check) :]]
    out += [Criterion(text=f"`{cmd}` exits 0", check=cmd) for cmd in check[len(accept) :]]
    return out


def add(store: Store, title: str, fields: Mapping[str, Any]) -> Bead:
    """A new bead titled ``title`` with ``fields`` (those of :class:`~beads.models.Bead`), written."""
    with store.edit() as tx:
        bead = bead_from({"id": tx.new_id(title), "title": title, **fields})
        tx.put(bead)
    return bead


def update(
    store: Store,
    bead_id: str,
    fields: Mapping[str, Any],
    label: Sequence[str] = (),
    remove_label: Sequence[str] = (),
) -> list[str]:
    """Set ``fields`` (None values ignored) and the labels; the names of what changed, sorted."""
    changes = {key: value for key, value in fields.items() if value is not None}
    with store.edit() as tx:
        bead = tx.get(bead_id)
        labels = [x for x in bead.labels if x not in remove_label]
        labels += [x for x in label if x not in labels]
        if labels != bead.labels:
            changes["labels"] = labels
        if not changes:
            raise UsageError("nothing to change: give at least one option (see `mayor update --help`)")
        tx.put(bead_from({**bead.model_dump(), **changes}))
    return sorted(changes)


def cancel(store: Store, bead_id: str, *, landing_on: tuple[Path, str] | None = None) -> str | None:
    """Cancel a bead not landed yet; its status before, or None if it was already cancelled.

    A running supervisor stops a bead in play at its next poll. A bead the merge queue is landing
    right now is refused (:mod:`supervisor.run.journal`): the cancel either wins or is refused.
    ``landing_on`` (the repository root and the target branch) tells a landing journal that a
    stopped run left from a live one."""
    with store.edit() as tx:
        bead = tx.get(bead_id)
        if bead.landed:
            raise MayorError(f"{bead_id} has already landed ({bead.status}); nothing to cancel")
        if bead.status == "cancelled":
            return None
        if bead.status == "queued":  # only a queued bead is ever landed
            from supervisor.run.journal import cancel_refusal

            refusal = cancel_refusal(store, bead_id, landing_on)
            if refusal is not None:
                raise MayorError(refusal)
        was = bead.status
        bead.status = "cancelled"
        tx.put(bead)
    return was


@dataclass(frozen=True)
class Reopened:
    """What ``mayor reopen`` did to one bead."""

    bead_id: str
    was: str
    """Its status before."""
    changed: bool
    """False: it was open with no attempt counted yet, and kept as it was."""
    backup: str | None = None
    """With ``fresh``: the branch its old ``mayor/<id>`` was kept under (None: it had none)."""


def reopen(
    store: Store, bead_ids: Sequence[str], *, failed: bool = False, fresh_from: tuple[Path, str] | None = None
) -> list[Reopened]:
    """Open beads again, all in one store transaction: those named, and every failed one if
    ``failed``. Their error and closing time are cleared and the attempt budget starts again (the
    old attempts stay on record). ``fresh_from`` (the repository root and the target branch) also
    moves each bead's branch to the target, its old head kept under a backup branch."""
    if not bead_ids and not failed:
        raise UsageError("name the beads to reopen (mayor reopen ID...), or pass --failed for every failed bead")
    with store.edit() as tx:
        chosen = list(dict.fromkeys([*bead_ids, *(b.id for b in tx.beads.values() if failed and b.status == "failed")]))
        beads = [tx.get(bead_id) for bead_id in chosen]
        busy = [f"{b.id} is {b.status}" for b in beads if b.status in ACTIVE]
        if busy:
            raise MayorError(f"{'; '.join(busy)}: cancel it first or let it finish; nothing was reopened")
        done = []
        for bead in beads:
            was, fresh = bead.status, len(bead.attempts) == bead.attempts_base
            bead.status, bead.error, bead.closed_at = "open", None, None
            bead.attempts_base = len(bead.attempts)
            backup = fresh_branch(*fresh_from, bead.id) if fresh_from else None
            changed = was != "open" or not fresh or backup is not None
            if changed:
                tx.put(bead)
            done.append(Reopened(bead.id, was, changed, backup))
    return done


BACKUP_PREFIX = "mayor-backup/"
"""Old bead branches kept by ``mayor reopen --fresh``: ``mayor-backup/<id>/<UTC time>``
(``mayor gc`` removes only ``mayor/<id>`` branches, never these)."""


def fresh_branch(root: Path, target: str, bead_id: str) -> str | None:
    """Move ``mayor/<id>`` to the tip of ``target``, its old head kept under a backup branch; the
    backup's name, or None when the bead had no branch (its next attempt starts at the target)."""
    from supervisor import gitops
    from supervisor.proc import git

    branch = f"mayor/{bead_id}"  # the run's branch of a bead (supervisor.run.worktrees.branch_name)
    old = gitops.rev(f"refs/heads/{branch}", root)
    if old is None:
        return None
    tip = gitops.ensure_branch_exists(target, root)
    where = gitops.checked_out_at(branch, root)
    if where is not None and where.resolve() == root.resolve():
        raise MayorError(f"{branch} is checked out at {where}; switch to another branch first, then reopen it --fresh")
    backup = f"{BACKUP_PREFIX}{bead_id}/{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    git("update-ref", "-m", f"mayor reopen --fresh {bead_id}", f"refs/heads/{backup}", old, "", cwd=root)
    if not gitops.cas_update(f"refs/heads/{branch}", tip, old, root, f"mayor reopen --fresh: reset to {target}"):
        raise MayorError(f"{branch} moved while it was being reset; try again (its old head is kept as {backup})")
    return backup


def dep_add(store: Store, bead_id: str, dep: str) -> bool:
    """Make ``bead_id`` depend on ``dep``; False if it did already."""
    with store.edit() as tx:
        bead = tx.get(bead_id)
        if dep in bead.deps:
            return False
        bead.deps = [*bead.deps, dep]
        tx.put(bead)
    return True


def dep_rm(store: Store, bead_id: str, dep: str) -> None:
    with store.edit() as tx:
        bead = tx.get(bead_id)
        if dep not in bead.deps:
            raise MayorError(f"{bead_id} does not depend on {dep}; its deps: {', '.join(bead.deps) or 'none'}")
        bead.deps = [d for d in bead.deps if d != dep]
        tx.put(bead)
