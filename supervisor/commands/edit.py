"""``mayor update``, ``cancel``, ``reopen``, ``dep add`` and ``dep rm``: changes to one bead
(:mod:`supervisor.editing`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from beads.models import ACTIVE
from supervisor import editing
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
    fields: dict[str, Any] = {
        "title": title,
        "description": description,
        "priority": priority,
        "kind": kind,
        "estimate_minutes": estimate,
        "agent": agent,
        "model": model,
        "approval": approval,
    }
    if accept or check:
        fields["acceptance"] = editing.criteria(accept, check)
    changed = editing.update(open_repo().store, bead_id, fields, label, remove_label)
    say(f"updated {bead_id}: {', '.join(changed)}")
    return 0


def cancel(*, bead_id: str) -> int:
    repo = open_repo()
    was = editing.cancel(repo.store, bead_id, landing_on=(repo.root, repo.config.target))
    if was is None:
        say(f"{bead_id} is already cancelled")
        return 0
    if was in ACTIVE:
        say(f"{bead_id} is {was}: the running supervisor stops it at its next poll")
    say(f"cancelled {bead_id}")
    return 0


def reopen(*, bead_ids: Sequence[str] = (), failed: bool = False, fresh: bool = False) -> int:
    repo = open_repo()
    target = repo.config.target
    done = editing.reopen(repo.store, bead_ids, failed=failed, fresh_from=(repo.root, target) if fresh else None)
    if not done:
        say("no failed bead to reopen")
    for item in done:
        if not item.changed:
            say(f"{item.bead_id} is already open")
            continue
        budget = f"{repo.config.max_attempts} attempt(s) again"
        say(f"reopened {item.bead_id} (was {item.was}): {budget}")
        if item.backup:
            say(f"  its branch mayor/{item.bead_id} starts again at {target}; the old one is kept as {item.backup}")
    return 0


def dep_add(*, bead_id: str, dep: str) -> int:
    added = editing.dep_add(open_repo().store, bead_id, dep)
    say(f"{bead_id} now depends on {dep}" if added else f"{bead_id} already depends on {dep}")
    return 0


def dep_rm(*, bead_id: str, dep: str) -> int:
    editing.dep_rm(open_repo().store, bead_id, dep)
    say(f"{bead_id} no longer depends on {dep}")
    return 0
