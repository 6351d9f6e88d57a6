"""``mayor update``, ``cancel``, ``reopen``, ``dep add`` and ``dep rm``: changes to one bead."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from beads.errors import MayorError
from beads.models import ACTIVE
from beads.store import bead_from
from supervisor.commands.add import criteria
from supervisor.output import say
from supervisor.repo import open_repo


def update(
    *,
    bead_id: str,
    title: str | None = None,
    description: str | None = None,
    priority: int | None = None,
    label: Sequence[str] = (),
    remove_label: Sequence[str] = (),
    kind: str | None = None,
    estimate: int | None = None,
    agent: str | None = None,
    model: str | None = None,
    approval: str | None = None,
    accept: Sequence[str] = (),
    check: Sequence[str] = (),
) -> int:
    fields = {
        "title": title,
        "description": description,
        "priority": priority,
        "kind": kind,
        "estimate_minutes": estimate,
        "agent": agent,
        "model": model,
        "approval": approval,
    }
    changes: dict[str, Any] = {key: value for key, value in fields.items() if value is not None}
    if accept or check:
        changes["acceptance"] = criteria(accept, check)
    with open_repo().store.edit() as tx:
        bead = tx.get(bead_id)
        labels = [x for x in bead.labels if x not in remove_label]
        labels += [x for x in label if x not in labels]
        if labels != bead.labels:
            changes["labels"] = labels
        if not changes:
            raise MayorError("nothing to change: give at least one option (see `mayor update --help`)")
        tx.put(bead_from({**bead.model_dump(), **changes}))
    say(f"updated {bead_id}: {', '.join(sorted(changes))}")
    return 0


def cancel(*, bead_id: str) -> int:
    with open_repo().store.edit() as tx:
        bead = tx.get(bead_id)
        if bead.landed:
            raise MayorError(f"{bead_id} has already landed ({bead.status}); nothing to cancel")
        if bead.status == "cancelled":
            say(f"{bead_id} is already cancelled")
            return 0
        if bead.status in ACTIVE:
            say(f"{bead_id} is {bead.status}: the running supervisor stops it at its next poll")
        bead.status = "cancelled"
        tx.put(bead)
    say(f"cancelled {bead_id}")
    return 0


def reopen(*, bead_id: str) -> int:
    with open_repo().store.edit() as tx:
        bead = tx.get(bead_id)
        if bead.status == "open":
            say(f"{bead_id} is already open")
            return 0
        if bead.status in ACTIVE:
            raise MayorError(f"{bead_id} is {bead.status}; cancel it first or let it finish")
        bead.status = "open"
        bead.error = None
        bead.closed_at = None
        tx.put(bead)
    say(f"reopened {bead_id}")
    return 0


def dep_add(*, bead_id: str, dep: str) -> int:
    with open_repo().store.edit() as tx:
        bead = tx.get(bead_id)
        if dep in bead.deps:
            say(f"{bead_id} already depends on {dep}")
            return 0
        bead.deps = [*bead.deps, dep]
        tx.put(bead)
    say(f"{bead_id} now depends on {dep}")
    return 0


def dep_rm(*, bead_id: str, dep: str) -> int:
    with open_repo().store.edit() as tx:
        bead = tx.get(bead_id)
        if dep not in bead.deps:
            raise MayorError(f"{bead_id} does not depend on {dep}; its deps: {', '.join(bead.deps) or 'none'}")
        bead.deps = [d for d in bead.deps if d != dep]
        tx.put(bead)
    say(f"{bead_id} no longer depends on {dep}")
    return 0
