"""``mayor list``, ``show``, ``ready``, ``blocked``, ``graph`` and ``schema``: reading the plan."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from beads import graph
from beads.models import STATUSES, Bead, BeadSummary, bead_schema
from supervisor.errors import UsageError
from supervisor.output import print_json, print_table
from supervisor.repo import open_repo
from supervisor.views.plan import bead_text, ready_whole, render_graph


def load_summaries() -> dict[str, BeadSummary]:
    """What the graph needs of every bead, checked as a graph; cheaper than loading every bead."""
    return open_repo().store.summaries()


def _row(bead: Bead) -> list[Any]:
    return [bead.id, bead.status, bead.priority, bead.kind, bead.title, ",".join(bead.labels)]


_COLUMNS = ("id", "status", "pri", "kind", "title", "labels")


def list_beads(*, status: Sequence[str] = (), label: str | None = None, as_json: bool = False) -> int:
    unknown = [s for s in status if s not in STATUSES]
    if unknown:
        raise UsageError(f"--status {', '.join(unknown)}: no such status; one of: {', '.join(STATUSES)}")
    beads = open_repo().store.load()
    chosen = [
        b
        for b in sorted(beads.values(), key=lambda b: (b.priority, b.created_at, b.id))
        if (not status or b.status in status) and (label is None or label in b.labels)
    ]
    if as_json:
        print_json([b.model_dump(mode="json") for b in chosen])
    else:
        print_table(_COLUMNS, [_row(b) for b in chosen])
    return 0


def show(*, bead_id: str, as_json: bool = False) -> int:
    bead = open_repo().store.get(bead_id)
    if as_json:
        print_json(bead.model_dump(mode="json"))
    else:
        print(bead_text(bead))
    return 0


def ready(*, as_json: bool = False) -> int:
    store = open_repo().store
    summaries = store.summaries()
    length = graph.critical_paths(summaries)
    found = graph.ready(summaries, paths=length)
    if not as_json:
        print_table(("id", "pri", "path", "title"), [[b.id, b.priority, length[b.id], b.title] for b in found])
        return 0
    beads, paths = ready_whole(store, found, length)
    print_json([{**b.model_dump(mode="json"), "critical_path_minutes": paths[b.id]} for b in beads])
    return 0


def blocked(*, as_json: bool = False) -> int:
    found = graph.blocked(load_summaries())
    if as_json:
        print_json(
            [
                {
                    "id": bead.id,
                    "title": bead.title,
                    "blocked_by": [{"id": h.dep, "status": h.status, "stuck": h.stuck} for h in holds],
                    "reason": "; ".join(h.describe() for h in holds),
                }
                for bead, holds in found
            ]
        )
    else:
        print_table(
            ("id", "title", "reason"),
            [[bead.id, bead.title, "; ".join(h.describe() for h in holds)] for bead, holds in found],
        )
    return 0


def show_graph(*, fmt: str = "tree") -> int:
    print(render_graph(load_summaries(), fmt))
    return 0


def schema() -> int:
    print_json(bead_schema())
    return 0
