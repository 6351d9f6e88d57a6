"""``mayor add``: one new bead, validated against the whole graph before it is written."""

from __future__ import annotations

from collections.abc import Sequence

from supervisor import editing
from supervisor.output import print_json
from supervisor.repo import open_repo


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
    fields = {
        "description": description,
        "acceptance": editing.criteria(accept, check),
        "deps": list(dict.fromkeys(dep)),
        "priority": priority,
        "labels": list(dict.fromkeys(label)),
        "kind": kind,
        "estimate_minutes": estimate,
        "agent": agent,
        "model": model,
        "approval": approval,
    }
    bead = editing.add(open_repo().store, title, fields)
    if as_json:
        print_json(bead.model_dump(mode="json"))
    else:
        print(bead.id)
    return 0
