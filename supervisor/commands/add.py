"""``mayor add``: one new bead, validated against the whole graph before it is written."""

from __future__ import annotations

from collections.abc import Sequence

from beads.models import Criterion
from beads.store import bead_from
from supervisor.output import print_json
from supervisor.repo import open_repo


def criteria(accept: Sequence[str], check: Sequence[str]) -> list[Criterion]:
    """Pair the n-th ``--accept`` with the n-th ``--check``; extras stand alone."""
    out = [Criterion(text=text, check=cmd) for text, cmd in zip(accept, check, strict=False)]
    out += [Criterion(text=text) for text in accept[len(check) :]]
    out += [Criterion(text=f"`{cmd}` exits 0", check=cmd) for cmd in check[len(accept) :]]
    return out


def run(
    *,
    title: str,
    description: str = "",
    accept: Sequence[str] = (),
    check: Sequence[str] = (),
    dep: Sequence[str] = (),
    priority: int = 2,
    label: Sequence[str] = (),
    kind: str = "task",
    estimate: int | None = None,
    agent: str | None = None,
    model: str | None = None,
    approval: str = "auto",
    as_json: bool = False,
) -> int:
    repo = open_repo()
    with repo.store.edit() as tx:
        bead = bead_from(
            {
                "id": tx.new_id(title),
                "title": title,
                "description": description,
                "acceptance": criteria(accept, check),
                "deps": list(dict.fromkeys(dep)),
                "priority": priority,
                "labels": list(dict.fromkeys(label)),
                "kind": kind,
                "estimate_minutes": estimate,
                "agent": agent,
                "model": model,
                "approval": approval,
            }
        )
        tx.put(bead)
    if as_json:
        print_json(bead.model_dump(mode="json"))
    else:
        print(bead.id)
    return 0
