"""Changes to the plan one bead at a time: ``mayor add``, ``update``, ``cancel``, ``reopen`` and
``dep add``/``dep rm``.

Each change is one store transaction (:meth:`beads.store.Store.edit`): the graph is validated
with the change before anything is written, so a change that would break it writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from beads.errors import MayorError
from beads.models import ACTIVE, Bead, Criterion
from beads.store import Store, bead_from


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
            raise MayorError("nothing to change: give at least one option (see `mayor update --help`)")
        tx.put(bead_from({**bead.model_dump(), **changes}))
    return sorted(changes)


def cancel(store: Store, bead_id: str) -> str | None:
    """Cancel a bead not landed yet; its status before, or None if it was already cancelled.

    A running supervisor stops a bead in play at its next poll."""
    with store.edit() as tx:
        bead = tx.get(bead_id)
        if bead.landed:
            raise MayorError(f"{bead_id} has already landed ({bead.status}); nothing to cancel")
        if bead.status == "cancelled":
            return None
        was = bead.status
        bead.status = "cancelled"
        tx.put(bead)
    return was


def reopen(store: Store, bead_id: str) -> bool:
    """Open a bead again (its error and closing time cleared); False if it was open already."""
    with store.edit() as tx:
        bead = tx.get(bead_id)
        if bead.status == "open":
            return False
        if bead.status in ACTIVE:
            raise MayorError(f"{bead_id} is {bead.status}; cancel it first or let it finish")
        bead.status = "open"
        bead.error = None
        bead.closed_at = None
        tx.put(bead)
    return True


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
